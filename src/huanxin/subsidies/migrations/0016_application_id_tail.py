# The review queue's search by the applicant's ID tail: a keyed hash of the last four characters on each application
# (`applications.id_tail_hash`), filled in for the applications already made.

from django.conf import settings
from django.db import migrations, models

import huanxin.core.fields
from huanxin.core import pii


def fill_tails(apps, schema_editor):
    """Each existing application's tail hash, from its decrypted ID number (once, here; the queue never decrypts
    every row). Batches of 2,000 rows, so a large table is not held in memory."""
    Application = apps.get_model("subsidies", "Application")
    last = 0
    while True:
        rows = list(Application.objects.filter(pk__gt=last).order_by("pk").only("pk", "applicant_id")[:2000])
        if not rows:
            return
        for row in rows:
            tail = pii.normalise(row.applicant_id or "")[-4:]
            row.applicant_id_tail = pii.lookup_hash(tail, purpose="resident_id_tail")[:16] if tail else ""
        Application.objects.bulk_update(rows, ["applicant_id_tail"])
        last = rows[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0009_audit_checkpoint"),
        ("subsidies", "0015_payees_and_bank_file_exports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="applicant_id_tail",
            field=huanxin.core.fields.CodeField(blank=True, db_default="", default="", editable=False, max_length=16),
        ),
        migrations.RunPython(fill_tails, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(fields=["applicant_id_tail"], name="application_id_tail"),
        ),
    ]
