"""Shared pieces of the browser tests: Playwright driving Debian's Chromium against the live server.

Screenshots land in test-artifacts/. Without /usr/bin/chromium the browser tests skip, except in CI
(HUANXIN_REQUIRE_BROWSER=1), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "browser-test-password-1"


def skip_without_chromium() -> None:
    """Call at a browser test module's top level."""
    if not CHROMIUM.exists() and not os.environ.get("HUANXIN_REQUIRE_BROWSER"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def browser_page(live_server: Any) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(15000)
        yield page
        browser.close()


def login(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/")
