"""Registration periods (RFC 5731 section 2.6) and calendar arithmetic on UTC datetimes."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

MIN_YEARS = 1
MAX_YEARS = 10


@dataclass(frozen=True, slots=True)
class Period:
    value: int
    unit: str  # "y" or "m"

    @property
    def months(self) -> int:
        return self.value * 12 if self.unit == "y" else self.value

    @property
    def whole_years(self) -> int | None:
        """The period in years, or None if it is not a whole number of years."""
        return self.months // 12 if self.months % 12 == 0 else None


ONE_YEAR = Period(1, "y")


def add_months(when: datetime, months: int) -> datetime:
    """`when` moved by `months`, clamping the day (29 February + 1 year is 28 February)."""
    total = when.month - 1 + months
    year = when.year + total // 12
    month = total % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def add_years(when: datetime, years: int) -> datetime:
    return add_months(when, 12 * years)
