"""The tree of a normalised text → a draft plan in the loader's format, every item with `confidence` and `source`."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huanxin.plans.importer import departments as dept
from huanxin.plans.importer import regions
from huanxin.plans.importer.structure import Node, Para, Tree, build_tree
from huanxin.plans.importer.targets import BASELINE, YEAR, Target, find_targets

LOW = 0.8
PLACEHOLDER_REGION = "000000"
PLAN_DATA = Path(__file__).resolve().parents[1] / "data"
_TITLE_END = re.compile(r"(实施方案|行动方案|工作方案|方案|行动计划|计划|若干措施|措施|意见|办法|细则)$")
_DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,6}?)\s*[〔\[【［（(]\s*(\d{4})\s*[〕\]】］）)]\s*(\d{1,4})\s*号")
_ISSUER_END = re.compile(r"(人民政府|人民政府办公室|人民政府办公厅|办公室|办公厅|委员会)$")
_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_CN_DATE = re.compile(
    r"^([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,2})月([一二三四五六七八九十]{1,3})日$"
)
_PLACE = re.compile(r"^([\u4e00-\u9fff]{1,10}?(?:自治区|自治州|省|市|州|盟|县|区|旗))")
_GOALS = re.compile(r"目标")


@dataclass
class Draft:
    data: dict[str, Any]
    low_confidence: list[str]
    warnings: list[str]


@dataclass
class _Found:
    start: int
    end: int
    inner_start: int
    inner_end: int
    clause: dept.Clause


@dataclass
class Scope:
    """Whose departments a draft names. Department codes and names are global (the loader upserts them by code, a
    name belongs to one row): a body of another place is another row, even when it is "市工业和信息化局" too."""

    region: str  # the draft's region code (000000 when unknown)
    place: str  # its name (石家庄市), or the words the title starts with when the code is unknown, or ''
    levels: dict[str, tuple[str, str]] = field(default_factory=dict)  # 市/县/区/省 → (name, code) of that level
    own: bool = False  # a plan file in plans/data is of this region: its departments keep their codes and names

    @classmethod
    def of(cls, place: regions.Place | None, spelled: str) -> Scope:
        levels: dict[str, tuple[str, str]] = {}
        if place is None:
            if spelled and spelled[-1] in "省市县区旗":
                levels[spelled[-1]] = (spelled, PLACEHOLDER_REGION)
            return cls(PLACEHOLDER_REGION, spelled, levels)
        for above in [place, *regions.ancestors(place)]:
            level = {"province": "省", "prefecture": "市"}.get(above.level, above.name[-1])
            if level in "省市县区旗":
                levels.setdefault(level, (above.name, above.code))
        own = any(known.region == place.code for known in dept.directory().exact.values() if known.from_plan)
        return cls(place.code, place.name, levels, own)

    def qualify(self, name: str, found: dept.Found | None) -> tuple[str, str, str]:
        """(name as the database keeps it, code prefix, level char) of a name as the text writes it.

        A bare level prefix is the place of that level: in 石家庄's plan 市工业和信息化局 is 石家庄市工业和信息化局
        (in 张北县's, 县工业和信息化局 is 张北县工业和信息化局). A name that spells its place (张家口海关,
        国家税务总局石家庄市税务局) stays; one without any place (各县（市、区）人民政府) gets the plan's."""
        level = name[0] if len(name) > 2 and name[0] in "省市县区旗" else ""
        if level and found is not None and dept.directory().lookup(name[1:]) is None:
            level = ""  # 市场监管局: 市 is part of the name, not a level
        if level and level in self.levels:
            above, code = self.levels[level]
            return above + name[1:], code, level
        if level or not self.place or (found is not None and (found.by_pattern or len(found.prefix) > 1)):
            return name, self.region, level
        if self.place in name or regions.bare(self.place) in name:
            return name, self.region, level
        return self.place + name, self.region, level


@dataclass
class Registry:
    """The departments the draft names: known ones under their codes, the others proposed."""

    directory: dept.Directory
    scope: Scope = field(default_factory=lambda: Scope(PLACEHOLDER_REGION, ""))
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)
    proposed: int = 0
    notes: list[str] = field(default_factory=list)  # warnings about particular departments

    def code_for(self, name: str, source: tuple[int, int]) -> tuple[str, bool]:
        """(code, known) for a name as the text writes it; known is False for a proposal or a doubtful match."""
        if name in self.by_name:
            code = self.by_name[name]
            entry = self.entries[code]
            return code, not entry.get("proposed", False) and entry.get("confidence", 1) >= LOW
        found = self.directory.lookup(name)
        confidence = 1.0
        if found is None:
            self.proposed += 1
            display, prefix, _ = self.scope.qualify(name, None)
            code = f"{prefix}-new-{self.proposed}"
            self.entries[code] = {
                "code": code,
                "name": display[:80],
                "kind": _guess_kind(name),
                "proposed": True,
                "confidence": 0.4 if dept.plausible_name(name) else 0.2,
                "source": list(source),
            }
            self.by_name[name] = code
            return code, False
        known = found.known
        if found.by_pattern and not regions.is_place_name(found.wildcard):
            # 地方金融监管局 fits *金融监管局 (the NFRA's local office) but names no place: a guess
            confidence = 0.7
            self.notes.append(f"“{name}”只按通配名称“{known.name}”识别为 {known.code}，请核对")
        if self.scope.own and known.from_plan and known.region == self.scope.region:
            code, display, short, level = known.code, name, known.short if known.name == name else "", ""
        elif self.scope.own:  # the plan files' place: names as its file writes them (市国资委), codes of its own
            code, display, level = f"{self.scope.region}-{known.code}", name, ""
            short = _short(known, name[0], name) if name[0] in "省市县区旗" else ""
        else:
            display, prefix, level = self.scope.qualify(name, found)
            code = f"{prefix}-{known.code}"
            short = _short(known, level, display) if level else ""
            if prefix != self.scope.region:
                confidence = min(confidence, 0.6)
                self.notes.append(f"“{name}”是上级单位（{display}），发布后会作为本方案地区的单位登记，请核对或删去")
        if code in self.entries:
            entry = self.entries[code]
            if display != entry["name"] and display not in entry.get("aliases", []):
                entry.setdefault("aliases", []).append(display[:80])
        else:
            entry = {"code": code, "name": display[:80]}
            if short and short != display:
                entry["short_name"] = short[:40]
            entry["kind"] = known.kind
            if confidence < 1:
                entry["confidence"] = confidence
                entry["source"] = list(source)
            self.entries[code] = entry
        self.by_name[name] = code
        return code, entry.get("confidence", 1) >= LOW

    def listing(self) -> list[dict[str, Any]]:
        keys = ("code", "name", "short_name", "aliases", "kind", "proposed", "confidence", "source")
        return [{k: entry[k] for k in keys if k in entry} for entry in self.entries.values()]


def _short(known: dept.Known, level: str, name: str) -> str:
    """市工信局: the level prefix and the usual short form (written without a prefix in departments.yaml, with the
    plan's own in a plan file) — when it is a body of the same sort (县发展和改革局 is no 县发改委)."""
    short = known.short
    if known.from_plan and short[:1] in "省市县区旗":
        short = short[1:]
    return level + short if short and _key_end(short) == _key_end(name) else ""


def _key_end(name: str) -> str:
    return re.sub(r"委员会$", "委", re.sub(r"厅$", "局", name))[-1:]


def _guess_kind(name: str) -> str:
    if re.search(r"(支队|大队|总队)$", name):
        return "brigade"
    if re.search(r"海关|税务|分行|支行|监管分局|监管局|通信管理|邮政管理|气象", name):
        return "vertical"
    if re.search(r"(社|台|中心|院|协会|联合会)$", name):
        return "institution"
    return "municipal"


class Builder:
    def __init__(self, text: str):
        self.text = text
        self.tree: Tree = build_tree(text)
        self.place_words = self._place_words()
        self.place = regions.find_place(self.place_words, text)
        spelled = self.place.place.name if self.place.place else self.place.spelled or _place_of(self.place_words)
        self.registry = Registry(dept.directory(), Scope.of(self.place.place, spelled))
        self.low: list[str] = []
        self.placeholders: list[str] = []  # header fields filled with a stand-in (plan.placeholders)
        self.warnings: list[str] = list(self.tree.warnings)
        self.indicator_codes: set[str] = set()
        self.closing: list[Para] = []
        self.prose_sections: list[dict[str, Any]] = []
        self.target_year, self.baseline_year = self._years()

    # --- helpers ---------------------------------------------------------------------------------

    def t(self, start: int, end: int) -> str:
        return self.text[start:end]

    def _place_words(self) -> str:
        """The words of the header that name the issuing place: the issuer of the notice (…关于印发…的通知), a line
        such as 石家庄市人民政府, or the plan's title; the signature at the end when the top names none."""
        front = [self.t(p.start, p.end) for p in self.tree.front]
        for line in front:
            if (m := re.match(r"^(.+?)关于印发", line)) and line.endswith("通知"):
                return m.group(1)
        lines = [*front, *self.text.rstrip().splitlines()[-3:]]
        for line in lines:
            if _ISSUER_END.search(line) and len(line) <= 30 and not re.search("[，。、]", line):
                return line
        return next((line for line in front if _TITLE_END.search(line) and len(line) <= 80), front[0] if front else "")

    def flag(self, item: dict[str, Any], path: str) -> None:
        if item.get("confidence", 1) < LOW:
            self.low.append(path)

    def _years(self) -> tuple[int, int]:
        body = self.text[self.tree.roots[0].heading.start :] if self.tree.roots else self.text
        years = [int(m.group(1) or m.group(2)) for m in YEAR.finditer(body)]
        baselines = Counter(int(m.group(1)) for m in BASELINE.finditer(body))
        target = max(years) if years else dt.date.today().year + 3
        baseline = baselines.most_common(1)[0][0] if baselines else target - 4
        if baseline >= target:
            baseline = target - 1
        return target, baseline

    def clauses_in(self, paras: list[Para]) -> list[_Found]:
        found = []
        for para in paras:
            line = self.t(para.start, para.end)
            for start, end in _bracket_groups(line):
                inner = line[start + 1 : end - 1]
                if dept.looks_like_clause(inner) and (clause := dept.parse_clause(inner)):
                    found.append(
                        _Found(
                            para.start + start, para.start + end, para.start + start + 1, para.start + end - 1, clause
                        )
                    )
            if re.match(r"^(责任单位|牵头单位|责任部门|牵头部门)[：:]", line):
                clause = dept.parse_clause(line)
                if clause and not any(f.start >= para.start and f.end <= para.end for f in found):
                    found.append(_Found(para.start, para.end, para.start, para.end, clause))
        return sorted(found, key=lambda f: f.start)

    def has_clause(self, node: Node) -> bool:
        return bool(self.clauses_in(node.paragraphs()))

    # --- sections and measures -------------------------------------------------------------------

    def sections(self) -> list[dict[str, Any]]:
        out = []
        last_measure = self._last_measure_node()
        self.last_measure = last_measure
        for root in self.tree.roots:
            out.append(self.section(root))
        if not out:
            self.warnings.append("未识别出“一、二、三……”编号结构：全文作为一节，请人工拆分")
            start = self.tree.front[0].start if self.tree.front else 0
            out.append(
                {
                    "number": "一",
                    "title": "正文",
                    "text": self.text.strip() or "（空）",
                    "confidence": 0.1,
                    "source": [start, len(self.text)],
                }
            )
            self.low.append("一")
        return out

    def _last_measure_node(self) -> Node | None:
        nodes = [n for root in self.tree.roots for n in _walk(root) if n.level in (2, 3)]
        return nodes[-1] if nodes else None

    def title_and_rest(self, node: Node) -> tuple[str, int, float]:
        """(title, offset where the body starts, confidence) of a numbered paragraph."""
        content = self.t(node.content_start, node.heading.end)
        if (m := re.search(r"[。：:]", content)) and 0 < m.start() <= 40:
            return content[: m.start()], node.content_start + m.end(), 0.95
        if len(content) <= 40 and not re.search(r"[，；]", content):
            return content.rstrip("。"), node.heading.end, 0.95
        first = re.split(r"[，；。]", content)[0][:30]
        return first or content[:30], node.content_start, 0.6

    def section(self, root: Node) -> dict[str, Any]:
        title, body_start, confidence = self.title_and_rest(root)
        section: dict[str, Any] = {"number": root.number, "title": title[:200] or root.number}
        path = root.number
        if not self.has_clause(root):
            paras = [Para(body_start, root.heading.end), *root.paragraphs()[1:]]
            paras = [p for p in paras if p.end > p.start]
            section["text"] = "\n".join(self.t(p.start, p.end) for p in paras)
            self.prose_sections.append(section)
            goals = bool(_GOALS.search(title))
            indicators = self.indicators(paras, path, whole=goals, goals=True)
            if indicators:
                section["indicators"] = indicators
        else:
            body = [p for p in [Para(body_start, root.heading.end), *root.body] if p.end > p.start]
            if body:
                section["text"] = "\n".join(self.t(p.start, p.end) for p in body)
            subsections, measures = [], []
            for child in root.children:
                grand = child.children
                if grand and sum(self.has_clause(g) for g in grand) * 2 >= len(grand):
                    subsections.append(self.subsection(child, path))
                else:
                    measures.append(self.measure(child, f"{path}{child.number}"))
            if subsections:
                section["sections"] = subsections
            if measures:
                section["measures"] = measures
            if not root.children:
                self.warnings.append(f"{path}：有责任分工但没有下级编号，未生成举措，请人工处理")
                confidence = min(confidence, 0.5)
        section["confidence"] = confidence if root.in_sequence else min(confidence, 0.6)
        section["source"] = [root.heading.start, root.end]
        self.flag(section, path)
        return section

    def subsection(self, node: Node, parent_path: str) -> dict[str, Any]:
        title, body_start, confidence = self.title_and_rest(node)
        path = f"{parent_path}{node.number}"
        sub: dict[str, Any] = {"number": node.number, "title": title[:200] or node.number}
        body = [p for p in [Para(body_start, node.heading.end), *node.body] if p.end > p.start]
        if body:
            sub["text"] = "\n".join(self.t(p.start, p.end) for p in body)
        sub["measures"] = [self.measure(child, f"{path}{child.number}") for child in node.children]
        sub["confidence"] = confidence if node.in_sequence else min(confidence, 0.6)
        sub["source"] = [node.heading.start, node.end]
        self.flag(sub, path)
        return sub

    def measure(self, node: Node, code: str) -> dict[str, Any]:
        title, body_start, confidence = self.title_and_rest(node)
        paras = [Para(body_start, node.heading.end), *node.paragraphs()[1:]]
        paras = [p for p in paras if p.end > p.start]
        clauses = self.clauses_in(paras)
        if node is self.last_measure and clauses:  # what follows the last clause of the last measure: the closing
            tail = [p for p in paras if p.start >= clauses[-1].end]
            if tail:
                self.closing = tail
                paras = [p for p in paras if p.start < clauses[-1].end]
        # the body: the paragraphs without the clauses, in pieces (a piece = a stretch between clauses)
        pieces: list[tuple[int, int, int]] = []  # (start, end, index of the clause that follows)
        for para in paras:
            cursor = para.start
            for n, found in enumerate(clauses):
                if para.start <= found.start < para.end:
                    pieces.append((cursor, found.start, n))
                    cursor = found.end
            pieces.append((cursor, para.end, _next_clause(clauses, para.end)))
        pieces = [(s, e, n) for s, e, n in pieces if self.t(s, e).strip()]
        text = _join(self.text, pieces).strip() or title
        measure: dict[str, Any] = {"number": node.number, "title": title[:200] or node.number, "text": text}
        responsibilities = []
        for n, found in enumerate(clauses):
            entry = self.responsibility(found, code, n, len(clauses))
            if len(clauses) > 1:
                entry["covers"] = _join(self.text, [p for p in pieces if p[2] == n]).strip()
                entry = {k: entry[k] for k in ("clause", "departments", "open_ended", "covers", "confidence", "source")}
            responsibilities.append(entry)
        if not responsibilities:
            confidence = min(confidence, 0.5)
            self.warnings.append(f"{code}：没有找到责任分工，已填“待定”单位，请补充")
            tbd, _ = self.registry.code_for("待定责任单位", (node.heading.start, node.heading.start))
            responsibilities.append(
                {
                    "clause": "（原文未写明责任单位）",
                    "departments": [tbd],
                    "open_ended": False,
                    "confidence": 0.1,
                    "source": [node.heading.start, node.heading.start],
                }
            )
            self.low.append(f"{code} 责任单位")
        measure["responsibilities"] = responsibilities
        indicators = self.indicators([Para(s, e) for s, e, _ in pieces], code)
        if indicators:
            measure["indicators"] = indicators
        measure["confidence"] = confidence if node.in_sequence else min(confidence, 0.6)
        end = max([node.heading.end, *(p.end for p in paras)])
        measure["source"] = [node.heading.start, end]
        self.flag(measure, code)
        return measure

    def responsibility(self, found: _Found, code: str, n: int, count: int) -> dict[str, Any]:
        codes: list[str] = []
        confidence = 0.95
        for name in found.clause.names:
            dept_code, known = self.registry.code_for(name, (found.inner_start, found.inner_end))
            if not known:
                confidence = 0.5
            if dept_code not in codes:
                codes.append(dept_code)
        entry: dict[str, Any] = {
            "clause": self.t(found.inner_start, found.inner_end)[:300],
            "departments": codes,
            "open_ended": found.clause.open_ended,
            "confidence": confidence,
            "source": [found.inner_start, found.inner_end],
        }
        self.flag(entry, f"{code} 责任单位" + (str(n + 1) if count > 1 else ""))
        return entry

    # --- targets ---------------------------------------------------------------------------------

    def indicators(
        self, paras: list[Para], path: str, *, whole: bool = False, goals: bool = False
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for para in paras:
            chunk = self.t(para.start, para.end)
            for target in find_targets(chunk, whole=whole, default_year=self.target_year):
                out.append(self.indicator(target, para.start, path, len(out) + 1, goals))
        return out

    def indicator(self, target: Target, base: int, path: str, n: int, goals: bool) -> dict[str, Any]:
        code = _indicator_code(path, n)
        while code in self.indicator_codes:
            code += "-x"
        self.indicator_codes.add(code)
        entry: dict[str, Any] = {
            "code": code,
            "name": target.name or target.statement[:120],
            "statement": target.statement,
            "kind": target.kind,
        }
        confidence = target.confidence
        if target.kind != "qualitative":
            entry["comparator"] = target.comparator
            entry["target"] = int(target.value) if target.value == int(target.value or 0) else float(target.value or 0)
            entry["unit"] = target.unit
        if target.kind == "growth_vs_baseline":
            if target.baseline_year is None:
                confidence = min(confidence, 0.6)
            entry["baseline_year"] = target.baseline_year or self.baseline_year
        entry["target_year"] = target.target_year
        if target.aspirational:
            entry["aspirational"] = True
        if goals:  # which measures deliver an overall goal is a judgement the text does not write down
            entry["measures"] = []
            confidence = min(confidence, 0.7)
        entry["confidence"] = confidence
        entry["source"] = [base + target.start, base + target.end]
        self.flag(entry, f"{path} 指标{n}（{entry['name'][:20]}）")
        return entry

    # --- the header ------------------------------------------------------------------------------

    def header(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        front = [self.t(p.start, p.end) for p in self.tree.front]
        closing = [self.t(p.start, p.end) for p in self.closing]
        closing_text = [
            c for c in closing if not (_DATE.match(c) or _CN_DATE.match(c) or (_ISSUER_END.search(c) and len(c) <= 30))
        ]
        everything = [*front, *closing]

        notice = next((p for p in front if "关于印发" in p and p.endswith("通知") and len(p) <= 120), "")
        title_index = max(
            (
                i
                for i, p in enumerate(front)
                if _TITLE_END.search(p) and len(p) <= 80 and not re.search("[，。；：]", p) and "关于印发" not in p
            ),
            default=None,
        )
        if title_index is not None:
            title = front[title_index]
            preamble = [p for p in front[title_index + 1 :]]
        else:
            m = re.search(r"关于印发《?(.+?)》?的?通知$", notice)
            title = m.group(1) if m else ""
            preamble = [p for p in front if re.search(r"制定本方案|特制定|制定如下", p)]
        if not title:
            title = "（请填写方案名称）"
            self._missing("方案 名称", "原文中没有找到方案名称")
            self._placeholder("title")

        number = ""
        labelled = re.search(r"文号[：:]\s*" + _DOC_NUMBER.pattern, "\n".join(front))
        if labelled:
            number = f"{labelled.group(1)}〔{labelled.group(2)}〕{labelled.group(3)}号"
        else:
            for p in front:
                for m in _DOC_NUMBER.finditer(p):
                    if m.start() == 0 or p[m.start() - 1] not in "（(":
                        number = f"{m.group(1)}〔{m.group(2)}〕{m.group(3)}号"
                        break
                if number:
                    break
        if not number:
            number = "（请填写文号）"
            self._missing("方案 文号", "原文中没有找到文号")
            self._placeholder("document_number")

        issuer = ""
        if m := re.match(r"^(.+?)关于印发", notice):
            issuer = m.group(1)
        if not issuer:
            issuer = next(
                (p for p in everything if _ISSUER_END.search(p) and len(p) <= 30 and not re.search("[，。、]", p)), ""
            )
        if not issuer:
            place = _PLACE.match(title)
            issuer = f"{place.group(1)}人民政府" if place else "（请填写发文机关）"
            self._missing("方案 发文机关", "发文机关是按方案名称推断的，请核对")
            if not place:
                self._placeholder("issuer")

        issued = next((d for p in everything if (d := _date(p))), None)
        if issued is None and (m := re.search(r"(20\d\d)年(\d{1,2})月(\d{1,2})日", "\n".join(front))):
            issued = _date(m.group(0))
            self._missing("方案 印发日期", "印发日期取自文首的日期，请核对")
        published = None
        if m := re.search(r"发布(?:时间|日期)[：:]\s*(\d{4})[-年/.](\d{1,2})[-月/.](\d{1,2})", "\n".join(front)):
            published = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if issued is None:
            issued = published or dt.date(self.baseline_year + 1, 1, 1)
            self._missing("方案 印发日期", "原文中没有找到印发日期（成文日期），已填占位日期")
            self._placeholder("issued_on")

        regions = self._regions()
        code = f"draft-{issued.year}-{hashlib.sha1(title.encode()).hexdigest()[:6]}"  # noqa: S324 - a label, not security
        self.low.append("方案 编码")
        self.warnings.append(f"方案编码 {code} 是占位值，请改为正式的编码（小写字母、数字和连字符）")

        plan: dict[str, Any] = {
            "code": code,
            "title": title[:200],
            "notice_title": notice,
            "document_number": number,
            "issuer": issuer,
            "region": regions[0]["code"],
            "issued_on": issued,
        }
        if published:
            plan["published_on"] = published
        plan.update(
            {
                "baseline_year": self.baseline_year,
                "target_year": self.target_year,
                "deadline": dt.date(self.target_year, 12, 31),
                "preamble": "\n".join(preamble),
                "closing": "\n".join(closing_text),
            }
        )
        if not BASELINE.search(self.text):
            self._missing("方案 基准年", f"原文中没有“较某年”的基准年，已按 {self.baseline_year} 年填写")
        prose = [s.get("text", "") for s in self.prose_sections]
        if task_force := self._task_force("\n".join([*closing_text, *preamble, *prose])):
            plan["task_force_department"] = task_force
        if not plan["notice_title"]:
            del plan["notice_title"]
        if self.placeholders:
            plan["placeholders"] = list(dict.fromkeys(self.placeholders))
        return plan, regions

    def _missing(self, path: str, message: str) -> None:
        self.low.append(path)
        self.warnings.append(message)

    def _regions(self) -> list[dict[str, Any]]:
        """The plan's region and its divisions, from the code database (regions.py); the place from the header."""
        match = self.place
        if match.place is None:
            listed = "、".join(
                f"{p.code} {' '.join(a.name for a in reversed(regions.ancestors(p)))} {p.name}"
                for p in match.candidates
            )
            name = match.spelled or _place_of(self.place_words)
            self._missing(
                "方案 地区代码",
                f"“{name}”有多个同名地区（{listed}），原文未写明所属，已填 000000，请选定代码"
                if match.candidates
                else f"不认识“{name or '（未知）'}”的行政区划代码，已填 000000，请改为 GB/T 2260 代码并补全所辖县区",
            )
            kind = {"省": "province", "县": "county", "旗": "county", "区": "district"}.get(name[-1:], "city")
            return [{"code": PLACEHOLDER_REGION, "name": name or "（请填写）", "kind": kind, "confidence": 0.1}]
        place = match.place
        start = self.text.find(match.spelled)
        top: dict[str, Any] = {"code": place.code, "name": place.name, "kind": place.kind}
        top["confidence"] = match.confidence
        if start >= 0:
            top["source"] = [start, start + len(match.spelled)]
        if match.confidence < LOW:
            listed = "、".join(
                f"{p.code} {p.name}（{'、'.join(a.name for a in regions.ancestors(p))}）" for p in match.candidates
            )
            self._missing(
                "方案 地区代码",
                f"“{match.spelled}”有多个同名地区（{listed}），按正文提到的上级选了 {place.code}，请核对",
            )
        out = region_entries(place, top)
        self.warnings.append(
            f"地区取自行政区划代码库：{place.name}（{place.code}）"
            + (f"及所辖 {len(out) - 1} 个县级行政区" if place.level == "prefecture" else "")
            + "；开发区、管理区等没有 GB/T 2260 代码的功能区需另行补充（code_source: stats）"
        )
        return out

    def _placeholder(self, field_name: str) -> None:
        """A header field the text did not give: the value is a stand-in, listed in `plan.placeholders`, and
        publishing refuses the draft until a reviewer fills it in (plans/imports.py)."""
        self.placeholders.append(field_name)

    def _task_force(self, text: str) -> str | None:
        for sentence in re.split(r"[。；]", text):
            m = re.search(r"([\u4e00-\u9fff]{2,30}?)(?:会同|牵头|负责)", sentence)
            if (
                m
                and re.search(r"专班|领导小组|工作机制|联席会议", sentence)
                and self.registry.directory.lookup(m.group(1))
            ):
                code, _ = self.registry.code_for(m.group(1), (0, 0))
                return code
        return None

    def build(self) -> Draft:
        sections = self.sections()
        plan, regions = self.header()
        if self.registry.entries == {}:
            self.registry.code_for("待定责任单位", (0, 0))
        for entry in self.registry.entries.values():
            if entry.get("confidence", 1) < LOW:
                self.low.append(f"单位 {entry['name']}")
        self.warnings.extend(self.registry.notes)
        if any(e.get("proposed") for e in self.registry.entries.values()):
            self.warnings.append("有未识别的责任单位，已作为新单位提出（proposed），请核对名称、类型并给出编码")
        self.warnings.append("总体目标与举措的对应关系（measures）、规则（rules）需人工补充")
        data = {
            "plan": plan,
            "regions": regions,
            "departments": self.registry.listing(),
            "sections": sections,
            "rules": [],
        }
        return Draft(data, list(dict.fromkeys(self.low)), list(dict.fromkeys(self.warnings)))


def region_entries(place: regions.Place, top: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A plan's `regions` for `place` from the code database: the place (`top`, when the caller has its entry with
    confidence and source), then its divisions — a city's counties, a county's city — each at 0.9. The review
    page's header form uses it too when the reviewer gives the plan its region code."""
    top = top if top is not None else {"code": place.code, "name": place.name, "kind": place.kind}
    out = [top]
    listed_codes = {p.code for p in regions.divisions(place)}
    for other in regions.divisions(place)[1:]:
        entry: dict[str, Any] = {"code": other.code, "name": other.name, "kind": other.kind}
        if parent := regions.parent_of(other, listed_codes):
            entry["parent"] = parent
        entry["confidence"] = 0.9  # from the code database, not from the text
        out.append(entry)
    if place.level == "county" and len(out) > 1:
        top["parent"] = out[1]["code"]
    return out


def _place_of(words: str) -> str:
    m = _PLACE.match(words)
    return m.group(1) if m else ""


def _date(paragraph: str) -> dt.date | None:
    try:
        if m := _DATE.match(paragraph):
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _CN_DATE.match(paragraph):
            from huanxin.plans.importer.structure import cn_value

            year = int("".join(str("〇一二三四五六七八九".index(c.replace("零", "〇"))) for c in m.group(1)))
            return dt.date(year, cn_value(m.group(2)), cn_value(m.group(3)))
    except ValueError:
        return None
    return None


def _walk(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        out.extend(_walk(child))
    return out


def _bracket_groups(line: str) -> list[tuple[int, int]]:
    """(start, end) of each outermost bracketed group （…） or (…), end exclusive."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(line):
        if ch in "（(":
            if depth == 0:
                start = i
            depth += 1
        elif ch in "）)" and depth:
            depth -= 1
            if depth == 0:
                out.append((start, i + 1))
    return out


def _next_clause(clauses: list[_Found], position: int) -> int:
    return next((n for n, f in enumerate(clauses) if f.start >= position), len(clauses) - 1)


def _join(text: str, pieces: list[tuple[int, int, int]]) -> str:
    out = ""
    last_end = None
    for start, end, _ in pieces:
        chunk = text[start:end].strip()
        if not chunk:
            continue
        if last_end is not None and "\n" in text[last_end:start]:
            out += "\n"
        out += chunk
        last_end = end
    return out


def _indicator_code(path: str, n: int) -> str:
    """target-2-1-2-1: the measure's numbers as digits (like the loader's address slug), then the index."""
    from huanxin.plans.importer.structure import cn_value

    values = []
    for token in re.findall(r"[一二三四五六七八九十]+|\d+|[①-⑳]", path.split(" ")[0]):
        if "①" <= token <= "⑳":  # before isdigit(), which is true of ① too
            values.append(str(ord(token) - ord("①") + 1))
        elif token.isdigit():
            values.append(str(int(token)))  # \d matches any script's digits: ３ and ٣ become 3
        else:
            values.append(str(cn_value(token)))
    return f"target-{'-'.join(values) or 'x'}-{n}"
