"""Reference data of the projects app, read from the YAML files beside it: the seven fields and their reviewing
departments, the energy-efficiency levels per product category, and the financing parameters per year."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"


def _load(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Field:
    code: str
    name: str
    department: str  # the reviewing city department's code


@cache
def fields() -> dict[str, Field]:
    return {code: Field(code, row["name"], row["department"]) for code, row in _load("fields.yaml").items()}


def field_choices() -> list[tuple[str, str]]:
    return [(f.code, f.name) for f in fields().values()]


@dataclass(frozen=True)
class EfficiencyCategory:
    code: str
    name: str
    standard: str
    grades: tuple[str, ...]  # best first
    advanced: str
    energy_saving: str
    entry: str

    @property
    def labelled(self) -> bool:
        return bool(self.grades)

    def rank(self, grade: str) -> int:
        return self.grades.index(grade)

    def below_energy_saving(self, grade: str) -> bool:
        return self.labelled and self.rank(grade) > self.rank(self.energy_saving)


@cache
def efficiency() -> dict[str, EfficiencyCategory]:
    data = _load("efficiency.yaml")
    return {
        code: EfficiencyCategory(
            code=code,
            name=row["name"],
            standard=row["standard"],
            grades=tuple(row["grades"]),
            advanced=row["advanced"],
            energy_saving=row["energy_saving"],
            entry=row["entry"],
        )
        for code, row in data["categories"].items()
    }


def efficiency_source() -> str:
    return str(_load("efficiency.yaml")["source"])


@dataclass(frozen=True)
class FinancingYear:
    year: int
    relending_share: Decimal
    relending_rate_pct: Decimal
    interest_subsidy_points: Decimal
    subsidy_years: int
    source: str


@cache
def financing() -> dict[int, FinancingYear]:
    return {
        int(year): FinancingYear(
            year=int(year),
            relending_share=Decimal(str(row["relending_share"])),
            relending_rate_pct=Decimal(str(row["relending_rate_pct"])),
            interest_subsidy_points=Decimal(str(row["interest_subsidy_points"])),
            subsidy_years=int(row["subsidy_years"]),
            source=str(row["source"]),
        )
        for year, row in _load("financing.yaml")["years"].items()
    }
