"""Zone building from the database: the contents of a TLD's zone, whole or one name at a time.

What a TLD zone holds (the same rules for a full build and for incremental changes):
- the SOA and the apex NS records, with the apex nameservers' addresses (their glue) when
  they are in the zone (per-TLD settings, table `tld_dns`);
- one delegation per live domain that has nameservers and is not held or being deleted
  (`EXCLUDING`: clientHold, serverHold, pendingDelete; the RGP states redemption,
  pendingRestore and pendingDelete all carry pendingDelete): its NS records, and its DS records
  from secDNS data (`domain_ds`);
- narrow glue, and no orphan glue: A/AAAA records only for a host that is subordinate to a
  published domain and is one of that domain's own nameservers. Sibling glue (a host under
  another delegated domain) is left to that domain's delegation; hosts under a domain that is
  not published get no address records.
Names are stored, and written, as lower-case A-labels.

The full build streams: each domain's delegation lines (NS, DS, glue) are kept in
`domains.delegation` by the flows that change them (dns/delegation.py), without TTL (the
zone's `$TTL` is the TLD's TTL); the database joins the texts of the published domains of a
range of domain ids into one string; the ranges are read by parallel connections that share
one snapshot and written in order as they come, so memory does not grow with the zone
(docs/dns.md). `node_records` gives the records of chosen owner names, for the incremental
publishers, by the same rules, computed from the tables themselves; tests compare the two.
"""

from __future__ import annotations

import bisect
import os
import queue
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, and_, select

from domreg.dns.delegation import ds_rdata
from domreg.model import statuses as st
from domreg.store import schema as t
from domreg.store.db import Database

#: Domain statuses that keep a domain out of the zone.
EXCLUDING = (st.CLIENT_HOLD, st.SERVER_HOLD, st.PENDING_DELETE)
#: Names per IN list in the per-name queries.
CHUNK = 500

#: (ttl, type, rdata): one record of an owner name.
Record = tuple[int, str, str]


class BytesOut(Protocol):
    """Where the full build writes (a binary file, standard output's buffer)."""

    def write(self, data: bytes, /) -> object: ...


class ZoneError(ValueError):
    """A TLD or a DNS setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class Nameserver:
    name: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class ZoneSettings:
    """A TLD's DNS settings (`tld_dns`, or the defaults below when it has no row)."""

    tld: str
    tld_id: int
    nameservers: tuple[Nameserver, ...]
    hostmaster: str  # SOA RNAME in mailbox form: hostmaster@nic.example
    ttl: int = 3600
    soa_refresh: int = 14_400
    soa_retry: int = 3600
    soa_expire: int = 1_209_600
    soa_minimum: int = 3600
    serial: int = 0  # the last serial built

    @staticmethod
    def defaults(tld: str) -> tuple[Nameserver, ...]:
        """Loopback nameservers for a TLD nobody configured: right for the demo, where
        domreg's own Knot answers on 127.0.0.1; `domreg zone set` sets the real ones."""
        return (Nameserver(f"ns1.nic.{tld}", ("127.0.0.1",)),)

    def soa_rdata(self, serial: int) -> str:
        local, _, domain = self.hostmaster.partition("@")
        rname = local.replace(".", "\\.") + "." + domain
        return (
            f"{self.nameservers[0].name}. {rname}. {serial} {self.soa_refresh} "
            f"{self.soa_retry} {self.soa_expire} {self.soa_minimum}"
        )

    def apex_records(self, serial: int) -> list[tuple[str, Record]]:
        """SOA, apex NS, and the addresses of apex nameservers inside the zone."""
        out = [(self.tld, (self.ttl, "SOA", self.soa_rdata(serial)))]
        out += [(self.tld, (self.ttl, "NS", ns.name + ".")) for ns in self.nameservers]
        for ns in self.nameservers:
            if in_zone(ns.name, self.tld):
                out += [(ns.name, address_record(self.ttl, a)) for a in ns.addresses]
        return out


def in_zone(name: str, tld: str) -> bool:
    return name == tld or name.endswith("." + tld)


def address_record(ttl: int, address: str) -> Record:
    return (ttl, "AAAA" if ":" in address else "A", address)


def line(owner: str, record: Record) -> str:
    ttl, rtype, rdata = record
    return f"{owner}. {ttl} IN {rtype} {rdata}\n"


# ---------------------------------------------------------------- settings


def tld_row(conn: Connection, tld: str) -> Any:
    row = conn.execute(select(t.tlds.c.id, t.tlds.c.name).where(t.tlds.c.name == tld)).first()
    if row is None:
        raise ZoneError(f"TLD {tld} does not exist")
    return row


def settings(conn: Connection, tld: str) -> ZoneSettings:
    """The DNS settings of `tld` (ZoneError if there is no such TLD)."""
    tld = tld.lower().strip(".")
    row = tld_row(conn, tld)
    dns = conn.execute(select(t.tld_dns).where(t.tld_dns.c.tld_id == row.id)).first()
    if dns is None:
        return ZoneSettings(
            tld, row.id, ZoneSettings.defaults(tld), hostmaster=f"hostmaster@nic.{tld}"
        )
    servers = tuple(
        Nameserver(s["name"], tuple(s.get("addresses", ()))) for s in orjson.loads(dns.nameservers)
    )
    return ZoneSettings(
        tld,
        row.id,
        servers or ZoneSettings.defaults(tld),
        hostmaster=dns.hostmaster or f"hostmaster@nic.{tld}",
        ttl=dns.ttl,
        soa_refresh=dns.soa_refresh,
        soa_retry=dns.soa_retry,
        soa_expire=dns.soa_expire,
        soa_minimum=dns.soa_minimum,
        serial=dns.serial,
    )


def tld_names(conn: Connection) -> list[str]:
    return [r.name for r in conn.execute(select(t.tlds.c.name).order_by(t.tlds.c.name))]


def tld_of(name: str, tlds: Iterable[str]) -> str | None:
    """The TLD among `tlds` that `name` is in (the longest match), or None."""
    best = None
    for tld in tlds:
        if in_zone(name, tld) and (best is None or len(tld) > len(best)):
            best = tld
    return best


# ---------------------------------------------------------------- reading


@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """A read-only transaction that sees one state of the database for all its queries
    (REPEATABLE READ on PostgreSQL, which also allows server-side cursors)."""
    if db.is_sqlite:
        with db.read() as conn:
            yield conn
        return
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


def _excluded_ids(conn: Connection, tld_id: int, ids: list[int] | None = None) -> set[int]:
    d, s = t.domains, t.statuses
    q = (
        select(d.c.id)
        .join(s, s.c.roid == d.c.roid)
        .where(d.c.tld_id == tld_id, d.c.deleted_at.is_(None), s.c.status.in_(EXCLUDING))
    )
    if ids is not None:
        q = q.where(d.c.id.in_(ids))
    return {r.id for r in conn.execute(q)}


# The full build: every domain's zone lines are kept in `domains.delegation` (NS, DS and
# glue; dns/delegation.py), so the build reads one column: the texts of a range of domain
# ids joined into one string (`group_concat` on SQLite, `string_agg` on PostgreSQL) by one
# statement on one table, and Python handles a few dozen strings instead of millions of
# rows. The ranges are read by parallel connections that share one snapshot (`_readers`)
# and written in order. Only integers (ids) are put into these statements.

#: Domain ids per statement.
RANGE = 50_000
#: Connections reading in parallel (threads: sqlite3 and psycopg release the GIL while the
#: database works); 1 reads on the calling thread.
WORKERS = max(1, min(4, os.cpu_count() or 1))
#: Ranges read ahead of the writer, per worker (what the build holds in memory).
AHEAD = 2


@dataclass(frozen=True)
class _Part:
    """One statement of the full build: the delegations of domain ids first..last."""

    first: int
    last: int
    held: tuple[int, ...]  # held or deleting domains in the range (`_excluded_ids`)


#: A part, its lines (None when it has none), and how many delegations.
_Result = tuple[_Part, bytes | None, int]


def _part_sql(part: _Part, tld_id: int, sqlite: bool) -> str:
    """The statement of `part`: one row (the lines as one string, UTF-8 bytes; how many
    delegations)."""
    held = f" AND id NOT IN ({', '.join(map(str, part.held))})" if part.held else ""
    where = (
        f"FROM domains WHERE id BETWEEN {part.first} AND {part.last} AND tld_id = {tld_id} "
        f"AND deleted_at IS NULL AND delegation IS NOT NULL{held}"
    )
    if sqlite:  # a BLOB comes back as bytes, not decoded
        return f"SELECT CAST(group_concat(delegation, char(10)) AS BLOB), count(*) {where}"
    return f"SELECT string_agg(delegation, E'\\n'), count(*) {where}"


def _run_part(dbapi: Any, sql: str, sqlite: bool) -> tuple[bytes | None, int]:
    if sqlite:
        text_, delegations = dbapi.execute(sql).fetchone()
        return text_, delegations
    from psycopg.types.string import ByteaBinaryLoader

    # Binary results, with text loaded as bytes (a text value in binary format is its UTF-8
    # bytes): the lines are neither decoded nor encoded again for the file. Not prepared:
    # every statement is different.
    with dbapi.cursor(binary=True) as cursor:
        cursor.adapters.register_loader("text", ByteaBinaryLoader)
        text_, delegations = cursor.execute(sql, prepare=False).fetchone()
    return text_, delegations


@contextmanager
def _readers(db: Database, count: int) -> Iterator[list[Connection]]:
    """`count` read-only connections that all see one state of the database.

    PostgreSQL: the first exports its REPEATABLE READ snapshot (`pg_export_snapshot`), the
    others begin with `SET TRANSACTION SNAPSHOT`. SQLite (WAL) has no exported snapshots: a
    read transaction sees the last commit before its first read, so the readers make their
    first read while a write transaction (BEGIN IMMEDIATE) holds the write lock, which no
    commit can pass, and the lock is released before the build reads on."""
    with ExitStack() as stack:
        if db.is_sqlite:
            with db.write():
                conns = [stack.enter_context(db.read()) for _ in range(count)]
                for conn in conns:
                    conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                        "SELECT max(id) FROM domains"
                    ).fetchone()
        else:
            conns = [stack.enter_context(snapshot(db))]
            if count > 1:
                snap = conns[0].exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                if not re.fullmatch(r"[0-9A-Fa-f-]+", snap):
                    raise RuntimeError(f"unexpected snapshot id {snap!r}")
                for _ in range(count - 1):
                    conn = stack.enter_context(snapshot(db))
                    conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snap}'")
                    conns.append(conn)
        yield conns


def _in_order(
    parts: list[_Part], run: Callable[[Any, _Part], _Result], dbapis: list[Any]
) -> Iterator[_Result]:
    """`run(dbapi, part)` for every part, on as many threads as connections, the results in
    the order of `parts`, at most AHEAD per connection read ahead of the consumer."""
    if len(dbapis) == 1:
        for part in parts:
            yield run(dbapis[0], part)
        return
    free: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for dbapi in dbapis:
        free.put(dbapi)

    def task(part: _Part) -> _Result:
        dbapi = free.get()
        try:
            return run(dbapi, part)
        finally:
            free.put(dbapi)

    pool = ThreadPoolExecutor(len(dbapis), thread_name_prefix="zone")
    try:
        pending: deque[Future[_Result]] = deque()
        for part in parts:
            pending.append(pool.submit(task, part))
            if len(pending) >= AHEAD * len(dbapis):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class BuildStats:
    delegations: int = 0
    ds: int = 0
    glue: int = 0
    ns: int = 0
    records: int = 0


def write_zone(
    db: Database,
    tld: str,
    out: BytesOut,
    serial: int | None = None,
    workers: int = WORKERS,
    range_size: int = RANGE,
) -> tuple[ZoneSettings, int, BuildStats]:
    """Write the whole zone of `tld` to `out` in master file format, streaming: the apex,
    then the delegation text (NS, DS, glue) of every published domain, read from one
    snapshot by `workers` connections, `range_size` domain ids per statement.
    Returns the settings, the serial written (the next one when `serial` is None) and
    what was written."""
    with _readers(db, workers) as conns:
        conn = conns[0]
        zs = settings(conn, tld)
        serial = next_serial(zs.serial) if serial is None else serial
        held = sorted(_excluded_ids(conn, zs.tld_id))
        low, high = conn.exec_driver_sql("SELECT min(id), max(id) FROM domains").one()
        stats = BuildStats()
        head = [f"; zone {zs.tld}, built by domreg\n$TTL {zs.ttl}\n"]
        head += [line(owner, rec) for owner, rec in zs.apex_records(serial)]
        out.write("".join(head).encode())
        stats.records = len(head) - 1
        parts = []
        for first in range(low or 0, (high or -1) + 1, range_size):
            last = first + range_size - 1
            inside = held[bisect.bisect_left(held, first) : bisect.bisect_right(held, last)]
            parts.append(_Part(first, last, tuple(inside)))
        sqlite = db.is_sqlite

        def run(dbapi: Any, part: _Part) -> _Result:
            return (part, *_run_part(dbapi, _part_sql(part, zs.tld_id, sqlite), sqlite))

        dbapis = [c.connection.dbapi_connection for c in conns]
        for _, text_, delegations in _in_order(parts, run, dbapis):
            if text_:
                out.write(text_)
                out.write(b"\n")
                # Lines by type (dns/delegation.py's form: "owner. IN TYPE rdata").
                lines = text_.count(b"\n") + 1
                ds, glue = text_.count(b" IN DS "), text_.count(b" IN A")
                stats.ds += ds
                stats.glue += glue
                stats.ns += lines - ds - glue
            stats.delegations += delegations
    stats.records += stats.ns + stats.ds + stats.glue
    return zs, serial, stats


def write_zone_file(
    db: Database, tld: str, path: Path, serial: int | None = None
) -> tuple[ZoneSettings, int, BuildStats]:
    """Build the zone of `tld` into `path` (written beside it, then renamed into place).
    Returns the settings, the serial written and what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb", buffering=1 << 20) as out:
            result = write_zone(db, tld, out, serial)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return result


def next_serial(previous: int) -> int:
    """An SOA serial above `previous` (RFC 1982 arithmetic is not needed below 2**31):
    the Unix time, or previous + 1 when publications come faster than one a second."""
    import time

    return max(previous + 1, int(time.time())) % (1 << 32)


# ---------------------------------------------------------------- one name at a time


def node_records(
    conn: Connection, zs: ZoneSettings, owners: Iterable[str]
) -> dict[str, list[Record]]:
    """What each owner name of `owners` holds in the zone, by the full build's rules: NS and
    DS at a published domain, A/AAAA at a glue host, nothing (an empty list) otherwise. Apex
    names (the TLD, its in-zone nameservers) are not owned by delegations: left out."""
    apex = {zs.tld} | {ns.name for ns in zs.nameservers if in_zone(ns.name, zs.tld)}
    names = sorted({o for o in owners if in_zone(o, zs.tld) and o not in apex})
    out: dict[str, list[Record]] = {n: [] for n in names}
    d, dh, h, ds, a = t.domains, t.domain_hosts, t.hosts, t.domain_ds, t.host_addresses
    ttl = zs.ttl
    for i in range(0, len(names), CHUNK):
        chunk = names[i : i + CHUNK]
        rows = conn.execute(
            select(d.c.id, d.c.name).where(
                d.c.tld_id == zs.tld_id, d.c.deleted_at.is_(None), d.c.name.in_(chunk)
            )
        ).all()
        ids = {r.id: r.name for r in rows}
        if ids:
            excluded = _excluded_ids(conn, zs.tld_id, list(ids))
            live = {i: n for i, n in ids.items() if i not in excluded}
            ns_of: dict[int, list[str]] = {}
            for r in conn.execute(
                select(dh.c.domain_id, h.c.name)
                .join(h, h.c.id == dh.c.host_id)
                .where(dh.c.domain_id.in_(list(live)))
            ):
                ns_of.setdefault(r.domain_id, []).append(r.name)
            for domain_id, hosts in ns_of.items():
                out[live[domain_id]] += [(ttl, "NS", n + ".") for n in sorted(hosts)]
            for dsr in conn.execute(
                select(ds.c.domain_id, ds.c.key_tag, ds.c.alg, ds.c.digest_type, ds.c.digest)
                .where(ds.c.domain_id.in_(list(ns_of)))
                .order_by(ds.c.domain_id, ds.c.key_tag, ds.c.alg, ds.c.digest_type, ds.c.digest)
            ):
                out[live[dsr.domain_id]].append(
                    (ttl, "DS", ds_rdata(dsr.key_tag, dsr.alg, dsr.digest_type, dsr.digest))
                )
        # Glue: hosts named in the chunk whose superordinate domain is published and uses them.
        parent = d.alias("parent")
        glue = conn.execute(
            select(h.c.name, parent.c.id.label("parent_id"), a.c.address)
            .select_from(
                h.join(parent, parent.c.id == h.c.parent_domain_id)
                .join(dh, and_(dh.c.domain_id == parent.c.id, dh.c.host_id == h.c.id))
                .join(a, a.c.host_id == h.c.id)
            )
            .where(
                h.c.name.in_(chunk),
                h.c.deleted_at.is_(None),
                parent.c.deleted_at.is_(None),
                parent.c.tld_id == zs.tld_id,
            )
            .order_by(h.c.name, a.c.address)
        ).all()
        if glue:
            held = _excluded_ids(conn, zs.tld_id, list({g.parent_id for g in glue}))
            for g in glue:
                if g.parent_id not in held:
                    out[g.name].append(address_record(ttl, g.address))
    return out


def subordinate_hosts(conn: Connection, domain_names: Iterable[str]) -> set[str]:
    """Names of every host (live or purged) whose superordinate domain had one of these
    names: the owner names a domain's change can add or remove glue at."""
    names = sorted(set(domain_names))
    found: set[str] = set()
    d, h = t.domains, t.hosts
    for i in range(0, len(names), CHUNK):
        rows = conn.execute(
            select(h.c.name)
            .join(d, d.c.id == h.c.parent_domain_id)
            .where(d.c.name.in_(names[i : i + CHUNK]))
        )
        found.update(r.name for r in rows)
    return found


def host_names_and_users(conn: Connection, roids: Iterable[str]) -> set[str]:
    """For changed hosts: every name each has had (history), and the domains using it."""
    roids = sorted(set(roids))
    found: set[str] = set()
    for i in range(0, len(roids), CHUNK):
        chunk = roids[i : i + CHUNK]
        found.update(
            r.object_name
            for r in conn.execute(
                select(t.history.c.object_name)
                .where(t.history.c.roid.in_(chunk), t.history.c.object_type == "host")
                .distinct()
            )
        )
        h, dh, d = t.hosts, t.domain_hosts, t.domains
        for r in conn.execute(
            select(h.c.name, d.c.name.label("domain"))
            .select_from(
                h.outerjoin(dh, dh.c.host_id == h.c.id).outerjoin(d, d.c.id == dh.c.domain_id)
            )
            .where(h.c.roid.in_(chunk))
        ):
            found.add(r.name)
            if r.domain:
                found.add(r.domain)
    return found
