"""The reverse-invoicing rule in force since 2024-04-29 (国家税务总局公告2024年第5号): a natural-person seller's
reverse-invoiced sales over any 12 consecutive months at most 5,000,000 yuan excluding VAT; VAT exempt up to
100,000 yuan a month, otherwise levied at 1%; individual income tax prepaid at 0.5%. Later rules are new rows."""

from django.db import migrations


def add_rule(apps, schema_editor):
    TaxRule = apps.get_model("recycling", "TaxRule")
    TaxRule.objects.get_or_create(
        effective_from="2024-04-29",
        defaults={
            "name": "资源回收企业向自然人报废产品出售者“反向开票”",
            "rolling_cap_fen": 5_000_000 * 100,
            "vat_free_monthly_fen": 100_000 * 100,
            "vat_rate_bp": 100,
            "iit_rate_bp": 50,
            "source": "国家税务总局公告2024年第5号",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("recycling", "0001_initial")]
    operations = [migrations.RunPython(add_rule, migrations.RunPython.noop)]
