"""A second city: 衡水市's plan (a fixture written in the genre: 一、（一）1. numbering, 市X局 clauses, 到2027年 and
bare "…以上" targets) imported, reviewed and published beside Zhangjiakou's. Departments are global rows keyed by
code, so the city's 市工业和信息化局 must become a row of its own (131100-miit 衡水市工业和信息化局), never a
rename of Zhangjiakou's `miit`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from huanxin.core.models import Department, Region
from huanxin.plans import imports
from huanxin.plans.importer import import_document
from huanxin.plans.importer.build import LOW
from huanxin.plans.models import Indicator, Measure, Plan, PlanImport
from tests.conftest import SOURCE_TEXT
from tests.factories import task_force

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "second-city-hengshui.txt"


def departments_snapshot() -> dict[str, tuple[Any, ...]]:
    return {
        d.code: (d.name, d.short_name, d.kind, d.region.code, tuple(sorted(d.aliases.values_list("name", flat=True))))
        for d in Department.objects.select_related("region")
    }


def confirmed(draft_yaml: str, code: str) -> str:
    """What the reviewer does: give the plan its code (the importer's is a placeholder) and, having read each
    low-confidence item against the text, mark it checked (confidence 1)."""
    draft = yaml.safe_load(draft_yaml)
    draft["plan"]["code"] = code

    def confirm(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("confidence"), int | float) and value["confidence"] < LOW:
                value["confidence"] = 1
            for item in value.values():
                confirm(item)
        elif isinstance(value, list):
            for item in value:
                confirm(item)

    confirm(draft)
    return yaml.safe_dump(draft, allow_unicode=True, sort_keys=False)


def test_a_second_city_is_imported_and_published_beside_zhangjiakou(plan: Plan) -> None:
    boss = task_force()
    before = departments_snapshot()
    zhangjiakou_measures = Measure.objects.filter(plan=plan).count()

    record = imports.create_import(actor=boss, filename=FIXTURE.name, data=FIXTURE.read_bytes())
    assert record.status == PlanImport.Status.DRAFT
    draft = yaml.safe_load(record.draft_yaml)
    # what the importer read: the city from its issuer, its bureaux as its own, nothing clashing
    assert (draft["plan"]["issuer"], draft["plan"]["region"]) == ("衡水市人民政府", "131100")
    assert draft["plan"]["document_number"] == "衡政字〔2024〕15号"
    assert all(d["code"].startswith("131100-") and not d.get("proposed") for d in draft["departments"])
    assert draft["plan"]["task_force_department"] == "131100-drc"
    assert imports.conflicts(draft) == []
    # what the reviewer is asked to check: the placeholder code, the overall goals, the bare 150公里以上
    assert "方案 编码" in record.low_confidence
    assert any(item.startswith("二（二）2 指标") for item in record.low_confidence)
    assert not any(item.startswith("单位 ") or "责任单位" in item for item in record.low_confidence)

    imports.save_draft(actor=boss, plan_import=record, yaml_text=confirmed(record.draft_yaml, "hengshui-2024"))
    hengshui = imports.publish(actor=boss, plan_import=record)

    # both plans, Zhangjiakou's untouched
    assert set(Plan.objects.values_list("code", flat=True)) == {"zhangjiakou-2024", "hengshui-2024"}
    assert Measure.objects.filter(plan=plan).count() == zhangjiakou_measures
    after = departments_snapshot()
    assert {code: row for code, row in after.items() if code in before} == before
    # the new city's departments: new rows, codes of their own, in its region
    new = {code: row for code, row in after.items() if code not in before}
    assert set(new) == {d["code"] for d in draft["departments"]}
    assert all(code.startswith("131100-") and row[3] == "131100" for code, row in new.items())
    assert new["131100-miit"][:3] == ("衡水市工业和信息化局", "市工信局", "municipal")
    assert new["131100-pbc"][0] == "中国人民银行衡水市分行" and new["131100-pbc"][2] == "vertical"
    assert Department.objects.get(code="miit").name == "市工业和信息化局"
    # its region: the city (GB/T 2260) and its county-level divisions
    region = Region.objects.get(code="131100")
    assert (hengshui.region, region.name, region.kind, region.parent) == (region, "衡水市", "city", None)
    assert set(region.children.values_list("name", flat=True)) >= {"桃城区", "冀州区", "枣强县", "深州市"}
    assert hengshui.task_force_department == Department.objects.get(code="131100-drc")

    # measures, clauses and targets
    measures = {m.code: m for m in Measure.objects.filter(plan=hengshui)}
    assert len(measures) == 10
    assert measures["二（一）1"].title == "推动设备绿色化"
    clause = measures["二（三）"].clauses.get()
    assert [r.department.code for r in clause.responsibilities.order_by("position")] == [
        "131100-transport",
        "131100-finance",
        "131100-ecology",
    ]
    assert measures["二（二）2"].clauses.get().open_ended is True
    targets = {(i.measure.code if i.measure else i.section.path, i.statement): i for i in hengshui.indicators.all()}
    pipes = targets[("二（二）2", "更新改造燃气老旧管网150公里以上")]
    assert (pipes.target_value, pipes.unit, pipes.target_year) == (Decimal("150"), "公里", 2027)
    assert Indicator.objects.filter(plan=hengshui, target_value=Decimal("500"), unit="台").exists()
    assert hengshui.indicators.filter(section__isnull=False, measure__isnull=True).count() == 6  # overall goals


def test_the_seed_still_imports_onto_zhangjiakous_own_rows(plan: Plan) -> None:
    """Re-importing Zhangjiakou's text beside a second city: the same codes and names as the hand-made file, so
    nothing to fix but the plan's code."""
    hengshui = import_document(FIXTURE.read_bytes(), FIXTURE.name).draft
    seed = import_document(SOURCE_TEXT.read_bytes(), SOURCE_TEXT.name).draft
    assert {d["code"] for d in seed["departments"]} == set(Department.objects.values_list("code", flat=True))
    assert not {d["code"] for d in seed["departments"]} & {d["code"] for d in hengshui["departments"]}
    assert imports.conflicts(seed) == []
