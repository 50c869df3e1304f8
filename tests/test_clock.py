"""The registry clock: naive UTC datetimes to the microsecond, read between two readings of
the standard library's UTC clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domreg.clock import Clock, FixedClock


def test_now_is_naive_utc_between_two_readings_of_the_system_clock() -> None:
    clock = Clock()
    for _ in range(1000):
        before = datetime.now(UTC).replace(tzinfo=None)
        now = clock.now()
        after = datetime.now(UTC).replace(tzinfo=None)
        assert now.tzinfo is None
        assert before <= now <= after


def test_a_fixed_clock_stands_still_until_moved() -> None:
    start = datetime(2027, 1, 1, 12, 0, 0, 123456)
    clock = FixedClock(start)
    assert clock.now() == start == clock.now()
    clock.advance(timedelta(days=1))
    assert clock.now() == start + timedelta(days=1)
    clock.set(start)
    assert clock.now() == start
