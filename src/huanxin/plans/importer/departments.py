"""Responsibility clauses and department names.

A clause: "（市工业和信息化局、市应急管理局等按职责分工负责）", "（市发展改革委牵头，市财政局配合）",
"责任单位：市商务局、市财政局". Names are looked up among known departments (the plan files in plans/data/ and
importer/data/departments.yaml), whatever the level prefix (市/省/县/张家口市 …); unknown ones are proposals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

PLAN_DATA = Path(__file__).resolve().parents[1] / "data"
DATA = Path(__file__).resolve().parent / "data"
_PREFIX_END = "省市州盟县区旗"
_WILDCARD = "[\u4e00-\u9fff]{1,12}?"
_CLAUSE_END = re.compile(r"(负责|牵头|配合|落实|参与)$")
_CLAUSE_START = re.compile(r"^(责任单位|牵头单位|主责单位|责任部门|牵头部门)[：:]")
_TAIL = re.compile(r"(等有关部门|等相关部门|等部门|等单位|等)?(按照?(各自)?职责(分工)?|分别|共同|具体)?(负责|落实)?$")
_ORG_ENDING = re.compile(
    r"(局|委|厅|办|办公室|中心|院|会|社|总社|队|支队|分行|支行|海关|公司|集团|政府|管委会|部|所|站|台|处|分局|监管局|银行|协会)$"
)


@dataclass(frozen=True)
class Known:
    code: str
    name: str  # the spelling this entry came with (a plan file's full name, or a core name)
    kind: str
    short: str = ""  # short form without prefix
    from_plan: bool = False  # from a plan file in plans/data (names there carry their prefix)
    region: str = ""  # the region code of that plan file's plan: the body is that place's


@dataclass(frozen=True)
class Found:
    """A name looked up: the department it is, and how the text wrote it around the name the directory knows."""

    known: Known
    prefix: str  # the level prefix the text put before the known name: 市, 县, 石家庄市, '' …
    wildcard: str = ""  # what a `*` stood for (国家税务总局石家庄市税务局 → 石家庄市)
    by_pattern: bool = False  # matched only by a pattern with `*`, not by a spelling


def _key(name: str) -> str:
    name = re.sub(r"\s+", "", name).replace("和", "")
    name = re.sub(r"委员会$", "委", name)
    return re.sub(r"厅$", "局", name)


def _cores(name: str) -> list[str]:
    """The name itself, then the name without each level prefix it may carry, shortest prefix first."""
    out = [name]
    for i in range(1, min(len(name) - 1, 14)):
        if name[i - 1] in _PREFIX_END:
            out.append(name[i:])
    return out


@dataclass
class Directory:
    exact: dict[str, Known] = field(default_factory=dict)
    patterns: list[tuple[re.Pattern[str], Known]] = field(default_factory=list)

    def add(self, spelling: str, known: Known) -> None:
        if "*" in spelling:
            pattern = re.escape(_key(spelling)).replace(r"\*", f"({_WILDCARD})")
            self.patterns.append((re.compile(f"^(?:{pattern})$"), known))
        else:
            self.exact.setdefault(_key(spelling), known)

    def find(self, name: str) -> Known | None:
        found = self.lookup(name)
        return found.known if found else None

    def lookup(self, name: str) -> Found | None:
        for core in _cores(name):
            if known := self.exact.get(_key(core)):
                return Found(known, name[: len(name) - len(core)])
        for core in _cores(name):
            for pattern, known in self.patterns:
                if m := pattern.match(_key(core)):
                    return Found(known, name[: len(name) - len(core)], m.group(1) if m.groups() else "", True)
        return None


@cache
def directory() -> Directory:
    found = Directory()
    for path in sorted(PLAN_DATA.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in data.get("departments", []) or []:
            known = Known(
                entry["code"],
                entry["name"],
                entry.get("kind", "municipal"),
                entry.get("short_name", ""),
                from_plan=True,
                region=str((data.get("plan") or {}).get("region", "")),
            )
            for spelling in [entry["name"], entry.get("short_name") or "", *(entry.get("aliases") or [])]:
                if spelling:
                    found.add(spelling, known)
    for entry in yaml.safe_load((DATA / "departments.yaml").read_text(encoding="utf-8")):
        known = Known(entry["code"], entry["names"][0], entry.get("kind", "municipal"), entry.get("short", ""))
        for spelling in entry["names"]:
            found.add(spelling, known)
    return found


@dataclass
class Clause:
    names: list[str]  # in order, lead first
    open_ended: bool
    explicit_lead: bool  # the text says 牵头


def split_names(text: str) -> list[str]:
    """Split a list of names on 、，; but not inside brackets (各县（市、区）政府)."""
    out, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "（(" and 1) or 0
        depth -= (ch in "）)" and 1) or 0
        if depth <= 0 and ch in "、，,；;/":
            out.append(current)
            current = ""
            depth = 0
        else:
            current += ch
    out.append(current)
    return [name.strip() for name in out if name.strip()]


def looks_like_clause(inner: str) -> bool:
    inner = inner.strip()
    if len(inner) < 3 or len(inner) > 300 or "。" in inner:
        return False
    return bool(_CLAUSE_END.search(inner) or _CLAUSE_START.match(inner))


def parse_clause(inner: str) -> Clause | None:
    """The departments of a clause (without its brackets), lead first; None when it names none."""
    inner = inner.strip().rstrip("。")
    leads: list[str] = []
    others: list[str] = []
    open_ended = False
    explicit_lead = False
    for part in re.split(r"[；;]|，(?=[^，]*(?:配合|参与|协助|协同|负责)$)", inner):
        part = part.strip("，, ")
        if not part:
            continue
        target = others
        if m := re.match(r"^(牵头单位|牵头部门|主责单位)[：:](.*)$", part):
            part, target, explicit_lead = m.group(2), leads, True
        elif m := re.match(r"^(配合单位|参与单位|协同单位|配合部门|责任单位|责任部门)[：:](.*)$", part):
            part = m.group(2)
        if m := re.match(r"^(.*?)(牵头负责|牵头)[，,]?(.*)$", part):
            leads.extend(split_names(m.group(1)))
            explicit_lead = True
            part = m.group(3)
        part = re.sub(r"(配合|参与|协助|协同)(负责|落实)?$", "", part)
        tail = _TAIL.search(part)
        if tail and tail.group(1):
            open_ended = True
        part = _TAIL.sub("", part) if tail else part
        names = split_names(part)
        if names and names[-1].endswith("等"):
            names[-1] = names[-1].removesuffix("等")
            open_ended = True
        target.extend(name for name in names if name)
    names = [re.sub(r"^(?:由|请)", "", n) for n in [*leads, *others]]
    names = [n for n in dict.fromkeys(names) if 2 <= len(n) <= 40]
    return Clause(names, open_ended, explicit_lead) if names else None


def plausible_name(name: str) -> bool:
    return bool(_ORG_ENDING.search(name)) and not re.search(r"[0-9。；：]", name)
