"""Domain flows (RFC 5731): check, info, create, update, delete, renew, transfer.

Each public function takes a `Context` (one transaction) and a typed command, and returns a
typed result or raises `EppError`. Result codes each flow can return are in its docstring.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal_column,
    not_,
    select,
    true,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, NoResultFound

from domreg.dns import delegation
from domreg.flows import billing, fees, launch, lifecycle, tokens
from domreg.flows import dnssec as dnssec_flow
from domreg.flows import transfer as trn
from domreg.flows.base import (
    CLIDS as _CLIDS,
)
from domreg.flows.base import (
    HISTORY_INSERT,
    OUTBOX_INSERT,
    STATUSES,
    Context,
    check_auth_info,
    check_status_update,
    enqueue_poll,
    forbid,
    hash_auth_info,
    record,
    record_params,
    statuses_of,
)
from domreg.flows.lookup import (
    Tld,
    accredited,
    contact_ids_by_handle,
    host_ids_by_name,
    parse_or_raise,
    require_contact,
    require_domain,
)
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.names import NameError_, parse_name
from domreg.model.periods import MAX_YEARS, ONE_YEAR, Period, add_months
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query, aborted, autocommit, end_autocommit, fetch_all

T = TypeVar("T")

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


CHECK_QUERY = Query(
    select(
        t.tlds.c.id,
        select(t.domains.c.id)
        .where(t.domains.c.name == bindparam("name"), t.domains.c.deleted_at.is_(None))
        .scalar_subquery()
        .label("taken"),
        select(t.reserved_names.c.reason)
        .where(
            t.reserved_names.c.tld_id == t.tlds.c.id,
            t.reserved_names.c.label == bindparam("label"),
        )
        .scalar_subquery()
        .label("reserved"),
    ).where(t.tlds.c.name == bindparam("tld"))
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


def _years(period: Period | None, what: str) -> int:
    period = period or ONE_YEAR
    years = period.whole_years
    if years is None:
        raise EppError(Result.PARAMETER_VALUE_POLICY_ERROR, f"{what} period must be whole years")
    if not 1 <= years <= MAX_YEARS:
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR, f"{what} period must be 1 to {MAX_YEARS} years"
        )
    return years


def _check_contacts(contacts: tuple[tuple[str, str], ...]) -> None:
    for ctype, _ in contacts:
        if ctype not in CONTACT_TYPES:
            raise EppError(Result.PARAMETER_VALUE_SYNTAX_ERROR, f"unknown contact type {ctype}")


def create(ctx: Context, cmd: DomainCreate, *, sole: bool = False) -> DomainCreated:
    """Create a domain.

    2005 bad name syntax; 2306 name not under a served TLD, or policy period/limits;
    2004 period out of range; 2201 registrar not accredited for the TLD;
    2302 name already registered, or reserved (reason "reserved: <why>") unless an
    allocation token (RFC 8495, `flows/tokens.py`) allows it;
    2201 an allocation token that is unknown, expired, used up or not valid for this
    registrar, TLD or name (`tokens.validate`; redeemed in this transaction, `tokens.redeem`);
    2303 a named contact or host does not exist;
    launch phases (RFC 8334, `launch.admit`): 2306 a phase that is not the TLD's active one,
    a TLD with phases none of which is active, a sunrise create without a signed mark, a
    claims-phase create of a claimed name without a valid claims notice; 2202 a signed mark
    that does not verify, is revoked, expired or does not cover the name; 2005 an unreadable
    signed mark or notice id; 2102 `<launch:codeMark>`;
    2104 the registrar's funds (balance plus credit limit) do not cover the create price;
    2004 a stated fee (RFC 8748) below the price or in another currency, or none for a
    premium name (`fees.agree`);
    DNSSEC data: 2306 or 2005 by `dnssec.check_create`, 2102 maxSigLife or key data.

    An empty authInfo leaves it unset (RFC 9154: no transfer until one is set); a given one
    is stored hashed, without a time to live.

    Charges `create` for the period (the premium price for a premium name, the registrar's
    override if it has one, less an allocation token's discount) in the same transaction; the
    result carries the ledger id.

    Round trips on PostgreSQL: one SELECT (`_CREATE_FACTS`), then, for a create with nothing
    to link to the new row (no nameservers, contacts, DS data or launch record), one
    statement for every write (`_CREATE_ALL`: domain, history, outbox, charge, ledger, add
    grace period); otherwise the domain INSERT and its links, then one statement for the
    rest (`_CREATE_TAIL`). SQLite runs the same writes one statement at a time.

    `sole`: the create is all its transaction does, begun by the caller with nothing run yet
    (an EPP command's). On PostgreSQL a create with nothing to link, no allocation token, fee
    or launch data then runs in autocommit (`store.db.autocommit`): the facts SELECT, then
    `_CREATE_ONE`, `_CREATE_ALL` committed as it runs, two round trips instead of four
    (BEGIN and COMMIT too). At READ COMMITTED a SELECT sees the same outside a transaction
    as in one before its first write, and it locks nothing. `_CREATE_ONE` undoes itself
    (`domreg_abort`) unless it inserted the domain, charged it and left the balance where
    no low-balance poll message is due; its writes are then made again in a transaction,
    as without `sole`, which answers 2302 or 2104 or queues the message.
    """
    conn = ctx.conn
    single = (
        sole
        and conn.dialect.name == "postgresql"
        and bool(ctx.actor.id)
        and _alone(cmd)
        and autocommit(conn)
    )
    try:
        return run_steps(conn, _create_steps(ctx, cmd, single))
    finally:
        if single:
            # Fails only on a broken connection, which `Database.write()` then drops.
            with contextlib.suppress(Exception):
                end_autocommit(conn)


def _alone(cmd: DomainCreate) -> bool:
    """A create whose writes can be one statement, with nothing to link or redeem: no
    nameservers, contacts, DNSSEC data, launch data, allocation token or fee."""
    return (
        not (cmd.ns or cmd.contacts)
        and cmd.dnssec is None
        and cmd.launch is None
        and cmd.allocation_token is None
        and cmd.fee is None
    )


#: A statement a flow's steps ask for: its `Query` and binds. The step is sent back the first
#: row (or None), or has the statement's exception thrown in (`run_steps`,
#: `flows/loopwrites.py`).
Step = tuple[Query, dict[str, Any]]


def run_steps(conn: Connection, steps: Generator[Step, Any, T]) -> T:
    """Run a flow's `steps` on `conn`, each statement through `Query.first`; their result."""
    try:
        query, params = next(steps)
        while True:
            try:
                row = query.first(conn, **params)
            except Exception as exc:
                query, params = steps.throw(exc)
            else:
                query, params = steps.send(row)
    except StopIteration as done:
        result: T = done.value
        return result


class Handoff(Exception):
    """`create_steps` without a connection reached what needs one (a premium price, a launch
    phase, a write to redo in a transaction): nothing is written; run the create with
    `create` instead."""


def create_steps(
    ctx: Context, cmd: DomainCreate, assumed: Any = None
) -> Generator[Step, Any, DomainCreated]:
    """`create` with `sole` as steps, for a driver without a connection (`ctx.conn` None)
    that runs each statement in autocommit (`flows/loopwrites.py`): the same checks in the
    same order, the same statements. Raises `Handoff`, having written nothing, where the
    create needs more than those two statements; immediately for a create that is not
    `_alone` or names a registrant.

    `assumed`: a `_CREATE_FACTS` row of an earlier create by this registrar in this TLD,
    with the name's own columns (`taken`, `reserved`, `premium`) None: no facts SELECT, one
    statement (`_CREATE_CHECKED`), which writes only if the database still says what the
    row says and nothing holds, reserves or prices the name (else `Handoff`). The checks
    made on the assumed row may raise EppErrors that the facts would not: the driver must
    take any error from these steps as a `Handoff`."""
    if not ctx.actor.id or not _alone(cmd) or cmd.registrant:
        raise Handoff
    return _create_steps(ctx, cmd, True, assumed)


def _create_steps(
    ctx: Context, cmd: DomainCreate, single: bool, assumed: Any = None
) -> Generator[Step, Any, DomainCreated]:
    """`create`'s work; `single`: in autocommit, as `create` says. Without a connection
    (`create_steps`), `Handoff` where one is needed; `assumed`: facts not read (see there)."""
    conn = ctx.conn
    dn = parse_or_raise(cmd.name, "domain name")
    label = dn.labels[0]
    if assumed is None:
        # One statement for what used to take nine: the TLD and its policy, accreditation,
        # a live holder, the reserved list, the price inputs and the launch phase.
        facts = yield (
            _CREATE_FACTS,
            {
                "tld": dn.parent(),
                "name": dn.name,
                "label": label,
                "registrar_id": ctx.actor.id,
                "now": ctx.now,
            },
        )
    elif assumed.name != dn.parent():
        raise Handoff  # assumed for another TLD
    else:
        facts = assumed
    if facts is None:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"{dn.name} is not directly under a TLD of this registry",
        )
    tld = Tld(
        facts.id,
        facts.name,
        facts.repository_id,
        facts.min_period_years,
        facts.max_period_years,
    )
    if facts.accredited is None:
        raise EppError(Result.AUTHORIZATION_ERROR, f"registrar is not accredited for .{tld.name}")
    years = _years(cmd.period, "registration")
    if not tld.min_period_years <= years <= tld.max_period_years:
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR,
            f".{tld.name} registers for {tld.min_period_years} to {tld.max_period_years} years",
        )
    if facts.taken is not None:
        raise EppError(Result.OBJECT_EXISTS, f"domain {dn.name} is already registered")
    token = (
        tokens.validate(conn, ctx.now, ctx.actor.id, tld.id, dn.name, cmd.allocation_token)
        if cmd.allocation_token is not None
        else None
    )
    if facts.reserved is not None and not (token is not None and token.allows_reserved):
        raise EppError(Result.OBJECT_EXISTS, f"reserved: {facts.reserved}")
    # RFC 8334 launch phases, from the TLD's phase now (read with the facts).
    active = launch.active_of(facts)
    if conn is None and active is not None and active.explicit:
        raise Handoff  # a claims lookup, or a launch record to write
    admitted = launch.admit(ctx, tld, label, cmd.launch, active)
    if len(set(cmd.ns)) > MAX_NAMESERVERS:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"at most {MAX_NAMESERVERS} nameservers"
        )
    _check_contacts(cmd.contacts)
    host_ids = host_ids_by_name(conn, list(cmd.ns))
    contact_ids = contact_ids_by_handle(conn, [h for _, h in cmd.contacts])
    registrant_id = require_contact(conn, cmd.registrant).id if cmd.registrant else None
    if cmd.dnssec is not None:
        dnssec_flow.check_create(conn, tld.id, cmd.dnssec)

    expires = add_months(ctx.now, 12 * years)
    domain_roid = f"D{secrets.token_hex(6).upper()}-{tld.repository_id}"
    if facts.premium is not None:  # premium prices and their classes: the general quote
        if conn is None:
            raise Handoff
        price = billing.quote(conn, ctx.actor.id, tld.id, label, "create", years)
    else:  # what `billing.quote` computes for a standard name, from the same rows
        unit = facts.override if facts.override is not None else facts.create_price
        price = billing.Price("create", int(unit * years), facts.currency, "standard")
    if token is not None:
        price = tokens.discounted(price, token)
    fees.agree(price, cmd.fee)
    row = {
        "roid": domain_roid,
        "name": dn.name,
        "tld_id": tld.id,
        "registrar_id": ctx.actor.id,
        "creator_id": ctx.actor.id,
        "created_at": ctx.now,
        "expires_at": expires,
        "registrant_id": registrant_id,
        "auth_info": hash_auth_info(cmd.auth_info),
        # The zone lines of the new delegation: its nameservers (stored names; a new domain
        # has no subordinate hosts, so no glue). DS data: refreshed once stored, below.
        "delegation": delegation.render(dn.name, host_ids) if cmd.dnssec is None else None,
    }
    if (
        (conn is None or conn.dialect.name == "postgresql")
        and ctx.actor.id
        and not (host_ids or cmd.contacts)
        and cmd.dnssec is None
        and admitted is None
    ):
        # Nothing to link to the new row: the domain INSERT and everything after it are one
        # statement (`_CREATE_ALL`), one round trip before COMMIT; in autocommit
        # (`_CREATE_ONE`), committed as it runs.
        state = _created_snapshot(ctx, dn.name, domain_roid, expires, [], cmd.registrant, ())
        params = _write_params(
            ctx, tld, dn.name, domain_roid, years, price, state, facts.add_grace_days, domain=row
        )
        if assumed is not None:  # what the facts would have said, checked as it writes
            params.update(
                label=label,
                repository_id=tld.repository_id,
                add_grace_days=facts.add_grace_days,
            )
        if single:
            try:
                done = yield (_CREATE_ONE if assumed is None else _CREATE_CHECKED), params
            except DBAPIError as exc:
                if not aborted(exc):
                    raise
                # It wrote nothing: a name registered since the facts, a refused charge, or
                # a low-balance message to queue with the rest. The writes in a transaction.
                if conn is None:
                    raise Handoff from None
                end_autocommit(conn)
                done = _CREATE_ALL.first(conn, **params)
        else:
            done = _CREATE_ALL.first(conn, **params)
        _, ledger_id = _written(ctx, dn.name, price, done, new_domain=True)
    else:
        if single:  # launch data to record: the writes are one transaction
            end_autocommit(conn)
        # ON CONFLICT on the live-name index: a session that registered the name between our
        # check and this insert makes it insert nothing (no savepoint needed to survive it).
        insert_live = _INSERT_DOMAIN_SQLITE if conn.dialect.name == "sqlite" else _INSERT_DOMAIN_PG
        domain_id = insert_live.scalar(conn, **row)
        if domain_id is None:
            # Another session registered the name between our check and our insert.
            raise EppError(Result.OBJECT_EXISTS, f"domain {dn.name} is already registered")
        if host_ids:
            conn.execute(
                insert(t.domain_hosts),
                [{"domain_id": domain_id, "host_id": h} for h in set(host_ids.values())],
            )
        links = {(ctype, contact_ids[h]) for ctype, h in cmd.contacts}
        if links:
            conn.execute(
                insert(t.domain_contacts),
                [{"domain_id": domain_id, "type": c, "contact_id": i} for c, i in links],
            )
        if cmd.dnssec is not None:
            dnssec_flow.store_create(conn, domain_id, cmd.dnssec)
            delegation.refresh(conn, [domain_id])
            state = snapshot(conn, domain_id)
        else:  # the state after the create, from what it wrote (`snapshot` without reading back)
            state = _created_snapshot(
                ctx, dn.name, domain_roid, expires, sorted(host_ids), cmd.registrant, cmd.contacts
            )
        if admitted is not None:
            launch.record(conn, domain_id, admitted)
        # The charge comes last: its UPDATE locks the registrar's row until COMMIT, and every
        # create of that registrar waits for it. 2104 rolls back everything written above.
        ledger_id = _record_and_charge(
            ctx,
            tld,
            dn.name,
            label,
            domain_id,
            domain_roid,
            years,
            price,
            state,
            facts.add_grace_days,
        )
    if token is not None:
        tokens.redeem(conn, ctx.now, token)
    charged = fees.charged(conn, ctx.actor.id, price, years) if cmd.fee else None
    return DomainCreated(dn.name, ctx.now, expires, ledger_id, charged)


def _record_and_charge(
    ctx: Context,
    tld: Tld,
    name: str,
    label: str,
    domain_id: int,
    roid_: str,
    years: int,
    price: billing.Price,
    state: dict[str, Any],
    add_grace_days: int,
) -> int:
    """The end of a create: history and outbox rows, the charge, the add grace period.

    Returns the ledger id. On SQLite (no round trips) `record`, `billing.charge` and
    `lifecycle.created` run one after another. On PostgreSQL the five writes are one
    statement (`_CREATE_TAIL`) instead of five round trips: the same rows, from the same
    binds (`record_params`), the ledger and grace rows only if the balance UPDATE moved
    (its row back says so); a 2104 then rolls back everything, as `billing.charge`'s does.
    The registrar's row is locked by that last statement until COMMIT.
    """
    conn = ctx.conn
    if conn.dialect.name != "postgresql" or not ctx.actor.id:
        record(
            ctx,
            object_type="domain",
            roid_=roid_,
            name=name,
            command="domain:create",
            snapshot=state,
            tld=tld.name,
        )
        ledger_id = billing.charge(
            ctx,
            registrar_id=ctx.actor.id,
            tld_id=tld.id,
            label=label,
            domain_name=name,
            roid=roid_,
            operation="create",
            years=years,
            price=price,
        )
        lifecycle.created(
            ctx, domain_id, ledger_id, registrar_id=ctx.actor.id, add_grace_days=add_grace_days
        )
        return ledger_id
    return _write_pg(ctx, tld, name, roid_, years, price, state, add_grace_days, domain_id)[1]


def _write_pg(
    ctx: Context,
    tld: Tld,
    name: str,
    roid_: str,
    years: int,
    price: billing.Price,
    state: dict[str, Any],
    add_grace_days: int,
    domain_id: int,
) -> tuple[int, int]:
    """The rest of a create's writes on PostgreSQL in one statement (`_CREATE_TAIL`), the
    domain row written; returns (domain id, ledger id), as `_written` checks them."""
    params = _write_params(
        ctx, tld, name, roid_, years, price, state, add_grace_days, domain_id=domain_id
    )
    return _written(ctx, name, price, _CREATE_TAIL.first(ctx.conn, **params), new_domain=False)


def _write_params(
    ctx: Context,
    tld: Tld,
    name: str,
    roid_: str,
    years: int,
    price: billing.Price,
    state: dict[str, Any],
    add_grace_days: int,
    *,
    domain_id: int | None = None,
    domain: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The binds of a create's write statement: `_CREATE_TAIL` with `domain_id` (the row is
    written), `_CREATE_ALL` or `_CREATE_ONE` with `domain` (the new row's values);
    `_CREATE_CHECKED` also needs the binds its caller adds (`label`, `repository_id`,
    `add_grace_days`)."""
    history, outbox = record_params(
        ctx,
        object_type="domain",
        roid_=roid_,
        name=name,
        command="domain:create",
        snapshot=state,
    )
    # One set of binds: the rows' shared columns (svtrid, roid, registrar...) have one value.
    params = {
        **history,
        **outbox,
        **(domain or {"domain_id": domain_id}),
        "tld": tld.name,
        "currency": price.currency,
        "amount": price.amount,
        "debit": -price.amount,
        "kind": "create",
        "tld_id": tld.id,
        "domain_name": name,
        "years": years,
        "grace_kind": lifecycle.ADD,
        "ends_at": ctx.now + timedelta(days=add_grace_days),
    }
    return params


def _written(
    ctx: Context, name: str, price: billing.Price, done: Any, *, new_domain: bool
) -> tuple[int, int]:
    """(domain id, ledger id) from a create's write statement's row `done`. With
    `new_domain` (it inserted the domain) no row means a concurrent create holds the name
    (2302), and nothing is charged. No charge back: 2104 (`billing.refuse`), and the
    transaction rolls back everything written. A charge that took the balance below the
    registrar's threshold queues the low-balance message (`billing.warn_low_balance`)."""
    if done is None and new_domain:
        # Another session registered the name between our check and our insert.
        raise EppError(Result.OBJECT_EXISTS, f"domain {name} is already registered")
    if done is None or done.ledger_id is None:
        billing.refuse(ctx.conn, ctx.actor.id, price, "create")
    billing.warn_low_balance(ctx, ctx.actor.id, price, done.balance, done.low_balance_threshold)
    return int(done.domain_id), int(done.ledger_id)


def _created_snapshot(
    ctx: Context,
    name: str,
    roid_: str,
    expires: datetime,
    ns: list[str],
    registrant: str | None,
    contacts: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    """What `snapshot` reads back right after a create without DS records: the same dict.

    The sponsor is the creating registrar (the actor's clID is the stored one: login reads
    it from the registrar row); host names and contact handles are the stored ones (they were
    looked up by them); contacts are distinct (type, handle) pairs in `snapshot`'s order.
    """
    return {
        "name": name,
        "roid": roid_,
        "sponsor": ctx.actor.clid,
        "statuses": st.domain_display(set(), bool(ns)),
        "registrant": registrant or None,
        "contacts": sorted(set(contacts)),
        "ns": ns,
        "created_at": ctx.now,
        "updated_at": None,
        "expires_at": expires,
        "transferred_at": None,
        "deleted_at": None,
        "ds": dnssec_flow.presentation([]),
    }


_tlds = t.tlds
#: Everything a create reads before it writes, in one statement: the TLD row (policy and
#: standard price), and as scalar subqueries on it whether the registrar is accredited, a
#: live domain holding the name, the label's reserved reason, whether it is premium, the
#: registrar's create price override, and the TLD's launch phase now
#: (`launch.phase_columns`). Each is one primary-key or index lookup.
_CREATE_FACTS = Query(
    select(
        _tlds.c.id,
        _tlds.c.name,
        _tlds.c.repository_id,
        _tlds.c.min_period_years,
        _tlds.c.max_period_years,
        _tlds.c.currency,
        _tlds.c.create_price,
        _tlds.c.add_grace_days,
        select(t.registrar_tlds.c.tld_id)
        .where(
            t.registrar_tlds.c.registrar_id == bindparam("registrar_id"),
            t.registrar_tlds.c.tld_id == _tlds.c.id,
        )
        .scalar_subquery()
        .label("accredited"),
        select(t.domains.c.id)
        .where(t.domains.c.name == bindparam("name"), t.domains.c.deleted_at.is_(None))
        .scalar_subquery()
        .label("taken"),
        select(t.reserved_names.c.reason)
        .where(
            t.reserved_names.c.tld_id == _tlds.c.id,
            t.reserved_names.c.label == bindparam("label"),
        )
        .scalar_subquery()
        .label("reserved"),
        select(t.premium_names.c.label)
        .where(
            t.premium_names.c.tld_id == _tlds.c.id,
            t.premium_names.c.label == bindparam("label"),
        )
        .scalar_subquery()
        .label("premium"),
        select(t.registrar_prices.c.price)
        .where(
            t.registrar_prices.c.registrar_id == bindparam("registrar_id"),
            t.registrar_prices.c.tld_id == _tlds.c.id,
            t.registrar_prices.c.operation == "create",
        )
        .scalar_subquery()
        .label("override"),
        *launch.phase_columns(_tlds.c.id, bindparam("now", type_=t.tld_phases.c.starts_at.type)),
    ).where(_tlds.c.name == bindparam("tld"))
)

_DOMAIN_COLUMNS = (
    "roid",
    "name",
    "tld_id",
    "registrar_id",
    "creator_id",
    "created_at",
    "expires_at",
    "registrant_id",
    "auth_info",
    "delegation",
)


def _live_domain_insert(insert_: Any) -> Any:
    """INSERT of a new domain that inserts nothing if a live domain holds the name."""
    return (
        insert_(t.domains)
        .values({c: bindparam(c) for c in _DOMAIN_COLUMNS})
        .on_conflict_do_nothing(
            index_elements=["name"], index_where=t.domains.c.deleted_at.is_(None)
        )
        .returning(t.domains.c.id)
    )


_INSERT_DOMAIN_SQLITE = Query(_live_domain_insert(sqlite_insert))
_INSERT_DOMAIN_PG = Query(_live_domain_insert(pg_insert))


def _create_writes(with_domain: bool, alone: bool = False, assumed: bool = False) -> Query:
    """`_write_pg`'s statement: data-modifying CTEs, one round trip.

    The history and outbox INSERTs (`record`'s statements), the charge's conditional UPDATE
    (`billing.CHARGE_UPDATE`), the ledger INSERT from its row and the add grace period's
    INSERT from the ledger row's id: no ledger or grace row unless the UPDATE moved. With
    `with_domain`, the domain INSERT (`_live_domain_insert`) comes first and the UPDATE
    runs only if it inserted (EXISTS on its RETURNING): no row back, the name was taken;
    otherwise the grace row gets the new domain's id, and the row carries it. Without, the
    domain id is a bind, and no row back means the UPDATE moved nothing (2104).

    `alone` (with `with_domain`; run in autocommit, it is its own transaction): always one
    row, whose ledger id is `domreg_abort`'s error, undoing every write, unless the domain
    was inserted and charged and the balance after it is not one that `billing.
    warn_low_balance` queues a message for (below the threshold, which it was not before).

    `assumed` (with `alone`): the binds were computed from facts assumed, not read
    (`create_steps`): it also undoes itself unless the TLD row (`tld_id`, named `tld`) still
    has the `repository_id`, `currency`, `add_grace_days` and period range they were made
    from, the registrar is accredited for it, the create price (the registrar's override or
    the TLD's) times `years` is still `amount`, the TLD has no launch phases, and the
    `label` is neither reserved nor premium: what `_CREATE_FACTS` would have said for the
    create to be written as it is. A name held by a live domain inserts nothing (ON CONFLICT)
    and undoes it as well. Its reads see the database as the statement began."""
    charge = billing.CHARGE_UPDATE
    if with_domain:
        created = _live_domain_insert(pg_insert).cte("created")
        charge = charge.where(exists(select(created.c.id)))
        domain_id: Any = created.c.id
    else:
        domain_id = bindparam("domain_id", type_=t.grace_periods.c.domain_id.type)
    moved = charge.cte("moved")
    led, gp = t.ledger, t.grace_periods
    ledger_binds = {
        "registrar_id": "registrar_id",
        "at": "at",
        "kind": "kind",
        "amount": "debit",
        "currency": "currency",
        "tld_id": "tld_id",
        "domain_name": "domain_name",
        "roid": "roid",
        "years": "years",
        "svtrid": "svtrid",
    }
    charged = (
        insert(led)
        .from_select(
            list(ledger_binds),
            select(
                *(bindparam(b, type_=led.c[c].type) for c, b in ledger_binds.items())
            ).select_from(moved),
        )
        .returning(led.c.id)
        .cte("charged")
    )
    grace_binds = {
        "kind": "grace_kind",
        "starts_at": "at",
        "ends_at": "ends_at",
        "registrar_id": "registrar_id",
    }
    grace = (
        insert(gp)
        .from_select(
            ["domain_id", *grace_binds, "ledger_id"],
            select(
                domain_id,
                *(bindparam(b, type_=gp.c[c].type) for c, b in grace_binds.items()),
                charged.c.id,
            ),
        )
        .cte("grace")
    )
    ctes = (HISTORY_INSERT.cte("history_row"), OUTBOX_INSERT.cte("outbox_row"), grace)
    paid = (moved.c.balance, moved.c.low_balance_threshold, charged.c.id.label("ledger_id"))
    if not with_domain:
        return Query(
            select(domain_id.label("domain_id"), *paid)
            .select_from(moved.join(charged, true()))
            .add_cte(*ctes)
        )
    if alone:
        after, threshold = moved.c.balance, moved.c.low_balance_threshold
        low = and_(
            threshold.is_not(None),
            after < threshold,
            threshold <= after + bindparam("amount", type_=after.type),
        )
        committed = and_(charged.c.id.is_not(None), not_(low))
        if assumed:
            committed = and_(committed, _as_assumed())
        one = select(literal_column("1").label("one")).subquery("one")
        return Query(
            select(
                created.c.id.label("domain_id"),
                after,
                threshold,
                case(
                    (committed, charged.c.id),
                    else_=func.domreg_abort(
                        "create needs its transaction", type_=charged.c.id.type
                    ),
                ).label("ledger_id"),
            )
            .select_from(
                one.outerjoin(created, true()).outerjoin(moved.join(charged, true()), true())
            )
            .add_cte(*ctes)
        )
    return Query(
        select(created.c.id.label("domain_id"), *paid)
        .select_from(created.outerjoin(moved.join(charged, true()), true()))
        .add_cte(*ctes)
    )


def _as_assumed() -> Any:
    """`_create_writes`'s check of `assumed` facts (see there)."""
    tl, rp = t.tlds, t.registrar_prices
    label = bindparam("label", type_=t.reserved_names.c.label.type)
    years = bindparam("years", type_=tl.c.min_period_years.type)
    override = (
        select(rp.c.price)
        .where(
            rp.c.registrar_id == bindparam("registrar_id"),
            rp.c.tld_id == tl.c.id,
            rp.c.operation == "create",
        )
        .scalar_subquery()
    )
    return exists(
        select(tl.c.id).where(
            tl.c.id == bindparam("tld_id"),
            tl.c.name == bindparam("tld"),
            tl.c.repository_id == bindparam("repository_id"),
            tl.c.currency == bindparam("currency"),
            tl.c.add_grace_days == bindparam("add_grace_days"),
            tl.c.min_period_years <= years,
            tl.c.max_period_years >= years,
            func.coalesce(override, tl.c.create_price) * years
            == bindparam("amount", type_=tl.c.create_price.type),
            exists(
                select(t.registrar_tlds.c.tld_id).where(
                    t.registrar_tlds.c.registrar_id == bindparam("registrar_id"),
                    t.registrar_tlds.c.tld_id == tl.c.id,
                )
            ),
            ~exists(
                select(t.reserved_names.c.label).where(
                    t.reserved_names.c.tld_id == tl.c.id, t.reserved_names.c.label == label
                )
            ),
            ~exists(
                select(t.premium_names.c.label).where(
                    t.premium_names.c.tld_id == tl.c.id, t.premium_names.c.label == label
                )
            ),
            ~exists(select(t.tld_phases.c.tld_id).where(t.tld_phases.c.tld_id == tl.c.id)),
        )
    )


_CREATE_TAIL = _create_writes(with_domain=False)
_CREATE_ALL = _create_writes(with_domain=True)
_CREATE_ONE = _create_writes(with_domain=True, alone=True)
_CREATE_CHECKED = _create_writes(with_domain=True, alone=True, assumed=True)
#: The facts statement, for a driver of `create_steps` that keeps its rows (`assumed`).
CREATE_FACTS = _CREATE_FACTS


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

    _check_contacts(cmd.add_contacts + cmd.rem_contacts)
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
    years = _years(cmd.period, "renewal")
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
    years = _years(cmd.period, "transfer")
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
