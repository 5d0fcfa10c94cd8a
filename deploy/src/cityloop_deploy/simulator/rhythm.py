"""The day's rhythm: how many reports come each hour, and the clock that compresses a day.

Reports follow the city's working day: few at night, a morning peak as supervisors start
their rounds and the hotline opens, a dip at lunch, an afternoon peak, an evening tail.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

HOURLY_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 7, 10, 11, 11, 9, 6, 8, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1)
"""Relative report volume of each hour of the day, 0:00 to 23:00."""
MINUTES_PER_DAY = 24 * 60


def reports_per_hour(hour_of_day: int, reports_per_day: float) -> float:
    """The rate of reports in that hour, the day's volume shared by the curve."""
    return reports_per_day * HOURLY_WEIGHTS[hour_of_day % 24] / sum(HOURLY_WEIGHTS)


def arrivals(
    rng: random.Random, reports_per_day: float, start_hour: int, hours: float
) -> list[float]:
    """When reports come, in simulated minutes from the start: a Poisson process whose rate
    follows the day's curve hour by hour (memoryless, so each hour may start afresh)."""
    times: list[float] = []
    for k in range(math.ceil(hours)):
        rate = reports_per_hour(start_hour + k, reports_per_day)
        end, t = min(k + 1.0, hours), float(k)
        while (t := t + rng.expovariate(rate)) < end:
            times.append(t * 60)
    return times


@dataclass(frozen=True)
class Clock:
    """The compression: a simulated day takes ``day_minutes`` real minutes."""

    day_minutes: float

    def __post_init__(self) -> None:
        if self.day_minutes <= 0:
            raise ValueError("a simulated day takes a positive number of real minutes")

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return MINUTES_PER_DAY / self.day_minutes

    def real_seconds(self, simulated_minutes: float) -> float:
        return simulated_minutes * 60 / self.speed

    def simulated_hours(self, real_seconds: float) -> float:
        return real_seconds * self.speed / 3600
