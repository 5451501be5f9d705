"""Import a plan document (.txt, .md, .docx, .pdf with a text layer) as a draft plan in the loader's format.

    result = import_document(data, "plan.pdf")
    result.text            # the normalised text; every item's `source: [start, end]` points into it
    result.draft           # the draft plan (plan / regions / departments / sections / rules)
    result.yaml            # the draft as YAML, ready for `huanxin plan load` once reviewed
    result.low_confidence  # items a reviewer must look at ("二（一）1 责任单位")
    result.warnings        # what the importer could not know or had to guess, in Chinese

The pipeline: extract (format by extension and content) → normalise (one paragraph a line) → structure (the
numbering tree) → build (sections, measures, clauses, departments, targets, header). docs/plan-import.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from huanxin.plans.importer.errors import ImportFailed

__all__ = ["ImportFailed", "ImportResult", "dump_yaml", "import_document", "import_text"]


@dataclass
class ImportResult:
    text: str
    draft: dict[str, Any]
    yaml: str
    low_confidence: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Dumper(yaml.SafeDumper):
    pass


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = bool(data) and all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def dump_yaml(draft: dict[str, Any]) -> str:
    """The draft as the loader's YAML: keys in the loader's order, Chinese as is, short lists inline."""
    return yaml.dump(draft, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)


def import_text(raw: str, *, warnings: list[str] | None = None, markdown: bool = False) -> ImportResult:
    """Import text already extracted from a document."""
    from huanxin.plans.importer.build import Builder
    from huanxin.plans.importer.normalise import normalise

    text, normalise_warnings = normalise(raw, markdown=markdown)
    if not text.strip():
        raise ImportFailed("empty_document", "文件中没有文字")
    draft = Builder(text).build()
    return ImportResult(
        text=text,
        draft=draft.data,
        yaml=dump_yaml(draft.data),
        low_confidence=draft.low_confidence,
        warnings=[*(warnings or []), *normalise_warnings, *draft.warnings],
    )


def import_document(data: bytes, filename: str) -> ImportResult:
    """Import an uploaded document. Raises ImportFailed (with a stable `code`) when it cannot be read."""
    from huanxin.plans.importer.extract import extract

    kind, raw, warnings = extract(data, filename)
    if not raw.strip():
        raise ImportFailed("empty_document", "文件中没有文字")
    return import_text(raw, warnings=warnings, markdown=kind == "markdown")
