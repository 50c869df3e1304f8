"""Queries the flows share: find live objects by name or handle, resolve a name's TLD.

The ones every domain command runs are fixed statements run through `Query` (see
`store/db.py`): built once from the schema, without SQLAlchemy's per-execution work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, bindparam, select

from domreg.model.errors import EppError
from domreg.model.names import DomainName, NameError_, parse_name
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query


@dataclass(frozen=True, slots=True)
class Tld:
    id: int
    name: str
    repository_id: str
    min_period_years: int
    max_period_years: int


_TLD = Query(
    select(
        t.tlds.c.id,
        t.tlds.c.name,
        t.tlds.c.repository_id,
        t.tlds.c.min_period_years,
        t.tlds.c.max_period_years,
    ).where(t.tlds.c.name == bindparam("name"))
)


def tld_for(conn: Connection, name: DomainName) -> Tld | None:
    """The served TLD that `name` sits directly under, or None."""
    row = _TLD.first(conn, name=name.parent())
    if row is None:
        return None
    return Tld(row.id, row.name, row.repository_id, row.min_period_years, row.max_period_years)


def served_suffix(conn: Connection, name: DomainName) -> tuple[Tld, str] | None:
    """For a host name: the served TLD it falls under and its would-be superordinate domain name."""
    labels = name.labels
    # Try the longest TLD first (TLDs may have several labels, e.g. "co.test").
    for i in range(1, len(labels) - 1):
        suffix = ".".join(labels[i + 1 :])
        row = conn.execute(select(t.tlds).where(t.tlds.c.name == suffix)).first()
        if row is not None:
            tld = Tld(
                row.id, row.name, row.repository_id, row.min_period_years, row.max_period_years
            )
            return tld, ".".join(labels[i:])
    return None


def parse_or_raise(raw: str, what: str = "name") -> DomainName:
    try:
        return parse_name(raw)
    except NameError_ as exc:
        raise EppError(Result.PARAMETER_VALUE_SYNTAX_ERROR, f"{what} {raw!r}: {exc}") from None


_LIVE_DOMAIN = select(t.domains).where(
    t.domains.c.name == bindparam("name"), t.domains.c.deleted_at.is_(None)
)
_DOMAIN = Query(_LIVE_DOMAIN)
_DOMAIN_FOR_UPDATE = Query(_LIVE_DOMAIN.with_for_update())  # FOR UPDATE on PostgreSQL only


def live_domain(conn: Connection, name: str, for_update: bool = False) -> Row | None:
    """The live domain row called `name` (read by column name, as a `Row`), or None."""
    query = _DOMAIN_FOR_UPDATE if for_update else _DOMAIN
    row: Row | None = query.first(conn, name=name)
    return row


def live_host(conn: Connection, name: str, for_update: bool = False) -> Row | None:
    q = select(t.hosts).where(t.hosts.c.name == name, t.hosts.c.deleted_at.is_(None))
    if for_update and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def live_contact(conn: Connection, handle: str, for_update: bool = False) -> Row | None:
    q = select(t.contacts).where(t.contacts.c.handle == handle, t.contacts.c.deleted_at.is_(None))
    if for_update and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def require_domain(conn: Connection, raw: str, for_update: bool = False) -> Row:
    name = parse_or_raise(raw, "domain name")
    row = live_domain(conn, name.name, for_update)
    if row is None:
        raise no_such_domain(name.name)
    return row


def no_such_domain(name: str) -> EppError:
    """The 2303 of a domain name (A-label) with no live domain."""
    return EppError(Result.OBJECT_DOES_NOT_EXIST, f"domain {name} does not exist")


def require_host(conn: Connection, raw: str, for_update: bool = False) -> Row:
    name = parse_or_raise(raw, "host name")
    row = live_host(conn, name.name, for_update)
    if row is None:
        raise EppError(Result.OBJECT_DOES_NOT_EXIST, f"host {name.name} does not exist")
    return row


def require_contact(conn: Connection, handle: str, for_update: bool = False) -> Row:
    row = live_contact(conn, handle, for_update)
    if row is None:
        raise EppError(Result.OBJECT_DOES_NOT_EXIST, f"contact {handle} does not exist")
    return row


def host_ids_by_name(conn: Connection, names: list[str]) -> dict[str, int]:
    """Live host ids for `names`; raises 2303 naming the first that does not exist."""
    parsed = [parse_or_raise(n, "host name").name for n in names]
    if not parsed:
        return {}
    rows = conn.execute(
        select(t.hosts.c.id, t.hosts.c.name).where(
            t.hosts.c.name.in_(parsed), t.hosts.c.deleted_at.is_(None)
        )
    )
    found = {r.name: r.id for r in rows}
    for n in parsed:
        if n not in found:
            raise EppError(Result.OBJECT_DOES_NOT_EXIST, f"host {n} does not exist")
    return found


def contact_ids_by_handle(conn: Connection, handles: list[str]) -> dict[str, int]:
    """Live contact ids for `handles`; raises 2303 naming the first that does not exist."""
    if not handles:
        return {}
    rows = conn.execute(
        select(t.contacts.c.id, t.contacts.c.handle).where(
            t.contacts.c.handle.in_(set(handles)), t.contacts.c.deleted_at.is_(None)
        )
    )
    found = {r.handle: r.id for r in rows}
    for h in handles:
        if h not in found:
            raise EppError(Result.OBJECT_DOES_NOT_EXIST, f"contact {h} does not exist")
    return found


_ACCREDITED = Query(
    select(t.registrar_tlds.c.tld_id).where(
        t.registrar_tlds.c.registrar_id == bindparam("registrar_id"),
        t.registrar_tlds.c.tld_id == bindparam("tld_id"),
    )
)


def accredited(conn: Connection, registrar_id: int, tld_id: int) -> bool:
    return _ACCREDITED.first(conn, registrar_id=registrar_id, tld_id=tld_id) is not None
