"""The subsidies app's error codes: the stable `code` of every refusal the API answers with and the code that
control flow compares (a ValidationError's `code`). Messages are Chinese and may change; codes do not."""

from __future__ import annotations

# money
BUDGET_EXHAUSTED = "budget_exhausted"
DAILY_QUOTA_REACHED = "daily_quota_reached"
PROGRAMME_NOT_OPEN = "programme_not_open"

# per-person limits (limits.py)
PER_PERSON_LIMIT = "per_person_limit"
PER_PERSON_AMOUNT_LIMIT = "per_person_amount_limit"

# identity and dates
INVALID_RESIDENT_ID = "invalid_resident_id"
INVOICE_AFTER_APPLICATION = "invoice_after_application"
INVOICE_OUTSIDE_WINDOW = "invoice_outside_window"

# identifiers used once
IDENTIFIER_ALREADY_USED = "identifier_already_used"

# requests
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
IDEMPOTENCY_KEY_TOO_LONG = "idempotency_key_too_long"
IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"  # control or invisible characters
BUSY_RETRY = "busy_retry"  # a conflict retried and still lost: 503 with Retry-After

# refunds and payees
NOT_REFUNDABLE = "not_refundable"
INVALID_PAYEE = "invalid_payee"
