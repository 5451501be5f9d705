from __future__ import annotations

CODES = ("unsupported_format", "no_text_layer", "empty_document", "unreadable", "too_large")


class ImportFailed(Exception):
    """The document cannot be imported. `code` is stable (one of CODES); the message is Chinese, for people."""

    def __init__(self, code: str, message: str):
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
