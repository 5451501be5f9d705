"""The issuing place of a plan and its divisions, from python-stdnum's database of Chinese administrative codes
(`stdnum.numdb.get("cn/loc")`, the data behind `stdnum.cn.ric`: GB/T 2260 codes with the years each name was in
use). Only current names count (`[1993-]张北县`, or a name without years); former ones (`[1983-2016]宣化县`) are
kept out so a renamed or merged county is not proposed.

    find_place("石家庄市人民政府", context)  → Match(place=130100 石家庄市, confidence 0.95, candidates [...])
    divisions(place)                         → the place, then (for a city) its county-level divisions
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from stdnum import numdb

_PERIOD = re.compile(r"^\[(\d{4})?-(\d{4})?\](.+)$")
# a place name as a plan's issuer or title starts with it
_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "省",
    "市",
    "州",
    "盟",
    "县",
    "区",
    "旗",
)


@dataclass(frozen=True)
class Place:
    code: str  # six digits
    name: str
    level: str  # province | prefecture | county
    parent: str | None  # the code of the province (for a prefecture) or the prefecture (for a county)

    @property
    def kind(self) -> str:
        """The plan format's region kind (province, city, district, county)."""
        if self.level == "province":
            return "province"
        if self.level == "prefecture":
            return "city"
        return "district" if self.name.endswith("区") else "county"  # a county-level city (辛集市) is county level


@dataclass
class Match:
    place: Place | None  # None when the text names no known place, or names one ambiguously
    confidence: float
    candidates: list[Place] = field(default_factory=list)  # every current place of that name
    spelled: str = ""  # the words of the text that named it


def _current(names: str) -> str | None:
    """The name in use today from `[1983-2014]桥东区` / `[1983-2002]新华区,[2003-]卫滨区` / `石家庄市`."""
    current = None
    for part in names.split(","):
        m = _PERIOD.match(part.strip())
        if m is None:
            current = part.strip()
        elif m.group(2) is None:
            current = m.group(3)
    return current


@cache
def places() -> dict[str, Place]:
    """Every current province, prefecture and county-level division by code (not the 市辖区 placeholders)."""
    out: dict[str, Place] = {}
    for _, province, _, props, children in numdb.get("cn/loc").prefixes:
        province_name = _current(props.get("province", ""))
        if not province_name:
            continue
        out[province + "0000"] = Place(province + "0000", province_name, "province", None)
        for _, rest, _, child, _ in children:
            name = _current(child.get("county", ""))
            if not name or rest == "0000" or name == "市辖区" or name.endswith("直辖县级行政区划"):
                continue
            code = province + rest
            if rest.endswith("00"):
                out[code] = Place(code, name, "prefecture", province + "0000")
            else:
                city = province + rest[:2] + "00"
                parent = city if city in out else province + "0000"
                out[code] = Place(code, name, "county", parent)
    return out


@cache
def _by_name() -> dict[str, list[Place]]:
    out: dict[str, list[Place]] = {}
    for place in places().values():
        out.setdefault(place.name, []).append(place)
    return out


def bare(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def ancestors(place: Place) -> list[Place]:
    out, code = [], place.parent
    while code and (parent := places().get(code)):
        out.append(parent)
        code = parent.parent
    return out


def _named(words: str) -> list[tuple[str, list[Place]]]:
    """The places a run of words names, in order: 河北省张家口市康保县 → 河北省, 张家口市, 康保县."""
    out: list[tuple[str, list[Place]]] = []
    i = 0
    names = _by_name()
    while i < len(words):
        for length in range(min(12, len(words) - i), 1, -1):
            chunk = words[i : i + length]
            if chunk in names:
                out.append((chunk, names[chunk]))
                i += length
                break
        else:
            break
    return out


def find_place(spelled: str, context: str = "") -> Match:
    """The place a header names (an issuer such as 石家庄市人民政府, or a title's opening words).

    The most specific place named at the start wins; places named before it (河北省张家口市康保县) choose among
    places of the same name. When the name alone is ambiguous (桥西区 is in 石家庄 and 张家口), the places of the
    same name are told apart by the province or city the `context` (the rest of the text) names; failing that, the
    match has no place and lists the candidates."""
    spelled = re.sub(r"\s+", "", spelled)
    named = _named(spelled)
    if not named:  # 石家庄推动…: the name without 市
        for name, found in _by_name().items():
            short = bare(name)
            if short != name and spelled.startswith(short) and not spelled.startswith(name):
                named = [(short, [p for p in found if bare(p.name) == short])]
                break
    if not named:
        return Match(None, 0.0)
    words, candidates = named[-1]
    if len(candidates) == 1:
        return Match(candidates[0], 0.95, candidates, words)
    for _, above in reversed(named[:-1]):  # the nearest place named before it first: 张家口市 before 河北省
        codes = {p.code for p in above}
        by_header = [c for c in candidates if codes & {a.code for a in ancestors(c)}]
        if len(by_header) == 1:
            return Match(by_header[0], 0.9, candidates, "".join(w for w, _ in named))
    by_text = [c for c in candidates if any(a.name in context for a in ancestors(c) if a.level != "province")]
    if len(by_text) != 1:
        by_text = [c for c in candidates if any(a.name in context for a in ancestors(c))]
    if len(by_text) == 1:
        return Match(by_text[0], 0.6, candidates, words)
    return Match(None, 0.3, candidates, words)


def is_place_name(words: str) -> bool:
    """河北省, 石家庄市, 石家庄: the current name of a place, with or without its 省/市/县."""
    return bool(words) and (words in _by_name() or words in _bare_names())


@cache
def _bare_names() -> frozenset[str]:
    return frozenset(bare(name) for name in _by_name())


def divisions(place: Place) -> list[Place]:
    """What a plan of `place` lists as its regions: a city and its county-level divisions; a county and the city
    above it; a province and its prefectures (or a municipality's districts and counties)."""
    everything = places().values()
    if place.level == "prefecture":
        return [place, *sorted((p for p in everything if p.parent == place.code), key=lambda p: p.code)]
    if place.level == "county":
        above = places().get(place.parent or "")
        return [place, above] if above else [place]
    below = [p for p in everything if p.parent == place.code]
    return [place, *sorted(below, key=lambda p: p.code)]


def parent_of(place: Place, listed: set[str]) -> str | None:
    """The parent code to write for a region: only when that parent is in the list too."""
    return place.parent if place.parent in listed else None
