"""The evaluation standard as a city sets it: weights, banded scores, grades and the minimum
volume, with the defaults of the domain (docs/evaluation.md). The configuration in force is
returned with every result, with a fingerprint to compare two results by.

An ``evaluation.yaml`` in the reference data folder overrides any part of it.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityloop_shared.contract.envelope import canonical_json
from cityloop_shared.reference.errors import ReferenceDataError


class Subject(StrEnum):
    """What is evaluated (评价对象)."""

    GRID = "grid"
    """单元网格."""
    COMMUNITY = "community"
    """社区."""
    STREET = "street"
    """街道."""
    DISTRICT = "district"
    """区."""
    CITY = "city"
    """市: every district of the city as one."""
    DEPARTMENT = "department"
    """专业部门."""
    SUPERVISOR = "supervisor"
    """信息监督员."""
    ACCEPTANCE_OPERATOR = "acceptance_operator"
    """受理员."""
    DUTY_CHIEF = "duty_chief"
    """值班长."""
    DISPATCHER = "dispatcher"
    """派遣员."""

    @property
    def is_region(self) -> bool:
        return self in REGIONS


REGIONS = frozenset(
    {Subject.GRID, Subject.COMMUNITY, Subject.STREET, Subject.DISTRICT, Subject.CITY}
)


class Band(BaseModel):
    """A count below ``below`` scores ``score`` (the first band that fits)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    below: float
    score: float = Field(ge=0, le=100)


class Grade(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=32)
    at_least: float = Field(ge=0, le=100)


DEFAULT_WEIGHTS: dict[Subject, dict[str, float]] = {
    **{
        region: {
            "supervision_report_rate": 10,
            "registered_volume": 20,
            "closing_rate": 30,
            "closed_on_time_rate": 40,
        }
        for region in REGIONS
    },
    Subject.DEPARTMENT: {"handled_on_time_rate": 40, "closing_rate": 30, "rework_rate": 30},
    Subject.SUPERVISOR: {
        "valid_report_rate": 40,
        "missed_report_rate": 20,
        "verified_on_time_rate": 20,
        "checked_on_time_rate": 20,
    },
    Subject.ACCEPTANCE_OPERATOR: {"accepted_volume": 25, "accepted_on_time_rate": 75},
    Subject.DUTY_CHIEF: {
        "registered_on_time_rate": 25,
        "accurate_registration_rate": 40,
        "closed_on_time_rate": 35,
    },
    Subject.DISPATCHER: {
        "dispatched_volume": 20,
        "dispatched_on_time_rate": 40,
        "accurate_dispatch_rate": 40,
    },
}
"""Composite weights in per cent (domain §6); a region's last weight is 40 %, the likely
intent of a source whose weights otherwise sum to 70 %."""


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[Subject, dict[str, float]] = Field(
        default_factory=lambda: {subject: dict(w) for subject, w in DEFAULT_WEIGHTS.items()}
    )
    registered_bands: tuple[Band, ...] = (
        Band(below=1, score=100),
        Band(below=3, score=90),
        Band(below=5, score=75),
        Band(below=7, score=60),
        Band(below=9, score=40),
    )
    """立案数 of a region as a score: fewer problems, a better region; past the last band 0."""
    bands_per_grid: bool = True
    """Band a region's cases per grid of it, so a district and a grid stand on one scale."""
    grades: tuple[Grade, ...] = (
        Grade(name="优秀", at_least=90),
        Grade(name="良好", at_least=80),
        Grade(name="合格", at_least=60),
        Grade(name="不合格", at_least=0),
    )
    minimum_volume: dict[Subject, int] = Field(default_factory=lambda: dict.fromkeys(Subject, 10))
    """Below it a subject is shown, not ranked or graded: one fast case tops no table."""
    external_weight: float = Field(default=0, ge=0, le=100)
    """Per cent of the score from the public's satisfaction (external evaluation)."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for subject in Subject:
            weights = self.weights.get(subject)
            if weights is None:
                raise ValueError(f"weights: no weights for {subject.value}")
            unknown = set(weights) - set(DEFAULT_WEIGHTS[subject])
            if unknown:
                known = ", ".join(sorted(DEFAULT_WEIGHTS[subject]))
                raise ValueError(
                    f"weights.{subject.value}: unknown {sorted(unknown)}; known: {known}"
                )
            if sum(weights.values()) <= 0:
                raise ValueError(f"weights.{subject.value}: the weights sum to nothing")
        if [b.below for b in self.registered_bands] != sorted(
            b.below for b in self.registered_bands
        ):
            raise ValueError("registered_bands: list the bands in rising order of 'below'")
        if not self.grades or self.grades[-1].at_least != 0:
            raise ValueError("grades: end with a grade at_least 0, so every score has one")
        return self

    def band(self, count: float) -> float:
        return next((band.score for band in self.registered_bands if count < band.below), 0.0)

    def grade(self, score: float) -> str:
        return next(grade.name for grade in self.grades if score >= grade.at_least)

    def fingerprint(self) -> str:
        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()[:16]


EVALUATION_FILE = "evaluation.yaml"


def load_config(folder: Path | None) -> EvaluationConfig:
    """The configuration of the reference data folder, or the defaults without one."""
    path = folder / EVALUATION_FILE if folder else None
    if path is None or not path.exists():
        return EvaluationConfig()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    defaults = EvaluationConfig().model_dump()
    # A city states only what it changes; weights of a subject it does not name stay.
    weights = {**defaults["weights"], **(data.pop("weights", None) or {})}
    minimum = {**defaults["minimum_volume"], **(data.pop("minimum_volume", None) or {})}
    try:
        return EvaluationConfig.model_validate(
            {**data, "weights": weights, "minimum_volume": minimum}
        )
    except ValueError as error:
        raise ReferenceDataError([f"{EVALUATION_FILE}: {error}"]) from error
