"""Editing an imported draft in forms (方案信息, a section or a measure with its clauses and targets), and publishing
refused while the importer's placeholders (文号, 成文日期, region) are left."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml
from django.urls import reverse

from huanxin.core.models import AuditEvent
from huanxin.demo.plan_import import SAMPLE
from huanxin.plans import imports
from huanxin.plans.models import Plan, PlanImport
from tests.factories import task_force

pytestmark = pytest.mark.django_db

# the county sample without its 文号 and date lines: what the importer cannot read, it fills with stand-ins
BARE = SAMPLE.replace("张北政字〔2024〕12号\n", "").replace("2024年6月3日\n", "")


@pytest.fixture
def boss(plan: Plan) -> Any:
    return task_force()


def _upload(user: Any, text: str = BARE) -> PlanImport:
    record = imports.create_import(actor=user, filename="张北县实施方案.txt", data=text.encode())
    draft = yaml.safe_load(record.draft_yaml)
    draft["plan"]["code"] = "zhangbei-2024"
    return imports.save_draft(actor=user, plan_import=record, yaml_text=yaml.safe_dump(draft, allow_unicode=True))


def _draft(record: PlanImport) -> dict[str, Any]:
    record.refresh_from_db()
    return yaml.safe_load(record.draft_yaml)


def _header(**changes: str) -> dict[str, str]:
    return {
        "code": "zhangbei-2024",
        "title": "张北县推动大规模设备更新和消费品以旧换新实施方案",
        "document_number": "张北政字〔2024〕12号",
        "issuer": "张北县人民政府",
        "issued_on": "2024-06-03",
        "region": "130722",
        **changes,
    }


def test_placeholders_of_the_header_block_publishing_until_filled_in(client, boss) -> None:
    record = _upload(boss)
    plan = _draft(record)["plan"]
    assert plan["document_number"] == "（请填写文号）" and set(plan["placeholders"]) == {"document_number", "issued_on"}
    with pytest.raises(imports.ValidationError) as refused:
        imports.publish(actor=boss, plan_import=record)
    text = " ".join(refused.value.messages)
    assert "plan.document_number：文号“（请填写文号）”是导入时填的占位值" in text
    assert f"plan.issued_on：成文日期“{plan['issued_on']}”是导入时填的占位值" in text

    client.force_login(boss)
    page = client.get(reverse("plans:import_detail", args=[record.pk])).content.decode()
    assert "发布前需修正" in page and "（请填写文号）" in page  # listed among the problems …
    assert 'name="document_number" value=""' in page  # … and the form shows the field empty, to be typed
    assert page.count('<span class="tag draft">待填写</span>') == 2
    assert 'type="submit" disabled' in page

    # pressing 保存 over empty fields, or the importer's stand-in, is refused field by field
    url = reverse("plans:import_header", args=[record.pk])
    response = client.post(url, _header(document_number="", issued_on=""))
    assert response.status_code == 400
    page = response.content.decode()
    assert "请填写文号" in page and "请填写成文日期" in page
    response = client.post(url, _header(document_number="（请填写文号）"))
    assert response.status_code == 400 and "不要保留占位文字" in response.content.decode()
    assert "placeholders" in _draft(record)["plan"]

    response = client.post(url, _header())
    assert response.status_code == 302
    plan = _draft(record)["plan"]
    assert plan["document_number"] == "张北政字〔2024〕12号" and plan["issued_on"] == dt.date(2024, 6, 3)
    assert "placeholders" not in plan
    event = AuditEvent.objects.filter(action="plan_import.draft_saved", object_id=str(record.pk)).last()
    assert event.changes["form"] == "header"
    published = imports.publish(actor=boss, plan_import=record)
    assert (published.document_number, published.issued_on) == ("张北政字〔2024〕12号", dt.date(2024, 6, 3))


def test_a_stand_in_typed_into_the_yaml_is_refused_too(boss) -> None:
    record = _upload(boss, SAMPLE)
    draft = _draft(record)
    assert "placeholders" not in draft["plan"]  # the sample gives 文号 and date
    draft["plan"]["document_number"] = "（请填写文号）"
    imports.save_draft(actor=boss, plan_import=record, yaml_text=yaml.safe_dump(draft, allow_unicode=True))
    with pytest.raises(imports.ValidationError, match="文号"):
        imports.publish(actor=boss, plan_import=record)


def test_a_region_code_given_in_the_form_brings_its_divisions_and_moves_departments(client, boss) -> None:
    text = SAMPLE.replace("张北县", "某某县").replace("张北政字", "某政字")
    record = _upload(boss, text)
    draft = _draft(record)
    assert draft["plan"]["region"] == "000000"
    assert any(str(d["code"]).startswith("000000-") for d in draft["departments"])
    client.force_login(boss)
    response = client.post(reverse("plans:import_header", args=[record.pk]), _header(region="130799"))
    assert response.status_code == 400 and "行政区划代码库中没有 130799" in response.content.decode()
    response = client.post(reverse("plans:import_header", args=[record.pk]), _header(region="130722"))
    assert response.status_code == 302
    draft = _draft(record)
    assert draft["plan"]["region"] == "130722"
    assert [(r["code"], r["name"]) for r in draft["regions"]] == [("130722", "张北县"), ("130700", "张家口市")]
    codes = [str(d["code"]) for d in draft["departments"]]
    assert codes and all(c.startswith("130722-") for c in codes)
    clause_codes = {c for m in imports._measures(draft) for r in m[1]["responsibilities"] for c in r["departments"]}
    assert clause_codes <= set(codes)
    assert not [p for p in imports.validate_yaml(record.draft_yaml)]


def test_a_measure_is_edited_in_its_form(client, boss) -> None:
    record = _upload(boss, SAMPLE)
    outline = imports.outline(record)
    measure = next(i for i in outline.items() if i.kind == "measure" and i.label == "二（一）2")
    assert measure.path == "s1.s0.m1"
    client.force_login(boss)
    url = reverse("plans:import_item", args=[record.pk, measure.path])
    page = client.get(url).content.decode()
    assert "编辑举措 二（一）2" in page and "县住房和城乡建设局牵头" in page  # the clause's text, beside its form
    draft = _draft(record)
    node = imports.node_at(draft, measure.path)[1]
    codes = [str(d["code"]) for d in draft["departments"]]
    lead, co = node["responsibilities"][0]["departments"]
    others = [c for c in codes if c not in (lead, co)]
    form = {
        "title": "加快建筑市政设施更新",
        "text": node["text"],
        "checked": "1",
        "c0-lead": co,  # the reviewer swaps lead and co-operating, adds one
        "c0-co": [lead, others[0]],
        "c0-checked": "1",
        "t0-name": "更新改造燃气老旧管网",
        "t0-comparator": "gte",
        "t0-target": "十二",
        "t0-unit": "公里",
        "t0-year": "2027",
        "t0-checked": "1",
    }
    response = client.post(url, form)
    assert response.status_code == 400
    page = response.content.decode()
    assert "目标值“十二”不是数字" in page and 'value="十二"' in page  # what was typed stays in the box
    response = client.post(url, {**form, "t0-target": "125.5"})
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("plans:import_detail", args=[record.pk])
    )
    node = imports.node_at(_draft(record), measure.path)[1]
    assert node["title"] == "加快建筑市政设施更新" and node["confidence"] == 1.0
    assert node["responsibilities"][0]["departments"] == [co, lead, others[0]]
    target = node["indicators"][0]
    assert (target["target"], target["unit"], target["target_year"], target["confidence"]) == (125.5, "公里", 2027, 1.0)
    event = AuditEvent.objects.filter(action="plan_import.draft_saved", object_id=str(record.pk)).last()
    assert event.changes["form"] == f"item {measure.path}"
    plan = imports.publish(actor=boss, plan_import=record)
    clause = plan.measures.get(code="二（一）2").clauses.get()
    assert [r.department.code for r in clause.responsibilities.order_by("position")] == [co, lead, others[0]]
    assert plan.indicators.get(measure__code="二（一）2").target_value == 125.5


def test_a_misread_target_is_deleted_and_overall_goals_get_their_measures(client, boss) -> None:
    record = _upload(boss, SAMPLE)
    client.force_login(boss)
    goals = imports.node_at(_draft(record), "s0")[1]
    assert goals["indicators"] and goals["indicators"][0]["measures"] == []
    url = reverse("plans:import_item", args=[record.pk, "s0"])
    target = goals["indicators"][0]
    form = {
        "title": goals["title"],
        "text": goals.get("text", ""),
        "t0-name": target["name"],
        "t0-comparator": target["comparator"],
        "t0-target": str(target["target"]),
        "t0-unit": target["unit"],
        "t0-year": str(target["target_year"]),
        "t0-measures": ["二（一）1", "二（一）2"],
        "t0-checked": "1",
    }
    assert client.post(url, form).status_code == 302
    goal = imports.node_at(_draft(record), "s0")[1]["indicators"][0]
    assert goal["measures"] == ["二（一）1", "二（一）2"] and goal["confidence"] == 1.0
    measure_url = reverse("plans:import_item", args=[record.pk, "s1.s0.m0"])
    node = imports.node_at(_draft(record), "s1.s0.m0")[1]
    form = {"title": node["title"], "text": node["text"], "t0-delete": "1"}
    form |= {f"c{n}-lead": r["departments"][0] for n, r in enumerate(node["responsibilities"])}
    assert client.post(measure_url, form).status_code == 302
    assert imports.node_at(_draft(record), "s1.s0.m0")[1]["indicators"] == []


def test_the_forms_are_the_task_forces_and_only_for_drafts(client, boss) -> None:
    from tests.factories import officer

    record = _upload(boss, SAMPLE)
    client.force_login(officer("市住房和城乡建设局"))
    assert client.get(reverse("plans:import_item", args=[record.pk, "s0"])).status_code == 404
    assert client.post(reverse("plans:import_header", args=[record.pk]), _header()).status_code == 404
    client.force_login(boss)
    assert client.get(reverse("plans:import_item", args=[record.pk, "s9"])).status_code == 404
    assert client.get(reverse("plans:import_item", args=[record.pk, "m0"])).status_code == 404
    imports.publish(actor=boss, plan_import=record)
    page = client.get(reverse("plans:import_item", args=[record.pk, "s0"])).content.decode()
    assert "不能再修改" in page
    response = client.post(reverse("plans:import_header", args=[record.pk]), _header(), follow=True)
    assert "只有待审阅的草稿可以修改" in response.content.decode()


def test_the_plan_code_is_given_in_the_form_too(client, boss) -> None:
    record = imports.create_import(actor=boss, filename="张北县实施方案.txt", data=SAMPLE.encode())
    assert _draft(record)["plan"]["code"].startswith("draft-")
    client.force_login(boss)
    page = client.get(reverse("plans:import_detail", args=[record.pk])).content.decode()
    assert 'name="code" value=""' in page and "导入时的占位代码 draft-" in page
    url = reverse("plans:import_header", args=[record.pk])
    response = client.post(url, _header(code="张北"))
    assert response.status_code == 400 and "方案代码用小写字母" in response.content.decode()
    assert client.post(url, _header(code="zhangbei-2024")).status_code == 302
    assert _draft(record)["plan"]["code"] == "zhangbei-2024"
    assert imports.publish(actor=boss, plan_import=record).code == "zhangbei-2024"
