"""Counts of what leaves no history row: EPP queries and session commands (check, info, poll,
login...), RDAP and WHOIS lookups, zone file access. ICANN's monthly activity report needs
them (`reports/`), one report per TLD.

Counting is one dictionary increment in memory (`count(service, name)`, no I/O, no lock
contention worth the name); `Counters.flush(db)` adds what was counted to `service_counters`
(day, service, name, tld) in one transaction.

RDAP and WHOIS queries are counted per TLD: `count(service, name, at, subject)` attributes a
query about a domain or name server name (`subject`; a search pattern such as `ex*.test`
too) to the registry's TLD that name is under (the longest match), found in `TLDS`, the
registry's TLD names, which every flush reads again (`load_tlds` at start-up). A query that
is about no TLD of the registry (registrar and entity lookups, help, entity and IP searches,
names under other TLDs) is counted with tld "" and the activity report of every TLD includes
it: each TLD's RDAP and WHOIS service answered it. EPP, DNS and zone file access counts carry
no TLD ("") for now. `domreg serve` flushes every
`metrics_flush_interval` seconds and once more on shutdown (`Flusher`); several worker
processes each add their own counts. Counts not yet flushed when a process is killed
(SIGKILL) are lost: at most a few seconds of query counts, never a transform (those are
counted from the history).

RDAP and WHOIS count with one line each::

    from domreg import metrics
    metrics.count("rdap", "domain", now, "example.test")   # or "whois", "port43", ...
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


#: The registry's TLD names (A-labels), for `tld_of`; `load_tlds` and every flush refresh it.
TLDS: frozenset[str] = frozenset()


def load_tlds(db: Database) -> None:
    """Read the registry's TLD names into `TLDS`."""
    global TLDS
    with db.read() as conn:
        TLDS = frozenset(conn.execute(text("SELECT name FROM tlds")).scalars())


def tld_of(subject: str | None) -> str:
    """The TLD in `TLDS` that the domain or name server name `subject` is under (the longest
    match), or "" for none. A few string operations: it runs on every counted query."""
    if not subject:
        return ""
    name = subject.lower().rstrip(".")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    tlds = TLDS
    while "." in name:
        name = name.partition(".")[2]
        if name in tlds:
            return name
    return ""


class Counters:
    """In-memory counts per (day, service, name, tld), added to the database by `flush`."""

    def __init__(self) -> None:
        # Keyed by the day's ordinal (date.toordinal(): a tenth of the cost of formatting it).
        self._counts: Counter[tuple[int, str, str, str]] = Counter()
        self._lock = threading.Lock()  # flushes run on a thread; counting on the loop

    def count(
        self,
        service: str,
        name: str,
        at: datetime | date | None = None,
        n: int = 1,
        tld: str = "",
    ) -> None:
        self._counts[((at or datetime.now(UTC)).toordinal(), service, name, tld)] += n

    def take(self) -> Counter[tuple[int, str, str, str]]:
        with self._lock:
            taken, self._counts = self._counts, Counter()
        return taken

    def flush(self, db: Database) -> int:
        """Add the counts to `service_counters`, then read the TLD names again (`TLDS`);
        returns how many keys were written. On failure the counts are kept for the next
        flush."""
        taken = self.take()
        if taken:
            rows = [
                {
                    "day": date.fromordinal(day).isoformat(),
                    "service": service,
                    "name": name[:64],
                    "tld": tld,
                    "n": n,
                }
                for (day, service, name, tld), n in taken.items()
            ]
            try:
                with db.write() as conn:
                    conn.execute(
                        text(
                            "INSERT INTO service_counters (day, service, name, tld, count) "
                            "VALUES (:day, :service, :name, :tld, :n) "
                            "ON CONFLICT (day, service, name, tld) "
                            "DO UPDATE SET count = service_counters.count + excluded.count"
                        ),
                        rows,
                    )
            except Exception:
                with self._lock:
                    self._counts.update(taken)
                raise
        load_tlds(db)
        return len(taken)


#: The process's counters.
COUNTERS = Counters()


def count(
    service: str, name: str, at: datetime | date | None = None, subject: str | None = None
) -> None:
    """Count one `name` query of `service` (at `at`, default now) about `subject`, the domain
    or name server name (or search pattern) queried, if any: the one-line API."""
    COUNTERS.count(service, name, at, tld=tld_of(subject))


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
        load_tlds(self.db)  # before the first query is counted
        self._task = asyncio.create_task(self._loop(), name="domreg-metrics")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
