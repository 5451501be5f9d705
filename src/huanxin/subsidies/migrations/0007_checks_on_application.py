"""The named check results move into the application's row (`Application.checks`, a JSON list), and three indexes
that others already cover go: a batch import writes thousands of applications a second, and five check rows and
three index entries per application were a third of the database's work (bench/batch_intake.py)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def checks_into_applications(apps, schema_editor):
    Application = apps.get_model("subsidies", "Application")
    CheckResult = apps.get_model("subsidies", "CheckResult")
    checks = {}
    for result in CheckResult.objects.order_by("pk").iterator(chunk_size=2000):
        checks.setdefault(result.application_id, []).append(
            {"name": result.name, "outcome": result.outcome, "reason": result.reason}
        )
    for pk, results in checks.items():
        Application.objects.filter(pk=pk).update(checks=results)


def checks_back(apps, schema_editor):
    Application = apps.get_model("subsidies", "Application")
    CheckResult = apps.get_model("subsidies", "CheckResult")
    rows = [
        CheckResult(application_id=pk, name=c["name"], outcome=c["outcome"], reason=c["reason"])
        for pk, checks in Application.objects.values_list("pk", "checks").iterator(chunk_size=2000)
        for c in checks
    ]
    CheckResult.objects.bulk_create(rows, batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_audit_chains"),
        ("subsidies", "0006_item_model_newest"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="checks",
            field=models.JSONField(default=list, verbose_name="自动检查结果"),
        ),
        migrations.RunPython(checks_into_applications, checks_back),
        migrations.RemoveField(
            model_name="checkresult",
            name="application",
        ),
        migrations.DeleteModel(
            name="CheckResult",
        ),
        migrations.AlterField(
            model_name="application",
            name="applicant_hash",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="application",
            name="number",
            field=models.CharField(max_length=20, verbose_name="申请编号"),
        ),
        migrations.AddConstraint(
            model_name="application",
            constraint=models.UniqueConstraint(fields=("number",), name="application_number_unique"),
        ),
        migrations.AlterField(
            model_name="application",
            name="programme",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="applications",
                to="subsidies.programme",
                verbose_name="补贴项目",
            ),
        ),
    ]
