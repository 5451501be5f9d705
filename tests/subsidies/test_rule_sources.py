"""Every default rule names an honest source: a national notice by its real title and 文号, checked against a copy of
its text, or the plain words "示例取值" (an example value, not the policy's text). No made-up document numbers."""

from __future__ import annotations

import re

import pytest

from huanxin.subsidies import rules

# 文号 checked against a retrieved copy of the document (or of a later notice quoting it by number), with the title.
VERIFIED = {
    "国发〔2024〕7号": "推动大规模设备更新和消费品以旧换新行动方案",
    "发改环资〔2024〕1104号": "关于加力支持大规模设备更新和消费品以旧换新的若干措施",
    "发改环资〔2025〕13号": "关于2025年加力扩围实施大规模设备更新和消费品以旧换新政策的通知",
}
EXAMPLE = "示例取值"
# what is left of a 文号 once its issuer's code is taken away: the year in 〔〕 (or [] / 【】), the number and 号
YEAR_AND_NUMBER = re.compile(r"[〔\[【]\s*\d{4}\s*[〕\]】]\s*\d*\s*号?")


def unchecked(source: str) -> list[str]:
    """What looks like a 文号 in `source` once the checked ones are taken out."""
    for number in VERIFIED:
        source = source.replace(number, "")
    return YEAR_AND_NUMBER.findall(source) + (["〔"] if "〔" in source else [])


@pytest.mark.parametrize("category", sorted(rules.DEFAULTS))
def test_a_default_source_cites_a_checked_notice_or_says_it_is_an_example(category: str) -> None:
    source = rules.DEFAULTS[category]["source"]
    assert not unchecked(source), f"{category}: a 文号 not in the checked list: {unchecked(source)}"
    titled = [number for number, title in VERIFIED.items() if number in source and title in source]
    assert titled or EXAMPLE in source, f"{category}: cite a checked notice with its title, or say {EXAMPLE}"


def test_the_made_up_number_is_gone() -> None:
    every = "".join(str(defaults["source"]) for defaults in rules.DEFAULTS.values())
    assert "商消费发" not in every


def test_anything_like_a_document_number_outside_the_list_is_caught() -> None:
    assert unchecked("见发改环资〔2025〕13号《关于2025年……的通知》") == []
    assert unchecked("商消费函〔2024〕75号") == ["〔2024〕75号", "〔"]
    assert unchecked("商消费发〔2025〕年度加力扩围通知") == ["〔2025〕", "〔"]
    assert unchecked("某某[2024]3号") == ["[2024]3号"]
    assert unchecked("GB 17761-2024《电动自行车安全技术规范》") == []
