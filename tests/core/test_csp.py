"""Nothing a page sends can run as script except our own static files: every response carries a strict
Content-Security-Policy (in development and production alike), and no template holds an inline script, an
inline event handler or a javascript: link — the policy would block them, and a page relying on one breaks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from huanxin.core.roles import Role
from tests.factories import task_force, user_with_role

SRC = Path(__file__).resolve().parents[2] / "src"
TEMPLATES = sorted((SRC / "huanxin").glob("**/templates/**/*.html"))

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "style-src-attr": "'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
JSON_TYPE = re.compile(r"""\btype\s*=\s*["']?application/json""", re.IGNORECASE)
HAS_SRC = re.compile(r"\bsrc\s*=", re.IGNORECASE)
# an on…= attribute (onclick, onchange …) or an htmx hx-on handler, both inline code
HANDLER = re.compile(r"""(?:[\s"'/]on[a-z]+|\bhx-on[:\-][\w:\-]*)\s*=""", re.IGNORECASE)
JS_URL = re.compile(r"javascript\s*:|\bjs:", re.IGNORECASE)
# template comments are never sent, so they may talk about <script>
COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.DOTALL)


def parse(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


def inline_scripts(html: str) -> list[str]:
    """Opening <script> tags that would run code written in the page itself."""
    return [
        m.group(0)
        for m in SCRIPT_TAG.finditer(html)
        if not HAS_SRC.search(m.group(1)) and not JSON_TYPE.search(m.group(1))
    ]


PUBLIC_PAGES = [
    "/accounts/login/",
    "/recycling/sites/",
    "/recycling/verify/",
    "/subsidies/status/",
    "/api/v1/docs",
    "/api/v1/openapi.json",
    "/admin/login/",
    "/no-such-page/",
]
OFFICIAL_PAGES = ["/", "/plans/", "/recycling/", "/api/v1/plans", "/accounts/tokens/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_every_public_response_carries_the_policy(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code < 500
    assert parse(response["Content-Security-Policy"]) == POLICY
    if response["Content-Type"].startswith("text/html"):
        assert inline_scripts(response.content.decode()) == []


@pytest.mark.django_db
def test_every_page_of_an_official_carries_the_policy(client: Client, plan) -> None:
    client.force_login(task_force())
    for url in OFFICIAL_PAGES:
        response = client.get(url)
        assert response.status_code < 500, url
        assert parse(response["Content-Security-Policy"]) == POLICY, url
        if response["Content-Type"].startswith("text/html"):
            assert inline_scripts(response.content.decode()) == [], url


@pytest.mark.django_db
def test_a_refusal_and_a_redirect_carry_the_policy_too(client: Client, plan) -> None:
    client.force_login(user_with_role(Role.CITIZEN))
    refused = client.get("/monitoring/")
    assert refused.status_code == 403
    assert parse(refused["Content-Security-Policy"]) == POLICY
    posted = client.post("/accounts/logout/")
    assert posted.status_code == 302
    assert parse(posted["Content-Security-Policy"]) == POLICY


def test_production_sends_the_same_policy() -> None:
    """The policy is not a development convenience: production mode builds the identical header."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUANXIN_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "huanxin.settings",
            "PYTHONPATH": str(SRC),
            "HUANXIN_ENV": "production",
            "HUANXIN_SECRET_KEY": "x" * 50,
            "HUANXIN_PII_KEY": Fernet.generate_key().decode(),
            "HUANXIN_LOOKUP_KEY": "y" * 32,
            "HUANXIN_AUDIT_ANCHOR_KEY": "z" * 32,
            "HUANXIN_ALLOWED_HOSTS": "huanxin.example.gov.cn",
        }
    )
    code = (
        "import django; django.setup(); from django.conf import settings as s; from django.utils.csp import "
        "build_policy; print('django.middleware.csp.ContentSecurityPolicyMiddleware' in s.MIDDLEWARE); "
        "print(build_policy(s.SECURE_CSP))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    installed, header = result.stdout.strip().splitlines()
    assert installed == "True"
    assert parse(header) == POLICY


def test_the_template_walk_finds_the_templates() -> None:
    assert len(TEMPLATES) > 50
    assert any(path.name == "base.html" for path in TEMPLATES)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(SRC / "huanxin")))
def test_no_template_holds_inline_code(path: Path) -> None:
    """Behaviour lives in static/huanxin/*.js and is asked for with data- attributes (see app.js)."""
    text = COMMENT.sub("", path.read_text(encoding="utf-8"))
    assert inline_scripts(text) == [], "inline <script>: move the code to a static file"
    assert HANDLER.findall(text) == [], "inline event handler: use a data- attribute handled in app.js"
    assert JS_URL.findall(text) == [], "javascript: URL: use a real href and a data- attribute"


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="text/javascript">x()</script>',
        '<input onclick="x()">',
        "<body onload='x()'>",
        '<a href="javascript:history.back()">',
        '<button hx-on:click="x()">',
    ],
)
def test_the_walk_would_catch_each_kind(snippet: str) -> None:
    assert inline_scripts(snippet) or HANDLER.findall(snippet) or JS_URL.findall(snippet)


def test_the_walk_lets_data_and_files_through() -> None:
    ok = '<script src="/static/x.js" defer></script><script type="application/json" id="d">{}</script>'
    assert inline_scripts(ok) == []
    assert HANDLER.findall('<input data-check-all="input[name=ids]" name="one">') == []
