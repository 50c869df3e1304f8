"""Read-side queries of registration data, shared by RDAP and WHOIS (and the public pages).

Each lookup returns typed, protocol-free data (`DomainData`, `HostData`, `RegistrarData`,
`ContactData`): what the store holds about one object, with statuses already computed as EPP
shows them (stored ones, inactive/ok/linked, and RFC 3915 RGP statuses). Renderers decide
what to publish (`rdds/policy.py`) and how (rdap/, whois/). Every statement is a fixed
`Query`, compiled once per dialect: a domain lookup is a handful of indexed reads.

Searches take SQL LIKE patterns built by `like_pattern` from RDAP's partial-match syntax
(one `*`), and page with keysets (`after`: the last name of the previous page).

`version` and `DataVersion` give the version token of the registration data under which
answers are cached (`rdds/cache.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, exists, select

from domreg.flows import dnssec as dnssec_flow
from domreg.flows import lifecycle
from domreg.flows.base import statuses_of
from domreg.model import statuses as st
from domreg.store import schema as t
from domreg.store.db import Database, Query
from domreg.store.loop import LoopConnection, rows_result


@dataclass(frozen=True, slots=True)
class RegistrarData:
    id: int
    clid: str
    name: str
    iana_id: int | None
    email: str | None
    url: str | None
    whois_server: str | None
    abuse_email: str | None
    abuse_phone: str | None
    phone: str | None
    fax: str | None
    street: tuple[str, ...]
    city: str | None
    sp: str | None
    pc: str | None
    cc: str | None
    status: str
    created_at: datetime
    updated_at: datetime | None
    rdap_base_url: str | None = None  # the registrar's own RDAP service (TIG 3.2)


@dataclass(frozen=True, slots=True)
class ContactData:
    """A contact's data; `disclosed`: the fields it agreed to publish (RFC 5733 disclose)."""

    roid: str
    handle: str
    registrar_id: int
    name: str | None
    org: str | None
    street: tuple[str, ...]
    city: str | None
    sp: str | None
    pc: str | None
    cc: str | None
    voice: str | None
    voice_ext: str | None
    fax: str | None
    fax_ext: str | None
    email: str
    disclosed: frozenset[str]
    created_at: datetime
    updated_at: datetime | None


@dataclass(slots=True)
class HostData:
    id: int
    roid: str
    name: str  # A-label
    addresses: list[tuple[str, str]]  # (address, "v4" | "v6")
    registrar: RegistrarData | None = None
    statuses: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    transferred_at: datetime | None = None


@dataclass(slots=True)
class DomainData:
    id: int
    roid: str
    name: str  # A-label
    registrar: RegistrarData
    created_at: datetime
    updated_at: datetime | None
    expires_at: datetime
    transferred_at: datetime | None
    statuses: list[str]  # EPP status values, RGP statuses included
    nameservers: list[HostData]
    contacts: list[tuple[str, ContactData]]  # (registrant | admin | tech | billing, contact)
    ds: list[dnssec_flow.DsData]
    #: When the statuses change with time alone (a grace period starts or ends), if ever.
    stable_until: datetime | None = None


# ---------------------------------------------------------------- registrars

_R = t.registrars.c
_REGISTRAR_COLUMNS = (
    _R.id,
    _R.clid,
    _R.name,
    _R.iana_id,
    _R.email,
    _R.url,
    _R.whois_server,
    _R.abuse_email,
    _R.abuse_phone,
    _R.phone,
    _R.fax,
    _R.street,
    _R.city,
    _R.sp,
    _R.pc,
    _R.cc,
    _R.status,
    _R.created_at,
    _R.updated_at,
    _R.rdap_base_url,
)
_REGISTRAR_BY_ID = Query(select(*_REGISTRAR_COLUMNS).where(_R.id == bindparam("id")))
_REGISTRAR_BY_IANA = Query(select(*_REGISTRAR_COLUMNS).where(_R.iana_id == bindparam("iana_id")))
_REGISTRAR_BY_CLID = Query(select(*_REGISTRAR_COLUMNS).where(_R.clid == bindparam("clid")))
_REGISTRAR_BY_NAME = Query(
    select(*_REGISTRAR_COLUMNS).where(_R.name == bindparam("name")).order_by(_R.id).limit(1)
)
_REGISTRARS_BY_NAME = Query(
    select(*_REGISTRAR_COLUMNS)
    .where(_R.name.like(bindparam("pattern"), escape="\\"), _R.name > bindparam("after"))
    .order_by(_R.name)
    .limit(bindparam("limit"))
)
_REGISTRARS_BY_CLID = Query(
    select(*_REGISTRAR_COLUMNS)
    .where(_R.clid.like(bindparam("pattern"), escape="\\"), _R.clid > bindparam("after"))
    .order_by(_R.clid)
    .limit(bindparam("limit"))
)
_PASSWORD = Query(select(_R.id, _R.password_hash, _R.status).where(_R.clid == bindparam("clid")))


def _registrar(r: Any) -> RegistrarData | None:
    """A registrar from a row of `_REGISTRAR_COLUMNS` (None for no row)."""
    if r is None:
        return None
    street = tuple(orjson.loads(r.street)) if r.street else ()
    values: list[Any] = [*r[:11], street, *r[12:]]
    return RegistrarData(*values)


def registrar_by_id(conn: Connection, registrar_id: int) -> RegistrarData | None:
    return _registrar(_REGISTRAR_BY_ID.first(conn, id=registrar_id))


def registrar(conn: Connection, handle: str) -> RegistrarData | None:
    """A registrar by the handle RDAP and WHOIS give it: its IANA id (digits), else its name
    (the registrar's fn, ICANN RDAP TIG 2.4.2), else its EPP client id."""
    if handle.isdigit() and len(handle) <= 10:
        found = _registrar(_REGISTRAR_BY_IANA.first(conn, iana_id=int(handle)))
        if found is not None:
            return found
    found = _registrar(_REGISTRAR_BY_NAME.first(conn, name=handle))
    if found is not None:
        return found
    return _registrar(_REGISTRAR_BY_CLID.first(conn, clid=handle))


def registrars_by_name(
    conn: Connection, pattern: str, limit: int, after: str = ""
) -> list[RegistrarData]:
    rows = _REGISTRARS_BY_NAME.all(conn, pattern=pattern, after=after, limit=limit)
    return [r for r in map(_registrar, rows) if r is not None]


def registrars_by_handle(
    conn: Connection, pattern: str, limit: int, after: str = ""
) -> list[RegistrarData]:
    """Registrars whose EPP client id matches, or whose IANA id equals a digits-only pattern."""
    if pattern.isdigit() and len(pattern) <= 10:
        one = _registrar(_REGISTRAR_BY_IANA.first(conn, iana_id=int(pattern)))
        return [one] if one is not None and not after else []
    rows = _REGISTRARS_BY_CLID.all(conn, pattern=pattern, after=after, limit=limit)
    return [r for r in map(_registrar, rows) if r is not None]


def password_hash(conn: Connection, clid: str) -> tuple[int, str, str] | None:
    """(registrar id, argon2 hash, status) of `clid`, for HTTP authentication."""
    row = _PASSWORD.first(conn, clid=clid)
    return None if row is None else (row.id, row.password_hash, row.status)


# ---------------------------------------------------------------- hosts

_H = t.hosts.c
_HOST_COLUMNS = (
    _H.id,
    _H.roid,
    _H.name,
    _H.registrar_id,
    _H.created_at,
    _H.updated_at,
    _H.transferred_at,
)
_HOST = Query(select(*_HOST_COLUMNS).where(_H.name == bindparam("name"), _H.deleted_at.is_(None)))
_ADDRESSES = Query(
    select(t.host_addresses.c.address, t.host_addresses.c.version)
    .where(t.host_addresses.c.host_id == bindparam("host_id"))
    .order_by(t.host_addresses.c.version, t.host_addresses.c.address)
)
_LINKED = Query(
    select(t.domain_hosts.c.domain_id)
    .where(t.domain_hosts.c.host_id == bindparam("host_id"))
    .limit(1)
)
_HOSTS_BY_NAME = Query(
    select(*_HOST_COLUMNS)
    .where(
        _H.name.like(bindparam("pattern"), escape="\\"),
        _H.name > bindparam("after"),
        _H.deleted_at.is_(None),
    )
    .order_by(_H.name)
    .limit(bindparam("limit"))
)
_HOSTS_BY_IP = Query(
    select(*_HOST_COLUMNS)
    .join(t.host_addresses, t.host_addresses.c.host_id == _H.id)
    .where(
        t.host_addresses.c.address == bindparam("address"),
        _H.name > bindparam("after"),
        _H.deleted_at.is_(None),
    )
    .order_by(_H.name)
    .limit(bindparam("limit"))
)


def _full_host(conn: Connection, r: Any) -> HostData:
    host = HostData(
        id=r.id,
        roid=r.roid,
        name=r.name,
        addresses=[(a.address, a.version) for a in _ADDRESSES.all(conn, host_id=r.id)],
        registrar=registrar_by_id(conn, r.registrar_id),
        created_at=r.created_at,
        updated_at=r.updated_at,
        transferred_at=r.transferred_at,
    )
    linked = _LINKED.first(conn, host_id=host.id) is not None
    host.statuses = st.object_display(set(statuses_of(conn, host.roid)), linked)
    return host


def host(conn: Connection, name: str) -> HostData | None:
    """The live host called `name` (A-label), with its addresses, sponsor and statuses."""
    row = _HOST.first(conn, name=name)
    return None if row is None else _full_host(conn, row)


def hosts_by_name(conn: Connection, pattern: str, limit: int, after: str = "") -> list[HostData]:
    return [
        _full_host(conn, r)
        for r in _HOSTS_BY_NAME.all(conn, pattern=pattern, after=after, limit=limit)
    ]


def hosts_by_ip(conn: Connection, address: str, limit: int, after: str = "") -> list[HostData]:
    return [
        _full_host(conn, r)
        for r in _HOSTS_BY_IP.all(conn, address=address, after=after, limit=limit)
    ]


# ---------------------------------------------------------------- domains

_D = t.domains.c
_DOMAIN_COLUMNS = (
    _D.id,
    _D.roid,
    _D.name,
    _D.registrar_id,
    _D.registrant_id,
    _D.created_at,
    _D.updated_at,
    _D.expires_at,
    _D.transferred_at,
)
_DOMAIN = Query(
    select(*_DOMAIN_COLUMNS).where(_D.name == bindparam("name"), _D.deleted_at.is_(None))
)
_NAMESERVERS = Query(
    select(_H.id, _H.roid, _H.name, t.host_addresses.c.address, t.host_addresses.c.version)
    .select_from(
        t.domain_hosts.join(t.hosts, _H.id == t.domain_hosts.c.host_id).outerjoin(
            t.host_addresses, t.host_addresses.c.host_id == _H.id
        )
    )
    .where(t.domain_hosts.c.domain_id == bindparam("domain_id"))
    .order_by(_H.name, t.host_addresses.c.version, t.host_addresses.c.address)
)
_C = t.contacts.c
_P = t.contact_postal.c
_CONTACT_COLUMNS = (
    _C.id,
    _C.roid,
    _C.handle,
    _C.registrar_id,
    _P.type,
    _P.name,
    _P.org,
    _P.street1,
    _P.street2,
    _P.street3,
    _P.city,
    _P.sp,
    _P.pc,
    _P.cc,
    _C.voice,
    _C.voice_ext,
    _C.fax,
    _C.fax_ext,
    _C.email,
    _C.disclose,
    _C.created_at,
    _C.updated_at,
)
_CONTACT_POSTAL = t.contacts.outerjoin(t.contact_postal, _P.contact_id == _C.id)
_REGISTRANT = Query(
    select(*_CONTACT_COLUMNS).select_from(_CONTACT_POSTAL).where(_C.id == bindparam("id"))
)
_DOMAIN_CONTACTS = Query(
    select(t.domain_contacts.c.type.label("role"), *_CONTACT_COLUMNS)
    .select_from(
        t.domain_contacts.join(t.contacts, _C.id == t.domain_contacts.c.contact_id).outerjoin(
            t.contact_postal, _P.contact_id == _C.id
        )
    )
    .where(t.domain_contacts.c.domain_id == bindparam("domain_id"))
    .order_by(t.domain_contacts.c.type, _C.handle)
)
_CONTACT_BY_ROID = Query(
    select(*_CONTACT_COLUMNS)
    .select_from(_CONTACT_POSTAL)
    .where(_C.roid == bindparam("roid"), _C.deleted_at.is_(None))
)
_CONTACT_BY_HANDLE = Query(
    select(*_CONTACT_COLUMNS)
    .select_from(_CONTACT_POSTAL)
    .where(_C.handle == bindparam("handle"), _C.deleted_at.is_(None))
)
_CONTACT_ROLES = Query(
    select(t.domain_contacts.c.type)
    .select_from(t.domain_contacts.join(t.domains, _D.id == t.domain_contacts.c.domain_id))
    .where(t.domain_contacts.c.contact_id == bindparam("id"), _D.deleted_at.is_(None))
    .distinct()
)
_REGISTRANT_OF = Query(
    select(_D.id).where(_D.registrant_id == bindparam("id"), _D.deleted_at.is_(None)).limit(1)
)
#: The order of a contact's roles.
ROLE_ORDER = ("registrant", "admin", "tech", "billing")
#: Live domains by name pattern; by name of one of their nameservers; by a nameserver address.
_DOMAINS_BY_NAME = Query(
    select(*_DOMAIN_COLUMNS)
    .where(
        _D.name.like(bindparam("pattern"), escape="\\"),
        _D.name > bindparam("after"),
        _D.deleted_at.is_(None),
    )
    .order_by(_D.name)
    .limit(bindparam("limit"))
)
_DOMAINS_BY_NS = Query(
    select(*_DOMAIN_COLUMNS)
    .where(
        exists()
        .where(
            t.domain_hosts.c.domain_id == _D.id,
            t.domain_hosts.c.host_id == _H.id,
            _H.name.like(bindparam("pattern"), escape="\\"),
        )
        .correlate(t.domains),
        _D.name > bindparam("after"),
        _D.deleted_at.is_(None),
    )
    .order_by(_D.name)
    .limit(bindparam("limit"))
)
_DOMAINS_BY_NS_IP = Query(
    select(*_DOMAIN_COLUMNS)
    .where(
        exists()
        .where(
            and_(
                t.domain_hosts.c.domain_id == _D.id,
                t.host_addresses.c.host_id == t.domain_hosts.c.host_id,
                t.host_addresses.c.address == bindparam("address"),
            )
        )
        .correlate(t.domains),
        _D.name > bindparam("after"),
        _D.deleted_at.is_(None),
    )
    .order_by(_D.name)
    .limit(bindparam("limit"))
)


_GRACE = Query(
    select(t.grace_periods.c.kind, t.grace_periods.c.starts_at, t.grace_periods.c.ends_at).where(
        t.grace_periods.c.domain_id == bindparam("domain_id")
    )
)


def _contacts(rows: list[Any], role_first: bool) -> list[tuple[str, ContactData]]:
    """Contacts from joined contact/postal rows: one per contact, the "int" postal info
    preferred (RFC 5733: the internationalised form, ASCII), else "loc"."""
    found: dict[tuple[str, int], tuple[str, Any]] = {}
    for raw in rows:
        role, r = (raw[0], raw[1:]) if role_first else ("registrant", raw)
        key = (role, r[0])
        if key in found and found[key][1][4] == "int":
            continue
        found[key] = (role, r)
    result = []
    for role, r in found.values():
        (_id, roid, handle, registrar_id, _type, name, org, s1, s2, s3, city, sp, pc, cc) = r[:14]
        voice, voice_ext, fax, fax_ext, email, disclose, created_at, updated_at = r[14:]
        contact = ContactData(
            roid,
            handle,
            registrar_id,
            name,
            org,
            tuple(s for s in (s1, s2, s3) if s),
            city,
            sp,
            pc,
            cc,
            voice,
            voice_ext,
            fax,
            fax_ext,
            email,
            _disclosed(disclose),
            created_at,
            updated_at,
        )
        result.append((role, contact))
    return result


def contact(conn: Connection, handle: str) -> tuple[ContactData, list[str]] | None:
    """The live contact whose handle (as RDAP publishes it: its ROID) or EPP contact id is
    `handle`, and the roles it has on live domains (registrant, admin, tech, billing; in
    that order)."""
    rows = _CONTACT_BY_ROID.all(conn, roid=handle) or _CONTACT_BY_HANDLE.all(conn, handle=handle)
    if not rows:
        return None
    contact_id = rows[0].id
    roles = {r.type for r in _CONTACT_ROLES.all(conn, id=contact_id)}
    if _REGISTRANT_OF.first(conn, id=contact_id) is not None:
        roles.add("registrant")
    return _contacts(rows, role_first=False)[0][1], [r for r in ROLE_ORDER if r in roles]


def _disclosed(stored: str | None) -> frozenset[str]:
    """The fields a contact agreed to publish: those of a `<disclose flag="1">`."""
    if not stored:
        return frozenset()
    data = orjson.loads(stored)
    if not data.get("flag"):
        return frozenset()
    return frozenset(data.get("fields") or ())


def _full_domain(conn: Connection, r: Any, now: datetime) -> DomainData:
    domain_id: int = r.id
    nameservers: list[HostData] = []
    for ns in _NAMESERVERS.all(conn, domain_id=domain_id):
        if not nameservers or nameservers[-1].id != ns.id:
            nameservers.append(HostData(ns.id, ns.roid, ns.name, []))
        if ns.address is not None:
            nameservers[-1].addresses.append((ns.address, ns.version))
    roid: str = r.roid
    statuses = st.domain_display(set(statuses_of(conn, roid)), bool(nameservers))
    statuses += lifecycle.rgp_statuses(conn, domain_id, now)
    changes = [
        when
        for p in _GRACE.all(conn, domain_id=domain_id)
        for when in (
            (p.starts_at, p.ends_at) if p.kind not in lifecycle.RGP_KINDS else (p.starts_at,)
        )
        if when > now
    ]
    contacts: list[tuple[str, ContactData]] = []
    registrant_id = r.registrant_id
    if registrant_id is not None:
        contacts += _contacts(_REGISTRANT.all(conn, id=registrant_id), role_first=False)
    contacts += _contacts(_DOMAIN_CONTACTS.all(conn, domain_id=domain_id), role_first=True)
    sponsor = registrar_by_id(conn, r.registrar_id)
    assert sponsor is not None
    return DomainData(
        id=domain_id,
        roid=roid,
        name=r.name,
        registrar=sponsor,
        created_at=r.created_at,
        updated_at=r.updated_at,
        expires_at=r.expires_at,
        transferred_at=r.transferred_at,
        statuses=sorted(set(statuses)),
        nameservers=nameservers,
        contacts=contacts,
        ds=dnssec_flow.records(conn, domain_id),
        stable_until=min(changes) if changes else None,
    )


def domain(conn: Connection, name: str, now: datetime) -> DomainData | None:
    """The live domain called `name` (A-label) with everything RDDS publishes about it."""
    row = _DOMAIN.first(conn, name=name)
    return None if row is None else _full_domain(conn, row, now)


def domains_by_name(
    conn: Connection, pattern: str, now: datetime, limit: int, after: str = ""
) -> list[DomainData]:
    rows = _DOMAINS_BY_NAME.all(conn, pattern=pattern, after=after, limit=limit)
    return [_full_domain(conn, r, now) for r in rows]


def domains_by_nameserver(
    conn: Connection, pattern: str, now: datetime, limit: int, after: str = ""
) -> list[DomainData]:
    rows = _DOMAINS_BY_NS.all(conn, pattern=pattern, after=after, limit=limit)
    return [_full_domain(conn, r, now) for r in rows]


def domains_by_nameserver_ip(
    conn: Connection, address: str, now: datetime, limit: int, after: str = ""
) -> list[DomainData]:
    rows = _DOMAINS_BY_NS_IP.all(conn, address=address, after=after, limit=limit)
    return [_full_domain(conn, r, now) for r in rows]


def like_pattern(text: str) -> str:
    """An RDAP partial-match string (RFC 9082 section 4.1: `*` matches any characters) as a
    SQL LIKE pattern with `\\` as its escape character."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


# ---------------------------------------------------------------- freshness

NOTHING_RUNNING: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Version:
    """A version token of the registration data (see `version`).

    `generation` changes whenever registration data may have changed; `running` holds the
    transactions (PostgreSQL xids) that were in progress when it was read, any of which may
    have changed registration data without having committed yet. An answer built under
    version `v` may be served again under version `w` while `w.generation == v.generation`
    and every transaction of `v.running` is still running (`v.running <= w.running`)."""

    generation: object
    running: frozenset[int] = NOTHING_RUNNING

    def covers(self, built: Version) -> bool:
        """Whether what was read under `built` is still what a read under `self` sees."""
        return self.generation == built.generation and built.running <= self.running


#: PostgreSQL: the sequence the `rdds_version_bump` statement triggers advance (migration
#: 0009) on every table registration data is read from; then, in a later statement, the
#: transactions of this database that hold a transaction id (those that wrote, or are
#: writing, and have not ended).
PG_GENERATION_SQL = "SELECT last_value FROM rdds_version"
PG_RUNNING_SQL = (
    "SELECT array(SELECT backend_xid::text::bigint FROM pg_stat_activity"
    " WHERE datname = current_database() AND backend_xid IS NOT NULL)"
)


def pg_version(generation: object, running: list[int] | None) -> Version:
    return Version(generation, frozenset(running) if running else NOTHING_RUNNING)


def version(conn: Connection) -> Version:
    """A token of the registration data that `conn`'s reads see: an answer built from data
    read after the token may be served again while a later token `covers` it.

    SQLite: `PRAGMA data_version` of the connection (it changes when any other connection
    commits) and its own `total_changes`, with a serial number of the connection (the values
    of two connections are not comparable); nothing is ever "running" (a read is one
    snapshot).

    PostgreSQL: the `rdds_version` sequence, which a statement trigger on every table RDDS
    reads advances (migration 0009), then the transactions of this database in progress
    that hold a transaction id (`pg_stat_activity.backend_xid`). Unlike the cluster's
    snapshot (`pg_current_snapshot()`, the token before), it does not change when other
    tables (query counters, web sessions, history) or other databases of the server are
    written. A sequence is not transactional: a writer advances it before it commits, so a
    read made between the two sees the new value and the old rows. That writer holds its
    transaction id from its first changed row, before its statement's trigger advances the
    sequence, until its commit is visible (PostgreSQL clears a backend's xid and makes its
    commit visible in one step); the sequence is read first, in a statement of its own, so
    a writer that advanced it before that read and has not committed is in `running`, and
    an answer built then is given up as soon as it ends. `nextval` takes no lock that
    lasts: concurrent writers do not wait for each other on it.
    Read it first: data read after it is at least as new.
    """
    if conn.dialect.name == "sqlite":
        record = conn.connection
        serial = record.info.get("rdds_serial")
        if serial is None:
            serial = record.info["rdds_serial"] = next(_SERIALS)
        raw: Any = record.dbapi_connection
        # total_changes: the connection's own writes, which data_version does not count.
        return Version(
            (serial, raw.execute("PRAGMA data_version").fetchone()[0], raw.total_changes)
        )
    generation = conn.exec_driver_sql(PG_GENERATION_SQL).scalar()
    return pg_version(generation, conn.exec_driver_sql(PG_RUNNING_SQL).scalar())


_SERIALS = itertools.count(1)


async def _value(conn: LoopConnection, sql: str) -> Any:
    """The one value of a one-row statement, read on `conn`."""
    results = await conn.results(lambda pg: pg.send_query_params(sql.encode(), None))
    return conn.rows(rows_result(results, sql))[0][0]


class DataVersion:
    """The database's current version token (see `version`), as cheaply as it can be had.

    SQLite: a connection of its own, kept open, that never writes: `PRAGMA data_version` on it
    changes whenever any other connection commits, and asking costs no transaction (a
    microsecond or two). PostgreSQL: `version` in a read (`current`), or from async code
    (`request`, `acurrent`) the same on a connection of its own driven from the event loop,
    where concurrent callers share reads: each caller gets the result of a read that started
    after it asked (so it sees every commit made before it asked), with at most one read
    running and the callers who asked since waiting for the next.

    A read is usually one prepared statement, the sequence alone, sent and read with
    libpq's non-blocking calls (psycopg's `pq` layer: about 17 us of CPU, against 55 us
    for psycopg's async `execute` and 115 us with a task and a future per read): when the
    sequence is unchanged since the previous read and nothing was running then, nothing
    that advanced it can be running now (a writer advances it before it commits, so one
    still running now advanced it before the previous read of the sequence, and held its
    transaction id when the running transactions were read after that). Otherwise the
    running transactions are read too, in a second statement.
    """

    _GENERATION = b"rdds_generation"  # the prepared statement's name

    def __init__(self, db: Database) -> None:
        self.db = db
        self._raw: sqlite3.Connection | None = None
        self._queued: asyncio.Future[Version] | None = None  # for callers since the last send
        self._pending: asyncio.Future[Version] | None = None  # the read under way
        self._conn: LoopConnection | None = None  # PostgreSQL: opened on first use
        self._last: Version | None = None  # the last version read
        self._task: asyncio.Future[None] | None = None  # connecting, or the running read
        path = db.engine.url.database if db.is_sqlite else None
        if path and path != ":memory:" and not path.startswith("file:"):
            self._raw = sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    @property
    def synchronous(self) -> bool:
        """Whether `current` costs no database round trip (SQLite), so that async code may
        call it rather than `request`."""
        return self._raw is not None or self.db.is_sqlite

    def current(self) -> Version:
        if self._raw is not None:
            data_version = self._raw.execute("PRAGMA data_version").fetchone()[0]
            last = self._last
            if last is None or last.generation != ("sqlite", data_version):
                last = self._last = Version(("sqlite", data_version))
            return last
        with self.db.read() as conn:
            return version(conn)

    async def acurrent(self) -> Version:
        if self.synchronous:
            return self.current()
        return await asyncio.shield(self.request())

    def request(self) -> asyncio.Future[Version]:
        """PostgreSQL: a future of the version as read by a read that starts after this call
        (shared with the other callers until that read is sent; do not cancel it)."""
        fut = self._queued
        if fut is None:
            fut = self._queued = asyncio.get_running_loop().create_future()
            if self._pending is None and self._task is None:
                self._send()
        return fut

    def _send(self) -> None:
        """Start a read for the callers queued so far (nothing is running)."""
        self._pending, self._queued = self._queued, None
        conn = self._conn
        if conn is None or not conn.usable():
            self._task = asyncio.ensure_future(self._slow())
            return
        conn.send(lambda pg: pg.send_query_prepared(self._GENERATION, None), self._read)

    def _read(self, results: list[Any] | BaseException) -> None:
        """The prepared statement's results (`LoopConnection.send`)."""
        try:
            result = rows_result(results, "the version query")
            generation = int(result.get_value(0, 0))
        except Exception as exc:
            self._fail(exc)
            return
        last = self._last
        if last is not None and last.generation == generation and not last.running:
            self._done(last)
        else:
            self._task = asyncio.ensure_future(self._slow(generation))

    async def _slow(self, generation: int | None = None) -> None:
        """Connect if needed, and read what the prepared statement alone cannot tell."""
        try:
            conn = self._conn
            if conn is None or not conn.usable():
                self._last = None
                url = self.db.engine.url.set(drivername="postgresql")
                conn = self._conn = await LoopConnection.open(
                    url.render_as_string(hide_password=False),
                    f"PREPARE {self._GENERATION.decode()} AS {PG_GENERATION_SQL}",
                )
            if generation is None:
                generation = int(await _value(conn, PG_GENERATION_SQL))
            self._last = pg_version(generation, await _value(conn, PG_RUNNING_SQL))
        except Exception as exc:
            self._task = None
            self._fail(exc)
            return
        self._task = None
        self._done(self._last)

    def _done(self, value: Version) -> None:
        fut, self._pending = self._pending, None
        if fut is not None and not fut.done():
            fut.set_result(value)
        if self._queued is not None:
            self._send()

    def _fail(self, exc: BaseException) -> None:
        """The read failed: its callers get the error; the connection is dropped (the next
        read reconnects)."""
        self._last = None
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        fut, self._pending = self._pending, None
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        if self._queued is not None:
            self._send()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    async def aclose(self) -> None:
        self.close()
        for fut in (self._pending, self._queued):
            if fut is not None and not fut.done():
                fut.cancel()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
