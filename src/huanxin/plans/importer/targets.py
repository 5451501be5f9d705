"""Targets in a stretch of text: "到2027年，……增长25%以上", "分别超过90%、78%", "增长一倍", "十九个",
"提高5个百分点以上", and the qualitative ones ("全面淘汰……").

Only text governed by a deadline ("到2027年", "2027年底前") is read as targets, or the whole of an overall-goals
section: a number elsewhere ("新建年耗能1万吨标准煤及以上的项目") is a condition, not a target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import cn2an

CN_DIGITS = "零〇一二两三四五六七八九十百千万"
_NUMBER = rf"\d+(?:\.\d+)?|[{CN_DIGITS}]*[一二两三四五六七八九十][{CN_DIGITS}]*"
_BASE_UNITS = (
    "个百分点|百分点|%|倍|番|公里|千米|平方米|立方米|吨标准煤|吨|千瓦时|千瓦|辆|台|套|个|家|座|处|所|户|人次|人|项|条|"
    "张|件|元|次|栋|部|亩|公顷|根|艘|架|只"
)
VALUE = re.compile(rf"(?P<num>{_NUMBER})(?P<unit>(?:[万亿千]?(?:{_BASE_UNITS})))")
YEAR = re.compile(r"(?:到|至|截至|截止到?)(20\d\d)年(?:底|末)?(?:前)?|(20\d\d)年(?:底|末)?前")
BASELINE = re.compile(r"(?:较|比|相比|相较于?|同比)(20\d\d)年(?:底|末)?")
AFTER = re.compile(r"^(及以上|以上|以下|以内|左右)")
# the word just before a value, longest first (不低于 is not 低于)
_COMPARATOR_WORDS = re.compile("不低于|不少于|不超过|不高于|超过|高于|多于|达到|力争|突破|保持在|控制在|低于|降至")
_QUALITATIVE_CUE = re.compile(r"全部|全面|基本|进一步|增加|提升|提高|完成|实现|建成|淘汰|覆盖|完毕|达到|明显|显著")
_STRIP_NAME = re.compile(
    r"(分别|力争|达到|超过|不低于|不少于|高于|突破|保持在|控制在|不超过|累计|约|为|在|均|共|总计|合计|，|、)+$"
)
_GROWTH_VERBS = re.compile(r"(增长|提高|提升|增加|上升|下降|减少|降低|翻)(约|了)?$")
_CHANGE_VERBS = re.compile(
    r"更新|改造|淘汰|报废|新增|培育|推广|回收|置换|新建|替换|销售|建设|创建|打造|实施|完成|引进|培训"
)
_STOCK_VERBS = re.compile(r"建成|拥有|保有|总数|总量")
_SHARE_WORDS = re.compile(r"率|比例|占比|比重|份额|覆盖面")
COUNT_UNITS = {"个", "座", "处", "所", "家"}


@dataclass
class Target:
    start: int  # offsets in the text given (plus `base`)
    end: int
    statement: str
    name: str
    kind: str
    target_year: int
    comparator: str | None = None
    value: Decimal | None = None
    unit: str | None = None
    baseline_year: int | None = None
    aspirational: bool = False
    confidence: float = 0.9


def to_number(text: str) -> Decimal | None:
    try:
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return Decimal(text)
        return Decimal(str(cn2an.cn2an(text.replace("两", "二"), "smart")))
    except (ValueError, InvalidOperation, KeyError, TypeError):
        return None


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in re.finditer(r"[。！？\n]", text):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def scopes(text: str, *, whole: bool, default_year: int | None) -> list[tuple[int, int, int, bool]]:
    """(start, end, year, implicit) of the stretches read as targets. Implicit: no deadline governs the stretch,
    the year is the plan's (`default_year`) — outside an overall-goals section only a figure written as a target
    is read there (see `_written_as_target`)."""
    out: list[tuple[int, int, int, bool]] = []
    for s, e in _sentences(text):
        sentence = text[s:e]
        years = list(YEAR.finditer(sentence))
        if default_year and (not years or years[0].start() > 0):
            out.append((s, s + (years[0].start() if years else len(sentence)), default_year, not whole))
        for n, m in enumerate(years):
            end = years[n + 1].start() if n + 1 < len(years) else len(sentence)
            start = m.end()
            while start < end and sentence[start] in "，,：:":
                start += 1
            out.append((s + start, s + end, int(m.group(1) or m.group(2)), False))
    return out


def _segments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, s = [], start
    for m in re.finditer(r"[，；。！？\n]", text[start:end]):
        spans.append((s, start + m.start()))
        s = start + m.end()
    spans.append((s, end))
    return [(a, b) for a, b in spans if b > a]


def find_targets(
    text: str, *, whole: bool = False, default_year: int | None = None, qualitative: bool = True
) -> list[Target]:
    targets: list[Target] = []
    for start, end, year, implicit in scopes(text, whole=whole, default_year=default_year):
        for s, e in _segments(text, start, end):
            found = _numeric(text, s, e, year)
            if implicit:  # no deadline: only "更新改造燃气老旧管网120公里以上", at the plan's year, to be checked
                for target in found:
                    if _written_as_target(text, s, e, target):
                        target.confidence = min(target.confidence, 0.7)
                        targets.append(target)
                continue
            if found:
                targets.extend(found)
            elif qualitative and e - s >= 6 and _QUALITATIVE_CUE.search(text[s:e]):
                statement = text[s:e]
                targets.append(Target(s, e, statement, statement[:120], "qualitative", year, confidence=0.6))
    return targets


def _numeric(text: str, s: int, e: int, year: int) -> list[Target]:
    segment = text[s:e]
    values = [m for m in VALUE.finditer(segment) if to_number(m.group("num")) is not None]
    values = [m for m in values if not _is_year_or_label(segment, m)]
    if not values:
        return []
    # group values listed together: "90%、78%", "90%、80%以上"
    groups: list[list[re.Match[str]]] = [[values[0]]]
    for m in values[1:]:
        between = segment[groups[-1][-1].end() : m.start()]
        if between in ("、", "和", "及"):
            groups[-1].append(m)
        else:
            groups.append([m])
    out: list[Target] = []
    item_start = 0
    aspirational = "力争" in segment
    for group in groups:
        last = group[-1]
        after = AFTER.match(segment[last.end() :])
        item_end = last.end() + (after.end() if after else 0)
        item = segment[item_start:item_end]
        head = segment[item_start : group[0].start()]
        out.extend(_targets_of(text, s, segment, item_start, item_end, item, head, group, after, year, aspirational))
        item_start = item_end + (1 if segment[item_end : item_end + 1] in ("、", "，") else 0)
    return out


def _written_as_target(text: str, s: int, e: int, target: Target) -> bool:
    """A figure outside any deadline is a target only when the text writes it as one: a verb of change or stock
    (更新改造, 建成 …), then the figure with 以上/以下/以内, ending its clause. "新建年耗能1万吨标准煤及以上的项目"
    (a condition) and "累计发放补贴3亿元" (a report) are not."""
    return (
        not text[target.end : e].strip()
        and bool(re.search(r"(?<!及)(以上|以下|以内)$", target.statement))
        and bool(_CHANGE_VERBS.search(text[s : target.end]) or _STOCK_VERBS.search(text[s : target.end]))
    )


def _is_year_or_label(segment: str, m: re.Match[str]) -> bool:
    """Words, not values: "一个平台", "一处", "两部" — a Chinese "one" counts only as 增长一倍 / 翻一番."""
    number, unit = m.group("num"), m.group("unit")
    if re.fullmatch(r"\d+(?:\.\d+)?", number):
        return False
    return (number in ("一", "两") and unit not in ("倍", "番")) or unit in ("部", "处", "条", "次", "件", "张")


def _targets_of(
    text: str,
    base: int,
    segment: str,
    item_start: int,
    item_end: int,
    item: str,
    head: str,
    group: list[re.Match[str]],
    after: re.Match[str] | None,
    year: int,
    aspirational: bool,
) -> list[Target]:
    confidence = 0.9
    # comparator
    comparator: str | None = None
    tail = after.group(1) if after else ""
    if tail in ("以上", "及以上"):
        comparator = "gte"
    elif tail in ("以下", "以内"):
        comparator = "lte"
    elif tail == "左右":
        comparator, confidence = "eq", 0.7
    words = list(_COMPARATOR_WORDS.finditer(head[-8:]))
    word = words[-1].group(0) if words else ""
    if word in ("不超过", "不高于", "控制在", "低于", "降至"):
        comparator = "lte"
    elif word in ("超过", "高于", "多于") and comparator != "lte":
        comparator = "gt"
    elif word and comparator is None:
        comparator = "gte"
    if comparator is None:
        comparator, confidence = "gte", 0.7  # a bare figure: read as a floor
    baseline = BASELINE.search(segment[:item_end])
    growth = bool(baseline) or bool(_GROWTH_VERBS.search(head))
    names = [_name(head)]
    if len(group) > 1:
        subjects = [p for p in re.split(r"、", _name(head)) if p]
        if len(subjects) == len(group):
            names = subjects
        else:
            names = [f"{_name(head)}（{k}）" for k in range(1, len(group) + 1)]
            confidence = min(confidence, 0.7)
    out = []
    for m, name in zip(group, names, strict=True):
        value = to_number(m.group("num"))
        assert value is not None
        unit = m.group("unit")
        if unit in ("倍", "番"):  # 增长一倍 = +100 %, 翻一番 = +100 %
            value, unit = (value * 100 if unit == "倍" else (2**value - 1) * 100), "%"
        if unit == "百分点":
            unit = "个百分点"
        kind, kind_sure = _kind(segment[:item_end], head, unit, growth)
        out.append(
            Target(
                base + item_start,
                base + item_end,
                item,
                (name or item)[:120],
                kind,
                year,
                comparator,
                value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize(),
                unit,
                int(baseline.group(1)) if baseline else None,
                aspirational,
                confidence if kind_sure else min(confidence, 0.7),
            )
        )
    return out


def _name(head: str) -> str:
    return _STRIP_NAME.sub("", head.strip("，、 "))


def _kind(context: str, name: str, unit: str, growth: bool) -> tuple[str, bool]:
    if growth and unit in ("%", "个百分点"):
        return "growth_vs_baseline", True
    if unit in ("%", "个百分点"):
        return "share", bool(_SHARE_WORDS.search(name))
    if "累计" in context:
        return "cumulative_total", True
    if unit in COUNT_UNITS and _STOCK_VERBS.search(context):
        return "count", True
    if _CHANGE_VERBS.search(context):
        return "cumulative_total", True
    if context.lstrip("，").startswith("年") or "年均" in context:
        return "level", True
    return "cumulative_total", False
