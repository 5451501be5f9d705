"""The plan's energy-efficiency purchase rule (方案 七（三）) as code reading data: the rule's parameters come from
the plan (`Rule` of kind energy_efficiency_purchase: the tce threshold, whether central funds bring a project
under it, the minimum level), the levels per product category from data/efficiency.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from huanxin.plans.models import Rule
from huanxin.projects import reference
from huanxin.projects.models import EquipmentItem, Project

RULE_KIND = "energy_efficiency_purchase"


@dataclass(frozen=True)
class Applicability:
    applies: bool
    reason: str  # why the rule applies (or not), in Chinese
    rule: Rule | None


def applicability(project: Project) -> Applicability:
    city = project.region.parent_id or project.region_id
    rule = Rule.objects.filter(kind=RULE_KIND, plan__region_id=city).select_related("measure").first()
    if rule is None:
        return Applicability(False, "本市方案未设定采购设备能效规则", None)
    threshold = Decimal(str(rule.parameters.get("annual_energy_tce_min", 10000)))
    reasons = []
    if project.annual_energy_tce >= threshold:
        reasons.append(f"年综合能耗{project.annual_energy_tce.normalize():f}吨标准煤，达到{threshold:g}吨")
    if project.seeks_central_funds and rule.parameters.get("applies_to_central_funds", True):
        reasons.append("申请中央财政资金")
    if not reasons:
        return Applicability(False, f"年综合能耗低于{threshold:g}吨标准煤且不申请中央资金，不适用", rule)
    return Applicability(True, "；".join(reasons) + f"，适用“{rule.text}”", rule)


@dataclass(frozen=True)
class Flag:
    item: EquipmentItem
    reason: str


def item_flag(item: EquipmentItem) -> str:
    """Why this item falls short of the energy-saving level ('' when it does not, or has no label)."""
    category = reference.efficiency().get(item.category)
    if category is None or not category.labelled:
        return ""
    if category.below_energy_saving(item.grade):
        return f"{category.name}能效{item.grade}，低于节能水平（{category.standard} {category.energy_saving}）"
    return ""


def flags(project: Project) -> list[Flag]:
    """The items below the energy-saving level, when the rule applies to the project."""
    if not applicability(project).applies:
        return []
    return [Flag(item, reason) for item in project.items.all() if (reason := item_flag(item))]
