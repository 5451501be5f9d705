"""What is waiting for a user, gathered from every app for the home page ("待办").

An app registers a provider in its AppConfig.ready(); core never imports the apps (they import core).

    @inbox.provider
    def my_items(user) -> list[inbox.Item]: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Tone = Literal["info", "warn", "bad"]


@dataclass(frozen=True)
class Item:
    title: str  # 待审核的数值
    count: int
    url: str
    tone: Tone = "info"


Provider = Callable[[Any], list[Item]]
_providers: list[Provider] = []


def provider(func: Provider) -> Provider:
    if func not in _providers:
        _providers.append(func)
    return func


def items_for(user: Any) -> list[Item]:
    """Every non-empty item for `user`, most urgent first."""
    items = [item for func in _providers for item in func(user) if item.count]
    order = {"bad": 0, "warn": 1, "info": 2}
    return sorted(items, key=lambda item: order[item.tone])
