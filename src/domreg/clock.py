"""The registry's clock. Flows take one `now` per transaction from it; tests replace it to travel in time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

_EPOCH = datetime(1970, 1, 1)


class Clock:
    """Wall-clock UTC time, as naive datetimes (the storage convention)."""

    def now(self) -> datetime:
        # The epoch plus the system clock's microseconds: `datetime.now(UTC)` without its
        # time zone arithmetic, a third of the cost on every command (`utcnow` is deprecated).
        return _EPOCH + timedelta(microseconds=time.time_ns() // 1000)


class FixedClock(Clock):
    """A clock that stands still until moved: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, delta: timedelta) -> None:
        self._now += delta
