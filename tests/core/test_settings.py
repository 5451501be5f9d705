"""Production mode refuses to start without its secrets, and switches on the secure defaults."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

SRC = Path(__file__).resolve().parents[2] / "src"

PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT)"
)


def _run(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUANXIN_")}
    env.update({"DJANGO_SETTINGS_MODULE": "huanxin.settings", "PYTHONPATH": str(SRC), **env_extra})
    return subprocess.run([sys.executable, "-c", PRINT_SETTINGS], env=env, capture_output=True, text=True, check=False)


def test_production_refuses_to_start_without_keys() -> None:
    result = _run({"HUANXIN_ENV": "production", "HUANXIN_SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "HUANXIN_PII_KEY" in result.stderr
    assert "HUANXIN_LOOKUP_KEY" in result.stderr
    assert "HUANXIN_AUDIT_ANCHOR_KEY" in result.stderr


def test_production_with_keys_is_secure() -> None:
    result = _run(
        {
            "HUANXIN_ENV": "production",
            "HUANXIN_SECRET_KEY": "x" * 50,
            "HUANXIN_PII_KEY": Fernet.generate_key().decode(),
            "HUANXIN_LOOKUP_KEY": "y" * 32,
            "HUANXIN_AUDIT_ANCHOR_KEY": "z" * 32,
            "HUANXIN_ALLOWED_HOSTS": "huanxin.example.gov.cn",
        }
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "31536000", "True"]


def test_development_mode_is_not_secure_cookie_mode(tmp_path: Path) -> None:
    result = _run({"HUANXIN_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["True", "False"]
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0  # generated secrets are private
