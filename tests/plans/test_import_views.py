"""Importing a plan document: services (create, save an edit, publish) and pages (list, upload, review), scoping."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.demo.plan_import import SAMPLE
from huanxin.jobs import services as job_services
from huanxin.jobs.models import Job
from huanxin.plans import imports
from huanxin.plans import jobs as plan_jobs
from huanxin.plans.models import Measure, Plan, PlanImport
from tests.factories import UserFactory, officer, task_force, user_with_role
from tests.jobs.helpers import run_queued_jobs

pytestmark = pytest.mark.django_db


def reviewed(draft_yaml: str, **plan: Any) -> str:
    """The draft as a reviewer fixes it: the plan's code (the importer leaves a placeholder). The county's region
    (张北县 under 张家口市, from the code database) and its bureaux' codes (130722-miit …) need no edit."""
    draft = yaml.safe_load(draft_yaml)
    draft["plan"].update({"code": "zhangbei-2024", **plan})
    return yaml.safe_dump(draft, allow_unicode=True, sort_keys=False)


@pytest.fixture
def boss(plan: Plan) -> Any:
    return task_force()


def _upload(user: Any, text: str = SAMPLE, filename: str = "张北县实施方案.txt") -> PlanImport:
    return imports.create_import(actor=user, filename=filename, data=text.encode())


def _reviewed_upload(user: Any, **plan: Any) -> PlanImport:
    record = _upload(user)
    return imports.save_draft(actor=user, plan_import=record, yaml_text=reviewed(record.draft_yaml, **plan))


# --- services --------------------------------------------------------------------------------------


def test_create_import_keeps_the_draft_and_audits(boss) -> None:
    record = _upload(boss)
    assert record.status == PlanImport.Status.DRAFT
    assert "张北政字〔2024〕12号" in record.text
    assert record.filename == "张北县实施方案.txt"
    assert "document_number: 张北政字〔2024〕12号" in record.draft_yaml
    assert record.warnings  # the importer says what it could not know (the county's region code …)
    assert bytes(record.data) == SAMPLE.encode()
    event = AuditEvent.objects.get(action="plan_import.created", object_id=str(record.pk))
    assert event.actor == boss
    assert event.changes["status"] == "draft"


def test_a_failed_import_is_kept_with_its_code_and_message(boss) -> None:
    record = imports.create_import(actor=boss, filename="方案.xls", data=b"\xd0\xcf\x11\xe0")
    assert record.status == PlanImport.Status.FAILED
    assert record.error_code == "unsupported_format"
    assert "不支持" in record.error_message
    assert AuditEvent.objects.filter(action="plan_import.created", object_id=str(record.pk)).exists()


def test_create_import_refuses_empty_and_oversized_files_and_other_roles(boss) -> None:
    with pytest.raises(ValidationError):
        imports.create_import(actor=boss, filename="a.txt", data=b"")
    with pytest.raises(ValidationError):
        imports.create_import(actor=boss, filename="a.txt", data=b"x" * (imports.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(PermissionDenied):
        _upload(officer("市住房和城乡建设局"))
    assert not PlanImport.objects.exists()


def test_outline_reads_the_tree_with_confidence_and_spans(boss) -> None:
    record = _upload(boss)
    outline = imports.outline(record)
    assert [s.title for s in outline.sections] == ["总体目标", "实施设备更新行动", "实施消费品以旧换新行动", "保障措施"]
    measure = outline.sections[1].children[0].children[0]
    assert (measure.kind, measure.label, measure.title) == ("measure", "二（一）1", "提升设备安全性")
    assert "提升设备安全性" in record.text[measure.start : measure.end]
    clause = next(c for c in measure.children if c.kind == "responsibility")
    assert clause.detail == "牵头：张北县工业和信息化局；配合：张北县应急管理局"
    assert record.text[clause.start : clause.end] == "县工业和信息化局、县应急管理局按职责分工负责"
    assert all(item.confidence is not None for item in outline.items())
    assert len({item.anchor for item in outline.items()}) == len(outline.items())
    # the reviewer's doubts: an item whose confidence is below 0.8 is listed
    draft = yaml.safe_load(record.draft_yaml)
    draft["sections"][1]["sections"][0]["measures"][0]["confidence"] = 0.5
    record.draft_yaml = yaml.safe_dump(draft, allow_unicode=True, sort_keys=False)
    low = imports.outline(record).low_items()
    assert ("measure", "二（一）1") in {(item.kind, item.label) for item in low}
    assert all(item.confidence is not None and item.confidence < 0.8 for item in low)


def test_save_draft_validates_through_the_loader_and_keeps_nothing_bad(boss) -> None:
    record = _upload(boss)
    original = record.draft_yaml
    bad = original.replace("title: 提升设备安全性", "title: ''", 1)
    with pytest.raises(ValidationError) as caught:
        imports.save_draft(actor=boss, plan_import=record, yaml_text=bad)
    line = next(n for n, text in enumerate(bad.splitlines(), start=1) if text.strip() == "title: ''")
    assert any(m.startswith(f"draft.yaml:{line}: ") and "不能为空" in m for m in caught.value.messages)
    record.refresh_from_db()
    assert record.draft_yaml == original
    good = original.replace("title: 提升设备安全性", "title: 提升设备本质安全水平", 1)
    imports.save_draft(actor=boss, plan_import=record, yaml_text=good.replace("\n", "\r\n"))
    record.refresh_from_db()
    assert record.draft_yaml == good
    assert AuditEvent.objects.filter(action="plan_import.draft_saved", object_id=str(record.pk)).count() == 1


def test_the_county_samples_draft_as_is_publishes_beside_the_city(boss) -> None:
    """张北县's draft: its region from the code database (130722 under 130700), its bureaux as bodies of their own
    (130722-miit 张北县工业和信息化局), so nothing clashes with the city's plan and no edit is needed."""
    from huanxin.core.models import Department

    record = _upload(boss)
    draft = yaml.safe_load(record.draft_yaml)
    assert draft["plan"]["region"] == "130722"
    assert [(r["code"], r.get("parent")) for r in draft["regions"]] == [("130722", "130700"), ("130700", None)]
    assert all(d["code"].startswith("130722-") for d in draft["departments"])
    assert imports.conflicts(draft) == []
    city = dict(Department.objects.values_list("code", "name"))
    plan = imports.publish(actor=boss, plan_import=record)
    assert plan.region.code == "130722" and plan.region.parent.code == "130700"
    assert {code: name for code, name in Department.objects.values_list("code", "name") if code in city} == city
    assert Department.objects.get(code="130722-miit").name == "张北县工业和信息化局"
    assert Department.objects.get(code="130722-miit").region.code == "130722"


def test_a_draft_with_a_placeholder_region_cannot_be_published(client, boss) -> None:
    """A place the code database does not know (某某省): region 000000 and department codes 000000-…, each listed
    before publishing, and publishing is refused until the reviewer fixes them."""
    from tests.plans.test_importer import FIXTURES

    record = _upload(boss, text=(FIXTURES / "province-markdown.md").read_text(encoding="utf-8"))
    assert imports.validate_yaml(record.draft_yaml) == []
    clashes = imports.conflicts(yaml.safe_load(record.draft_yaml))
    assert any("000000 是占位值" in c for c in clashes)
    assert any("000000-miit 以占位地区代码开头" in c for c in clashes)
    with pytest.raises(ValidationError):
        imports.publish(actor=boss, plan_import=record)
    client.force_login(boss)
    page = client.get(reverse("plans:import_detail", args=[record.pk])).content.decode()
    assert f"发布前需修正（{len(clashes)} 处）" in page
    assert 'disabled title="请先修正草稿中的错误"' in page


def test_publish_loads_the_plan_once_and_links_it(boss) -> None:
    record = _reviewed_upload(boss)
    outline = imports.outline(record)
    plan = imports.publish(actor=boss, plan_import=record)
    assert plan.code == "zhangbei-2024"
    assert plan.source_text == record.text
    assert plan.region.code == "130722"
    assert Measure.objects.filter(plan=plan).count() == 3
    assert plan.indicators.count() == sum(1 for item in outline.items() if item.kind == "indicator") > 0
    assert set(plan.measures.values_list("title", flat=True)) == {
        "提升设备安全性",
        "加快建筑市政设施更新",
        "开展汽车以旧换新",
    }
    record.refresh_from_db()
    assert (record.status, record.plan, record.published_by) == (PlanImport.Status.PUBLISHED, plan, boss)
    assert record.published_at is not None
    again = imports.publish(actor=boss, plan_import=record)
    assert again == plan
    assert Plan.objects.filter(code="zhangbei-2024").count() == 1
    assert AuditEvent.objects.filter(action="plan_import.published", object_id=str(record.pk)).count() == 1
    assert AuditEvent.objects.filter(action="plan.loaded", object_id=str(plan.pk)).count() == 1
    with pytest.raises(ValidationError):
        imports.save_draft(actor=boss, plan_import=record, yaml_text=record.draft_yaml)


def test_publish_refuses_to_overwrite_an_existing_plan(boss, plan) -> None:
    record = _reviewed_upload(boss, code=plan.code)
    with pytest.raises(ValidationError, match="已被"):
        imports.publish(actor=boss, plan_import=record)
    record.refresh_from_db()
    assert record.status == PlanImport.Status.DRAFT
    assert Plan.objects.get(code=plan.code).title == plan.title


def test_only_the_task_force_sees_imports(boss) -> None:
    record = _upload(boss)
    assert list(PlanImport.objects.visible_to(boss)) == [record]
    assert list(PlanImport.objects.visible_to(task_force())) == [record]
    for other in (
        officer("市住房和城乡建设局"),
        user_with_role(Role.COUNTY_OFFICER),
        user_with_role(Role.AUDITOR),
        UserFactory(role=Role.CITIZEN),
    ):
        assert not PlanImport.objects.visible_to(other).exists()
        with pytest.raises(PermissionDenied):
            imports.publish(actor=other, plan_import=record)


# --- pages -----------------------------------------------------------------------------------------


def test_plan_list_links_the_import_page_for_the_task_force_only(client, boss) -> None:
    client.force_login(boss)
    assert "导入方案文件" in client.get(reverse("plans:list")).content.decode()
    client.force_login(officer("市住房和城乡建设局"))
    assert "导入方案文件" not in client.get(reverse("plans:list")).content.decode()


def test_list_is_empty_then_shows_uploads_and_pages(client, boss) -> None:
    client.force_login(boss)
    page = client.get(reverse("plans:imports")).content.decode()
    assert "还没有导入过方案文件" in page
    for n in range(21):
        _upload(boss, filename=f"方案{n}.txt")
    page = client.get(reverse("plans:imports")).content.decode()
    assert "方案20.txt" in page and "方案0.txt" not in page
    assert "第 1 / 2 页" in page
    assert "方案0.txt" in client.get(reverse("plans:imports") + "?page=2").content.decode()


def test_upload_a_good_file_opens_its_review_page(client, boss) -> None:
    """Upload → the job's page at once → the worker reads the document → the import list and the upload page's
    最近的导入 link the draft, whose review page shows what the importer made."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(boss)
    upload = SimpleUploadedFile("张北县实施方案.txt", SAMPLE.encode(), "text/plain")
    response = client.post(reverse("plans:import_upload"), {"file": upload})
    job = Job.objects.get(kind="plan_import")
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", args=[job.pk])
    assert not PlanImport.objects.exists()  # nothing is read inside the request
    waiting = client.get(reverse("plans:imports")).content.decode()
    assert "最近的导入" in waiting and reverse("jobs:detail", args=[job.pk]) in waiting
    run_queued_jobs()
    record = PlanImport.objects.get()
    job.refresh_from_db()
    assert (job.state, record.job_id, record.created_by) == ("done", job.pk, boss)
    checks = len(record.low_confidence)  # the list's 需人工核对 column
    assert job.message == f"已生成“张北县实施方案.txt”的方案草稿（{checks} 项需人工核对），请审阅后发布"
    job_page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert job.message in job_page and reverse("plans:imports") in job_page  # the crumbs lead back to the list
    draft = reverse("plans:import_detail", args=[record.pk])
    assert f'<a class="btn" href="{draft}">审阅草稿</a>' in job_page  # and the job leads on to its draft
    listed = client.get(reverse("plans:import_upload")).content.decode()
    assert f'href="{reverse("plans:import_detail", args=[record.pk])}">审阅草稿</a>' in listed
    page = client.get(reverse("plans:import_detail", args=[record.pk])).content.decode()
    outline = imports.outline(record)
    low = outline.low_items()
    assert low, "the sample's 增加约一倍 is a guess the reviewer must see"
    assert f"需人工核对（{len(low)} 项）" in page
    assert page.count("imp-item imp-") == len(outline.items())
    assert page.count(" imp-low") == len(low)
    measure = outline.sections[1].children[0].children[0]
    assert f'id="{measure.anchor}" data-start="{measure.start}" data-end="{measure.end}"' in page
    assert "张北政字〔2024〕12号" in page  # the source text and the YAML


def test_upload_of_an_unsupported_file_says_why(client, boss) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(boss)
    response = client.post(reverse("plans:import_upload"), {"file": SimpleUploadedFile("表.xls", b"\xd0\xcf\x11")})
    assert response.status_code == 400
    assert "不支持的文件格式" in response.content.decode()  # told at once, from its name: no job for it
    assert PlanImport.objects.get().status == PlanImport.Status.FAILED
    assert not Job.objects.exists()
    response = client.post(reverse("plans:import_upload"), {})
    assert response.status_code == 400
    assert "请选择要上传的方案文件" in response.content.decode()
    response = client.post(reverse("plans:import_upload"), {"file": SimpleUploadedFile("空.txt", b"")})
    assert response.status_code == 400 and "上传的文件是空的" in response.content.decode()
    assert PlanImport.objects.count() == 1 and not Job.objects.exists()


def test_a_document_the_importer_cannot_read_fails_its_job_and_is_kept(client, boss) -> None:
    """Named .txt but holding no Chinese: only reading it tells, so the job fails with the importer's reason and
    the failed import is listed as before."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(boss)
    upload = SimpleUploadedFile("plan.txt", b"Implementation plan, chapter one.\n" * 20, "text/plain")
    response = client.post(reverse("plans:import_upload"), {"file": upload})
    assert response.status_code == 302
    run_queued_jobs()
    job, record = Job.objects.get(kind="plan_import"), PlanImport.objects.get()
    assert (job.state, record.status, record.job_id) == ("failed", "failed", job.pk)
    assert job.message == f"“plan.txt”未能导入：{record.error_message}" and "中文" in record.error_message
    assert "plan.txt" in client.get(reverse("plans:imports")).content.decode()


def test_an_import_job_run_again_after_its_worker_died_makes_one_import(boss) -> None:
    """The worker committed the import and died before it could mark the job done: the job is queued again, finds
    its import, and ends with the same answer."""
    import datetime as dt

    from django.utils import timezone

    job = plan_jobs.start_import(actor=boss, filename="张北县实施方案.txt", data=SAMPLE.encode())
    assert isinstance(job, Job)
    claimed = job_services.claim(job.pk, "dead-worker")
    assert claimed is not None
    plan_jobs.run_import(job_services.Context(claimed, "dead-worker"))  # its writes commit; then kill -9
    later = timezone.now() + job_services.stale_after() + dt.timedelta(seconds=1)
    assert job_services.recover_stale(now=later) == [job.pk]
    run_queued_jobs()
    job.refresh_from_db()
    record = PlanImport.objects.get()
    assert (job.state, job.attempts, record.job_id) == ("done", 2, job.pk)
    assert job.message.startswith("已生成“张北县实施方案.txt”的方案草稿")
    assert AuditEvent.objects.filter(action="plan_import.created").count() == 1


def test_only_the_task_force_starts_an_import_job() -> None:
    with pytest.raises(PermissionDenied):
        plan_jobs.start_import(actor=officer("市住房和城乡建设局"), filename="a.txt", data=SAMPLE.encode())
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "make_user",
    [
        lambda: officer("市住房和城乡建设局"),
        lambda: user_with_role(Role.COUNTY_OFFICER),
        lambda: user_with_role(Role.AUDITOR),
        lambda: UserFactory(role=Role.CITIZEN),
    ],
    ids=["department-officer", "county-officer", "auditor", "citizen"],
)
def test_other_roles_get_403_or_404(client, boss, make_user) -> None:
    record = _upload(boss)
    client.force_login(make_user())
    assert client.get(reverse("plans:imports")).status_code == 403
    assert client.get(reverse("plans:import_upload")).status_code == 403
    assert client.get(reverse("plans:import_detail", args=[record.pk])).status_code == 404
    assert client.post(reverse("plans:import_save", args=[record.pk]), {"yaml": "x"}).status_code == 404
    assert client.post(reverse("plans:import_publish", args=[record.pk])).status_code == 404
    record.refresh_from_db()
    assert record.status == PlanImport.Status.DRAFT


def test_a_bad_edit_keeps_the_text_and_shows_the_loaders_error(client, boss) -> None:
    record = _upload(boss)
    client.force_login(boss)
    bad = record.draft_yaml.replace("target_year: 2027\n", "target_year: 二〇二七\n", 1)
    response = client.post(reverse("plans:import_save", args=[record.pk]), {"yaml": bad})
    page = response.content.decode()
    assert response.status_code == 400
    assert "未保存" in page
    line = next(n for n, text in enumerate(bad.splitlines(), start=1) if "二〇二七" in text)
    assert f"draft.yaml:{line}: plan.target_year：应为整数" in page
    assert "target_year: 二〇二七" in page  # the edit is still in the form
    record.refresh_from_db()
    assert "二〇二七" not in record.draft_yaml
    good = record.draft_yaml.replace("title: 保障措施", "title: 保障措施和要求")
    response = client.post(reverse("plans:import_save", args=[record.pk]), {"yaml": good})
    assert response.status_code == 302
    record.refresh_from_db()
    assert "保障措施和要求" in record.draft_yaml


def test_publish_from_the_page_twice_makes_one_plan(client, boss) -> None:
    record = _reviewed_upload(boss)
    client.force_login(boss)
    url = reverse("plans:import_publish", args=[record.pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302
    assert Plan.objects.filter(code="zhangbei-2024").count() == 1
    page = client.get(reverse("plans:import_detail", args=[record.pk])).content.decode()
    assert "已发布为实施方案" in page
    assert reverse("plans:detail", args=["zhangbei-2024"]) in page
    assert AuditEvent.objects.filter(action="plan_import.published").count() == 1


def test_publish_of_a_draft_with_problems_is_refused_on_the_page(client, boss, plan) -> None:
    record = _reviewed_upload(boss)
    PlanImport.objects.filter(pk=record.pk).update(draft_yaml=record.draft_yaml.replace("zhangbei-2024", plan.code))
    client.force_login(boss)
    page = client.get(reverse("plans:import_detail", args=[record.pk])).content.decode()
    assert "已被“" in page
    response = client.post(reverse("plans:import_publish", args=[record.pk]))
    assert response.status_code == 400
    assert "未发布" in response.content.decode()


def test_a_draft_the_loader_refuses_lists_its_problems_and_cannot_be_published(client, boss) -> None:
    record = _reviewed_upload(boss)
    draft = yaml.safe_load(record.draft_yaml)
    draft["regions"] = [r for r in draft["regions"] if r["code"] != "130722"]  # e.g. a county the importer did not know
    PlanImport.objects.filter(pk=record.pk).update(
        draft_yaml=yaml.safe_dump(draft, allow_unicode=True, sort_keys=False)
    )
    client.force_login(boss)
    page = client.get(reverse("plans:import_detail", args=[record.pk])).content.decode()
    assert "发布前需修正（1 处）" in page
    assert "plan.region：方案地区 130722 不在 regions 中" in page
    assert 'disabled title="请先修正草稿中的错误"' in page
    response = client.post(reverse("plans:import_publish", args=[record.pk]))
    assert response.status_code == 400
    assert not Plan.objects.filter(code="zhangbei-2024").exists()


def test_publish_never_renames_a_department_or_region_nor_drops_aliases(boss) -> None:
    from huanxin.core.models import Department

    record = _reviewed_upload(boss)
    draft = yaml.safe_load(record.draft_yaml)
    assert draft["departments"][0]["code"] == "130722-miit"
    draft["departments"][0].update(code="miit", name="县工业和信息化局")  # the city's code for the county's bureau
    draft["regions"][0]["name"] = "张北"
    for entry in draft["sections"][1]["sections"][0]["measures"][0]["responsibilities"]:
        entry["departments"] = ["miit" if c == "130722-miit" else c for c in entry["departments"]]
    imports.save_draft(
        actor=boss, plan_import=record, yaml_text=yaml.safe_dump(draft, allow_unicode=True, sort_keys=False)
    )
    with pytest.raises(ValidationError) as caught:
        imports.publish(actor=boss, plan_import=record)
    text = "\n".join(caught.value.messages)
    assert "单位代码 miit 已是“市工业和信息化局”，发布会改名为“县工业和信息化局”" in text
    assert "区划代码 130722 已是“张北县”" in text
    assert Department.objects.get(code="miit").name == "市工业和信息化局"
    assert not Plan.objects.filter(code="zhangbei-2024").exists()


def test_publish_keeps_what_the_database_knows_of_shared_regions_and_departments(boss) -> None:
    """A city-level draft reusing the city's 市发展和改革委员会 (same code and name) without its aliases, and the
    county without its parent: publishing adds the plan and takes nothing away from the shared lists."""
    from huanxin.core.models import Department, Region

    record = _reviewed_upload(boss, region="130700")
    draft = yaml.safe_load(record.draft_yaml)
    draft["regions"] = [
        {"code": "130722", "name": "张北县", "kind": "county"},
        {"code": "130700", "name": "张家口市", "kind": "city"},
    ]
    draft["departments"].append({"code": "drc", "name": "市发展和改革委员会"})
    draft["sections"][2]["measures"][0]["responsibilities"][0]["departments"].append("drc")
    imports.save_draft(
        actor=boss, plan_import=record, yaml_text=yaml.safe_dump(draft, allow_unicode=True, sort_keys=False)
    )
    drc = Department.objects.get(code="drc")
    aliases = set(drc.aliases.values_list("name", flat=True))
    assert aliases
    plan = imports.publish(actor=boss, plan_import=record)
    assert set(drc.aliases.values_list("name", flat=True)) == aliases
    assert Region.objects.get(code="130722").parent.code == "130700"
    clause = plan.measures.get(title="开展汽车以旧换新").clauses.get()
    assert clause.responsibilities.filter(department=drc).exists()
