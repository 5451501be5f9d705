"""The normalised text → the document's tree: numbered headings (一、 （一） 1. （1） ① and variants), each with
the paragraphs under it. Levels follow the order in which the numbering styles first appear, as people read them.
Numbering that runs on across parents (（一）1. 2. （二）3. 4.) is in sequence: many plans number so."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NUMERALS = "一二三四五六七八九十"
_STYLES: list[tuple[str, re.Pattern[str]]] = [
    ("cn", re.compile(rf"^([{NUMERALS}]{{1,3}})\s*[、.．]")),
    ("cn_paren", re.compile(rf"^[（(]\s*([{NUMERALS}]{{1,3}})\s*[）)]\s*[、.．]?")),
    ("arabic", re.compile(r"^(\d{1,2})\s*[.．、](?!\d)")),
    ("arabic_paren", re.compile(r"^[（(]\s*(\d{1,2})\s*[）)]\s*[、.．]?")),
    ("circled", re.compile(r"^([①-⑳])")),
]


@dataclass
class Para:
    start: int
    end: int

    def text(self, source: str) -> str:
        return source[self.start : self.end]


@dataclass
class Node:
    style: str
    value: int
    number: str  # as the loader writes it: 一, （一）, 1, （1）, ①
    level: int
    heading: Para  # the whole numbered paragraph
    content_start: int  # after the marker
    body: list[Para] = field(default_factory=list)  # paragraphs after the heading, before the first child
    children: list[Node] = field(default_factory=list)
    in_sequence: bool = True

    @property
    def end(self) -> int:
        last = self.children[-1].end if self.children else max([self.heading.end, *(p.end for p in self.body)])
        return max(last, self.heading.end, *(p.end for p in self.body))

    def paragraphs(self) -> list[Para]:
        """Heading, body and every descendant's paragraphs, in document order."""
        out = [self.heading, *self.body]
        for child in self.children:
            out.extend(child.paragraphs())
        return sorted(out, key=lambda p: p.start)


def cn_value(text: str) -> int:
    import cn2an

    return int(cn2an.cn2an(text, "smart"))


def marker(paragraph: str) -> tuple[str, int, str, int] | None:
    """(style, value, number as written in the plan file, length of the marker) of a numbered paragraph."""
    for style, pattern in _STYLES:
        if m := pattern.match(paragraph):
            raw = m.group(1)
            if style == "circled":
                value = ord(raw) - ord("①") + 1
                number = raw
            elif style.startswith("cn"):
                value = cn_value(raw)
                number = raw if style == "cn" else f"（{raw}）"
            else:
                value = int(raw)
                number = raw if style == "arabic" else f"（{raw}）"
            return style, value, number, m.end()
    return None


def paragraphs(text: str) -> list[Para]:
    out, start = [], 0
    for line in text.split("\n"):
        if line.strip():
            out.append(Para(start, start + len(line)))
        start += len(line) + 1
    return out


@dataclass
class Tree:
    front: list[Para]  # before the first top-level heading
    roots: list[Node]
    warnings: list[str]


def build_tree(text: str) -> Tree:
    paras = paragraphs(text)
    marks = [marker(p.text(text)) for p in paras]
    first = next((i for i, m in enumerate(marks) if m and m[0] == "cn" and m[1] == 1), None)
    if first is None:
        first = next((i for i, m in enumerate(marks) if m and m[1] == 1), len(paras))
    order: list[str] = []
    roots: list[Node] = []
    stack: list[Node] = []
    warnings: list[str] = []
    # the last value of each (level, style) in the whole document: many plans number their 1. 2. 3. on across
    # sections (（一）1. 2. （二）3. 4.), so a first child may continue the previous parent's numbering
    last: dict[tuple[int, str], int] = {}
    for para, mark in zip(paras[first:], marks[first:], strict=True):
        if mark is None:
            if stack:
                stack[-1].body.append(para) if not stack[-1].children else _deepest(stack[-1]).body.append(para)
            continue
        style, value, number, length = mark
        if style in order:
            level = min(order.index(style) + 1, len(stack) + 1)
        else:
            order.append(style)
            level = min(len(order), len(stack) + 1)
        previous = stack[level - 1] if len(stack) >= level and stack[level - 1].style == style else None
        expected = previous.value + 1 if previous else 1
        if previous is None and level > 1 and value != 1 and value == last.get((level, style), -1) + 1:
            expected = value  # continuous numbering, as the document's own sequence
        line = para.text(text)
        if value != expected and level > 1 and len(line) > 80 and value > expected + 1:
            # "3.5万辆…" in running text or a list inside a measure: keep it as text
            stack[-1].body.append(para)
            continue
        node = Node(style, value, number, level, para, para.start + length, in_sequence=value == expected)
        if value != expected:
            warnings.append(f"编号不连续：“{line[:20]}”处应为第 {expected} 项，原文为第 {value} 项")
        del stack[level - 1 :]
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
        last[(level, style)] = value
    return Tree(paras[:first], roots, warnings)


def _deepest(node: Node) -> Node:
    while node.children:
        node = node.children[-1]
    return node
