"""Reads on plans that are more than a filter. Each takes the user who asks and scopes by `visible_to`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from huanxin.core.models import Department
from huanxin.plans.models import (
    Indicator,
    Measure,
    MeasureAction,
    Plan,
    Responsibility,
    ResponsibilityClause,
    Section,
)


def measures_with_departments(queryset: QuerySet[Measure]) -> QuerySet[Measure]:
    """Measures with their clauses, responsibilities and departments loaded in a fixed number of queries."""
    return queryset.select_related("section", "plan").prefetch_related(
        Prefetch(
            "clauses",
            queryset=ResponsibilityClause.objects.prefetch_related(
                Prefetch("responsibilities", queryset=Responsibility.objects.select_related("department"))
            ),
        )
    )


@dataclass
class SectionNode:
    section: Section
    measures: list[Measure] = field(default_factory=list)
    children: list[SectionNode] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)

    @property
    def entries(self) -> list[Measure | SectionNode]:
        """Measures and sub-sections in document order (二、 has （一）（二） headings, then （三） … measures)."""
        items: list[Measure | SectionNode] = [*self.measures, *self.children]
        return sorted(items, key=lambda item: item.position)

    @property
    def position(self) -> int:
        return self.section.position

    is_section = True  # lets a template tell a sub-section from a measure among `entries`


def plan_tree(plan: Plan) -> list[SectionNode]:
    """The document's tree (一、 → （一） → 1.) with each node's measures and its own indicators."""
    nodes = {s.pk: SectionNode(s) for s in Section.objects.filter(plan=plan).order_by("position")}
    measures = measures_with_departments(Measure.objects.filter(plan=plan)).annotate(n_indicators=Count("indicators"))
    for measure in measures.order_by("position"):
        nodes[measure.section_id].measures.append(measure)
    for indicator in Indicator.objects.filter(plan=plan, measure__isnull=True).order_by("position"):
        nodes[indicator.section_id].indicators.append(indicator)
    roots = []
    for node in nodes.values():
        if node.section.parent_id:
            nodes[node.section.parent_id].children.append(node)
        else:
            roots.append(node)
    return roots


def measure_departments(measure: Measure) -> list[Responsibility]:
    """Distinct departments of a measure across its clauses; a department that leads any clause counts as lead."""
    by_department: dict[int, Responsibility] = {}
    for clause in measure.clauses.all():
        for resp in clause.responsibilities.all():
            current = by_department.get(resp.department_id)
            if current is None or (resp.role == Responsibility.Role.LEAD and current.role != resp.role):
                by_department[resp.department_id] = resp
    return sorted(
        by_department.values(),
        key=lambda r: (r.role != Responsibility.Role.LEAD, r.clause.position, r.position),
    )


def indicator_departments(indicator: Indicator) -> list[Responsibility]:
    """Who answers for an indicator: its clause's departments, else all of its measure's (lead first)."""
    if indicator.clause is not None:
        return list(indicator.clause.responsibilities.all())
    return measure_departments(indicator.measure) if indicator.measure is not None else []


@dataclass
class DepartmentTasks:
    department: Department
    lead: list[Measure]
    cooperating: list[Measure]
    indicators: list[Indicator]
    actions: list[MeasureAction]


def department_tasks(*, user: Any, department: Department) -> DepartmentTasks:
    """我的任务: the measures a department leads or co-operates on, their indicators and its 落实举措."""
    roles: dict[int, set[str]] = defaultdict(set)
    responsibilities = Responsibility.objects.visible_to(user).filter(department=department)
    for measure_id, role in responsibilities.values_list("clause__measure_id", "role"):
        roles[measure_id].add(role)
    measures = list(
        measures_with_departments(Measure.objects.visible_to(user).filter(pk__in=roles)).order_by("plan", "position")
    )
    lead = [m for m in measures if Responsibility.Role.LEAD in roles[m.pk]]
    cooperating = [m for m in measures if Responsibility.Role.LEAD not in roles[m.pk]]
    indicators = list(
        Indicator.objects.visible_to(user)
        .filter(
            Q(clause__responsibilities__department=department)
            | Q(clause__isnull=True, measure__in=measures)
            | Q(related_measures__in=measures)
        )
        .select_related("measure", "section")
        .distinct()
        .order_by("plan", "position")
    )
    actions = list(
        MeasureAction.objects.visible_to(user)
        .filter(department=department)
        .select_related("measure", "created_by")
        .order_by("-updated_at")
    )
    return DepartmentTasks(department, lead, cooperating, indicators, actions)


def department_list(*, user: Any, query: str = "") -> QuerySet[Department]:
    visible = Responsibility.objects.visible_to(user)
    qs = Department.objects.visible_to(user).annotate(
        n_lead=Count(
            "responsibilities__clause__measure",
            filter=Q(responsibilities__in=visible, responsibilities__role="lead"),
            distinct=True,
        ),
        n_measures=Count("responsibilities__clause__measure", filter=Q(responsibilities__in=visible), distinct=True),
    )
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(short_name__icontains=query) | Q(aliases__name__icontains=query))
    return qs.distinct().order_by("-n_measures", "name")


def search_measures(*, user: Any, query: str) -> QuerySet[Measure]:
    """Measures whose code, title, text or responsible department matches every word of the query."""
    qs = Measure.objects.visible_to(user)
    words = query.split()
    if not words:
        return qs.none()
    for word in words:
        qs = qs.filter(
            Q(code__icontains=word)
            | Q(title__icontains=word)
            | Q(text__icontains=word)
            | Q(clauses__responsibilities__department__name__icontains=word)
            | Q(clauses__responsibilities__department__short_name__icontains=word)
        )
    return measures_with_departments(qs.distinct()).order_by("plan", "position")


INDICATOR_SORTS = {
    "position": ("position",),
    "name": ("name",),
    "kind": ("kind", "position"),
    "target": ("target_value", "position"),
    "-target": ("-target_value", "position"),
}


def indicator_list(
    *, user: Any, plan: Plan, kind: str = "", department: str = "", query: str = "", sort: str = "position"
) -> QuerySet[Indicator]:
    qs = Indicator.objects.visible_to(user).filter(plan=plan)
    if kind:
        qs = qs.filter(kind=kind)
    if department:
        via_clause = Q(clause__responsibilities__department__code=department)
        via_measure = Q(clause__isnull=True, measure__clauses__responsibilities__department__code=department)
        via_related = Q(related_measures__clauses__responsibilities__department__code=department)
        qs = qs.filter(via_clause | via_measure | via_related)
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(statement__icontains=query))
    order = INDICATOR_SORTS.get(sort, INDICATOR_SORTS["position"])
    return (
        qs.select_related("measure", "section", "plan")
        .prefetch_related(
            Prefetch(
                "measure__clauses__responsibilities",
                queryset=Responsibility.objects.select_related("department"),
            ),
            Prefetch("clause__responsibilities", queryset=Responsibility.objects.select_related("department")),
            "related_measures",
        )
        .distinct()
        .order_by(*order)
    )
