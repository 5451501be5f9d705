"""A long batch file goes to a worker: the upload answers at once with the job page, the job shows progress and
keeps the result file, and a job run again after its worker died answers every row once and writes nothing twice."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from huanxin.core import inbox
from huanxin.core.roles import Role
from huanxin.jobs import services
from huanxin.jobs.models import Job
from huanxin.subsidies import batch, rules
from huanxin.subsidies.models import Application
from huanxin.subsidies.views import BATCH_AT_ONCE
from tests.factories import UserFactory
from tests.jobs.helpers import run_queued_jobs
from tests.subsidies.conftest import make_programme
from tests.subsidies.test_batch import merchant, rows  # noqa: F401 - the merchant fixture

pytestmark = pytest.mark.django_db


def csv_of(data: list[list]) -> bytes:
    return (",".join(batch.HEADERS) + "\n" + "\n".join(",".join(map(str, r)) for r in data)).encode()


@pytest.fixture
def programme(boss):
    return make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=10_000_000_00)


def test_a_long_file_is_a_job_with_progress_and_a_result_file(merchant, programme) -> None:  # noqa: F811
    data = rows(programme.code, 700)
    data[5][3] = "130722199001011234"  # one bad row among 700: refused, the rest kept
    content = csv_of(data)
    assert len(content) > BATCH_AT_ONCE
    client = Client()
    client.force_login(merchant)
    upload = io.BytesIO(content)
    upload.name = "sales.csv"
    answer = client.post("/subsidies/batch/", {"file": upload})
    job = Job.objects.get(owner=merchant)
    assert answer.status_code == 302 and answer["Location"] == f"/jobs/{job.pk}/"
    assert Application.objects.count() == 0  # nothing done inside the request
    assert "排队中" in client.get(answer["Location"]).content.decode()

    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == ("done", 700, 700)
    assert job.message == "共 700 行：699 行已受理（含此前已提交的），1 行未受理"
    assert len(job.errors) == 1 and job.errors[0].startswith("第 7 行（订单号 DD00005）：")
    assert Application.objects.filter(channel="batch").count() == 699
    assert [i.title for i in inbox.items_for(merchant)] == ["后台任务已完成"]
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "下载结果文件" in page and "hx-trigger" not in page  # ended: the bar stops polling
    result = client.get(f"/jobs/{job.pk}/result/")
    lines = result.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 701 and lines[1].split(",")[-2].startswith("BT")
    assert inbox.items_for(merchant) == []  # opened: off the 待办
    assert "最近的批量文件" in client.get("/subsidies/batch/").content.decode()


def test_a_batch_run_again_after_its_worker_died_answers_each_row_once(merchant, programme) -> None:  # noqa: F811
    """The first run wrote part of the file and died; the second run finds those rows and answers them as this
    batch's own, not as "此前已提交"; rows an earlier upload wrote are still told apart."""
    data = rows(programme.code, 30)
    batch.import_batch(actor=merchant, data=csv_of(data[:5]), filename="earlier.csv")  # yesterday's upload
    job = services.start(
        actor=merchant,
        kind="subsidy_batch",
        title="补贴批量申请：sales.csv",
        params={"filename": "sales.csv"},
        upload=services.Upload("sales.csv", "text/csv", csv_of(data)),
    )
    services.claim(job.pk, "killed-worker")
    batch.import_batch(actor=merchant, data=csv_of(data[:20]), filename="sales.csv")  # the part it wrote, then kill -9
    Job.objects.filter(pk=job.pk).update(state=Job.State.QUEUED)  # as `recover_stale` leaves it
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "done" and job.attempts == 2
    assert Application.objects.count() == 30  # nothing written twice
    _, content = services.read_file(job, "result")
    notes = [line.rsplit(",", 1)[-1] for line in content.decode("utf-8-sig").splitlines()[1:]]
    assert notes[:5] == ["此前已提交，未重复申请"] * 5
    assert all(n.startswith("已受理，补贴") for n in notes[5:]) and len(notes) == 30


def test_a_till_sends_its_batch_over_the_api_and_fetches_the_result(merchant, programme) -> None:  # noqa: F811
    from huanxin.core import tokens

    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    till = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key}")
    upload = io.BytesIO(csv_of(rows(programme.code, 12)))
    upload.name = "sales.csv"
    answer = till.post("/api/v1/subsidies/batches", {"file": upload})
    assert answer.status_code == 202, answer.content
    job = answer.json()
    assert (job["state"], job["result_url"], job["page_url"]) == ("queued", None, f"/jobs/{job['id']}/")
    run_queued_jobs()
    done = till.get(f"/api/v1/jobs/{job['id']}").json()
    assert (done["state"], done["rows_done"], done["rows_total"]) == ("done", 12, 12)
    assert done["message"] == "共 12 行：12 行已受理（含此前已提交的），0 行未受理"
    result = till.get(done["result_url"])
    assert result.status_code == 200 and len(result.content.decode("utf-8-sig").splitlines()) == 13
    assert till.get("/api/v1/jobs").json()["items"][0]["id"] == job["id"]

    empty = io.BytesIO(b"")
    empty.name = "empty.csv"
    refused = till.post("/api/v1/subsidies/batches", {"file": empty})
    assert refused.status_code == 422 and refused.json()["code"] == "empty_file"
    _, other_key = tokens.issue_token(actor=UserFactory(role=Role.MERCHANT), name="另一家")
    other = Client(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    assert other.get(f"/api/v1/jobs/{job['id']}").status_code == 404  # another till never sees it
    assert other.get(f"/api/v1/jobs/{job['id']}/result").status_code == 404
