import pytest
from django.db import connection

from tests.conftest import postgres_only


@postgres_only
@pytest.mark.django_db
def test_identifier_columns_compare_bytes_on_postgresql() -> None:
    """CodeField columns carry the "C" collation (indexes compare with memcmp); other text keeps the database's."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name || '.' || column_name, collation_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name IN ('subsidies_application', 'core_auditevent')
            AND column_name IN ('number', 'idempotency_key', 'applicant_hash', 'hash', 'action', 'channel')"""
        )
        collations = dict(cursor.fetchall())
    assert collations == {
        "subsidies_application.number": "C",
        "subsidies_application.idempotency_key": "C",
        "subsidies_application.applicant_hash": "C",
        "subsidies_application.channel": None,
        "core_auditevent.hash": "C",
        "core_auditevent.action": "C",
    }
