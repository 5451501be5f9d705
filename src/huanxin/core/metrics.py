"""The metric registry: operational data that feeds the plan's indicators.

An app registers metrics (in its AppConfig.ready()); `monitoring` asks the registry for values and never imports
the app. A metric answers: for each region, the figure over [start, end].

    metrics.register(Metric(name="ledger.buses.nev_share", label="…", unit="%", aggregation="ratio", compute=f))
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

# region pk -> value; the city-wide figure is under the city's pk
Values = dict[int, Decimal]
Compute = Callable[[dt.date, dt.date], Values]


@dataclass(frozen=True)
class Metric:
    name: str  # "ledger.gas-pipeline.quantity"
    label: str  # "燃气老旧管网更新改造长度"
    unit: str  # "公里"
    aggregation: Literal["sum", "ratio", "level"]  # how periods combine: add up, or recompute, or take the last
    compute: Compute


_registry: dict[str, Metric] = {}
# metrics whose list lives in the database (ledger kinds are rows): a resolver per name prefix
Resolver = Callable[[str], "Metric | None"]
_resolvers: dict[str, Resolver] = {}


def register(metric: Metric) -> Metric:
    _registry[metric.name] = metric
    return metric


def unregister(name: str) -> None:
    _registry.pop(name, None)


def register_prefix(prefix: str, resolver: Resolver) -> None:
    """Metrics named `prefix…` are looked up by `resolver` when asked for (e.g. one per ledger kind)."""
    _resolvers[prefix] = resolver


def get(name: str) -> Metric:
    if name in _registry:
        return _registry[name]
    for prefix, resolver in _resolvers.items():
        if name.startswith(prefix) and (metric := resolver(name)) is not None:
            return metric
    raise KeyError(f"未注册的度量 {name}")


def exists(name: str) -> bool:
    try:
        get(name)
    except KeyError:
        return False
    return True


def names() -> list[str]:
    return sorted(_registry)


def all_metrics() -> list[Metric]:
    return [_registry[name] for name in names()]


def with_parents(rows: Iterable[tuple[int, Decimal]]) -> Values:
    """Figures per region, plus each region's figure added to its parent's (the counties make the city)."""
    from huanxin.core.models import Region

    out: dict[int, Decimal] = defaultdict(Decimal)
    for region_pk, value in rows:
        out[region_pk] += value
    parents = dict(Region.objects.filter(pk__in=list(out), parent__isnull=False).values_list("pk", "parent_id"))
    for region_pk, value in list(out.items()):
        if parent := parents.get(region_pk):
            out[parent] += value
    return dict(out)
