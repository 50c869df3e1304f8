"""Domain flows (RFC 5731): check, info, update, delete, renew, transfer; the commands and
results of every domain flow, create's too (`DomainCreate`, `DomainCreated`).

Each public function takes a `Context` (one transaction) and a typed command, and returns a
typed result or raises `EppError`. Result codes each flow can return are in its docstring.
The create (its checks, pricing, charging and write statements) is `flows/domain_create.py`,
which imports from here what it shares with the other flows (`period_years`,
`check_contacts`, `snapshot`, `MAX_NAMESERVERS`); nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import NoResultFound

from domreg.dns import delegation
from domreg.flows import billing, fees, launch, lifecycle
from domreg.flows import dnssec as dnssec_flow
from domreg.flows import transfer as trn
from domreg.flows.base import (
    CLIDS as _CLIDS,
)
from domreg.flows.base import (
    STATUSES,
    Context,
    check_auth_info,
    check_status_update,
    enqueue_poll,
    forbid,
    hash_auth_info,
    record,
    statuses_of,
)
from domreg.flows.lookup import (
    accredited,
    contact_ids_by_handle,
    host_ids_by_name,
    require_contact,
    require_domain,
)
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.names import NameError_, parse_name
from domreg.model.periods import MAX_YEARS, ONE_YEAR, Period, add_months
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query, fetch_all

MAX_NAMESERVERS = 13
CONTACT_TYPES = ("admin", "billing", "tech")


# ---------------------------------------------------------------- commands and results


@dataclass(frozen=True, slots=True)
class CheckItem:
    name: str
    avail: bool
    reason: str | None = None


@dataclass(slots=True)
class DomainInfo:
    name: str
    roid: str
    sponsor: str
    full: bool
    statuses: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    registrant: str | None = None
    contacts: list[tuple[str, str]] = field(default_factory=list)
    ns: list[str] | None = None
    hosts: list[str] | None = None
    creator: str | None = None
    created_at: datetime | None = None
    updater: str | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    transferred_at: datetime | None = None
    # RFC 9154: never the value; "" tells the sponsor an authInfo is set, None that it is not.
    auth_info: str | None = None
    ds: list[dnssec_flow.DsData] = field(default_factory=list)  # DNSSEC delegation signer
    rgp: list[str] = field(default_factory=list)  # RGP statuses (RFC 3915), full views only
    launch: launch.LaunchData | None = None  # asked for with <launch:info> (RFC 8334)


@dataclass(frozen=True, slots=True)
class DomainCreate:
    name: str
    auth_info: str
    period: Period | None = None
    ns: tuple[str, ...] = ()
    registrant: str | None = None
    contacts: tuple[tuple[str, str], ...] = ()  # (type, handle)
    dnssec: dnssec_flow.DnssecCreate | None = None
    fee: fees.FeeStatement | None = None  # the fee the client agrees to (RFC 8748)
    allocation_token: str | None = None  # RFC 8495
    launch: launch.LaunchCreate | None = None  # RFC 8334: phase, signed marks, claims notice


@dataclass(frozen=True, slots=True)
class DomainCreated:
    name: str
    created_at: datetime
    expires_at: datetime
    ledger_id: int | None = None  # the create charge (a delete in the add grace period refunds it)
    charged: fees.Charged | None = None  # the price charged and the balance after (RFC 8748)


@dataclass(frozen=True, slots=True)
class DomainUpdate:
    name: str
    add_ns: tuple[str, ...] = ()
    rem_ns: tuple[str, ...] = ()
    add_contacts: tuple[tuple[str, str], ...] = ()
    rem_contacts: tuple[tuple[str, str], ...] = ()
    add_statuses: tuple[tuple[str, str | None, str | None], ...] = ()  # (s, lang, msg)
    rem_statuses: tuple[str, ...] = ()
    registrant: str | None = None  # None: unchanged; "" : remove
    auth_info: str | None = None  # None: unchanged; "": unset (RFC 9154)
    dnssec: dnssec_flow.DnssecUpdate | None = None


@dataclass(frozen=True, slots=True)
class DomainRenew:
    name: str
    current_expiry: str  # YYYY-MM-DD
    period: Period | None = None
    fee: fees.FeeStatement | None = None  # the fee the client agrees to (RFC 8748)


@dataclass(frozen=True, slots=True)
class DomainRenewed:
    name: str
    expires_at: datetime
    ledger_id: int | None = None  # the renew charge
    charged: fees.Charged | None = None  # the price charged and the balance after (RFC 8748)


@dataclass(frozen=True, slots=True)
class DomainTransfer:
    op: str  # query, request, approve, reject, cancel
    name: str
    auth_info: str | None = None
    auth_roid: str | None = None
    period: Period | None = None
    fee: fees.FeeStatement | None = None  # request: the fee the client agrees to (RFC 8748)


# ---------------------------------------------------------------- queries


def check(ctx: Context, names: list[str]) -> list[CheckItem]:
    """Availability of each name. Never fails for one bad name: it is reported unavailable.

    Reasons: invalid syntax, not under a served TLD, "In use", "Reserved" (the TLD's reserved
    list). Premium names are available (the fee extension shows their price).
    """
    conn = ctx.conn
    return check_names(
        names, lambda name, label, tld: CHECK_QUERY.first(conn, name=name, label=label, tld=tld)
    )


def check_names(names: list[str], lookup: Callable[[str, str, str], Any]) -> list[CheckItem]:
    """`check`'s answers, each valid name's `CHECK_QUERY` row read by `lookup(name, label,
    tld)` (the flow's `Query`, or `inlinechecks.InlineChecks` on the driver directly)."""
    items: list[CheckItem] = []
    for raw in names:
        try:
            dn = parse_name(raw)
        except NameError_:
            items.append(CheckItem(raw, False, INVALID_NAME))
            continue
        # One statement per name: its TLD, a live holder and the label's reserved reason.
        label, _, parent = dn.name.partition(".")
        items.append(checked(raw, lookup(dn.name, label, parent)))
    return items


#: A check of a name `parse_name` refuses.
INVALID_NAME = "Invalid domain name syntax"


def checked(raw: str, row: Any) -> CheckItem:
    """The answer for one syntactically valid name from its `CHECK_QUERY` row (`taken`,
    `reserved`; None: no TLD served here of that name)."""
    if row is None:
        return CheckItem(raw, False, "Not under a TLD served here")
    if row.taken is not None:
        return CheckItem(raw, False, "In use")
    if row.reserved is not None:
        return CheckItem(raw, False, "Reserved")
    return CheckItem(raw, True)


def taken_column() -> Any:
    """The id of the live domain named `:name`, or NULL (column "taken")."""
    d = t.domains
    return (
        select(d.c.id)
        .where(d.c.name == bindparam("name"), d.c.deleted_at.is_(None))
        .scalar_subquery()
        .label("taken")
    )


def reserved_column() -> Any:
    """Why label `:label` is reserved under the selected TLD, or NULL (column "reserved")."""
    r = t.reserved_names
    return (
        select(r.c.reason)
        .where(r.c.tld_id == t.tlds.c.id, r.c.label == bindparam("label"))
        .scalar_subquery()
        .label("reserved")
    )


CHECK_QUERY = Query(
    select(t.tlds.c.id, taken_column(), reserved_column()).where(t.tlds.c.name == bindparam("tld"))
)


def info(
    ctx: Context,
    name: str,
    hosts: str = "all",
    auth_info: str | None = None,
    auth_roid: str | None = None,
    launch_info: launch.LaunchInfo | None = None,
) -> DomainInfo:
    """Domain info. 2303 unknown name; 2202 wrong authInfo from a non-sponsor.

    A non-sponsor without authInfo sees only name, roid and sponsor (RFC 5731 section 3.1.2).
    The authInfo must be set, unexpired and match (RFC 9154 section 4.4: an empty one never
    does); the answer never holds its value, and only the sponsor learns whether one is set.
    Full views carry the domain's DS records (`ds`) and RGP statuses (`rgp`, RFC 3915).
    With `launch_info` (RFC 8334 `<launch:info>`), the phase the domain was registered in:
    2201 without a full view, else the codes of `launch.info`.
    """
    conn = ctx.conn
    row = require_domain(conn, name)
    is_sponsor = row.registrar_id == ctx.actor.id
    if not is_sponsor and auth_info is not None:
        if not _authorised(conn, row, auth_info, auth_roid, ctx.now):
            raise EppError(Result.INVALID_AUTHORIZATION_INFORMATION, "authInfo does not match")
    full = is_sponsor or auth_info is not None
    # RFC 9154 section 5.3: only the sponsor learns whether an authInfo is set, never its value.
    has_auth = check_auth_live(row, ctx.now)
    show_auth = is_sponsor and has_auth
    result = render_info(conn, row, hosts, full, show_auth, rgp_at=ctx.now if full else None)
    if launch_info is not None:  # RFC 8334 section 3.2
        if not full:
            raise EppError(
                Result.AUTHORIZATION_ERROR,
                "launch information is for the sponsoring registrar or with the authInfo",
            )
        result.launch = launch.info(conn, row, launch_info)
    return result


def check_auth_live(row: Any, now: datetime) -> bool:
    """True if the domain has an authInfo set whose time to live has not run out."""
    expires = row.auth_info_expires_at
    return bool(row.auth_info) and (expires is None or now < expires)


# The statements of `render_info` (every info, and the snapshot of every transform).
_NAMESERVERS = Query(
    select(t.hosts.c.name)
    .join(t.domain_hosts, t.domain_hosts.c.host_id == t.hosts.c.id)
    .where(t.domain_hosts.c.domain_id == bindparam("domain_id"))
    .order_by(t.hosts.c.name)
)
_HANDLE = Query(select(t.contacts.c.handle).where(t.contacts.c.id == bindparam("id")))
_CONTACTS = Query(
    select(t.domain_contacts.c.type, t.contacts.c.handle)
    .join(t.contacts, t.contacts.c.id == t.domain_contacts.c.contact_id)
    .where(t.domain_contacts.c.domain_id == bindparam("domain_id"))
    .order_by(t.domain_contacts.c.type, t.contacts.c.handle)
)
_SUBORDINATES = Query(
    select(t.hosts.c.name)
    .where(t.hosts.c.parent_domain_id == bindparam("domain_id"), t.hosts.c.deleted_at.is_(None))
    .order_by(t.hosts.c.name)
)


def render_info(
    conn: Connection,
    row: Row,
    hosts: str,
    full: bool,
    show_auth: bool,
    rgp_at: datetime | None = None,
) -> DomainInfo:
    """The info view of a domain row (also used for history snapshots).

    `show_auth`: say that an authInfo is set (an empty `auth_info`); its value is never shown.
    `rgp_at`: also fill in the RGP statuses at that time (full views). The statements are
    independent of each other: they go to the database together (`fetch_all`: one round trip
    on PostgreSQL).
    """
    ids = {i for i in (row.registrar_id, row.creator_id, row.updater_id) if i is not None}
    a, b, c = (*ids, *[next(iter(ids))] * (3 - len(ids)))
    calls: list[tuple[Query, dict[str, Any]]] = [(_CLIDS, {"a": a, "b": b, "c": c})]
    if full:
        calls += [
            (_NAMESERVERS, {"domain_id": row.id}),
            (STATUSES, {"roid": row.roid}),
            (_CONTACTS, {"domain_id": row.id}),
            (dnssec_flow.RECORDS, {"domain_id": row.id}),
        ]
        if row.registrant_id is not None:
            calls.append((_HANDLE, {"id": row.registrant_id}))
        if hosts in ("all", "sub"):
            calls.append((_SUBORDINATES, {"domain_id": row.id}))
        if rgp_at is not None:
            calls.append((lifecycle.PERIODS, {"domain_id": row.id}))
    results = iter(fetch_all(conn, calls))
    clids = {r.id: r.clid for r in next(results)}
    parts = None
    if full:
        ns = [r.name for r in next(results)]
        stored = {r.status: (r.lang, r.message) for r in next(results)}
        contacts = [(r.type, r.handle) for r in next(results)]
        ds = dnssec_flow.records_of(next(results))
        registrant = None
        if row.registrant_id is not None:
            handles = next(results)
            registrant = handles[0].handle if handles else None
        subordinates = [r.name for r in next(results)] if hosts in ("all", "sub") else None
        periods = next(results) if rgp_at is not None else []
        parts = InfoParts(ns, stored, contacts, ds, registrant, subordinates, periods)
    return info_view(row, clids, hosts, show_auth, parts, rgp_at)


@dataclass(slots=True)
class InfoParts:
    """What a full info view shows besides the domain row (`render_info` reads it in one
    round trip; `flows/loopreads.py` in the one statement of a batch of infos)."""

    ns: list[str]  # nameservers, by name
    stored: dict[str, tuple[str | None, str | None]]  # stored statuses -> (lang, message)
    contacts: list[tuple[str, str]]  # (type, handle), by type and handle
    ds: list[dnssec_flow.DsData]
    registrant: str | None  # its handle
    subordinates: list[str] | None  # hosts under the domain, by name (hosts "all" or "sub")
    periods: list[Any]  # grace period rows (`kind`, `starts_at`, `ends_at`), oldest first


def info_view(
    row: Any,
    clids: dict[int, str],
    hosts: str,
    show_auth: bool,
    parts: InfoParts | None,
    rgp_at: datetime | None = None,
) -> DomainInfo:
    """The info view of a domain row: `parts` for a full view, None for the partial one
    (name, roid and sponsor: another registrar without the authInfo).
    `clids`: registrar ids -> client ids (sponsor, creator, updater)."""
    result = DomainInfo(
        name=row.name, roid=row.roid, sponsor=clids[row.registrar_id], full=parts is not None
    )
    if parts is None:
        return result
    shown = st.domain_display(set(parts.stored), bool(parts.ns))
    result.statuses = [(s, *parts.stored.get(s, (None, None))) for s in shown]
    result.contacts = parts.contacts
    result.ds = parts.ds
    result.registrant = parts.registrant
    if hosts in ("all", "del"):
        result.ns = parts.ns
    if hosts in ("all", "sub"):
        result.hosts = parts.subordinates
    if rgp_at is not None:
        result.rgp = lifecycle.rgp_statuses_of(parts.periods, rgp_at)
    result.creator = clids[row.creator_id]
    result.created_at = row.created_at
    result.updater = clids.get(row.updater_id) if row.updater_id else None
    result.updated_at = row.updated_at
    result.expires_at = row.expires_at
    result.transferred_at = row.transferred_at
    if show_auth:
        result.auth_info = ""
    return result


_DOMAIN_BY_ID = Query(select(t.domains).where(t.domains.c.id == bindparam("id")))


def snapshot(conn: Connection, domain_id: int) -> dict[str, Any]:
    """The domain as its history rows record it (the state after the command)."""
    row = _DOMAIN_BY_ID.first(conn, id=domain_id)
    if row is None:
        raise NoResultFound(f"no domain with id {domain_id}")
    view = render_info(conn, row, "all", full=True, show_auth=False)
    return {
        "name": view.name,
        "roid": view.roid,
        "sponsor": view.sponsor,
        "statuses": [s for s, _, _ in view.statuses],
        "registrant": view.registrant,
        "contacts": view.contacts,
        "ns": view.ns,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "expires_at": view.expires_at,
        "transferred_at": view.transferred_at,
        "deleted_at": row.deleted_at,
        "ds": dnssec_flow.presentation(view.ds),
    }


def _authorised(
    conn: Connection, row: Row, auth_info: str, auth_roid: str | None, now: datetime
) -> bool:
    """authInfo of the domain (unexpired), or (with roid) of its registrant or a linked contact."""
    if auth_roid is None or auth_roid == row.roid:
        return check_auth_info(row.auth_info, auth_info, row.auth_info_expires_at, now)
    contact = conn.execute(
        select(t.contacts.c.id, t.contacts.c.auth_info).where(
            t.contacts.c.roid == auth_roid, t.contacts.c.deleted_at.is_(None)
        )
    ).first()
    if contact is None:
        return False
    linked = contact.id == row.registrant_id or (
        conn.execute(
            select(t.domain_contacts.c.contact_id).where(
                t.domain_contacts.c.domain_id == row.id,
                t.domain_contacts.c.contact_id == contact.id,
            )
        ).first()
        is not None
    )
    return linked and check_auth_info(contact.auth_info, auth_info)


# ---------------------------------------------------------------- transforms


def period_years(period: Period | None, what: str) -> int:
    """The whole years of a create, renewal or transfer `period` (one if None); 2306 or 2004."""
    period = period or ONE_YEAR
    years = period.whole_years
    if years is None:
        raise EppError(Result.PARAMETER_VALUE_POLICY_ERROR, f"{what} period must be whole years")
    if not 1 <= years <= MAX_YEARS:
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR, f"{what} period must be 1 to {MAX_YEARS} years"
        )
    return years


def check_contacts(contacts: tuple[tuple[str, str], ...]) -> None:
    """2005 for a (type, handle) pair whose type is not admin, billing or tech."""
    for ctype, _ in contacts:
        if ctype not in CONTACT_TYPES:
            raise EppError(Result.PARAMETER_VALUE_SYNTAX_ERROR, f"unknown contact type {ctype}")


def _sponsored(ctx: Context, raw: str, what: str) -> Row:
    row = require_domain(ctx.conn, raw, for_update=True)
    if row.registrar_id != ctx.actor.id:
        raise EppError(Result.AUTHORIZATION_ERROR, f"{what} is for the sponsoring registrar only")
    return row


def _tld_name(conn: Connection, tld_id: int) -> str:
    return str(conn.execute(select(t.tlds.c.name).where(t.tlds.c.id == tld_id)).scalar_one())


def update(ctx: Context, cmd: DomainUpdate) -> None:
    """Update a domain's nameservers, contacts, statuses, registrant, authInfo or DS records.

    2201 not the sponsor; 2303 unknown domain, host or contact; 2304 status prohibits update;
    2306 a status not settable by clients, a nameserver, contact or status added twice, a
    nameserver or contact removed that is not there,
    or too many nameservers; DNSSEC changes: the codes of `dnssec.update`.

    A new authInfo is stored hashed and expires after `ctx.policy.auth_info_ttl` (RFC 9154
    section 4.2); an empty one unsets it.
    """
    conn = ctx.conn
    row = _sponsored(ctx, cmd.name, "update")
    stored = statuses_of(conn, row.roid)
    other = bool(cmd.add_ns or cmd.rem_ns or cmd.add_contacts or cmd.rem_contacts)
    other = other or cmd.registrant is not None or cmd.auth_info is not None
    other = other or cmd.dnssec is not None
    check_status_update(
        stored, cmd.add_statuses, cmd.rem_statuses, st.DOMAIN_CLIENT_SETTABLE, other
    )

    current_ns = {
        r.host_id
        for r in conn.execute(
            select(t.domain_hosts.c.host_id).where(t.domain_hosts.c.domain_id == row.id)
        )
    }
    rem_ns = host_ids_by_name(conn, list(cmd.rem_ns))
    add_ns = host_ids_by_name(conn, list(cmd.add_ns))
    for n, hid in rem_ns.items():
        if hid not in current_ns:
            raise EppError(
                Result.PARAMETER_VALUE_POLICY_ERROR, f"nameserver {n} is not on the domain"
            )
    after_rem = current_ns - set(rem_ns.values())
    for n, hid in add_ns.items():
        if hid in after_rem:
            raise EppError(
                Result.PARAMETER_VALUE_POLICY_ERROR, f"nameserver {n} is already on the domain"
            )
    if len(after_rem | set(add_ns.values())) > MAX_NAMESERVERS:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"at most {MAX_NAMESERVERS} nameservers"
        )

    check_contacts(cmd.add_contacts + cmd.rem_contacts)
    current_contacts = {
        (r.type, r.contact_id)
        for r in conn.execute(
            select(t.domain_contacts.c.type, t.domain_contacts.c.contact_id).where(
                t.domain_contacts.c.domain_id == row.id
            )
        )
    }
    ids = contact_ids_by_handle(conn, [h for _, h in cmd.add_contacts + cmd.rem_contacts])
    rem_c = {(ct, ids[h]) for ct, h in cmd.rem_contacts}
    add_c = {(ct, ids[h]) for ct, h in cmd.add_contacts}
    for link in rem_c - current_contacts:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"{link[0]} contact is not on the domain"
        )
    for link in add_c & (current_contacts - rem_c):
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"{link[0]} contact is already on the domain"
        )

    values: dict[str, Any] = {"updater_id": ctx.actor.id, "updated_at": ctx.now}
    if cmd.registrant is not None:
        values["registrant_id"] = (
            require_contact(conn, cmd.registrant).id if cmd.registrant else None
        )
    if cmd.auth_info is not None:
        # RFC 9154: stored hashed, with a time to live; an empty value unsets it.
        values["auth_info"] = hash_auth_info(cmd.auth_info)
        values["auth_info_expires_at"] = (
            ctx.now + ctx.policy.auth_info_ttl if cmd.auth_info else None
        )
    if cmd.dnssec is not None:
        dnssec_flow.update(conn, row.id, row.tld_id, cmd.dnssec)

    if rem_ns:
        conn.execute(
            delete(t.domain_hosts).where(
                t.domain_hosts.c.domain_id == row.id, t.domain_hosts.c.host_id.in_(rem_ns.values())
            )
        )
    if add_ns:
        conn.execute(
            insert(t.domain_hosts), [{"domain_id": row.id, "host_id": h} for h in add_ns.values()]
        )
    for ctype, cid in rem_c:
        conn.execute(
            delete(t.domain_contacts).where(
                t.domain_contacts.c.domain_id == row.id,
                t.domain_contacts.c.type == ctype,
                t.domain_contacts.c.contact_id == cid,
            )
        )
    if add_c:
        conn.execute(
            insert(t.domain_contacts),
            [{"domain_id": row.id, "type": c, "contact_id": i} for c, i in add_c],
        )
    if cmd.rem_statuses:
        conn.execute(
            delete(t.statuses).where(
                t.statuses.c.roid == row.roid, t.statuses.c.status.in_(cmd.rem_statuses)
            )
        )
    if cmd.add_statuses:
        conn.execute(
            insert(t.statuses),
            [
                {"roid": row.roid, "status": s, "lang": lang, "message": msg}
                for s, lang, msg in cmd.add_statuses
            ],
        )
    if rem_ns or add_ns or cmd.dnssec is not None:
        values["delegation"] = delegation.compute(conn, row.id, row.name)
    conn.execute(sql_update(t.domains).where(t.domains.c.id == row.id).values(**values))
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:update",
        snapshot=snapshot(conn, row.id),
        tld=_tld_name(conn, row.tld_id),
    )


def delete_(ctx: Context, name: str) -> Result:
    """Delete a domain: purged at once inside the add grace period (1000), otherwise into
    redemption (1001, status pendingDelete); charges of active grace periods are refunded
    (see `lifecycle.delete_domain`).

    2201 not the sponsor; 2303 unknown; 2304 status prohibits delete (pendingDelete: already
    deleted); 2305 subordinate hosts still exist.
    """
    conn = ctx.conn
    row = _sponsored(ctx, name, "delete")
    forbid(statuses_of(conn, row.roid), st.DELETE_PROHIBITED, "delete")
    subordinate = conn.execute(
        select(t.hosts.c.name).where(
            t.hosts.c.parent_domain_id == row.id, t.hosts.c.deleted_at.is_(None)
        )
    ).first()
    if subordinate is not None:
        raise EppError(
            Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION,
            f"subordinate host {subordinate.name} exists; delete or rename it first",
        )
    return lifecycle.delete_domain(ctx, row)


def renew(ctx: Context, cmd: DomainRenew) -> DomainRenewed:
    """Renew a domain for a period.

    2201 not the sponsor; 2303 unknown; 2304 status prohibits renewal;
    2306 curExpDate is not the current expiry date; 2004 period out of range, or the new
    expiry would be more than 10 years ahead; 2104 insufficient funds for the renew price;
    2004 a stated fee (RFC 8748) below the price, or none for a premium name (`fees.agree`).

    Charges `renew` for the years added; the result carries the ledger id.
    """
    conn = ctx.conn
    row = _sponsored(ctx, cmd.name, "renew")
    forbid(statuses_of(conn, row.roid), st.RENEW_PROHIBITED, "renewal")
    if row.expires_at.date().isoformat() != cmd.current_expiry:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"curExpDate {cmd.current_expiry} is not the current expiry date {row.expires_at.date()}",
        )
    years = period_years(cmd.period, "renewal")
    new_expiry = add_months(row.expires_at, 12 * years)
    if new_expiry > add_months(ctx.now, 12 * MAX_YEARS):
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR,
            f"renewal would put the expiry more than {MAX_YEARS} years ahead",
        )
    label = row.name.split(".", 1)[0]
    price = billing.quote(conn, ctx.actor.id, row.tld_id, label, "renew", years)
    fees.agree(price, cmd.fee)
    ledger_id = billing.charge(
        ctx,
        registrar_id=ctx.actor.id,
        tld_id=row.tld_id,
        label=label,
        domain_name=row.name,
        roid=row.roid,
        operation="renew",
        years=years,
        price=price,
    )
    conn.execute(
        sql_update(t.domains)
        .where(t.domains.c.id == row.id)
        .values(expires_at=new_expiry, updated_at=ctx.now, updater_id=ctx.actor.id)
    )
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:renew",
        snapshot=snapshot(conn, row.id),
        tld=_tld_name(conn, row.tld_id),
    )
    lifecycle.renewed(ctx, row.id, ledger_id)
    charged = fees.charged(conn, ctx.actor.id, price, years) if cmd.fee else None
    return DomainRenewed(row.name, new_expiry, ledger_id, charged)


def transfer(ctx: Context, cmd: DomainTransfer) -> trn.TransferData:
    """Transfer query, request, approve, reject and cancel.

    query: 2303 unknown; 2201 neither party and no authInfo; 2202 wrong authInfo;
    2301 no transfer ever. request: 2106 already the sponsor; 2202 missing or wrong authInfo;
    2300 already pending; 2304 status prohibits transfer; 2004 period out of range;
    2104 the requester's funds do not cover the transfer price (charged on completion);
    2004 a stated fee (RFC 8748) below that price, or none for a premium name (`fees.agree`).
    approve/reject: 2201 not the sponsor; 2301 not pending; approve: 2104 the gaining
    registrar can no longer pay. cancel: 2201 not the requester; 2301 not pending.
    """
    conn = ctx.conn
    if cmd.op == "query":
        row = require_domain(conn, cmd.name)
        trn.check_query(
            ctx.actor.id,
            row,
            cmd.auth_info,
            lambda given: _authorised(conn, row, given, cmd.auth_roid, ctx.now),
        )
        return trn.transfer_data(conn, "domain", row.name, row)
    if cmd.op == "request":
        return _request(ctx, cmd)
    row = require_domain(conn, cmd.name, for_update=True)
    status, notify = trn.client_action(ctx.actor.id, row, cmd.op, f"domain {row.name}")
    if notify is None:
        return complete_transfer(ctx, row, status)
    return _finish(ctx, row, status, notify=notify)


def _request(ctx: Context, cmd: DomainTransfer) -> trn.TransferData:
    conn = ctx.conn
    row = require_domain(conn, cmd.name, for_update=True)
    if row.registrar_id == ctx.actor.id:
        raise EppError(Result.OBJECT_NOT_ELIGIBLE_FOR_TRANSFER, "the domain is already yours")
    if not accredited(conn, ctx.actor.id, row.tld_id):
        raise EppError(Result.AUTHORIZATION_ERROR, "registrar is not accredited for this TLD")
    if cmd.auth_info is None or not _authorised(conn, row, cmd.auth_info, cmd.auth_roid, ctx.now):
        raise EppError(Result.INVALID_AUTHORIZATION_INFORMATION, "authInfo does not match")
    if row.trn_status == trn.PENDING:
        raise EppError(Result.OBJECT_PENDING_TRANSFER, "a transfer is already pending")
    forbid(statuses_of(conn, row.roid), st.TRANSFER_PROHIBITED, "transfer")
    years = period_years(cmd.period, "transfer")
    label = row.name.split(".", 1)[0]
    price = billing.quote(conn, ctx.actor.id, row.tld_id, label, "transfer", years)
    fees.agree(price, cmd.fee)
    billing.require_funds(conn, ctx.actor.id, price)
    new_expiry = add_months(row.expires_at, 12 * years)
    # RFC 5731 caps registrations at 10 years; the extension is reduced rather than refused.
    cap = add_months(ctx.now, 12 * MAX_YEARS)
    new_expiry = min(new_expiry, cap)
    action_at = lifecycle.transfer_action_at(conn, row.tld_id, ctx.now)
    conn.execute(
        sql_update(t.domains)
        .where(t.domains.c.id == row.id)
        .values(
            trn_status=trn.PENDING,
            trn_gaining_id=ctx.actor.id,
            trn_losing_id=row.registrar_id,
            trn_requested_at=ctx.now,
            trn_action_at=action_at,
            trn_expires_at=new_expiry,
            trn_period_months=12 * years,
        )
    )
    conn.execute(insert(t.statuses).values(roid=row.roid, status=st.PENDING_TRANSFER))
    fresh = conn.execute(select(t.domains).where(t.domains.c.id == row.id)).one()
    data = trn.transfer_data(conn, "domain", row.name, fresh)
    enqueue_poll(ctx, row.registrar_id, "transfer", "Transfer requested.", trn.poll_payload(data))
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:transfer-request",
        snapshot=snapshot(conn, row.id),
        tld=_tld_name(conn, row.tld_id),
        publish=False,
    )
    if cmd.fee is None:
        return data
    return replace(data, fee=fees.charged(conn, ctx.actor.id, price, years))


def _finish(ctx: Context, row: Row, status: str, notify: int) -> trn.TransferData:
    conn = ctx.conn
    conn.execute(
        sql_update(t.domains)
        .where(t.domains.c.id == row.id)
        .values(trn_status=status, trn_action_at=ctx.now)
    )
    conn.execute(
        delete(t.statuses).where(
            t.statuses.c.roid == row.roid, t.statuses.c.status == st.PENDING_TRANSFER
        )
    )
    fresh = conn.execute(select(t.domains).where(t.domains.c.id == row.id)).one()
    data = trn.transfer_data(conn, "domain", row.name, fresh)
    messages = {
        trn.CLIENT_REJECTED: "Transfer rejected.",
        trn.CLIENT_CANCELLED: "Transfer cancelled.",
        trn.SERVER_CANCELLED: "Transfer cancelled by the registry.",
    }
    enqueue_poll(ctx, notify, "transfer", messages[status], trn.poll_payload(data))
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command=f"domain:transfer-{status}",
        snapshot=snapshot(conn, row.id),
        tld=_tld_name(conn, row.tld_id),
        publish=False,
    )
    return data


def complete_transfer(ctx: Context, row: Row, status: str) -> trn.TransferData:
    """Move the domain (and its subordinate hosts) to the gaining registrar; both sides polled.

    Charges the gaining registrar `transfer` for the years requested (at its prices now);
    2104 if it can no longer pay. The charge's ledger id: `transfer_ledger_id(ctx, roid)`.
    The losing registrar's grace periods end (an auto-renew inside its grace period is
    refunded to it, and its year taken back) and the transfer grace period starts.
    """
    conn = ctx.conn
    row = lifecycle.before_transfer_completes(ctx, row)
    gaining = row.trn_gaining_id
    billing.charge(
        ctx,
        registrar_id=gaining,
        tld_id=row.tld_id,
        label=row.name.split(".", 1)[0],
        domain_name=row.name,
        roid=row.roid,
        operation="transfer",
        years=max(1, (row.trn_period_months or 12) // 12),
    )
    conn.execute(
        sql_update(t.domains)
        .where(t.domains.c.id == row.id)
        .values(
            registrar_id=gaining,
            transferred_at=ctx.now,
            expires_at=row.trn_expires_at,
            auth_info=None,  # RFC 9154 section 5.4: unset when a transfer completes
            auth_info_expires_at=None,
            trn_status=status,
            trn_action_at=ctx.now,
            updated_at=ctx.now,
            updater_id=ctx.actor.id or None,  # None: the registry (server approval)
        )
    )
    conn.execute(
        sql_update(t.hosts)
        .where(t.hosts.c.parent_domain_id == row.id, t.hosts.c.deleted_at.is_(None))
        .values(registrar_id=gaining, transferred_at=ctx.now)
    )
    conn.execute(
        delete(t.statuses).where(
            t.statuses.c.roid == row.roid, t.statuses.c.status == st.PENDING_TRANSFER
        )
    )
    fresh = conn.execute(select(t.domains).where(t.domains.c.id == row.id)).one()
    data = trn.transfer_data(conn, "domain", row.name, fresh)
    payload = trn.poll_payload(data)
    # Both sides are told, whoever approved (the server, after the pending period, or the loser).
    enqueue_poll(ctx, gaining, "transfer", "Transfer approved.", payload)
    enqueue_poll(ctx, row.trn_losing_id, "transfer", "Transfer approved.", payload)
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command=f"domain:transfer-{status}",
        snapshot=snapshot(conn, row.id),
        tld=_tld_name(conn, row.tld_id),
    )
    lifecycle.transfer_completed(ctx, row.id, transfer_ledger_id(ctx, row.roid))
    return data


def transfer_ledger_id(ctx: Context, roid: str) -> int | None:
    """The ledger id of the transfer charge `complete_transfer` made in this command, if any."""
    return billing.charge_id(ctx, roid, "transfer")
