"""From counts to indicators, composite scores, ranks and grades (domain §6), for one
subject's league table. Pure: the counts come from :mod:`cityloop_evaluation.measures`.

Rates score their per cent; a rate where lower is better (监督举报率, 漏报率, 返工率) scores
100 less its per cent; a region's case count scores by the configured bands; a volume (受理数,
派遣数) scores its share of the table's largest. An indicator with nothing to count (0 due)
is left out of the composite, whose other weights then count in proportion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from cityloop_evaluation.config import REGIONS, EvaluationConfig, Subject


class Kind(StrEnum):
    RATE = "rate"
    LOWER_IS_BETTER = "lower_is_better"
    BANDED = "banded"
    VOLUME = "volume"


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str
    label: str
    kind: Kind
    numerator: tuple[str, ...]
    """Counters added up; one starting with ``-`` is taken away."""
    denominator: str | None = None


_REGION = (
    Indicator(
        "supervision_report_rate",
        "监督举报率",
        Kind.LOWER_IS_BETTER,
        ("cases.public_confirmed",),
        "cases.registered",
    ),
    Indicator("registered_volume", "立案数", Kind.BANDED, ("cases.registered",)),
    Indicator("closing_rate", "结案率", Kind.RATE, ("cases.closed",), "cases.due_to_close"),
    Indicator(
        "closed_on_time_rate",
        "按期结案率",
        Kind.RATE,
        ("cases.closed_on_time",),
        "cases.due_to_close",
    ),
)

INDICATORS: dict[Subject, tuple[Indicator, ...]] = {
    **dict.fromkeys(REGIONS, _REGION),
    Subject.DEPARTMENT: (
        Indicator(
            "handled_on_time_rate",
            "按时处置率",
            Kind.RATE,
            ("disposal.on_time",),
            "disposal.due",
        ),
        Indicator("closing_rate", "结案率", Kind.RATE, ("cases.closed",), "cases.due_to_close"),
        Indicator(
            "rework_rate", "返工率", Kind.LOWER_IS_BETTER, ("disposal.reworked",), "disposal.done"
        ),
    ),
    Subject.SUPERVISOR: (
        Indicator(
            "valid_report_rate", "有效上报率", Kind.RATE, ("reports.valid",), "reports.reports"
        ),
        Indicator(
            "missed_report_rate",
            "漏报率",
            Kind.LOWER_IS_BETTER,
            ("grids.public_confirmed",),
            "grids.registered",
        ),
        Indicator(
            "verified_on_time_rate",
            "按时核实率",
            Kind.RATE,
            ("verification.on_time",),
            "verification.due",
        ),
        Indicator("checked_on_time_rate", "按时核查率", Kind.RATE, ("check.on_time",), "check.due"),
    ),
    Subject.ACCEPTANCE_OPERATOR: (
        Indicator("accepted_volume", "受理数", Kind.VOLUME, ("acceptance.done",)),
        Indicator(
            "accepted_on_time_rate",
            "按时受理率",
            Kind.RATE,
            ("acceptance.on_time",),
            "acceptance.due",
        ),
    ),
    Subject.DUTY_CHIEF: (
        Indicator(
            "registered_on_time_rate",
            "按时立案率",
            Kind.RATE,
            ("registration.on_time",),
            "registration.due",
        ),
        Indicator(
            "accurate_registration_rate",
            "准确立案率",
            Kind.RATE,
            ("registered.registered", "-registered.voided"),
            "registered.registered",
        ),
        Indicator(
            "closed_on_time_rate", "按时结案率", Kind.RATE, ("closed.on_time",), "closed.closed"
        ),
    ),
    Subject.DISPATCHER: (
        Indicator("dispatched_volume", "派遣数", Kind.VOLUME, ("dispatch.done",)),
        Indicator(
            "dispatched_on_time_rate",
            "按时派遣率",
            Kind.RATE,
            ("dispatch.on_time",),
            "dispatch.due",
        ),
        Indicator(
            "accurate_dispatch_rate",
            "准确派遣率",
            Kind.RATE,
            ("dispatch.done", "-dispatch.wrong"),
            "dispatch.due",
        ),
    ),
}

VOLUME: dict[Subject, str] = {
    **dict.fromkeys(REGIONS, "cases.registered"),
    Subject.DEPARTMENT: "disposal.due",
    Subject.SUPERVISOR: "reports.reports",
    Subject.ACCEPTANCE_OPERATOR: "acceptance.due",
    Subject.DUTY_CHIEF: "registration.due",
    Subject.DISPATCHER: "dispatch.due",
}
"""The count the minimum volume applies to: what the subject's work in the period is."""

SATISFACTION = Indicator(
    "satisfaction_rate", "满意率", Kind.RATE, ("satisfaction.satisfied",), "satisfaction.recorded"
)
"""External evaluation (外部评价): the public's call-back and feedback, 4 or 5 of 5."""


@dataclass(frozen=True, slots=True)
class Measured:
    value: float | None
    """The rate (0–1) or the count; None when there was nothing to count."""
    numerator: float
    denominator: float | None
    score: float | None


@dataclass(frozen=True, slots=True)
class Standing:
    """One subject's line of a league table."""

    subject_id: str
    counts: Mapping[str, float]
    indicators: Mapping[str, Measured]
    internal: float | None
    external: float | None
    score: float | None
    ranked: bool
    rank: int | None = None
    grade: str | None = None


def league(
    subject: Subject,
    counts: Mapping[str, Mapping[str, float]],
    config: EvaluationConfig,
    grids_in: Callable[[str], int] = lambda _: 1,
) -> list[Standing]:
    """Every subject counted, best first; the unranked (below the minimum volume) after the
    ranked, by volume."""
    specs = INDICATORS[subject]
    largest = {
        spec.name: max((_sum(spec.numerator, c) for c in counts.values()), default=0.0)
        for spec in specs
        if spec.kind is Kind.VOLUME
    }
    standings = []
    for subject_id, found in counts.items():
        measured = {
            spec.name: _measure(
                spec, found, config, largest.get(spec.name, 0.0), grids_in(subject_id)
            )
            for spec in specs
        }
        internal = _composite(measured, config.weights[subject])
        external = None
        if subject in _EXTERNAL:
            satisfaction = _measure(SATISFACTION, found, config, 0, 1)
            external = satisfaction.score
            if external is not None:
                measured[SATISFACTION.name] = satisfaction
        standings.append(
            Standing(
                subject_id=subject_id,
                counts=dict(found),
                indicators=measured,
                internal=internal,
                external=external,
                score=_blend(internal, external, config.external_weight),
                ranked=found.get(VOLUME[subject], 0) >= config.minimum_volume[subject],
            )
        )
    return _ranked(standings, config, VOLUME[subject])


_EXTERNAL = REGIONS | {Subject.DEPARTMENT}


def _sum(terms: Sequence[str], counts: Mapping[str, float]) -> float:
    return sum(
        -counts.get(term[1:], 0) if term.startswith("-") else counts.get(term, 0) for term in terms
    )


def _measure(
    spec: Indicator,
    counts: Mapping[str, float],
    config: EvaluationConfig,
    largest: float,
    grids: int,
) -> Measured:
    numerator = _sum(spec.numerator, counts)
    match spec.kind:
        case Kind.BANDED:
            per = numerator / grids if config.bands_per_grid and grids else numerator
            return Measured(numerator, numerator, None, config.band(per))
        case Kind.VOLUME:
            score = 100 * numerator / largest if largest else None
            return Measured(numerator, numerator, None, score)
    denominator = counts.get(spec.denominator or "", 0)
    if not denominator:
        return Measured(None, numerator, denominator, None)
    rate = numerator / denominator
    score = 100 * (1 - rate) if spec.kind is Kind.LOWER_IS_BETTER else 100 * rate
    return Measured(rate, numerator, denominator, score)


def _composite(measured: Mapping[str, Measured], weights: Mapping[str, float]) -> float | None:
    scored = [
        (weights.get(name, 0), m.score) for name, m in measured.items() if m.score is not None
    ]
    total = sum(weight for weight, _ in scored)
    if not total:
        return None
    return sum(weight * score for weight, score in scored if score is not None) / total


def _blend(internal: float | None, external: float | None, external_weight: float) -> float | None:
    if internal is None or external is None or not external_weight:
        return internal
    return internal * (1 - external_weight / 100) + external * external_weight / 100


def _ranked(standings: list[Standing], config: EvaluationConfig, volume: str) -> list[Standing]:
    ranked = sorted(
        (s for s in standings if s.ranked and s.score is not None),
        key=lambda s: (-round(s.score or 0, 6), s.subject_id),
    )
    out: list[Standing] = []
    for position, standing in enumerate(ranked, start=1):
        previous = out[-1] if out else None
        tied = previous is not None and round(previous.score or 0, 6) == round(
            standing.score or 0, 6
        )
        rank = previous.rank if tied and previous is not None else position
        score = standing.score or 0.0
        out.append(replace(standing, rank=rank, grade=config.grade(score)))
    rest = sorted(
        (s for s in standings if not (s.ranked and s.score is not None)),
        key=lambda s: (-s.counts.get(volume, 0), s.subject_id),
    )
    return out + [replace(s, ranked=False) for s in rest]
