"""Counts of what leaves no history row: EPP queries and session commands (check, info, poll,
login...), RDAP and WHOIS lookups, zone file access. ICANN's monthly activity report needs
them (`reports/`), one report per TLD.

Counting is one dictionary increment in memory (`count(service, name)`, no I/O, no lock
contention worth the name); `Counters.flush(db)` adds what was counted to `service_counters`
(day, service, name, tld) in one transaction.

Counts carry the TLD they are about, for the report of that TLD: `tld_of` gives the registry's
TLD a domain or name server name (a search pattern such as `ex*.test` too) is under (the
longest match), found in `TLDS`, the registry's TLD names, which every flush reads again
(`load_tlds` at start-up). What is about no TLD of the registry is counted with tld "" and the
activity report of every TLD includes it: each TLD's service answered it.

- RDAP and WHOIS: `count(service, name, at, subject)` with the name queried (`subject`); none
  for registrar and entity lookups, help, entity and IP searches, names under other TLDs.
- EPP: `epp_command(name, clid, at, subject)` from `epp/session.py`, with the name(s) the
  session already has from the parsed command (`session.command_subject`; never parsed
  again): a domain or host command counts under the TLD of its name (a host's: the TLD it is
  under, as "ns1.example.test" is under "test"; an update that renames a host: its current
  name); contact commands, login, logout, hello and poll under none. A domain:check or
  host:check naming several names counts once in each distinct TLD its names are under, and
  once under none only if none of them is under a TLD of the registry (a name outside the
  registry's TLDs beside one inside adds no count): ICANN's srs-dom-check is the number of
  check *requests* each TLD's SRS responded to, so a request about names of two TLDs is one
  request of each (counting it under its first name's TLD only would leave it out of the
  other TLD's report), and never more than one of any TLD's report, however many of its names
  it carries (the report adds the "" counts to every TLD's, so counting the same command
  under a TLD and under "" would count it twice there). ICANN's attempted-adds (`EPP_ADDS`,
  name the registrar's clid) is counted per TLD the same way, from the create's name. Frames
  that cannot be parsed are not counted (they are no command).
- DNS and zone file access: domreg counts none. Knot DNS answers the queries (domreg has no
  per-zone statistics from it) and domreg has no zone file access service, so the activity
  report's dns-* and zfa-passwords columns are 0; a source for them would know its zone,
  which is the TLD, and count with `COUNTERS.count(DNS, "udp-received", at, n, tld=zone)`.

`domreg serve` flushes every `metrics_flush_interval` seconds and once more on shutdown
(`Flusher`); several worker processes each add their own counts. Counts not yet flushed when a
process is killed (SIGKILL) are lost: at most a few seconds of query counts, never a transform
(those are counted from the history).

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
from collections.abc import Sequence
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


def epp_command(
    name: str, clid: str | None, at: datetime, subject: str | Sequence[str] | None = None
) -> None:
    """Count one EPP command (e.g. "domain:info", "login") about `subject`, the domain or host
    name of a domain or host command, the names of a check, None for the others: under the
    TLD of the name, a check once in each distinct TLD of its names (see the module's
    docstring). Attempted domain creates are also counted per registrar and TLD. About a
    microsecond: a few string operations per name (`tld_of`); for one name nothing allocated
    beyond the counter's key."""
    if subject is not None and type(subject) is not str:
        if len(subject) != 1:
            _count_names(name, at, subject)
            return
        subject = subject[0]  # the usual check: of one name
    tld = tld_of(subject)
    COUNTERS.count(EPP, name, at, tld=tld)
    if name == "domain:create" and clid:
        COUNTERS.count(EPP_ADDS, clid, at, tld=tld)


def _count_names(name: str, at: datetime, names: Sequence[str]) -> None:
    """Count a command about several names once in each distinct TLD of `names`, or once
    under none if none of them is under a TLD of the registry."""
    tlds = {tld_of(each) for each in names}
    tlds.discard("")
    for tld in tlds or ("",):
        COUNTERS.count(EPP, name, at, tld=tld)


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
