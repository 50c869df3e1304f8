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

The full build streams: three ordered queries (nameservers, DS, glue) merged by domain id,
read in batches (server-side cursors on PostgreSQL) and written as they come, so memory does
not grow with the zone. `node_records` gives the records of chosen owner names, for the
incremental publishers; both render records through the same functions.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Connection, and_, select
from sqlalchemy import func as sqlfunc

from domreg.model import statuses as st
from domreg.store import schema as t
from domreg.store.db import Database

#: Domain statuses that keep a domain out of the zone.
EXCLUDING = (st.CLIENT_HOLD, st.SERVER_HOLD, st.PENDING_DELETE)
#: Rows fetched per round trip while streaming the full build.
FETCH = 20_000
#: Names per IN list in the per-name queries.
CHUNK = 500

#: (ttl, type, rdata): one record of an owner name.
Record = tuple[int, str, str]


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
    soa_refresh: int = 1800
    soa_retry: int = 900
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


def ds_rdata(key_tag: int, alg: int, digest_type: int, digest: str) -> str:
    return f"{key_tag} {alg} {digest_type} {digest.upper()}"


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


def _stream(conn: Connection, stmt: Any) -> Iterator[Any]:
    result = conn.execution_options(yield_per=FETCH).execute(stmt)
    for part in result.partitions():
        yield from part


def _ns_query(tld_id: int) -> Any:
    d, dh, h = t.domains, t.domain_hosts, t.hosts
    return (
        select(d.c.id, d.c.name, h.c.name.label("host"))
        .select_from(d.join(dh, dh.c.domain_id == d.c.id).join(h, h.c.id == dh.c.host_id))
        .where(d.c.tld_id == tld_id, d.c.deleted_at.is_(None))
        .order_by(d.c.id)
    )


def _ds_query(tld_id: int) -> Any:
    d, ds = t.domains, t.domain_ds
    return (
        select(ds.c.domain_id, ds.c.key_tag, ds.c.alg, ds.c.digest_type, ds.c.digest)
        .select_from(ds.join(d, d.c.id == ds.c.domain_id))
        .where(d.c.tld_id == tld_id, d.c.deleted_at.is_(None))
        .order_by(ds.c.domain_id)
    )


def _glue_query(tld_id: int) -> Any:
    d, dh, h, a = t.domains, t.domain_hosts, t.hosts, t.host_addresses
    return (
        select(h.c.parent_domain_id, h.c.name, a.c.address)
        .select_from(
            h.join(d, d.c.id == h.c.parent_domain_id)
            .join(dh, and_(dh.c.domain_id == h.c.parent_domain_id, dh.c.host_id == h.c.id))
            .join(a, a.c.host_id == h.c.id)
        )
        .where(d.c.tld_id == tld_id, d.c.deleted_at.is_(None), h.c.deleted_at.is_(None))
        .order_by(h.c.parent_domain_id)
    )


@dataclass
class BuildStats:
    delegations: int = 0
    ds: int = 0
    glue: int = 0
    ns: int = 0
    records: int = 0


def write_zone(conn: Connection, zs: ZoneSettings, serial: int, out: IO[str]) -> BuildStats:
    """Write the whole zone of `zs.tld` to `out` in master file format, streaming."""
    stats = BuildStats()
    ttl = zs.ttl
    write = out.write
    write(f"; zone {zs.tld}, built by domreg\n$TTL {ttl}\n")
    for owner, rec in zs.apex_records(serial):
        write(line(owner, rec))
        stats.records += 1
    excluded = _excluded_ids(conn, zs.tld_id)
    ds_rows = _stream(conn, _ds_query(zs.tld_id))
    glue_rows = _stream(conn, _glue_query(zs.tld_id))
    ds_next = next(ds_rows, None)
    glue_next = next(glue_rows, None)
    buf: list[str] = []
    for domain_id, group in itertools.groupby(
        _stream(conn, _ns_query(zs.tld_id)), key=lambda r: r[0]
    ):
        while ds_next is not None and ds_next[0] < domain_id:
            ds_next = next(ds_rows, None)
        while glue_next is not None and glue_next[0] < domain_id:
            glue_next = next(glue_rows, None)
        if domain_id in excluded:
            continue
        stats.delegations += 1
        for row in group:
            buf.append(f"{row[1]}. {ttl} IN NS {row[2]}.\n")
            stats.ns += 1
        while ds_next is not None and ds_next[0] == domain_id:
            buf.append(
                f"{row[1]}. {ttl} IN DS {ds_next[1]} {ds_next[2]} {ds_next[3]} {ds_next[4].upper()}\n"
            )
            stats.ds += 1
            ds_next = next(ds_rows, None)
        while glue_next is not None and glue_next[0] == domain_id:
            address = glue_next[2]
            rtype = "AAAA" if ":" in address else "A"
            buf.append(f"{glue_next[1]}. {ttl} IN {rtype} {address}\n")
            stats.glue += 1
            glue_next = next(glue_rows, None)
        if len(buf) > 4096:
            write("".join(buf))
            buf.clear()
    write("".join(buf))
    stats.records += stats.ns + stats.ds + stats.glue
    return stats


def write_zone_file(
    db: Database, tld: str, path: Path, serial: int | None = None
) -> tuple[ZoneSettings, int, BuildStats]:
    """Build the zone of `tld` into `path` (written beside it, then renamed into place).
    Returns the settings, the serial written and what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with snapshot(db) as conn:
        zs = settings(conn, tld)
        serial = next_serial(zs.serial) if serial is None else serial
        with tmp.open("w", buffering=1 << 20) as out:
            stats = write_zone(conn, zs, serial, out)
    os.replace(tmp, path)
    return zs, serial, stats


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


def count_delegations(conn: Connection, tld_id: int) -> int:
    d, dh = t.domains, t.domain_hosts
    return int(
        conn.execute(
            select(sqlfunc.count(sqlfunc.distinct(dh.c.domain_id)))
            .join(d, d.c.id == dh.c.domain_id)
            .where(d.c.tld_id == tld_id, d.c.deleted_at.is_(None))
        ).scalar_one()
    )
