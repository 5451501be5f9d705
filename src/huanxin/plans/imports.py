"""Importing a plan document: upload → draft (huanxin.plans.importer) → review and edit → publish.

The draft is YAML in the loader's format whose items also carry `confidence` and `source` ([start, end] offsets
into the extracted text); the review page reads them through `outline()`. The reviewer edits it in forms — the
plan's header (`save_header`), a section or a measure with its clauses and targets (`save_item`) — or, as the
advanced fallback, as YAML (`save_draft`). Every edit is validated with the loader's own reader before it is kept;
publishing loads the draft through the normal path (`services.load_plan_file`) and refuses the importer's
placeholders (`unfinished`) and clashes with the database (`conflicts`). Only the task force imports plans. Every
write is audited in its transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from huanxin.core import audit
from huanxin.core.models import Department, DepartmentAlias, Region, User
from huanxin.core.roles import is_task_force
from huanxin.jobs.models import Job
from huanxin.plans import services
from huanxin.plans.importer import ImportFailed, dump_yaml, import_document
from huanxin.plans.importer import regions as code_database
from huanxin.plans.importer.build import PLACEHOLDER_REGION, region_entries
from huanxin.plans.loader import PlanFileError, read_plan_file
from huanxin.plans.models import Plan, PlanImport

log = logging.getLogger(__name__)

ACCEPTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_YAML_CHARS = 2_000_000
LOW_CONFIDENCE = 0.8
DRAFT_NAME = "draft.yaml"  # the name the loader's messages give the draft (draft.yaml:12: …)
SOURCE_NAME = "source.txt"


def _require_task_force(actor: User) -> None:
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以导入和发布实施方案")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- Writes --------------------------------------------------------------------------------------


def check_upload(*, actor: User, filename: str, data: bytes) -> str:
    """What may be refused before the importer reads a word: the actor, an empty or too large file. Returns the
    name the import keeps (the upload's base name)."""
    _require_task_force(actor)
    if not data:
        raise ValidationError("上传的文件是空的", code="empty_file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"文件超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB，请拆分或压缩后再上传", code="too_large"
        )
    return Path(filename or "").name.strip()[:255] or "未命名文件"


@transaction.atomic
def create_import(*, actor: User, filename: str, data: bytes, job: Job | None = None) -> PlanImport:
    """Run the importer over an uploaded document and keep the result: a draft to review, or a failed record with
    the importer's error code and Chinese message (unsupported format, no text layer …). `job` is the background
    job doing it (plans/jobs.py), kept on the import so that job never makes a second one."""
    filename = check_upload(actor=actor, filename=filename, data=data)
    record = PlanImport(filename=filename, data=data, size=len(data), sha256=_sha256(data), created_by=actor, job=job)
    try:
        result = import_document(data, filename)
    except ImportFailed as exc:
        record.status = PlanImport.Status.FAILED
        record.error_code = exc.code
        record.error_message = str(exc)
    except Exception:  # the importer must never turn an upload into a server error; the log keeps the trace
        log.exception("plan importer crashed on %s", filename)
        record.status = PlanImport.Status.FAILED
        record.error_code = "importer_error"
        record.error_message = "导入程序处理该文件时出错，已记录，请联系管理员"
    else:
        record.text = result.text
        record.draft_yaml = result.yaml
        record.low_confidence = list(result.low_confidence)
        record.warnings = list(result.warnings)
    record.save()
    audit.record(
        actor=actor,
        action="plan_import.created",
        target=record,
        changes={
            "filename": filename,
            "size": record.size,
            "sha256": record.sha256,
            "status": record.status,
            "error_code": record.error_code,
            "low_confidence": len(record.low_confidence),
            **({"job": job.pk} if job is not None else {}),
        },
    )
    return record


@transaction.atomic
def save_draft(*, actor: User, plan_import: PlanImport, yaml_text: str) -> PlanImport:
    """Keep the reviewer's edit of the draft if the loader would accept it; otherwise refuse it (ValidationError
    with the loader's `draft.yaml:line: path：message` lines) and change nothing."""
    _require_task_force(actor)
    plan_import = PlanImport.objects.select_for_update().get(pk=plan_import.pk)
    if plan_import.status != PlanImport.Status.DRAFT:
        raise ValidationError("只有待审阅的草稿可以修改", code="not_draft")
    yaml_text = yaml_text.replace("\r\n", "\n")
    if len(yaml_text) > MAX_YAML_CHARS:
        raise ValidationError("草稿过长", code="too_long")
    return _store_draft(actor, plan_import, yaml_text, {"lines": yaml_text.count("\n") + 1})


def _store_draft(actor: User, plan_import: PlanImport, yaml_text: str, changes: dict[str, Any]) -> PlanImport:
    """The one way a draft changes (the YAML editor and the forms): refused unless the loader would accept it,
    nothing written when it is the same, audited with the hashes before and after."""
    problems = validate_yaml(yaml_text)
    if problems:
        raise ValidationError(problems, code="invalid_draft")
    if yaml_text == plan_import.draft_yaml:
        return plan_import
    before = _sha256(plan_import.draft_yaml.encode())
    plan_import.draft_yaml = yaml_text
    plan_import.save(update_fields=["draft_yaml", "updated_at"])
    audit.record(
        actor=actor,
        action="plan_import.draft_saved",
        target=plan_import,
        changes={**changes, "draft_sha256": [before, _sha256(yaml_text.encode())]},
    )
    return plan_import


@transaction.atomic
def publish(*, actor: User, plan_import: PlanImport) -> Plan:
    """Load the draft through the normal loader and link the plan. Publishing twice returns the same plan."""
    _require_task_force(actor)
    plan_import = PlanImport.objects.select_for_update().get(pk=plan_import.pk)
    if plan_import.status == PlanImport.Status.PUBLISHED and plan_import.plan is not None:
        return plan_import.plan
    if plan_import.status != PlanImport.Status.DRAFT:
        raise ValidationError("导入失败的文件没有可发布的草稿", code="not_draft")
    problems = validate_yaml(plan_import.draft_yaml)
    if problems:
        raise ValidationError(["草稿未通过校验，请先修正：", *problems], code="invalid_draft")
    data = yaml.safe_load(plan_import.draft_yaml)
    clashes = unfinished(data) + conflicts(data)
    if clashes:
        raise ValidationError(clashes, code="conflict")
    _keep_existing(data)
    data["plan"].pop("placeholders", None)
    with tempfile.TemporaryDirectory(prefix="huanxin-import-") as tmp:
        directory = Path(tmp)
        if plan_import.text:  # the extracted text becomes the plan's source text, as beside a hand-made file
            data["plan"]["source"] = SOURCE_NAME
            (directory / SOURCE_NAME).write_text(plan_import.text, encoding="utf-8")
        else:
            data["plan"].pop("source", None)
        path = directory / DRAFT_NAME
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        try:
            report = services.load_plan_file(path=path, actor=actor)
        except PlanFileError as exc:  # validated above, so only what the loader checks while applying
            raise ValidationError([_problem_line(p) for p in exc.problems], code="invalid_draft") from exc
    plan_import.status = PlanImport.Status.PUBLISHED
    plan_import.plan = report.plan
    plan_import.published_by = actor
    plan_import.published_at = timezone.now()
    plan_import.save(update_fields=["status", "plan", "published_by", "published_at", "updated_at"])
    audit.record(
        actor=actor,
        action="plan_import.published",
        target=plan_import,
        changes={
            "plan": report.plan.code,
            "draft_sha256": _sha256(plan_import.draft_yaml.encode()),
            "low_confidence_left": sum(1 for item in outline(plan_import).items() if item.low),
        },
    )
    return report.plan


# --- Editing the draft in forms -------------------------------------------------------------------

HEADER_LABELS = {"title": "方案名称", "document_number": "文号", "issuer": "发文机关", "issued_on": "成文日期"}
_STAND_IN = "请填写"  # the importer's stand-in texts: （请填写文号）, （请填写方案名称） …


@dataclass
class ClauseEdit:
    departments: list[str]  # codes, the lead first
    open_ended: bool = False
    checked: bool = False


@dataclass
class TargetEdit:
    name: str
    target_year: int
    comparator: str | None = None
    target: Decimal | None = None
    unit: str | None = None
    aspirational: bool = False
    checked: bool = False
    delete: bool = False
    measures: list[str] | None = None  # a section's goal: the measures that deliver it (None: leave as is)


@dataclass
class ItemEdit:
    """What the form of one section or measure of the draft says."""

    title: str
    text: str
    checked: bool = False
    clauses: list[ClauseEdit] = field(default_factory=list)
    targets: list[TargetEdit] = field(default_factory=list)


def _edit(*, actor: User, plan_import: PlanImport, what: str, change: Callable[[dict[str, Any]], None]) -> PlanImport:
    """Apply a form's change to the stored draft and keep it if the loader accepts the result (as `save_draft`)."""
    _require_task_force(actor)
    plan_import = PlanImport.objects.select_for_update().get(pk=plan_import.pk)
    if plan_import.status != PlanImport.Status.DRAFT:
        raise ValidationError("只有待审阅的草稿可以修改", code="not_draft")
    try:
        data = yaml.safe_load(plan_import.draft_yaml or "")
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("plan"), dict):
        raise ValidationError("草稿 YAML 有误，请先在“高级：编辑 YAML”中修正", code="invalid_draft")
    change(data)
    return _store_draft(actor, plan_import, dump_yaml(data), {"form": what})


@transaction.atomic
def save_header(
    *,
    actor: User,
    plan_import: PlanImport,
    title: str,
    document_number: str,
    issuer: str,
    issued_on: dt.date,
    region_code: str,
    code: str | None = None,
) -> PlanImport:
    """The plan's name, 文号, 发文机关, 成文日期 and region as the reviewer read them in the document. Each field saved
    here is no longer a placeholder. A new region code takes the place's name and divisions from the code database
    (as the importer does) and moves the departments filed under the old code (`000000-miit` → `130722-miit`)."""
    errors: dict[str, str] = {}
    values = {"title": title.strip(), "document_number": document_number.strip(), "issuer": issuer.strip()}
    for key, limit in (("title", 200), ("document_number", 60), ("issuer", 100)):
        if not values[key]:
            errors[key] = f"请填写{HEADER_LABELS[key]}"
        elif _STAND_IN in values[key]:
            errors[key] = f"请填写原文的{HEADER_LABELS[key]}，不要保留占位文字"
        elif len(values[key]) > limit:
            errors[key] = f"{HEADER_LABELS[key]}过长（最多 {limit} 字）"
    if code is not None:
        code = code.strip()
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,59}", code):
            errors["code"] = "方案代码用小写字母、数字和连字符，如 zhangbei-2024"
    region_code = region_code.strip()
    place = None
    if not re.fullmatch(r"\d{6}", region_code) or region_code == PLACEHOLDER_REGION:
        errors["region"] = "请填写 6 位行政区划代码（GB/T 2260），如 130722"

    def change(data: dict[str, Any]) -> None:
        nonlocal place
        plan = data["plan"]
        if "region" not in errors and region_code != str(plan.get("region")):
            place = code_database.places().get(region_code)
            if place is None:
                errors["region"] = f"行政区划代码库中没有 {region_code}，请核对"
        if issued_on.year > int(plan.get("target_year") or 2100):
            errors["issued_on"] = "成文日期不应晚于方案的目标年"
        if errors:
            raise ValidationError(errors, code="invalid_header")
        plan.update(values)
        plan["issued_on"] = issued_on
        if code is not None:
            plan["code"] = code
        left = [key for key in plan.get("placeholders") or [] if key not in (*values, "issued_on")]
        if left:
            plan["placeholders"] = left
        else:
            plan.pop("placeholders", None)
        if place is not None:
            _move_region(data, str(plan["region"]), place)

    return _edit(actor=actor, plan_import=plan_import, what="header", change=change)


def _move_region(data: dict[str, Any], old: str, place: code_database.Place) -> None:
    data["plan"]["region"] = place.code
    entries = region_entries(place)
    entries[0]["confidence"] = 1.0  # the reviewer gave it
    data["regions"] = entries
    renamed = {}
    for entry in data.get("departments") or []:
        code = str(entry.get("code", ""))
        if code.startswith(old + "-"):
            renamed[code] = place.code + code.removeprefix(old)
            entry["code"] = renamed[code]
    if not renamed:
        return
    if data["plan"].get("task_force_department") in renamed:
        data["plan"]["task_force_department"] = renamed[data["plan"]["task_force_department"]]
    for _path, measure in _measures(data):
        for clause in _as_list(measure.get("responsibilities")):
            clause["departments"] = [renamed.get(str(c), c) for c in clause.get("departments") or []]


def _measures(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, measure) for every measure of the draft: paths as the edit pages address them (s1.m0, s1.s0.m2)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for i, top in enumerate(_as_list(data.get("sections"))):
        out.extend((f"s{i}.m{k}", m) for k, m in enumerate(_as_list(top.get("measures"))))
        for j, sub in enumerate(_as_list(top.get("sections"))):
            out.extend((f"s{i}.s{j}.m{k}", m) for k, m in enumerate(_as_list(sub.get("measures"))))
    return out


def node_at(data: dict[str, Any], path: str) -> tuple[str, dict[str, Any], str]:
    """The section or measure at `path` (s1, s1.s0, s1.m2, s1.s0.m2): (kind, node, its code such as 二（一）2).
    KeyError when there is none."""
    parts = path.split(".")
    if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"[sm]\d{1,4}", part) for part in parts):
        raise KeyError(path)
    kinds = [part[0] for part in parts]
    if kinds[0] != "s" or "m" in kinds[:-1] or kinds.count("s") > 2:
        raise KeyError(path)
    node: dict[str, Any] = data
    numbers = []
    for part in parts:
        listing = _as_list(node.get("sections" if part[0] == "s" else "measures"))
        index = int(part[1:])
        if index >= len(listing):
            raise KeyError(path)
        node = listing[index]
        numbers.append(_text(node.get("number")))
    code = "".join(numbers) + ("、" if len(parts) == 1 else "")
    return ("measure" if kinds[-1] == "m" else "section"), node, code


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@transaction.atomic
def save_item(*, actor: User, plan_import: PlanImport, path: str, edit: ItemEdit) -> PlanImport:
    """A section's or a measure's form: title, text, its clauses' departments (lead first), its targets (value,
    unit, year; a wrong one deleted). Ticking 已核对 sets the item's confidence to 1: the reviewer checked it."""

    def change(data: dict[str, Any]) -> None:
        try:
            kind, node, _code = node_at(data, path)
        except KeyError:
            raise ValidationError("草稿中没有这一项（草稿可能已修改），请回到审阅页重新打开", code="no_item") from None
        codes = {_text(d.get("code")) for d in _as_list(data.get("departments"))}
        measure_codes = {
            _text(top.get("number")) + _text(sub.get("number")) + _text(m.get("number"))
            for top in _as_list(data.get("sections"))
            for sub in [{}, *_as_list(top.get("sections"))]
            for m in _as_list((sub or top).get("measures"))
        }
        clauses = _as_list(node.get("responsibilities")) if kind == "measure" else []
        targets = _as_list(node.get("indicators"))
        if len(edit.clauses) != len(clauses) or len(edit.targets) != len(targets):
            raise ValidationError("草稿已被修改，请回到审阅页重新打开本项", code="stale_form")
        errors: dict[str, str] = {}
        title = edit.title.strip()
        if not title or len(title) > 200:
            errors["title"] = "请填写标题（最多 200 字）"
        if kind == "measure" and not edit.text.strip():
            errors["text"] = "请填写举措正文"
        for n, clause_edit in enumerate(edit.clauses):
            if not clause_edit.departments:
                errors[f"c{n}-lead"] = "请选择牵头单位"
            elif unknown := [c for c in clause_edit.departments if c not in codes]:
                errors[f"c{n}-lead"] = f"草稿中没有单位 {'、'.join(unknown)}"
            elif len(set(clause_edit.departments)) != len(clause_edit.departments):
                errors[f"c{n}-co"] = "配合单位中不要再选牵头单位"
        for n, target_edit in enumerate(edit.targets):
            if target_edit.delete:
                continue
            if not target_edit.name.strip() or len(target_edit.name.strip()) > 120:
                errors[f"t{n}-name"] = "请填写指标名称（最多 120 字）"
            if target_edit.measures and (unknown := [m for m in target_edit.measures if m not in measure_codes]):
                errors[f"t{n}-measures"] = f"草稿中没有举措 {'、'.join(unknown)}"
        if errors:
            raise ValidationError(errors, code="invalid_item")
        node["title"] = title
        node["text"] = edit.text.strip()
        if edit.checked:
            node["confidence"] = 1.0
        for clause, clause_edit in zip(clauses, edit.clauses, strict=True):
            clause["departments"] = list(clause_edit.departments)
            clause["open_ended"] = clause_edit.open_ended
            if clause_edit.checked:
                clause["confidence"] = 1.0
        kept = []
        for target, given in zip(targets, edit.targets, strict=True):
            if given.delete:
                continue
            target["name"] = given.name.strip()
            target["target_year"] = given.target_year
            target["aspirational"] = given.aspirational
            if target.get("kind") != "qualitative":
                target["comparator"] = given.comparator
                target["target"] = _number(given.target) if given.target is not None else None
                target["unit"] = (given.unit or "").strip() or None
            if given.measures is not None:
                target["measures"] = list(given.measures)
            if given.checked:
                target["confidence"] = 1.0
            kept.append(target)
        if targets or "indicators" in node:
            node["indicators"] = kept

    return _edit(actor=actor, plan_import=plan_import, what=f"item {path}", change=change)


def unfinished(data: dict[str, Any]) -> list[str]:
    """Header fields that are still the importer's stand-ins — a 文号 “（请填写文号）”, a 成文日期 the text did not
    give (`plan.placeholders`) — each a reason not to publish: a plan goes out with what its document says."""
    plan: dict[str, Any] = data["plan"] if isinstance(data.get("plan"), dict) else {}
    left = set(plan.get("placeholders") or [])
    out = []
    for key, label in HEADER_LABELS.items():
        value = _text(plan.get(key))
        if key in left or _STAND_IN in value:
            out.append(
                f"plan.{key}：{label}“{value}”是导入时填的占位值（原文中没有找到），请在“方案信息”中填写原文的{label}"
            )
    return out


# --- Reads ---------------------------------------------------------------------------------------


def _problem_line(problem: Any) -> str:
    return f"{DRAFT_NAME}:{problem.line or 0}: {problem.path or '/'}：{problem.message}"


def validate_yaml(yaml_text: str) -> list[str]:
    """The loader's verdict on a draft without writing anything: [] when it would load, else one line per problem
    (`draft.yaml:12: sections[1].measures[0].title：不能为空`)."""
    with tempfile.TemporaryDirectory(prefix="huanxin-import-") as tmp:
        path = Path(tmp) / DRAFT_NAME
        path.write_text(yaml_text, encoding="utf-8")
        try:
            read_plan_file(path)
        except PlanFileError as exc:
            return [_problem_line(p) for p in exc.problems]
    return []


def conflicts(data: dict[str, Any]) -> list[str]:
    """What publishing a (valid) draft would do to data it does not own: the loader upserts a plan, its regions and
    departments by code, so a draft reusing a code would overwrite another plan, rename a region or a department, or
    move a department to another region. An import never does that silently: each is a reason not to publish."""
    out = []
    code = str(data["plan"]["code"])
    plan = Plan.objects.filter(code=code).first()
    if plan is not None:
        out.append(f"plan.code：方案代码 {code} 已被“{plan.title}”使用，发布会覆盖该方案，请改用新的代码")
    for i, entry in enumerate(data.get("regions") or []):
        if str(entry["code"]) == PLACEHOLDER_REGION:
            out.append(f"regions[{i}].code：000000 是占位值，请填写“{entry['name']}”的行政区划代码（GB/T 2260）")
            continue
        region = Region.objects.filter(code=str(entry["code"])).first()
        if region is not None and region.name != entry["name"]:
            out.append(
                f"regions[{i}]：区划代码 {region.code} 已是“{region.name}”，发布会改名为“{entry['name']}”，请核对代码"
            )
    region_code = str(data["plan"]["region"])
    aliases = dict(DepartmentAlias.objects.values_list("name", "department__code"))
    for i, entry in enumerate(data.get("departments") or []):
        dept_code, name = str(entry["code"]), str(entry["name"])
        if dept_code.startswith(PLACEHOLDER_REGION + "-"):  # the importer's code for a place it did not know
            out.append(
                f"departments[{i}].code：{dept_code} 以占位地区代码开头，请改为方案地区代码开头"
                f"（如 {region_code}{dept_code.removeprefix(PLACEHOLDER_REGION)}）"
            )
        department = Department.objects.filter(code=dept_code).select_related("region").first()
        if department is not None and department.name != name:
            out.append(
                f"departments[{i}]：单位代码 {dept_code} 已是“{department.name}”，发布会改名为“{name}”，"
                "请改用新的代码（新单位）或原名称（同一单位）"
            )
        elif department is None and (same := Department.objects.filter(name=name).first()) is not None:
            out.append(f"departments[{i}]：单位“{name}”已存在（代码 {same.code}），请改用代码 {same.code}")
        elif department is not None and department.region is not None and department.region.code != region_code:
            out.append(
                f"departments[{i}]：单位“{name}”属于{department.region.name}，发布会把它划归方案地区 {region_code}，"
                "请改用新的代码"
            )
        for alias in entry.get("aliases") or []:
            owner = aliases.get(alias)
            if owner is not None and owner != dept_code:
                out.append(f"departments[{i}].aliases：别名“{alias}”已属于单位 {owner}，请删去或改正")
    return out


def _keep_existing(data: dict[str, Any]) -> None:
    """Regions and departments the draft shares with the database (same code, same name — `conflicts` refuses the
    rest) keep what the database knows: a region its short name, kind and parent (with the parent's chain added
    to the draft), a department its kind, short name and every alias (the loader would delete aliases a file does
    not list). So publishing an import adds to the shared lists, never takes away from them."""
    regions = {str(r["code"]): r for r in data["regions"]}
    pending = [code for code in regions]
    while pending:
        region = Region.objects.filter(code=pending.pop()).select_related("parent").first()
        if region is None:
            continue
        entry = regions.setdefault(region.code, {"code": region.code, "name": region.name})
        if entry not in data["regions"]:
            data["regions"].append(entry)
        entry.update(short_name=region.short_name, kind=region.kind, code_source=region.code_source)
        if region.parent is not None:
            entry["parent"] = region.parent.code
            if region.parent.code not in regions:
                pending.append(region.parent.code)
        else:
            entry.pop("parent", None)
    for entry in data["departments"]:
        department = Department.objects.filter(code=str(entry["code"])).first()
        if department is None:
            continue
        listed = list(entry.get("aliases") or [])
        entry["aliases"] = listed + sorted(set(department.aliases.values_list("name", flat=True)) - set(listed))
        entry["kind"] = department.kind
        entry["short_name"] = entry.get("short_name") or department.short_name


@dataclass
class Item:
    """One item of the draft as the review page shows it."""

    kind: str  # section | measure | responsibility | indicator | department
    label: str  # where it is: 二（一）1, 二（一）1 · 分工 1 …
    title: str
    detail: str = ""
    confidence: float | None = None
    start: int | None = None
    end: int | None = None
    children: list[Item] = field(default_factory=list)
    anchor: str = ""  # the element id on the review page
    path: str = ""  # the section or measure whose form edits it (node_at), "" for none

    @property
    def low(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE

    @property
    def kind_label(self) -> str:
        return {"section": "章节", "measure": "举措", "responsibility": "分工", "indicator": "指标"}.get(
            self.kind, "单位"
        )

    @property
    def label_in_tree(self) -> bool:
        """Nested clauses and indicators sit under their measure: the tree does not repeat its code."""
        return self.kind in ("section", "measure")

    def walk(self) -> list[Item]:
        return [self, *(item for child in self.children for item in child.walk())]


@dataclass
class Outline:
    """The draft as a tree (sections → measures → responsibilities → indicators) plus proposed departments."""

    sections: list[Item]
    proposed_departments: list[Item]
    plan: dict[str, Any]
    error: str = ""

    def items(self) -> list[Item]:
        return [*self.proposed_departments, *(item for s in self.sections for item in s.walk())]

    def low_items(self) -> list[Item]:
        return [item for item in self.items() if item.low]


def _as_list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def outline(plan_import: PlanImport) -> Outline:
    """Read the stored draft for the review page. Tolerant: the importer's first draft may not load yet."""
    try:
        data = yaml.safe_load(plan_import.draft_yaml or "") or {}
    except yaml.YAMLError:
        return Outline([], [], {}, error="草稿不是有效的 YAML")
    if not isinstance(data, dict):
        return Outline([], [], {}, error="草稿顶层应为映射")
    text_length = len(plan_import.text)

    def item(kind: str, label: str, title: str, entry: dict[str, Any], detail: str = "") -> Item:
        confidence = entry.get("confidence")
        source = entry.get("source")
        start = end = None
        if (
            isinstance(source, list | tuple)
            and len(source) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in source)
            and 0 <= source[0] <= source[1] <= text_length
        ):
            start, end = source
        number = float(confidence) if isinstance(confidence, int | float) and not isinstance(confidence, bool) else None
        return Item(kind, label, title, detail, number, start, end)

    departments = {_text(d.get("code")): d for d in _as_list(data.get("departments"))}

    def department_name(code: Any) -> str:
        entry = departments.get(_text(code))
        return _text(entry.get("name")) if entry else _text(code)

    def indicator(entry: dict[str, Any], where: str, path: str) -> Item:
        target = entry.get("target")
        comparator = {"gte": "≥", "gt": ">", "eq": "=", "lte": "≤"}.get(_text(entry.get("comparator")), "")
        if entry.get("kind") == "qualitative" or target is None:
            detail = "定性目标"
        else:
            detail = f"{comparator}{target}{_text(entry.get('unit'))}"
        if entry.get("target_year"):
            detail += f"（{entry['target_year']}年）"
        if entry.get("aspirational"):
            detail += " 力争"
        name = _text(entry.get("name")) or _text(entry.get("statement"))
        found = item("indicator", where, name, entry, detail)
        found.path = path
        return found

    def measure(entry: dict[str, Any], code: str, path: str) -> Item:
        node = item("measure", code, _text(entry.get("title")), entry)
        node.path = path
        clauses = _as_list(entry.get("responsibilities"))
        for n, resp in enumerate(clauses, start=1):
            names = [department_name(c) for c in resp.get("departments") or []]
            detail = "；".join(
                [f"牵头：{names[0]}" if names else "", f"配合：{'、'.join(names[1:])}" if names[1:] else ""]
            ).strip("；")
            if resp.get("open_ended"):
                detail += " 等"
            label = f"{code}（第{n}条）" if len(clauses) > 1 else code
            clause = item("responsibility", label, _text(resp.get("clause")), resp, detail)
            clause.path = path
            node.children.append(clause)
        node.children.extend(indicator(ind, code, path) for ind in _as_list(entry.get("indicators")))
        return node

    sections = []
    for i, top in enumerate(_as_list(data.get("sections"))):
        number = _text(top.get("number"))
        node = item("section", f"{number}、", _text(top.get("title")), top)
        node.path = f"s{i}"
        node.children.extend(indicator(ind, number, node.path) for ind in _as_list(top.get("indicators")))
        for j, sub in enumerate(_as_list(top.get("sections"))):
            sub_code = number + _text(sub.get("number"))
            child = item("section", sub_code, _text(sub.get("title")), sub)
            child.path = f"s{i}.s{j}"
            child.children.extend(indicator(ind, sub_code, child.path) for ind in _as_list(sub.get("indicators")))
            child.children.extend(
                measure(m, sub_code + _text(m.get("number")), f"s{i}.s{j}.m{k}")
                for k, m in enumerate(_as_list(sub.get("measures")))
            )
            node.children.append(child)
        node.children.extend(
            measure(m, number + _text(m.get("number")), f"s{i}.m{k}")
            for k, m in enumerate(_as_list(top.get("measures")))
        )
        sections.append(node)
    proposed = [
        item("department", "", _text(d.get("name")), d, _text(d.get("code")))
        for d in departments.values()
        if d.get("proposed")
    ]
    plan = data.get("plan") if isinstance(data.get("plan"), dict) else {}
    result = Outline(sections, proposed, plan or {})
    for n, node in enumerate(result.items(), start=1):
        node.anchor = f"item-{n}"
    return result
