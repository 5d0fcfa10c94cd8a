"""Amounts of working time (工作时间) that time limits are stated in."""

from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cityloop_shared.contract.values import TimeLimit, TimeUnit

_MINUTES_PER_UNIT = {TimeUnit.WORKING_MINUTES: 1, TimeUnit.WORKING_HOURS: 60}


class WorkingDuration(BaseModel):
    """An amount of working time, e.g. 4 working hours or 1 working day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: TimeUnit
    amount: Annotated[Decimal, Field(gt=0)]

    @field_validator("amount")
    @classmethod
    def _whole_days(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        # A fraction of a working day has no clock-time meaning; state it in hours or minutes.
        if info.data.get("unit") is TimeUnit.WORKING_DAYS and value != value.to_integral_value():
            raise ValueError("must be a whole number of working days; use working_hours")
        return value

    @property
    def working_time(self) -> timedelta | None:
        """The working time for minutes and hours; ``None`` for days, which count calendar days."""
        minutes = _MINUTES_PER_UNIT.get(self.unit)
        return None if minutes is None else timedelta(minutes=float(self.amount * minutes))

    def as_time_limit(self) -> TimeLimit:
        """The limit as events carry it: whole units, in minutes when the amount has a fraction."""
        if self.amount == self.amount.to_integral_value():
            return TimeLimit(amount=int(self.amount), unit=self.unit)
        minutes = self.amount * _MINUTES_PER_UNIT[self.unit]
        return TimeLimit(amount=int(minutes.to_integral_value()), unit=TimeUnit.WORKING_MINUTES)

    def __str__(self) -> str:
        return f"{self.amount.normalize():f} {self.unit.value.replace('_', ' ')}"
