"""Loading a plan file: idempotent, validated, errors name the line, and a bad file changes nothing."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.apps import apps
from django.core.management import CommandError, call_command

from huanxin.core.models import AuditEvent
from huanxin.plans.loader import PlanFileError, load_plan, read_plan_file
from huanxin.plans.models import Indicator, Measure, MeasureAction
from tests.conftest import PLAN_FILE, SOURCE_TEXT
from tests.factories import officer

pytestmark = pytest.mark.django_db
ORIGINAL = PLAN_FILE.read_text(encoding="utf-8")


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every core and plans table, so "changes nothing" can be checked literally."""
    tables = {}
    for model in [*apps.get_app_config("core").get_models(), *apps.get_app_config("plans").get_models()]:
        tables[model._meta.label] = sorted(map(tuple, model.objects.order_by("pk").values_list()), key=repr)
    return tables


def write_variant(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "variant.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "zhangjiakou-2024.txt").write_text(SOURCE_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_loading_twice_changes_nothing(plan) -> None:
    before = snapshot()
    report = load_plan(PLAN_FILE)
    assert not report.changed
    assert "未做修改" in report.summary()
    assert snapshot() == before  # not a row, not an audit event


def test_the_first_load_is_audited(plan) -> None:
    event = AuditEvent.objects.filter(action="plan.loaded", object_id=str(plan.pk)).first()
    assert event is not None
    assert event.changes["counts"]["measure.created"] == 27


def test_a_changed_file_updates_only_what_changed(plan, tmp_path: Path) -> None:
    measure = Measure.objects.get(plan=plan, code="二（四）")
    pks = set(Measure.objects.values_list("pk", flat=True))
    text = ORIGINAL.replace("2000台以上", "2500台以上").replace("target: 2000\n", "target: 2500\n")
    report = load_plan(write_variant(tmp_path, text))
    assert report.counts["indicator.updated"] == 1
    assert report.counts["indicator.created"] == 0
    assert set(Measure.objects.values_list("pk", flat=True)) == pks
    assert Indicator.objects.get(measure=measure, unit="台").target_value == 2500
    assert AuditEvent.objects.filter(action="plan.loaded").count() == 2


def _expect_error(tmp_path: Path, text: str, line: int, fragment: str) -> PlanFileError:
    before = snapshot()
    with pytest.raises(PlanFileError) as exc:
        load_plan(write_variant(tmp_path, text))
    assert snapshot() == before
    lines = [p.line for p in exc.value.problems]
    assert line in lines, (lines, str(exc.value))
    assert fragment in str(exc.value)
    assert f"variant.yaml:{line}:" in str(exc.value)
    return exc.value


def test_yaml_syntax_error_names_its_line(plan, tmp_path: Path) -> None:
    text = ORIGINAL.replace("  title: 张家口市推动", "  title: [张家口市推动", 1)
    _expect_error(tmp_path, text, line_of(text, "  title: [张家口市推动") + 1, "YAML 语法错误")


def test_unknown_department_code_names_its_line(plan, tmp_path: Path) -> None:
    needle = "departments: [" if "departments: [" in ORIGINAL else "departments:\n"
    start = ORIGINAL.index("responsibilities:")
    at = ORIGINAL.index(needle, start)
    text = ORIGINAL[:at] + needle + "no-such-dept, " + ORIGINAL[at + len(needle) :] if needle.endswith("[") else None
    if text is None:
        pytest.skip("departments lists are written in block style")
    _expect_error(tmp_path, text, line_of(text, "no-such-dept"), "未定义的单位代码 no-such-dept")


def test_a_missing_field_names_the_enclosing_item(plan, tmp_path: Path) -> None:
    at = ORIGINAL.index("    title: 提升设备安全性") if "    title: 提升设备安全性" in ORIGINAL else None
    if at is None:
        pytest.skip("measure title not found in the expected form")
    line = ORIGINAL[:at].count("\n") + 1
    lines = ORIGINAL.splitlines(keepends=True)
    text = "".join(lines[: line - 1] + lines[line:])  # drop the title line
    error = _expect_error(tmp_path, text, line - 2 if False else error_line(text, line), "缺少必填字段")
    assert "title" in str(error)


def error_line(text: str, removed_line: int) -> int:
    """The measure item that lost its title starts at the nearest '- number:' line above the removed one."""
    lines = text.splitlines()
    for n in range(removed_line - 1, 0, -1):
        if lines[n - 1].lstrip().startswith("- number:"):
            return n
    raise AssertionError("no enclosing item")


def test_wrong_type_and_unknown_field(plan, tmp_path: Path) -> None:
    text = ORIGINAL.replace("  baseline_year: 2023\n", "  baseline_year: 二〇二三\n  budget: 100\n", 1)
    error = _expect_error(tmp_path, text, line_of(text, "baseline_year: 二〇二三"), "应为整数")
    assert "未知字段" in str(error)
    assert line_of(text, "  budget: 100") in [p.line for p in error.problems]


def test_a_numeric_target_without_a_unit_is_refused(plan, tmp_path: Path) -> None:
    text = re.sub(r"\n +unit: 公里\n", "\n", ORIGINAL, count=1)
    with pytest.raises(PlanFileError, match="定量目标必须有 comparator、target 和 unit"):
        load_plan(write_variant(tmp_path, text))


def test_duplicate_measure_numbers_are_refused(plan, tmp_path: Path) -> None:
    text = re.sub(r"number: ['\"]2['\"]", "number: '1'", ORIGINAL, count=1)
    with pytest.raises(PlanFileError, match="举措编号 .* 重复"):
        load_plan(write_variant(tmp_path, text))


def test_read_plan_file_validates_the_shipped_file() -> None:
    parsed, raw = read_plan_file(PLAN_FILE)
    assert parsed.plan.code == "zhangjiakou-2024"
    assert raw


def test_command_load_and_validate(plan, tmp_path: Path) -> None:
    out = StringIO()
    call_command("plan", "validate", str(PLAN_FILE), stdout=out)
    assert "校验通过（27 项举措）" in out.getvalue()
    out = StringIO()
    call_command("plan", "load", str(PLAN_FILE), stdout=out)
    assert "未做修改" in out.getvalue()
    broken = write_variant(tmp_path, ORIGINAL.replace("plan:\n", "plan:\n  colour: red\n", 1))
    with pytest.raises(CommandError, match=r"variant.yaml:\d+: plan.colour：未知字段"):
        call_command("plan", "load", str(broken), stdout=StringIO())


def test_a_measure_with_department_actions_is_not_silently_deleted(plan, tmp_path: Path) -> None:
    from huanxin.plans.services import save_measure_action

    measure = Measure.objects.get(plan=plan, code="五（三）")  # 强化技术创新: no overall goal points at it
    save_measure_action(actor=officer("市工业和信息化局"), measure=measure, title="产学研合作清单", body="梳理项目")
    data = yaml.safe_load(ORIGINAL)
    section_five = next(s for s in data["sections"] if s["number"] == "五")
    section_five["measures"] = [m for m in section_five["measures"] if m["number"] != "（三）"]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    before = snapshot()
    with pytest.raises(CommandError, match="已有落实举措记录"):
        call_command("plan", "load", str(write_variant(tmp_path, text)), stdout=StringIO())
    assert snapshot() == before
    assert MeasureAction.objects.filter(measure=measure).exists()


def test_an_indicator_of_a_two_clause_measure_must_sit_in_one_clause(plan, tmp_path: Path) -> None:
    text = ORIGINAL.replace("statement: 全市公安视频图像前端采集设备累计更新6400个", "statement: 设备累计更新6400台", 1)
    _expect_error(tmp_path, text, line_of(text, "statement: 设备累计更新6400台"), "恰好出现在其中一条的 covers 中")


def test_indicators_of_a_two_clause_measure_belong_to_their_clause(plan) -> None:
    measure = Measure.objects.get(plan=plan, code="二（二）2")
    video = Indicator.objects.get(plan=plan, measure=measure, unit="个")
    assert [r.department.name for r in video.clause.responsibilities.all()] == ["市公安局"]
    pipes = Indicator.objects.filter(plan=plan, measure=measure, unit="公里")
    assert {i.clause.position for i in pipes} == {1}
