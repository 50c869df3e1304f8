"""The console's read-side store queries (read only, indexed): a registrar's domains with
keyset paging, counts by status, activity over time, a domain's history, contacts, hosts,
pending transfers and ledger rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, not_, or_, select

from domreg.store import schema as t

PAGE = 50
d = t.domains


@dataclass(frozen=True, slots=True)
class DomainFilter:
    q: str = ""  # part of the name (A-label)
    status: str = ""  # a stored status, or "ok" (none stored)
    tld: str = ""
    before: datetime | None = None  # expiring before
    after: str = ""  # keyset cursor: the last name of the previous page


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def domains_statement(registrar_id: int, f: DomainFilter, limit: int = PAGE + 1) -> Select[Any]:
    """A page of the registrar's live domains in name order, after `f.after` (keyset paging on
    ix_domains_registrar_name)."""
    q = (
        select(d.c.id, d.c.name, d.c.roid, d.c.expires_at, d.c.created_at, d.c.trn_status)
        .where(d.c.registrar_id == registrar_id, d.c.deleted_at.is_(None))
        .order_by(d.c.name)
        .limit(limit)
    )
    if f.after:
        q = q.where(d.c.name > f.after)
    if f.q:
        q = q.where(d.c.name.like(_like(f.q), escape="\\"))
    if f.tld:
        q = q.where(
            d.c.tld_id == select(t.tlds.c.id).where(t.tlds.c.name == f.tld).scalar_subquery()
        )
    if f.before is not None:
        q = q.where(d.c.expires_at < f.before)
    if f.status == "ok":
        q = q.where(not_(exists().where(t.statuses.c.roid == d.c.roid)))
    elif f.status:
        q = q.where(
            exists().where(and_(t.statuses.c.roid == d.c.roid, t.statuses.c.status == f.status))
        )
    return q


def domains_page(conn: Connection, registrar_id: int, f: DomainFilter) -> tuple[list[Any], str]:
    """Up to PAGE domains and the cursor of the next page ("" on the last page)."""
    rows = list(conn.execute(domains_statement(registrar_id, f)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    statuses: dict[str, list[str]] = {}
    if rows:
        for r in conn.execute(
            select(t.statuses.c.roid, t.statuses.c.status).where(
                t.statuses.c.roid.in_([r.roid for r in rows])
            )
        ):
            statuses.setdefault(r.roid, []).append(r.status)
    out = [
        {
            "name": r.name,
            "expires_at": r.expires_at,
            "created_at": r.created_at,
            "statuses": sorted(statuses.get(r.roid, [])) or ["ok"],
        }
        for r in rows
    ]
    return out, (rows[-1].name if more else "")


def status_counts(conn: Connection, registrar_id: int) -> tuple[int, dict[str, int]]:
    live = and_(d.c.registrar_id == registrar_id, d.c.deleted_at.is_(None))
    total = conn.execute(select(func.count()).select_from(d).where(live)).scalar_one()
    counts = {
        r.status: r.n
        for r in conn.execute(
            select(t.statuses.c.status, func.count().label("n"))
            .select_from(d.join(t.statuses, t.statuses.c.roid == d.c.roid))
            .where(live)
            .group_by(t.statuses.c.status)
            .order_by(t.statuses.c.status)
        )
    }
    with_status = conn.execute(
        select(func.count(func.distinct(d.c.id)))
        .select_from(d.join(t.statuses, t.statuses.c.roid == d.c.roid))
        .where(live)
    ).scalar_one()
    return int(total), {"ok": int(total) - int(with_status), **counts}


SERIES = ("create", "renew", "transfer", "delete")


def _series_of(command: str) -> str | None:
    if command == "domain:create":
        return "create"
    if command in ("domain:renew", "domain:autorenew"):
        return "renew"
    if command == "domain:transfer-request" or command.endswith("Approved"):
        return "transfer"
    if command in ("domain:delete", "domain:pending-delete"):
        return "delete"
    return None


def activity(
    conn: Connection, registrar_id: int, now: datetime, days: int = 30
) -> list[tuple[date, dict[str, int]]]:
    """Per day of the last `days`: the registrar's creates, renewals, transfers and deletions
    (from history, on ix_history_registrar_at)."""
    start = datetime(now.year, now.month, now.day) - timedelta(days=days - 1)
    h = t.history
    rows = conn.execute(
        select(func.date(h.c.at).label("day"), h.c.command, func.count().label("n"))
        .where(
            h.c.registrar_id == registrar_id,
            h.c.at >= start,
            h.c.object_type == "domain",
            or_(
                h.c.command.in_(
                    [
                        "domain:create",
                        "domain:renew",
                        "domain:autorenew",
                        "domain:delete",
                        "domain:pending-delete",
                        "domain:transfer-request",
                    ]
                ),
                h.c.command.like("domain:transfer-%Approved"),
            ),
        )
        .group_by(func.date(h.c.at), h.c.command)
    )
    buckets = {(start + timedelta(days=i)).date(): dict.fromkeys(SERIES, 0) for i in range(days)}
    for r in rows:
        day = r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day)[:10])
        series = _series_of(r.command)
        if series and day in buckets:
            buckets[day][series] += int(r.n)
    return sorted(buckets.items())


def history_of(conn: Connection, roid: str, limit: int = 100) -> list[Any]:
    h = t.history
    return list(
        conn.execute(
            select(h.c.at, h.c.command, h.c.cltrid, h.c.svtrid, t.registrars.c.clid)
            .outerjoin(t.registrars, t.registrars.c.id == h.c.registrar_id)
            .where(h.c.roid == roid)
            .order_by(h.c.at.desc(), h.c.id.desc())
            .limit(limit)
        )
    )


def contacts(conn: Connection, registrar_id: int, after: str = "") -> list[Any]:
    c = t.contacts
    q = (
        select(
            c.c.handle, c.c.email, c.c.created_at, t.contact_postal.c.name, t.contact_postal.c.cc
        )
        .outerjoin(
            t.contact_postal,
            and_(t.contact_postal.c.contact_id == c.c.id, t.contact_postal.c.type == "int"),
        )
        .where(c.c.registrar_id == registrar_id, c.c.deleted_at.is_(None))
        .order_by(c.c.handle)
        .limit(200)
    )
    if after:
        q = q.where(c.c.handle > after)
    return list(conn.execute(q))


def contact_handles(conn: Connection, registrar_id: int) -> list[str]:
    c = t.contacts
    return list(
        conn.execute(
            select(c.c.handle)
            .where(c.c.registrar_id == registrar_id, c.c.deleted_at.is_(None))
            .order_by(c.c.handle)
            .limit(500)
        ).scalars()
    )


def hosts(conn: Connection, registrar_id: int) -> list[dict[str, Any]]:
    h = t.hosts
    rows = list(
        conn.execute(
            select(h.c.id, h.c.name, h.c.created_at)
            .where(h.c.registrar_id == registrar_id, h.c.deleted_at.is_(None))
            .order_by(h.c.name)
            .limit(500)
        )
    )
    addrs: dict[int, list[str]] = {}
    if rows:
        for a in conn.execute(
            select(t.host_addresses.c.host_id, t.host_addresses.c.address).where(
                t.host_addresses.c.host_id.in_([r.id for r in rows])
            )
        ):
            addrs.setdefault(a.host_id, []).append(a.address)
    return [
        {"name": r.name, "created_at": r.created_at, "addresses": sorted(addrs.get(r.id, []))}
        for r in rows
    ]


def pending_transfers(conn: Connection, registrar_id: int) -> tuple[list[Any], list[Any]]:
    """(incoming requests to approve or reject, our outgoing requests)."""
    base = select(
        d.c.name, d.c.trn_requested_at, d.c.trn_action_at, d.c.trn_gaining_id, d.c.trn_losing_id
    ).where(d.c.deleted_at.is_(None), d.c.trn_status == "pending")
    incoming = list(
        conn.execute(base.where(d.c.trn_losing_id == registrar_id).order_by(d.c.name).limit(500))
    )
    outgoing = list(
        conn.execute(base.where(d.c.trn_gaining_id == registrar_id).order_by(d.c.name).limit(500))
    )
    return incoming, outgoing


def ledger(conn: Connection, registrar_id: int, limit: int | None = 200) -> list[Any]:
    lg = t.ledger
    q = (
        select(
            lg.c.id,
            lg.c.at,
            lg.c.kind,
            lg.c.amount,
            lg.c.currency,
            lg.c.domain_name,
            lg.c.years,
            lg.c.svtrid,
            lg.c.description,
        )
        .where(lg.c.registrar_id == registrar_id)
        .order_by(lg.c.at.desc(), lg.c.id.desc())
    )
    if limit:
        q = q.limit(limit)
    return list(conn.execute(q))


def registrar(conn: Connection, registrar_id: int) -> Any:
    return conn.execute(select(t.registrars).where(t.registrars.c.id == registrar_id)).one()


def tld_names(conn: Connection) -> list[str]:
    return list(conn.execute(select(t.tlds.c.name).order_by(t.tlds.c.name)).scalars())


def contact_links(conn: Connection, contact_id: int) -> list[tuple[str, str]]:
    """The live domains a contact is linked to, as (name, role), role one of registrant,
    admin, billing, tech; in name then role order."""
    registrant = select(d.c.name).where(d.c.registrant_id == contact_id, d.c.deleted_at.is_(None))
    dc = t.domain_contacts
    roles = (
        select(d.c.name, dc.c.type)
        .join(dc, dc.c.domain_id == d.c.id)
        .where(dc.c.contact_id == contact_id, d.c.deleted_at.is_(None))
    )
    out = [(r.name, "registrant") for r in conn.execute(registrant.limit(500))]
    out += [(r.name, r.type) for r in conn.execute(roles.limit(1500))]
    return sorted(out)
