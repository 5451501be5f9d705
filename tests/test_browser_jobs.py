"""A merchant uploads a long batch file in Chromium: the page answers at once with the job, the bar moves on its
own (htmx polling, no reload) while the worker runs the job, and the result file appears at the end.
Skips without /usr/bin/chromium, except in CI (HUANXIN_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.core.services import create_user
from huanxin.jobs.models import Job
from huanxin.jobs.worker import run_worker
from huanxin.subsidies import rules
from huanxin.subsidies.models import Application
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import task_force
from tests.subsidies.conftest import make_programme
from tests.subsidies.test_batch import rows
from tests.subsidies.test_batch_job import csv_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

ROWS = 3000


class _Worker(threading.Thread):
    """The worker's claim-and-run loop on a thread of this process: the live server's database (on SQLite an
    in-memory one) is reachable from here, not from another process."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(0.2):
                run_worker(batch=True, housekeeping=False)
        finally:
            connection.close()


def test_a_long_batch_file_shows_its_progress_and_result_in_the_browser(
    plan, live_server, browser_page, tmp_path
) -> None:
    county = Region.objects.get(code="130702")
    store = Organisation.objects.create(name="浏览器家电商行", kind="merchant", region=county)
    create_user(actor=None, username="till-x", password=PASSWORD, role=Role.MERCHANT, organisation=store)
    parameters = {**rules.DEFAULTS["appliance"], "sample_pct": 0}
    programme = make_programme(task_force(), parameters=parameters, budget_fen=10**11)
    upload = tmp_path / "今日销售.csv"
    upload.write_bytes(csv_of(rows(programme.code, ROWS)))

    page = browser_page
    login(page, live_server, "till-x")
    page.goto(f"{live_server.url}/subsidies/batch/")
    page.set_input_files("#b-file", str(upload))
    page.locator("form.card").get_by_role("button", name="上传").click()
    page.wait_for_url(f"{live_server.url}/jobs/*/")
    assert "排队中" in page.locator("#job-progress").inner_text()  # answered before any row was done
    assert Application.objects.count() == 0

    worker = _Worker()
    worker.start()
    try:
        page.locator("#job-progress").get_by_text("已完成").wait_for(timeout=120_000)  # no reload: htmx swaps it in
    finally:
        worker.stop.set()
        worker.join(60)
    text = page.locator("#job-progress").inner_text()
    assert f"共 {ROWS:,} 行" in text and page.get_by_role("link", name="下载结果文件").is_visible()
    page.screenshot(path=str(ARTIFACTS / "batch-job-done.png"), full_page=True)
    job = Job.objects.get(kind="subsidy_batch")
    assert job.state == "done" and Application.objects.count() > ROWS - 10
    with page.expect_download() as download:
        page.get_by_role("link", name="下载结果文件").click()
    assert download.value.suggested_filename == "补贴批量申请结果.csv"
