"""Counts of what leaves no history row: EPP queries and session commands (check, info, poll,
login...), RDAP and WHOIS lookups, zone file access. ICANN's monthly activity report needs
them (`reports/`).

Counting is one dictionary increment in memory (`count(service, name)`, no I/O, no lock
contention worth the name); `Counters.flush(db)` adds what was counted to `service_counters`
(day, service, name) in one transaction. `domreg serve` flushes every
`metrics_flush_interval` seconds and once more on shutdown (`Flusher`); several worker
processes each add their own counts. Counts not yet flushed when a process is killed
(SIGKILL) are lost: at most a few seconds of query counts, never a transform (those are
counted from the history).

RDAP and WHOIS count with one line each::

    from domreg import metrics
    metrics.count("rdap", "domain")      # or "whois", "port43"; "whois", "web"...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from datetime import UTC, date, datetime

from sqlalchemy import text

from domreg.store.db import Database

log = logging.getLogger("domreg.metrics")

#: Services counted (the `service` column).
EPP, RDAP, WHOIS, ZFA, DNS = "epp", "rdap", "whois", "zfa", "dns"
#: Per-registrar attempted domain creates (ICANN's "attempted-adds"): name = registrar clid.
EPP_ADDS = "epp-adds"


class Counters:
    """In-memory counts per (day, service, name), added to the database by `flush`."""

    def __init__(self) -> None:
        # Keyed by the day's ordinal (date.toordinal(): a tenth of the cost of formatting it).
        self._counts: Counter[tuple[int, str, str]] = Counter()
        self._lock = threading.Lock()  # flushes run on a thread; counting on the loop

    def count(self, service: str, name: str, at: datetime | date | None = None, n: int = 1) -> None:
        self._counts[((at or datetime.now(UTC)).toordinal(), service, name)] += n

    def take(self) -> Counter[tuple[int, str, str]]:
        with self._lock:
            taken, self._counts = self._counts, Counter()
        return taken

    def flush(self, db: Database) -> int:
        """Add the counts to `service_counters`; returns how many keys were written. On
        failure the counts are kept for the next flush."""
        taken = self.take()
        if not taken:
            return 0
        rows = [
            {
                "day": date.fromordinal(day).isoformat(),
                "service": service,
                "name": name[:64],
                "n": n,
            }
            for (day, service, name), n in taken.items()
        ]
        try:
            with db.write() as conn:
                conn.execute(
                    text(
                        "INSERT INTO service_counters (day, service, name, count) "
                        "VALUES (:day, :service, :name, :n) "
                        "ON CONFLICT (day, service, name) "
                        "DO UPDATE SET count = service_counters.count + excluded.count"
                    ),
                    rows,
                )
        except Exception:
            with self._lock:
                self._counts.update(taken)
            raise
        return len(rows)


#: The process's counters.
COUNTERS = Counters()


def count(service: str, name: str, at: datetime | date | None = None) -> None:
    """Count one `name` query of `service` (at `at`, default now): the one-line API."""
    COUNTERS.count(service, name, at)


def epp_command(name: str, clid: str | None, at: datetime) -> None:
    """Count one EPP command (e.g. "domain:info", "login"); attempted domain creates are also
    counted per registrar."""
    COUNTERS.count(EPP, name, at)
    if name == "domain:create" and clid:
        COUNTERS.count(EPP_ADDS, clid, at)


def flush(db: Database) -> int:
    return COUNTERS.flush(db)


class Flusher:
    """Flushes the process's counters every `interval` seconds, and once more on `stop()`."""

    def __init__(self, db: Database, interval: float) -> None:
        self.db, self.interval = db, interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            try:
                await self.db.run(lambda: flush(self.db))
            except Exception:
                log.exception("query counters could not be flushed; keeping them")

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="domreg-metrics")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
