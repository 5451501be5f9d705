"""On PostgreSQL, refuse UPDATE and DELETE on the budget ledger's entries at the database level (as core 0002
does for the audit log). TRUNCATE is left to privileges: the test runner's flush truncates between transactional
tests."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION huanxin_ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'subsidies_entry is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER subsidies_entry_append_only
    BEFORE UPDATE OR DELETE ON subsidies_entry
    FOR EACH ROW EXECUTE FUNCTION huanxin_ledger_entries_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS subsidies_entry_append_only ON subsidies_entry;
DROP FUNCTION IF EXISTS huanxin_ledger_entries_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("subsidies", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
