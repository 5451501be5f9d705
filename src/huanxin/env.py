"""Typed helpers that read configuration from the environment (healthchecks' settings style)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def dev_secrets(path: Path) -> dict[str, str]:
    """Secrets for development and tests only, generated once per checkout and never committed.

    Production mode never calls this: it refuses to start unless the secrets come from the environment.
    """
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return _with_later_keys(stored)
    path.parent.mkdir(parents=True, exist_ok=True)
    generated = {
        "HUANXIN_SECRET_KEY": secrets.token_urlsafe(50),
        "HUANXIN_PII_KEY": Fernet.generate_key().decode(),
        "HUANXIN_LOOKUP_KEY": secrets.token_urlsafe(32),
        "HUANXIN_AUDIT_ANCHOR_KEY": secrets.token_urlsafe(32),
    }
    # Write aside, then link into place: if another process won the race, use its file.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(generated, indent=2))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    winner: dict[str, str] = json.loads(path.read_text())
    return _with_later_keys(winner)


def _with_later_keys(stored: dict[str, str]) -> dict[str, str]:
    """A checkout's file written before a key existed gets that key derived from its own secret key, the same in
    every process, so the file is never rewritten (two processes rewriting it at once could pick different keys)."""
    derived = hmac.new(stored["HUANXIN_SECRET_KEY"].encode(), b"huanxin audit anchor", hashlib.sha256).hexdigest()
    return {"HUANXIN_AUDIT_ANCHOR_KEY": derived, **stored}
