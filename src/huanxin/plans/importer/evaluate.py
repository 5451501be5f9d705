"""The importer's draft against a hand-made plan file: precision and recall for measures, responsibilities and
numeric targets (`huanxin plan evaluate`).

- a measure matches when its code (the number path, 二（一）1) is the same and its title and text are alike
  (difflib ratio ≥ 0.8 on both, compared without spaces, under one quote style and full-width = half-width);
- a responsibility clause matches when it belongs to the same measure, names the same set of departments (a draft
  department is the hand-made one whose name, short name or alias it has) and the same lead (the first named);
- a numeric target matches when its place (measure code, or section number for the overall goals), value, unit and
  comparator are the same.
Matching is one to one: precision = matched / items in the draft, recall = matched / items in the hand-made file.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SIMILAR = 0.8


def iter_draft_measures(sections: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(measure code, measure) in document order, as the loader codes them (二（一）1, 二（三）)."""
    for top in sections or []:
        for measure in top.get("measures") or []:
            yield f"{top['number']}{measure['number']}", measure
        for sub in top.get("sections") or []:
            for measure in sub.get("measures") or []:
                yield f"{top['number']}{sub['number']}{measure['number']}", measure


def iter_draft_indicators(sections: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, indicator): where is the measure code, or the section's number path for a section's own."""
    for top in sections or []:
        for indicator in top.get("indicators") or []:
            yield str(top["number"]), indicator
        for sub in top.get("sections") or []:
            for indicator in sub.get("indicators") or []:
                yield f"{top['number']}{sub['number']}", indicator
    for code, measure in iter_draft_measures(sections):
        for indicator in measure.get("indicators") or []:
            yield code, indicator


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).translate(str.maketrans("“”‘’", "\"\"''"))
    return re.sub(r"\s+", "", text)


def similar(a: str, b: str) -> float:
    a, b = norm(a), norm(b)
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass
class Score:
    name: str
    matched: int = 0
    in_draft: int = 0
    in_gold: int = 0
    missing: list[str] = field(default_factory=list)  # in the hand-made file, not found in the draft
    extra: list[str] = field(default_factory=list)  # in the draft, not in the hand-made file

    @property
    def precision(self) -> float:
        return self.matched / self.in_draft if self.in_draft else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.in_gold if self.in_gold else 1.0


@dataclass
class Report:
    measures: Score
    responsibilities: Score
    targets: Score
    qualitative: Score

    def scores(self) -> list[Score]:
        return [self.measures, self.responsibilities, self.targets]

    def table(self) -> str:
        lines = [f"{'':12}{'准确率':>8}{'召回率':>8}{'匹配':>6}{'草稿':>6}{'人工':>6}"]
        for score in [*self.scores(), self.qualitative]:
            lines.append(
                f"{score.name:12}{score.precision:>9.1%}{score.recall:>9.1%}"
                f"{score.matched:>7}{score.in_draft:>7}{score.in_gold:>7}"
            )
        for score in [*self.scores(), self.qualitative]:
            lines.extend(f"  未找到 {score.name}：{item}" for item in score.missing)
            lines.extend(f"  多出 {score.name}：{item}" for item in score.extra)
        return "\n".join(lines)


def _match[T](name: str, draft: list[tuple[str, T]], gold: list[tuple[str, T]], same: Any) -> Score:
    score = Score(name, in_draft=len(draft), in_gold=len(gold))
    left = list(range(len(draft)))
    for label, item in gold:
        hit = next((i for i in left if same(draft[i][1], item)), None)
        if hit is None:
            score.missing.append(label)
        else:
            left.remove(hit)
            score.matched += 1
    score.extra = [draft[i][0] for i in left]
    return score


def _department_names(plan: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for entry in plan.get("departments") or []:
        names = {entry.get("name", ""), entry.get("short_name", ""), *(entry.get("aliases") or [])}
        out[entry["code"]] = {norm(n) for n in names if n}
    return out


def evaluate(draft: dict[str, Any], gold: dict[str, Any]) -> Report:
    # measures
    d_measures = list(iter_draft_measures(draft.get("sections", [])))
    g_measures = list(iter_draft_measures(gold.get("sections", [])))

    def same_measure(d: tuple[str, dict[str, Any]], g: tuple[str, dict[str, Any]]) -> bool:
        return (
            d[0] == g[0]
            and similar(d[1].get("title", ""), g[1].get("title", "")) >= SIMILAR
            and similar(d[1].get("text", ""), g[1].get("text", "")) >= SIMILAR
        )

    measures = _match(
        "举措",
        [(code, (code, m)) for code, m in d_measures],
        [(code, (code, m)) for code, m in g_measures],
        same_measure,
    )

    # responsibilities: draft department codes → the hand-made file's codes, by name
    gold_names = _department_names(gold)
    draft_names = _department_names(draft)

    def to_gold(code: str) -> str:
        names = draft_names.get(code, set())
        return next((g for g, spellings in gold_names.items() if names & spellings), f"?{code}")

    def clauses(plan: dict[str, Any], translate: Any) -> list[tuple[str, tuple[str, frozenset[str], str]]]:
        out = []
        for code, measure in iter_draft_measures(plan.get("sections", [])):
            for resp in measure.get("responsibilities") or []:
                departments = [translate(c) for c in resp.get("departments") or []]
                if departments:
                    key = (code, frozenset(departments), departments[0])
                    out.append((f"{code} {'、'.join(departments)}", key))
        return out

    responsibilities = _match("责任分工", clauses(draft, to_gold), clauses(gold, lambda c: c), lambda d, g: d == g)

    # numeric targets, and (for information) qualitative ones
    def targets(plan: dict[str, Any], numeric: bool) -> list[tuple[str, tuple[Any, ...]]]:
        out = []
        for where, indicator in iter_draft_indicators(plan.get("sections", [])):
            if (indicator.get("kind") != "qualitative") != numeric:
                continue
            if numeric:
                value = Decimal(str(indicator.get("target")))
                key: tuple[Any, ...] = (where, value.normalize(), indicator.get("unit"), indicator.get("comparator"))
                out.append(
                    (f"{where} {indicator.get('statement', '')[:30]} {value.normalize():f}{key[2]} {key[3]}", key)
                )
            else:
                out.append((f"{where} {indicator.get('statement', '')[:30]}", (where, indicator.get("statement", ""))))
        return out

    numeric = _match("定量目标", targets(draft, True), targets(gold, True), lambda d, g: d == g)
    qualitative = _match(
        "定性目标（参考）",
        targets(draft, False),
        targets(gold, False),
        lambda d, g: d[0] == g[0] and similar(d[1], g[1]) >= SIMILAR,
    )
    return Report(measures, responsibilities, numeric, qualitative)
