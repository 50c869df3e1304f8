"""The publisher: committed changes, read from the outbox, reach the DNS server.

Every transform writes an outbox row in its own transaction. The publisher (an asyncio task
in the first worker of `domreg serve`) looks at the outbox every `dns_poll_interval` seconds,
turns the new rows into the owner names they can change (a domain: its name and its
subordinate hosts; a host: every name it has had and the domains using it; a TLD's DNS
settings: the whole zone), reads what those names hold now (dns/zone.py `node_records`,
the full build's rules) and hands them to the target in one batch per TLD: a burst of
changes is one Knot transaction, not a burst of reloads. Replacing a name's contents is
idempotent, so a batch that failed is simply sent again later.

The cursor (`cursors` row `dns`) is the outbox id up to which everything is published. It
advances only over a contiguous run of published rows; a missing id (on PostgreSQL, a
transaction not yet committed, or one rolled back) holds it until `safe_position` shows that
no transaction writing the outbox is still open and the id is still missing. A failure
(the server stopped, a bad TSIG key) is recorded in `tld_dns.last_error`, shown by
`domreg zone status`, and retried with backoff; nothing is lost, because the rows stay
past the cursor until a batch with them succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, func, select, text

from domreg.clock import Clock
from domreg.dns import zone as zb
from domreg.dns.targets import FilesTarget, PublishError, Target
from domreg.flows import dns as dns_flow
from domreg.store import schema as t
from domreg.store.db import Database

log = logging.getLogger("domreg.dns")

#: Outbox rows read per look.
BATCH = 5000
#: Longest wait between retries after a failure (seconds).
MAX_BACKOFF = 5.0


@dataclass
class Outcome:
    """What one `step` did."""

    rows: int = 0
    published: dict[str, int] = field(default_factory=dict)  # tld -> owner names sent
    full: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def zone_file(zone_dir: Path, tld: str) -> Path:
    return zone_dir / f"{tld}.zone"


def safe_position(db: Database) -> int:
    """The highest outbox id below which every row is committed: on PostgreSQL the outbox is
    locked in SHARE mode for an instant, which waits for the transactions writing to it."""
    with db.engine.connect() as conn, conn.begin():
        if not db.is_sqlite:
            conn.execute(text("LOCK TABLE outbox IN SHARE MODE"))
        return int(conn.execute(select(func.coalesce(func.max(t.outbox.c.id), 0))).scalar_one())


class Publisher:
    """Publishes one registry's TLDs to one target."""

    def __init__(
        self,
        db: Database,
        target: Target,
        zone_dir: Path,
        clock: Clock | None = None,
        interval: float = 0.1,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.target = target
        self.zone_dir = zone_dir
        self.clock = clock or Clock()
        self.interval = interval
        self.batch = batch
        self._done: set[int] = set()
        self._failures = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.steps = 0
        #: Called with every TLD name before each step: a managed Knot adds new zones, and
        #: is started again (from fresh zone files) if it stopped.
        self.zones_hook: Callable[[list[str]], None] | None = None

    # ------------------------------------------------------------ full publication

    def publish_full(self, tld: str) -> tuple[int, zb.BuildStats]:
        """Build the whole zone of `tld` into its zone file and have the target load it."""
        path = zone_file(self.zone_dir, tld)
        try:
            zs, serial, stats = zb.write_zone_file(self.db, tld, path)
            self.target.load_full(tld, path)
        except PublishError as exc:
            self._note_error(tld, str(exc))
            raise
        served = self.target.served_serial(tld)
        with self.db.write() as conn:
            dns_flow.set_serial(conn, zs.tld_id, serial)
            dns_flow.note_published(conn, zs.tld_id, self.clock.now(), served, full=True)
        log.info("zone %s published in full: serial %s, served %s", tld, serial, served)
        return serial, stats

    def publish_all_full(self) -> None:
        """Every TLD in full, and the cursor moved past what those builds contain."""
        position = safe_position(self.db)
        with self.db.read() as conn:
            tlds = zb.tld_names(conn)
        for tld in tlds:
            self.publish_full(tld)
        self.mark_published(position, [])

    def mark_published(self, position: int, tlds: list[str]) -> None:
        """Everything up to outbox row `position` is served (a full load of every TLD);
        `tlds` were loaded from fresh zone files: their state is recorded."""
        now = self.clock.now()
        with self.db.write() as conn:
            dns_flow.set_cursor(conn, position, now)
            for tld in tlds:
                tld_id = zb.tld_row(conn, tld).id
                dns_flow.note_published(conn, tld_id, now, self.target.served_serial(tld), True)
        self._done = {i for i in self._done if i > position}

    # ------------------------------------------------------------ incremental

    def _pending_rows(
        self, conn: Connection, position: int
    ) -> list[tuple[int, str, str, str, str | None]]:
        o = t.outbox
        rows = conn.execute(
            select(o.c.id, o.c.object_type, o.c.roid, o.c.name, o.c.tld)
            .where(o.c.id > position)
            .order_by(o.c.id)
            .limit(self.batch + len(self._done))
        ).all()
        return [tuple(r) for r in rows if r.id not in self._done]

    def step(self) -> Outcome:
        """Publish what the outbox holds past the cursor: one batch per TLD."""
        out = Outcome()
        with self.db.read() as conn:
            position = dns_flow.cursor(conn)
            self._done = {i for i in self._done if i > position}
            rows = self._pending_rows(conn, position)[: self.batch]
        out.rows = len(rows)
        if not rows:
            return out
        with self.db.read() as conn:
            all_tlds = zb.tld_names(conn)
        if self.zones_hook is not None:
            try:
                self.zones_hook(all_tlds)
            except Exception as exc:  # the server could not be (re)started: retried later
                for tld in all_tlds:
                    self._note_error(tld, str(exc))
                    out.errors[tld] = str(exc)
                return out
        with zb.snapshot(self.db) as conn:
            tlds = zb.tld_names(conn)
            owners: dict[str, set[str]] = {}
            row_tlds: dict[int, set[str]] = {}
            fulls: set[str] = set()
            domain_names: set[str] = set()
            host_roids: set[str] = set()
            for rid, kind, roid, name, _tld in rows:
                if kind == "tld":
                    fulls.add(name)
                    row_tlds[rid] = {name}
                elif kind == "domain":
                    domain_names.add(name)
                elif kind == "host":
                    host_roids.add(roid)
            names = set(domain_names)
            names |= zb.subordinate_hosts(conn, domain_names)
            host_names = zb.host_names_and_users(conn, host_roids) if host_roids else set()
            names |= host_names
            for n in names:
                zone = zb.tld_of(n, tlds)
                if zone is not None:
                    owners.setdefault(zone, set()).add(n)
            # Which TLDs each row touches: its success waits on theirs.
            for rid, kind, _roid, name, _tld in rows:
                if kind == "domain":
                    zone = zb.tld_of(name, tlds)
                    row_tlds[rid] = {zone} if zone else set()
                elif kind == "host":
                    row_tlds[rid] = {x for x in (zb.tld_of(n, tlds) for n in host_names) if x}
                elif rid not in row_tlds:
                    row_tlds[rid] = set()
            if isinstance(self.target, FilesTarget):
                fulls |= set(owners)
                owners = {}
            plans: dict[str, dict[str, list[zb.Record]]] = {}
            for tld, names_ in owners.items():
                if tld in fulls:
                    continue
                plans[tld] = zb.node_records(conn, zb.settings(conn, tld), names_)
        failed: set[str] = set()
        for tld in sorted(fulls):
            try:
                self.publish_full(tld)
                out.full.append(tld)
            except (PublishError, zb.ZoneError, OSError) as exc:
                failed.add(tld)
                out.errors[tld] = str(exc)
        now = self.clock.now()
        for tld, nodes in plans.items():
            if not nodes:
                continue
            try:
                self.target.replace(tld, nodes)
                out.published[tld] = len(nodes)
            except PublishError as exc:
                failed.add(tld)
                out.errors[tld] = str(exc)
                self._note_error(tld, str(exc))
        for rid, touched in row_tlds.items():
            if not (touched & failed):
                self._done.add(rid)
        self._advance(position)
        if out.published:
            with self.db.write() as conn:
                for tld in out.published:
                    tld_id = zb.tld_row(conn, tld).id
                    dns_flow.note_published(conn, tld_id, now, self.target.served_serial(tld))
        return out

    def _advance(self, position: int) -> None:
        """Move the cursor over the published rows that follow it without a hole. A missing
        id is skipped once it is certain never to appear: below `safe_position` (every
        transaction writing the outbox then has ended) and still absent (rolled back)."""
        new = position
        highest = max(self._done, default=position)
        safe: int | None = None
        while new < highest:
            nxt = new + 1
            if nxt in self._done:
                self._done.discard(nxt)
                new = nxt
                continue
            if safe is None:
                safe = safe_position(self.db)
            following = self._next_id(new)  # the next row that exists
            if following == nxt or nxt > safe:
                break
            new = min(safe, following - 1 if following is not None else safe)
        if new > position:
            with self.db.write() as conn:
                dns_flow.set_cursor(conn, new, self.clock.now())

    def _next_id(self, after: int) -> int | None:
        """The id of the first outbox row after `after`, or None."""
        with self.db.read() as conn:
            return conn.execute(
                select(func.min(t.outbox.c.id)).where(t.outbox.c.id > after)
            ).scalar()

    def _note_error(self, tld: str, message: str) -> None:
        log.warning("DNS publication of %s failed: %s", tld, message)
        try:
            with self.db.write() as conn:
                dns_flow.note_error(conn, zb.tld_row(conn, tld).id, self.clock.now(), message)
        except Exception:
            log.exception("could not record the DNS publication error")

    # ------------------------------------------------------------ the task

    async def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.interval
            try:
                out = await asyncio.to_thread(self.step)
                if out.errors:
                    self._failures += 1
                    wait = min(MAX_BACKOFF, self.interval * 2**self._failures)
                else:
                    self._failures = 0
                self.steps += 1
            except Exception:
                self._failures += 1
                wait = min(MAX_BACKOFF, self.interval * 2**self._failures)
                log.exception("DNS publisher step failed; retrying in %.1f s", wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    def start(self) -> asyncio.Task[None]:
        self._stop.clear()
        self._task = asyncio.create_task(self._loop(), name="domreg-dns")
        return self._task

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None


def pending_by_tld(conn: Connection, tlds: Iterable[str]) -> dict[str, int]:
    """Outbox rows past the cursor per TLD (the changes not yet published)."""
    position = dns_flow.cursor(conn)
    o = t.outbox
    counts = {
        r.tld: int(r.n)
        for r in conn.execute(
            select(o.c.tld, func.count().label("n")).where(o.c.id > position).group_by(o.c.tld)
        )
    }
    return {tld: counts.get(tld, 0) for tld in tlds}
