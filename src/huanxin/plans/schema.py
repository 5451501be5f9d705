"""The plan file format (plans/data/*.yaml), as pydantic models. docs/plan-format.md describes it for people."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Slug = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Drafted(Strict):
    """An item an importer wrote (huanxin.plans.importer): how sure it is and where in the source text the item
    comes from. Accepted so a draft loads as it is; the loader ignores both."""

    confidence: float | None = Field(default=None, ge=0, le=1)
    source: tuple[int, int] | None = None


class PlanHeader(Strict):
    code: str = Slug
    title: str = Field(min_length=1, max_length=200)
    notice_title: str = ""
    document_number: str = Field(min_length=1)
    issuer: str = Field(min_length=1)
    region: str = Field(pattern=r"^\d{6}$")
    issued_on: dt.date
    published_on: dt.date | None = None
    baseline_year: int = Field(ge=1990, le=2100)
    target_year: int = Field(ge=1990, le=2100)
    deadline: dt.date
    source: str = ""
    preamble: str = ""
    closing: str = ""
    task_force_department: str | None = None
    # an importer's stand-ins for what the text did not give (review only, ignored by the loader); publishing an
    # import refuses the draft while any is left (plans/imports.py)
    placeholders: list[Literal["title", "document_number", "issuer", "issued_on"]] = []

    @model_validator(mode="after")
    def years_in_order(self) -> PlanHeader:
        if self.target_year <= self.baseline_year:
            raise ValueError("target_year 必须晚于 baseline_year")
        if self.deadline.year != self.target_year:
            raise ValueError("deadline 应落在 target_year 年内")
        return self


class RegionEntry(Drafted):
    code: str = Field(pattern=r"^\d{6}$")
    name: str = Field(min_length=1)
    short_name: str = ""
    kind: Literal["province", "city", "district", "county", "management_zone", "development_zone"]
    code_source: Literal["gb2260", "stats"] = "gb2260"
    parent: str | None = None


class DepartmentEntry(Drafted):
    code: str = Slug
    name: str = Field(min_length=1, max_length=80)
    short_name: str = ""
    aliases: list[str] = []
    kind: Literal["municipal", "vertical", "institution", "brigade"] = "municipal"
    proposed: bool = False  # an importer's proposal: not among the departments it knew


class ResponsibilityEntry(Drafted):
    clause: str = Field(min_length=1, max_length=300)
    departments: list[str] = Field(min_length=1)
    open_ended: bool = False
    covers: str = ""


class IndicatorEntry(Drafted):
    code: str = Slug
    name: str = Field(min_length=1, max_length=120)
    statement: str = Field(min_length=1)
    kind: Literal["growth_vs_baseline", "cumulative_total", "share", "level", "count", "qualitative"]
    comparator: Literal["gte", "gt", "eq", "lte"] | None = None
    target: Decimal | None = None
    unit: str | None = None
    baseline_year: int | None = None
    target_year: int
    aspirational: bool = False
    measures: list[str] = []

    @model_validator(mode="after")
    def numeric_fields_agree(self) -> IndicatorEntry:
        numeric = (self.comparator, self.target, self.unit)
        if self.kind == "qualitative":
            if any(value is not None for value in numeric):
                raise ValueError("定性目标不应有 comparator、target 或 unit")
        elif any(value is None for value in numeric):
            raise ValueError("定量目标必须有 comparator、target 和 unit")
        if self.kind == "growth_vs_baseline" and self.baseline_year is None:
            raise ValueError("较基准年增长的指标必须有 baseline_year")
        return self


class MeasureEntry(Drafted):
    number: str = Field(min_length=1, max_length=10)
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)
    responsibilities: list[ResponsibilityEntry] = Field(min_length=1)
    indicators: list[IndicatorEntry] = []


class SectionEntry(Drafted):
    number: str = Field(min_length=1, max_length=10)
    title: str = Field(min_length=1, max_length=200)
    text: str = ""
    indicators: list[IndicatorEntry] = []
    sections: list[SectionEntry] = []
    measures: list[MeasureEntry] = []


class RuleEntry(Strict):
    code: str = Slug
    measure: str | None = None
    kind: str = Field(min_length=1)
    text: str = Field(min_length=1)
    parameters: dict[str, object] = {}


class PlanFile(Strict):
    plan: PlanHeader
    regions: list[RegionEntry] = Field(min_length=1)
    departments: list[DepartmentEntry] = Field(min_length=1)
    sections: list[SectionEntry] = Field(min_length=1)
    rules: list[RuleEntry] = []
