"""The domain:create flow (RFC 5731): its checks, pricing and charging, and its writes.

`create` checks a create (the TLD and its period policy, accreditation, a live holder, the
reserved list and an allocation token, the launch phase, nameservers, contacts, DNSSEC
data), prices it (the standard or premium price, the registrar's override, a token's
discount, a stated fee) and writes it in its transaction: the domain and its links, the
history and outbox rows, the charge and its ledger row, the add grace period. What it checks
about the TLD and the name is read in one statement (`CREATE_FACTS`). On PostgreSQL the
writes are one statement too, or the domain and its links then one (data-modifying CTEs:
`_CREATE_ALL`, `_CREATE_TAIL`; in autocommit `_CREATE_ONE`, which undoes itself through
`domreg_abort` unless it may stand); SQLite runs them one statement at a time.

The create is written as steps (`Step`): the statements it asks for are yielded to a driver
that runs them, a connection (`run_steps`, `create`) or the event loop (`create_steps`, run
by `flows/loopwrites.py`: `Handoff` where the create needs a transaction of its own; on facts
kept from an earlier create, `_CREATE_CHECKED`). The command and result types
(`DomainCreate`, `DomainCreated`) and what the create shares with the other domain flows
(`period_years`, `check_contacts`, `snapshot`) are in `flows/domain.py`, which does not
import this module.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    not_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from domreg.dns import delegation
from domreg.flows import billing, fees, launch, lifecycle, tokens
from domreg.flows import dnssec as dnssec_flow
from domreg.flows.base import (
    HISTORY_INSERT,
    OUTBOX_INSERT,
    Context,
    hash_auth_info,
    record,
    record_params,
)
from domreg.flows.domain import (
    MAX_NAMESERVERS,
    DomainCreate,
    DomainCreated,
    check_contacts,
    period_years,
    reserved_column,
    snapshot,
    taken_column,
)
from domreg.flows.lookup import (
    Tld,
    contact_ids_by_handle,
    host_ids_by_name,
    parse_or_raise,
    require_contact,
)
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.periods import add_months
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query, aborted, autocommit, end_autocommit

T = TypeVar("T")


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
    years = period_years(cmd.period, "registration")
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
    check_contacts(cmd.contacts)
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
        taken_column(),
        reserved_column(),
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
