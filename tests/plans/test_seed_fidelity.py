"""The loaded plan against the plan's own text (the official document shipped as zhangjiakou-2024.txt).

Everything expected here is read out of the source text by these tests' own parsing, never copied from the
YAML: if the YAML drops a measure, a department, a clause or a target, or changes a number or a unit, a test
here fails.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from decimal import Decimal

import pytest

from huanxin.core.models import Department
from huanxin.plans.models import Indicator, Measure, Plan, ResponsibilityClause, Rule
from tests.conftest import SOURCE_TEXT

pytestmark = pytest.mark.django_db

RAW = SOURCE_TEXT.read_text(encoding="utf-8")
NUMERALS = "一二三四五六七八九十"


def norm(text: str) -> str:
    """Compare under NFKC (full-width ，（） = half-width), one quote style, without whitespace and without the
    conversion's markdown (list bullets and heading marks at line starts, ** emphasis)."""
    text = re.sub(r"(?m)^\s*(?:[-#]+\s*)+", "", text).replace("*", "")
    text = unicodedata.normalize("NFKC", text).translate(str.maketrans("“”‘’", "\"\"''"))
    return re.sub(r"\s+", "", text)


TEXT = norm(RAW)


def measures_in_source() -> list[str]:
    """Measure codes from the document's numbering: 一、 → (一) → 1.; a (x) item without 1. 2. is a measure."""
    codes: list[str] = []
    level1 = level2 = ""
    level2_has_children: dict[str, bool] = {}
    for line in RAW.splitlines():
        line = norm(line).lstrip("#-")
        if m := re.match(rf"^([{NUMERALS}])、", line):
            level1, level2 = m.group(1), ""
        elif m := re.match(rf"^\(([{NUMERALS}])\)", line):
            level2 = f"{level1}（{m.group(1)}）"
            level2_has_children[level2] = False
            codes.append(level2)
        elif (m := re.match(r"^(\d)\.", line)) and level2:
            level2_has_children[level2] = True
            codes.append(f"{level2}{m.group(1)}")
    return [code for code in codes if not level2_has_children.get(code, False)]


def clauses_in_source() -> list[str]:
    return re.findall(r"\(([^()]*?负责)\)", TEXT)


def names_in_clause(clause: str) -> list[str]:
    body = re.sub(r"(等部门|等)?(按照?职责分工)?负责$", "", clause)
    return [name for name in body.split("、") if name]


def numeric_targets_in_source() -> Counter[tuple[Decimal, str]]:
    found: Counter[tuple[Decimal, str]] = Counter()
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(%|公里|个|辆|台|家)", TEXT):
        found[(Decimal(number), unit)] += 1
    found[(Decimal(100), "%")] += len(re.findall(r"增长一倍", TEXT))  # "较2023年增长一倍"
    return found


def test_source_text_ships_with_the_plan_and_is_stored(plan: Plan) -> None:
    assert plan.source_text == RAW
    assert norm(plan.document_number).replace("〔", "[").replace("〕", "]") in TEXT  # the page prints [2024]


def test_all_27_measures_in_document_order(plan: Plan) -> None:
    expected = measures_in_source()
    assert len(expected) == 27
    assert list(Measure.objects.filter(plan=plan).order_by("position").values_list("code", flat=True)) == expected


def test_measure_titles_and_texts_are_the_plans_own_words(plan: Plan) -> None:
    for measure in Measure.objects.filter(plan=plan).prefetch_related("clauses"):
        assert norm(measure.title) in TEXT, measure.code
        clauses = list(measure.clauses.all())
        if len(clauses) == 1:
            # the body runs from the title to the clause: "title。text(clause)"
            assert f"{norm(measure.title)}。{norm(measure.text)}({norm(clauses[0].text)})" in TEXT, measure.code
        else:
            # several clauses: each covers a stretch of text that ends at it, and the stretches make the whole
            for clause in clauses:
                assert f"{norm(clause.covers)}({norm(clause.text)})" in TEXT, (measure.code, clause.position)
            assert norm(measure.text) == "".join(norm(c.covers) for c in clauses), measure.code
            assert f"{norm(measure.title)}。{norm(clauses[0].covers)}" in TEXT, measure.code


def test_every_responsibility_clause_is_encoded(plan: Plan) -> None:
    in_source = Counter(clauses_in_source())
    in_db = Counter(norm(c.text) for c in ResponsibilityClause.objects.filter(measure__plan=plan))
    assert in_db == in_source
    assert sum(in_source.values()) == 28  # 27 measures, one of which has two clauses


def test_a_measure_with_two_clauses_keeps_both() -> None:
    measure = Measure.objects.get(plan__code="zhangjiakou-2024", code="二（二）2")
    clauses = list(measure.clauses.order_by("position"))
    assert len(clauses) == 2
    assert [r.department.name for r in clauses[1].responsibilities.all()] == ["市公安局"]
    assert "视频" in clauses[1].covers


def test_every_responsible_body_resolves_and_no_other_exists(plan: Plan) -> None:
    names = {name for clause in clauses_in_source() for name in names_in_clause(clause)}
    names.add(re.search(r"负责\)([^()]+?)会同有关部门建立工作专班", TEXT).group(1))  # the task force's lead
    resolved = {name: Department.objects.resolve(name) for name in names}
    assert set(resolved.values()) == set(Department.objects.all())
    assert len(set(resolved.values())) >= 30


def test_department_roles_follow_the_clause_order(plan: Plan) -> None:
    for clause in ResponsibilityClause.objects.filter(measure__plan=plan).prefetch_related(
        "responsibilities__department__aliases"
    ):
        expected = [Department.objects.resolve(n).pk for n in names_in_clause(norm(clause.text))]
        rows = list(clause.responsibilities.order_by("position"))
        assert [r.department_id for r in rows] == expected
        assert [r.role for r in rows] == ["lead"] + ["cooperating"] * (len(rows) - 1)
        assert clause.open_ended == bool(re.search(r"等(部门)?按", norm(clause.text)))


def test_the_aliases_used_by_the_text_resolve() -> None:
    assert Department.objects.resolve("市发展和改革委") == Department.objects.resolve("市发展和改革委员会")


def test_every_numeric_target_with_its_exact_value_and_unit(plan: Plan) -> None:
    in_db: Counter[tuple[Decimal, str]] = Counter(
        (ind.target_value.normalize(), ind.unit)
        for ind in Indicator.objects.filter(plan=plan).exclude(kind=Indicator.Kind.QUALITATIVE)
    )
    in_source = Counter({(value.normalize(), unit): n for (value, unit), n in numeric_targets_in_source().items()})
    assert in_db == in_source
    assert sum(in_source.values()) == 18


def test_indicator_statements_quote_the_text_and_carry_their_number(plan: Plan) -> None:
    for ind in Indicator.objects.filter(plan=plan):
        statement = norm(ind.statement)
        assert statement in TEXT, ind.code
        if ind.is_quantitative:
            number = format(ind.target_value.normalize(), "f")
            assert number in statement or (number == "100" and "一倍" in statement), ind.code
            assert ind.target_year == 2027
        if ind.kind == Indicator.Kind.GROWTH_VS_BASELINE:
            assert ind.baseline_year == 2023 and "2023" in statement


def test_qualitative_targets_are_there_too(plan: Plan) -> None:
    statements = [
        norm(s) for s in Indicator.objects.filter(plan=plan, kind="qualitative").values_list("statement", flat=True)
    ]
    for phrase in ["全面淘汰备案非标电动自行车", "电梯全部更新、改造完毕", "主要用能设备基本达到节能水平"]:
        assert any(norm(phrase) in s for s in statements), phrase


def test_overall_goals_belong_to_section_one_and_point_at_measures(plan: Plan) -> None:
    overall = Indicator.objects.filter(plan=plan, measure__isnull=True)
    section_one = re.search(r"一、总体目标(.*?)二、", TEXT).group(1)
    assert overall.exists()
    for ind in overall:
        assert ind.section.path == "一"
        assert norm(ind.statement) in section_one
        assert ind.related_measures.exists(), ind.code


def test_the_energy_efficiency_purchase_rule(plan: Plan) -> None:
    rule = Rule.objects.get(plan=plan, kind="energy_efficiency_purchase")
    assert norm(rule.text) in TEXT
    assert "1万吨标准煤" in norm(rule.text)
    assert rule.parameters["annual_energy_tce_min"] == 10000
    assert rule.measure.code == "七（三）"
    for other in Rule.objects.filter(plan=plan):
        assert norm(other.text) in TEXT, other.code


def test_plan_header_matches_the_document(plan: Plan) -> None:
    assert plan.baseline_year == 2023 and plan.target_year == 2027
    assert plan.issuer in TEXT
    assert plan.issued_on.isoformat() == "2024-05-28" and "2024年5月28日" in TEXT
    assert norm(plan.preamble) in TEXT and norm(plan.closing) in TEXT
    assert plan.task_force_department == Department.objects.resolve("市发展和改革委")
