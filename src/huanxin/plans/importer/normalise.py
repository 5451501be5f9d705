"""Raw extracted text → the normalised text every offset points into: one paragraph a line.

What it undoes: traditional characters (OpenCC), full-width letters and digits, Markdown marks, page numbers,
spaces inside words ("市 供销合作总社"), ASCII punctuation in Chinese text, and paragraphs broken by a page or a
line wrap ("分别超过\\n\\n90%、78%").
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

NUMERALS = "一二三四五六七八九十"
# a numbered paragraph: 一、 （一） 1. 1、 （1） ①
MARKER = re.compile(
    rf"^(?:[{NUMERALS}]{{1,3}}\s*[、.．]|[（(]\s*[{NUMERALS}]{{1,3}}\s*[）)]|\d{{1,2}}\s*[.．、](?!\d)|[（(]\s*\d{{1,2}}\s*[）)]|[①-⑳])"
)
TERMINAL = "。！？；：!?;:"
CONTINUATION = "、，,（(“《"
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_PAGE_NUMBER = re.compile(
    r"^[-—–_\s]*(?:第\s*)?\d{1,3}\s*(?:页)?(?:\s*共\s*\d{1,3}\s*页)?[-—–_\s]*$|^[-—–]\s*\d{1,3}\s*[-—–]$"
)
_FULLWIDTH = {code: code - 0xFEE0 for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}
_FULLWIDTH.update({ord("％"): ord("%"), ord("＋"): ord("+"), ord("／"): ord("/"), 0x3000: ord(" "), 0xA0: ord(" ")})
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff\u00ad"))
_ASCII_PUNCT = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "!": "！", "?": "？"}
_TITLE_LIKE = re.compile(r"(通知|方案|计划|意见|办法|措施|细则|〕\d{1,4}号)$")
DATA = Path(__file__).resolve().parent / "data"


@cache
def _typos() -> dict[str, str]:
    loaded = yaml.safe_load((DATA / "typos.yaml").read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in loaded.items()}


@cache
def _converter() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> tuple[str, bool]:
    """Traditional → simplified when the text is traditional (a simplified text is left exactly as it is)."""
    converted: str = _converter().convert(text)  # type: ignore[attr-defined]
    changed = sum(a != b for a, b in zip(text, converted, strict=False))
    cjk = len(re.findall(f"[{_CJK}]", text)) or 1
    if changed >= 5 and changed / cjk > 0.01:
        return converted, True
    return text, False


def _clean_line(line: str) -> tuple[str, bool]:
    """(line without Markdown marks and stray spaces, whether it was a Markdown heading)."""
    line = line.translate(_ZERO_WIDTH).translate(_FULLWIDTH).strip()
    heading = bool(re.match(r"^#{1,6}\s", line))
    line = re.sub(r"^(?:#{1,6}\s*|>\s*|[-*+•·]\s+)+", "", line)
    line = re.sub(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])", "", line)
    if re.fullmatch(r"[-*_=\s|:]{3,}", line):  # rules, table separators
        return "", False
    # spaces: keep one between two latin letters/digits only
    line = re.sub(r"\s+", " ", line)
    line = re.sub(r"(?<![A-Za-z0-9]) | (?![A-Za-z0-9])", "", line)
    line = re.sub(r"(?<=\d) (?=[A-Za-z])|(?<=[A-Za-z]) (?=\d)", "", line)
    return _punctuation(line), heading


def _punctuation(line: str) -> str:
    out = []
    for i, ch in enumerate(line):
        if ch in _ASCII_PUNCT and not (
            ch in ",:" and 0 < i < len(line) - 1 and line[i - 1].isdigit() and line[i + 1].isdigit()
        ):
            ch = _ASCII_PUNCT[ch]
        out.append(ch)
    line = "".join(out)
    # straight double quotes → “ ” in turn
    parts = line.split('"')
    if len(parts) > 1:
        line = parts[0] + "".join(("“" if n % 2 == 0 else "”") + part for n, part in enumerate(parts[1:]))
    return line.replace("．", ".")


def _standalone(line: str, heading: bool) -> bool:
    """A line that is a paragraph by itself even without end punctuation: a heading, a title, a signature, a date."""
    if heading:
        return True
    if MARKER.match(line) and len(line) <= 40 and not re.search("[。，；]", line):
        return True
    if _TITLE_LIKE.search(line) and len(line) <= 80 and not re.search("[，。；]", line):
        return True
    return len(line) <= 24 and not re.search("[，、；。：]", line)


def normalise(raw: str, *, markdown: bool = False) -> tuple[str, list[str]]:
    """(normalised text, warnings). In Markdown a blank line always ends a paragraph; in other text it may be a
    page break inside a sentence."""
    warnings: list[str] = []
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text, converted = to_simplified(text)
    if converted:
        warnings.append("原文为繁体字，已转换为简体字（OpenCC）")
    for wrong, right in _typos().items():
        if wrong in text:
            warnings.append(f"已将疑似错字“{wrong}”改为“{right}”")
            text = text.replace(wrong, right)

    paragraphs: list[str] = []
    open_paragraph = False  # the last paragraph may continue on the next line
    for raw_line in text.split("\n"):
        line, heading = _clean_line(raw_line)
        if markdown and not raw_line.strip():
            open_paragraph = False
        if not line or _PAGE_NUMBER.match(line):
            continue
        joins = (
            open_paragraph
            and paragraphs
            and not MARKER.match(line)
            and not heading
            and (paragraphs[-1][-1] in CONTINUATION or not _ends_sentence(paragraphs[-1]))
        )
        if joins:
            paragraphs[-1] += line
        else:
            paragraphs.append(line)
        open_paragraph = not _standalone(paragraphs[-1], heading) or paragraphs[-1][-1] in CONTINUATION
    return "\n".join(paragraphs) + "\n", warnings


def _ends_sentence(paragraph: str) -> bool:
    last = paragraph[-1]
    if last in TERMINAL:
        return True
    # a closing bracket ends a sentence when it closes a responsibility clause or a heading
    return last in "）)" and bool(re.search(r"(负责|牵头|配合|落实)[）)]$", paragraph))
