"""Load a plan file (YAML) into the database: validated first, then applied in one transaction.

Loading is idempotent: every row is matched on its natural key (plan code, measure code, indicator code …),
updated only where a value differs, and nothing is written (not even an audit event) when the file matches the
database. Every problem in the file is reported with its line number, and a file with any problem writes nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import models, transaction
from pydantic import ValidationError

from huanxin.core import audit
from huanxin.core.models import Department, DepartmentAlias, Region, User
from huanxin.plans import schema
from huanxin.plans.models import (
    Indicator,
    Measure,
    Plan,
    Responsibility,
    ResponsibilityClause,
    Rule,
    Section,
)

CHINESE_NUMERALS = {ch: i for i, ch in enumerate("一二三四五六七八九十", start=1)}

_PYDANTIC_MESSAGES = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段（请检查拼写）",
    "string_pattern_mismatch": "格式不正确",
    "string_too_short": "不能为空",
    "too_short": "不能为空",
    "string_too_long": "过长",
    "int_parsing": "应为整数",
    "decimal_parsing": "应为数字",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表",
    "dict_type": "应为映射（键: 值）",
    "model_type": "应为映射（键: 值）",
    "string_type": "应为文本",
}


@dataclass(frozen=True)
class Problem:
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.line} 行" if self.line else "文件"
        return f"{where}（{self.path or '/'}）：{self.message}"


class PlanFileError(Exception):
    def __init__(self, filename: str, problems: list[Problem]):
        self.filename = filename
        self.problems = problems
        lines = "\n".join(f"  {filename}:{p.line or 0}: {p.path or '/'}：{p.message}" for p in problems)
        super().__init__(f"方案文件有 {len(problems)} 处错误，未做任何修改：\n{lines}")


@dataclass
class LoadReport:
    plan: Plan
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return any(key.endswith((".created", ".updated", ".deleted")) for key in self.counts)

    def summary(self) -> str:
        if not self.changed:
            return f"{self.plan.code}: 与数据库一致，未做修改"
        parts = [f"{key}={value}" for key, value in sorted(self.counts.items()) if not key.endswith(".unchanged")]
        return f"{self.plan.code}: " + ", ".join(parts)


# --- Reading and validating ----------------------------------------------------------------------


def _line_index(node: yaml.Node | None, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], int]]:
    if node is None:
        return
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield (*path, key.value), key.start_mark.line + 1
            yield from _line_index(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _line_index(item, (*path, index))


class _Lines:
    def __init__(self, root: yaml.Node | None):
        self._lines: dict[tuple[Any, ...], int] = {}
        for path, line in _line_index(root):
            self._lines.setdefault(path, line)

    def of(self, path: tuple[Any, ...]) -> int | None:
        while path not in self._lines and path:
            path = path[:-1]
        return self._lines.get(path)


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_plan_file(path: Path) -> tuple[schema.PlanFile, bytes]:
    raw = path.read_bytes()
    name = path.name
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(name, [Problem(None, "", f"文件不是 UTF-8 编码：{exc}")]) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise PlanFileError(name, [Problem(line, "", f"YAML 语法错误：{exc.problem or exc}")]) from exc
    lines = _Lines(root)
    if not isinstance(data, dict):
        raise PlanFileError(name, [Problem(1, "", "文件顶层应为映射，包含 plan、regions、departments、sections")])
    try:
        parsed = schema.PlanFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = _PYDANTIC_MESSAGES.get(error["type"], error["msg"])
            if error["type"] == "literal_error":
                message = f"取值无效，应为 {error.get('ctx', {}).get('expected', '')} 之一"
            elif error["type"] == "value_error":
                message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(Problem(lines.of(loc), _dotted(loc), message))
        raise PlanFileError(name, problems) from exc
    problems = list(_check_references(parsed, lines))
    if problems:
        raise PlanFileError(name, problems)
    return parsed, raw


def iter_measures(
    sections: list[schema.SectionEntry],
) -> Iterator[tuple[tuple[Any, ...], str, schema.MeasureEntry]]:
    """(yaml path, measure code, measure) for every measure, in document order."""
    for i, top in enumerate(sections):
        for j, measure in enumerate(top.measures):
            yield ("sections", i, "measures", j), f"{top.number}{measure.number}", measure
        for j, sub in enumerate(top.sections):
            for k, measure in enumerate(sub.measures):
                path = ("sections", i, "sections", j, "measures", k)
                yield path, f"{top.number}{sub.number}{measure.number}", measure


def iter_indicators(
    sections: list[schema.SectionEntry],
) -> Iterator[tuple[tuple[Any, ...], schema.IndicatorEntry]]:
    for i, top in enumerate(sections):
        for n, indicator in enumerate(top.indicators):
            yield ("sections", i, "indicators", n), indicator
        for j, sub in enumerate(top.sections):
            for n, indicator in enumerate(sub.indicators):
                yield ("sections", i, "sections", j, "indicators", n), indicator
    for path, _code, measure in iter_measures(sections):
        for n, indicator in enumerate(measure.indicators):
            yield (*path, "indicators", n), indicator


def _check_references(parsed: schema.PlanFile, lines: _Lines) -> Iterator[Problem]:
    def problem(path: tuple[Any, ...], message: str) -> Problem:
        return Problem(lines.of(path), _dotted(path), message)

    region_codes = [r.code for r in parsed.regions]
    for code, n in Counter(region_codes).items():
        if n > 1:
            yield problem(("regions", region_codes.index(code)), f"区划代码 {code} 重复")
    for i, region in enumerate(parsed.regions):
        if region.parent and region.parent not in region_codes:
            yield problem(("regions", i, "parent"), f"上级区划 {region.parent} 不在 regions 中")
    if parsed.plan.region not in region_codes:
        yield problem(("plan", "region"), f"方案地区 {parsed.plan.region} 不在 regions 中")

    dept_codes = [d.code for d in parsed.departments]
    names: dict[str, int] = {}
    for i, dept in enumerate(parsed.departments):
        if dept_codes.count(dept.code) > 1 and dept_codes.index(dept.code) != i:
            yield problem(("departments", i, "code"), f"单位代码 {dept.code} 重复")
        for name in [dept.name, *dept.aliases]:
            if name in names and names[name] != i:
                yield problem(("departments", i), f"单位名称或别名“{name}”重复")
            names[name] = i
    if parsed.plan.task_force_department and parsed.plan.task_force_department not in dept_codes:
        yield problem(("plan", "task_force_department"), f"未定义的单位代码 {parsed.plan.task_force_department}")

    measure_codes: dict[str, tuple[Any, ...]] = {}
    for path, code, measure in iter_measures(parsed.sections):
        if code in measure_codes:
            yield problem((*path, "number"), f"举措编号 {code} 重复")
        measure_codes[code] = path
        if len(measure.responsibilities) > 1:
            for n, indicator in enumerate(measure.indicators):
                statement = "".join(indicator.statement.split())
                if sum(statement in "".join(r.covers.split()) for r in measure.responsibilities) != 1:
                    yield problem(
                        (*path, "indicators", n, "statement"),
                        "举措有多条分工条款：指标原文须恰好出现在其中一条的 covers 中",
                    )
        for r, resp in enumerate(measure.responsibilities):
            for d, dept_code in enumerate(resp.departments):
                if dept_code not in dept_codes:
                    yield problem((*path, "responsibilities", r, "departments", d), f"未定义的单位代码 {dept_code}")
            if len(set(resp.departments)) != len(resp.departments):
                yield problem((*path, "responsibilities", r, "departments"), "同一条款中单位重复")

    seen_indicators: set[str] = set()
    for path, indicator in iter_indicators(parsed.sections):
        if indicator.code in seen_indicators:
            yield problem((*path, "code"), f"指标代码 {indicator.code} 重复")
        seen_indicators.add(indicator.code)
        for m, code in enumerate(indicator.measures):
            if code not in measure_codes:
                yield problem((*path, "measures", m), f"未定义的举措编号 {code}")
    rule_codes: set[str] = set()
    for i, rule in enumerate(parsed.rules):
        if rule.code in rule_codes:
            yield problem(("rules", i, "code"), f"规则代码 {rule.code} 重复")
        rule_codes.add(rule.code)
        if rule.measure and rule.measure not in measure_codes:
            yield problem(("rules", i, "measure"), f"未定义的举措编号 {rule.measure}")


# --- Applying ------------------------------------------------------------------------------------


def _number_value(number: str) -> str:
    stripped = number.strip("（）()、. ")
    if stripped.isdigit():
        return stripped
    if stripped in CHINESE_NUMERALS:
        return str(CHINESE_NUMERALS[stripped])
    return stripped


def _number_sort_key(number: str) -> tuple[int, str]:
    value = _number_value(number)
    return (int(value), number) if value.isdigit() else (10_000, number)


def measure_slug(*numbers: str) -> str:
    return ".".join(_number_value(n) for n in numbers)


class _Applier:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def upsert[M: models.Model](self, model: type[M], lookup: dict[str, Any], values: dict[str, Any]) -> M:
        label = model._meta.model_name
        obj = model._default_manager.filter(**lookup).first()
        if obj is None:
            obj = model._default_manager.create(**lookup, **values)
            self.counts[f"{label}.created"] += 1
            return obj
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            obj.save(update_fields=changed)
            self.counts[f"{label}.updated"] += 1
        else:
            self.counts[f"{label}.unchanged"] += 1
        return obj

    def delete_stale(self, queryset: models.QuerySet[Any], keep: Iterable[int]) -> None:
        stale = queryset.exclude(pk__in=list(keep))
        n = stale.count()
        if n:
            stale.delete()
            self.counts[f"{queryset.model._meta.model_name}.deleted"] += n


@transaction.atomic
def apply_plan_file(parsed: schema.PlanFile, raw: bytes, *, source_text: str, actor: User | None) -> LoadReport:
    ap = _Applier()
    regions: dict[str, Region] = {}
    for region_entry in parsed.regions:  # rows first, then their parents (a parent may come later in the file)
        regions[region_entry.code] = ap.upsert(
            Region,
            {"code": region_entry.code},
            {
                "name": region_entry.name,
                "short_name": region_entry.short_name,
                "kind": region_entry.kind,
                "code_source": region_entry.code_source,
            },
        )
    for region_entry in parsed.regions:
        region = regions[region_entry.code]
        parent = regions[region_entry.parent] if region_entry.parent else None
        if region.parent_id != (parent.pk if parent else None):
            region.parent = parent
            region.save(update_fields=["parent"])

    city = regions[parsed.plan.region]
    departments: dict[str, Department] = {}
    for dept_entry in parsed.departments:
        department = ap.upsert(
            Department,
            {"code": dept_entry.code},
            {"name": dept_entry.name, "short_name": dept_entry.short_name, "kind": dept_entry.kind, "region": city},
        )
        departments[dept_entry.code] = department
        keep = [
            ap.upsert(DepartmentAlias, {"name": alias}, {"department": department}).pk for alias in dept_entry.aliases
        ]
        ap.delete_stale(department.aliases.all(), keep)

    header = parsed.plan
    plan = ap.upsert(
        Plan,
        {"code": header.code},
        {
            "title": header.title,
            "notice_title": header.notice_title,
            "document_number": header.document_number,
            "issuer": header.issuer,
            "region": city,
            "issued_on": header.issued_on,
            "published_on": header.published_on,
            "baseline_year": header.baseline_year,
            "target_year": header.target_year,
            "deadline": header.deadline,
            "preamble": header.preamble,
            "closing": header.closing,
            "task_force_department": departments.get(header.task_force_department or ""),
            "source_text": source_text,
            "source_sha256": hashlib.sha256(source_text.encode()).hexdigest() if source_text else "",
            "content_sha256": hashlib.sha256(raw).hexdigest(),
        },
    )

    position = 0
    sections: list[int] = []
    measures: dict[str, Measure] = {}
    clauses: list[int] = []
    responsibilities: list[int] = []
    pending_indicators: list[tuple[schema.IndicatorEntry, Section, Measure | None]] = []
    covers: dict[int, list[tuple[str, ResponsibilityClause]]] = {}  # measure pk -> (covered text, clause)

    def put_section(entry: schema.SectionEntry, parent: Section | None, path: str, level: int) -> Section:
        nonlocal position
        position += 1
        section = ap.upsert(
            Section,
            {"plan": plan, "path": path},
            {
                "parent": parent,
                "number": entry.number,
                "title": entry.title,
                "text": entry.text,
                "level": level,
                "position": position,
            },
        )
        sections.append(section.pk)
        pending_indicators.extend((ind, section, None) for ind in entry.indicators)
        return section

    def put_measure(entry: schema.MeasureEntry, section: Section, code: str, slug: str) -> None:
        nonlocal position
        position += 1
        measure = ap.upsert(
            Measure,
            {"plan": plan, "code": code},
            {
                "section": section,
                "number": entry.number,
                "slug": slug,
                "title": entry.title,
                "text": entry.text,
                "position": position,
            },
        )
        measures[code] = measure
        for c, resp in enumerate(entry.responsibilities, start=1):
            clause = ap.upsert(
                ResponsibilityClause,
                {"measure": measure, "position": c},
                {"text": resp.clause, "covers": resp.covers, "open_ended": resp.open_ended},
            )
            clauses.append(clause.pk)
            covers.setdefault(measure.pk, []).append(("".join(resp.covers.split()), clause))
            for d, dept_code in enumerate(resp.departments, start=1):
                responsibility = ap.upsert(
                    Responsibility,
                    {"clause": clause, "department": departments[dept_code]},
                    {
                        "role": Responsibility.Role.LEAD if d == 1 else Responsibility.Role.COOPERATING,
                        "position": d,
                    },
                )
                responsibilities.append(responsibility.pk)
        pending_indicators.extend((ind, section, measure) for ind in entry.indicators)

    for top in parsed.sections:
        level1 = put_section(top, None, top.number, 1)
        # a level-1 section holds sub-sections and measures side by side: keep the document's numbering order
        children: list[schema.SectionEntry | schema.MeasureEntry] = [*top.sections, *top.measures]
        for child in sorted(children, key=lambda c: _number_sort_key(c.number)):
            if isinstance(child, schema.MeasureEntry):
                put_measure(child, level1, f"{top.number}{child.number}", measure_slug(top.number, child.number))
                continue
            level2 = put_section(child, level1, f"{top.number}{child.number}", 2)
            for m in child.measures:
                code = f"{top.number}{child.number}{m.number}"
                put_measure(m, level2, code, measure_slug(top.number, child.number, m.number))

    def clause_of(entry: schema.IndicatorEntry, measure: Measure | None) -> ResponsibilityClause | None:
        """With several clauses, the one whose text covers the indicator (checked unique when reading)."""
        options = covers.get(measure.pk, []) if measure is not None else []
        if len(options) < 2:
            return None
        statement = "".join(entry.statement.split())
        return next(clause for text, clause in options if statement in text)

    indicators: list[int] = []
    for entry, section, measure in pending_indicators:
        position += 1
        indicator = ap.upsert(
            Indicator,
            {"plan": plan, "code": entry.code},
            {
                "name": entry.name,
                "statement": entry.statement,
                "section": section,
                "measure": measure,
                "clause": clause_of(entry, measure),
                "kind": entry.kind,
                "comparator": entry.comparator or "",
                "target_value": entry.target,
                "unit": entry.unit or "",
                "baseline_year": entry.baseline_year,
                "target_year": entry.target_year,
                "aspirational": entry.aspirational,
                "position": position,
            },
        )
        indicators.append(indicator.pk)
        wanted = {measures[code].pk for code in entry.measures}
        current = set(indicator.related_measures.values_list("pk", flat=True))
        if wanted != current:
            indicator.related_measures.set(wanted)
            ap.counts["indicator_related_measures.updated"] += 1

    rules = [
        ap.upsert(
            Rule,
            {"plan": plan, "code": rule.code},
            {
                "measure": measures[rule.measure] if rule.measure else None,
                "kind": rule.kind,
                "text": rule.text,
                "parameters": rule.parameters,
            },
        ).pk
        for rule in parsed.rules
    ]

    # Children first, so nothing is deleted out from under a row that is kept.
    ap.delete_stale(Rule.objects.filter(plan=plan), rules)
    ap.delete_stale(Indicator.objects.filter(plan=plan), indicators)
    ap.delete_stale(Responsibility.objects.filter(clause__measure__plan=plan), responsibilities)
    ap.delete_stale(ResponsibilityClause.objects.filter(measure__plan=plan), clauses)
    ap.delete_stale(Measure.objects.filter(plan=plan), [m.pk for m in measures.values()])
    ap.delete_stale(Section.objects.filter(plan=plan).order_by("-level"), sections)

    report = LoadReport(plan=plan, counts=ap.counts)
    if report.changed:
        audit.record(
            actor=actor,
            action="plan.loaded",
            target=plan,
            changes={
                "content_sha256": plan.content_sha256,
                "counts": {k: v for k, v in sorted(ap.counts.items()) if not k.endswith(".unchanged")},
            },
        )
    return report


def load_plan(path: Path, *, actor: User | None = None) -> LoadReport:
    """Validate the file at `path` (and its source text beside it), then apply it."""
    parsed, raw = read_plan_file(path)
    source_text = ""
    if parsed.plan.source:
        source_path = path.parent / parsed.plan.source
        if not source_path.exists():
            raise PlanFileError(path.name, [Problem(None, "plan.source", f"找不到原文文件 {parsed.plan.source}")])
        source_text = source_path.read_text(encoding="utf-8")
    return apply_plan_file(parsed, raw, source_text=source_text, actor=actor)
