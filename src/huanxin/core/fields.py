"""Model fields of our own."""

from __future__ import annotations

from typing import Any

from django.db import models


class CodeField(models.CharField):
    """An identifier — a number, a hash, a key, a code — only ever compared whole. On PostgreSQL its column has the
    "C" collation: its indexes compare bytes (memcmp) instead of calling the locale's collation for every comparison,
    which made the text indexes of a batch's rows (application numbers, idempotency keys, applicant hashes, claims,
    ledger references, the audit log's hashes) about a sixth dearer to write. For such values byte order is the only
    order that means anything; SQLite compares bytes already."""

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        params: dict[str, Any] = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params
