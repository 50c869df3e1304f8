"""Prepaid registrar billing: prices, charges and refunds written to the immutable ledger.

Every movement of money is one `ledger` row (negative amounts are charges, positive ones
credits) written in the same transaction as the command that caused it; `registrars.balance`
is kept equal to the sum of the registrar's rows. A charge that would take the balance below
minus the credit limit fails with 2104 and, the transaction being rolled back, changes nothing.
Row kinds: create, renew, autorenew, transfer, restore (charges), refund (the reversal of one
charge, at most once), topup and adjustment (operator credits and corrections). A charge that
crosses the registrar's low-balance threshold queues a "low_balance" poll message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn, cast

from sqlalchemy import Connection, Update, bindparam, insert, select, update

from domreg.flows.base import Context, enqueue_poll
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query

#: Operations with a price.
OPERATIONS = ("create", "renew", "transfer", "restore")


@dataclass(frozen=True, slots=True)
class Price:
    """What one operation on one name costs one registrar, in minor units of `currency`."""

    operation: str
    amount: int  # for the whole operation (all years)
    currency: str
    price_class: str  # "standard" or the premium class


def quote(
    conn: Connection, registrar_id: int, tld_id: int, label: str, operation: str, years: int = 1
) -> Price:
    """The price of `operation` on `label` under the TLD for `years` (restore: one fee)."""
    tld = conn.execute(select(t.tlds).where(t.tlds.c.id == tld_id)).one()
    premium = conn.execute(
        select(t.premium_names).where(
            t.premium_names.c.tld_id == tld_id, t.premium_names.c.label == label
        )
    ).first()
    if premium is not None:
        unit = getattr(premium, f"{operation}_price")
        price_class = premium.price_class
    else:
        override = conn.execute(
            select(t.registrar_prices.c.price).where(
                t.registrar_prices.c.registrar_id == registrar_id,
                t.registrar_prices.c.tld_id == tld_id,
                t.registrar_prices.c.operation == operation,
            )
        ).scalar_one_or_none()
        unit = override if override is not None else getattr(tld, f"{operation}_price")
        price_class = "standard"
    amount = unit if operation == "restore" else unit * years
    return Price(operation, int(amount), tld.currency, price_class)


def _insert(conn: Connection, **row: object) -> int:
    """Write one ledger row (rows are never updated or deleted); returns its id."""
    return int(conn.execute(insert(t.ledger).values(**row).returning(t.ledger.c.id)).scalar_one())


def _post(
    conn: Connection,
    *,
    registrar_id: int,
    at: object,
    kind: str,
    amount: int,
    currency: str,
    tld_id: int | None = None,
    domain_name: str | None = None,
    roid: str | None = None,
    years: int | None = None,
    svtrid: str | None = None,
    refund_of: int | None = None,
    description: str | None = None,
) -> int:
    """Write one ledger row and move the cached balance by the same amount."""
    ledger_id = _insert(
        conn,
        registrar_id=registrar_id,
        at=at,
        kind=kind,
        amount=amount,
        currency=currency,
        tld_id=tld_id,
        domain_name=domain_name,
        roid=roid,
        years=years,
        svtrid=svtrid,
        refund_of=refund_of,
        description=description,
    )
    conn.execute(
        update(t.registrars)
        .where(t.registrars.c.id == registrar_id)
        .values(balance=t.registrars.c.balance + amount)
    )
    return ledger_id


def require_funds(conn: Connection, registrar_id: int, price: Price) -> None:
    """2104 unless the registrar could pay `price` now: its account is in the price's currency
    and its balance plus credit limit covers the amount."""
    reg = t.registrars
    current = conn.execute(
        select(reg.c.balance, reg.c.credit_limit, reg.c.currency).where(reg.c.id == registrar_id)
    ).one()
    if current.currency != price.currency:
        raise EppError(
            Result.BILLING_FAILURE,
            f"the registrar's account is in {current.currency}; "
            f"{price.operation} is priced in {price.currency}",
        )
    available = current.balance + current.credit_limit
    if available < price.amount:
        raise EppError(
            Result.BILLING_FAILURE,
            f"insufficient funds: {price.operation} costs {price.amount / 100:.2f} "
            f"{price.currency}, available {available / 100:.2f}",
        )


# The statements of every charge, run through `Query` (see `store/db.py`).
_reg = t.registrars
_CHARGE = Query(
    update(_reg)
    .where(
        _reg.c.id == bindparam("registrar_id"),
        _reg.c.currency == bindparam("currency"),
        _reg.c.balance + _reg.c.credit_limit >= bindparam("amount"),
    )
    .values(balance=_reg.c.balance - bindparam("amount"))
    .returning(_reg.c.balance, _reg.c.low_balance_threshold)
)
#: The charge's conditional UPDATE, for a caller that composes it into one statement with
#: what follows it (`domain_create.create` on PostgreSQL).
CHARGE_UPDATE = cast(Update, _CHARGE.statement)
_LEDGER = Query(
    insert(t.ledger)
    .values(
        {
            c: bindparam(c)
            for c in (
                "registrar_id",
                "at",
                "kind",
                "amount",
                "currency",
                "tld_id",
                "domain_name",
                "roid",
                "years",
                "svtrid",
                "refund_of",
                "description",
            )
        }
    )
    .returning(t.ledger.c.id)
)


def charge(
    ctx: Context,
    *,
    registrar_id: int,
    tld_id: int,
    label: str,
    domain_name: str,
    roid: str | None,
    operation: str,
    years: int = 1,
    kind: str | None = None,
    price: Price | None = None,
) -> int:
    """Charge a registrar for an operation; returns the ledger row id (kept to refund it).

    2104 if the balance plus the credit limit does not cover the price, or the registrar's
    account is not in the TLD's currency. The balance moves in one conditional UPDATE, so
    concurrent charges can never take it below minus the credit limit. A charge that takes the
    balance from at or above the registrar's low-balance threshold to below it queues a
    "low_balance" poll message (amounts in minor units).
    """
    conn = ctx.conn
    price = price or quote(conn, registrar_id, tld_id, label, operation, years)
    moved = _CHARGE.first(
        conn, registrar_id=registrar_id, currency=price.currency, amount=price.amount
    )
    if moved is None:
        refuse(conn, registrar_id, price, operation)
    ledger_id = _LEDGER.scalar(
        conn,
        registrar_id=registrar_id,
        at=ctx.now,
        kind=kind or operation,
        amount=-price.amount,
        currency=price.currency,
        tld_id=tld_id,
        domain_name=domain_name,
        roid=roid,
        years=years if operation != "restore" else None,
        svtrid=ctx.svtrid,
        refund_of=None,
        description=None,
    )
    warn_low_balance(ctx, registrar_id, price, moved.balance, moved.low_balance_threshold)
    return ledger_id


def refuse(conn: Connection, registrar_id: int, price: Price, operation: str) -> NoReturn:
    """2104 for a charge whose conditional UPDATE moved no balance, saying why."""
    require_funds(conn, registrar_id, price)  # raises 2104 saying why
    raise EppError(Result.BILLING_FAILURE, f"{operation} could not be charged")


def warn_low_balance(
    ctx: Context, registrar_id: int, price: Price, balance: int, threshold: int | None
) -> None:
    """After a charge of `price` left `balance`: the "low_balance" poll message if the charge
    took the balance from at or above the registrar's `threshold` to below it."""
    after = int(balance)
    if threshold is not None and after < threshold <= after + price.amount:
        enqueue_poll(
            ctx,
            registrar_id,
            "low_balance",
            "Low balance",
            {"balance": after, "threshold": int(threshold), "currency": price.currency},
        )


def charge_id(ctx: Context, roid: str, kind: str) -> int | None:
    """The ledger id of the `kind` charge this command (its svTRID) made for object `roid`.

    How callers that only get a flow's usual result (a completed transfer) find its charge.
    """
    found = ctx.conn.execute(
        select(t.ledger.c.id)
        .where(
            t.ledger.c.svtrid == ctx.svtrid,
            t.ledger.c.roid == roid,
            t.ledger.c.kind == kind,
            t.ledger.c.amount <= 0,
        )
        .order_by(t.ledger.c.id.desc())
    ).first()
    return None if found is None else int(found.id)


def refund(ctx: Context, ledger_id: int, description: str) -> int | None:
    """Reverse a charge in full (once); returns the refund's ledger id, None if already refunded."""
    conn = ctx.conn
    # Locking the charge's row (PostgreSQL; SQLite writers are serial) makes concurrent refunds
    # of one charge queue, so only the first passes the "already refunded" check.
    original = conn.execute(
        select(t.ledger).where(t.ledger.c.id == ledger_id).with_for_update()
    ).one()
    already = conn.execute(select(t.ledger.c.id).where(t.ledger.c.refund_of == ledger_id)).first()
    if already is not None or original.amount >= 0:
        return None
    return _post(
        conn,
        registrar_id=original.registrar_id,
        at=ctx.now,
        kind="refund",
        amount=-original.amount,
        currency=original.currency,
        tld_id=original.tld_id,
        domain_name=original.domain_name,
        roid=original.roid,
        years=original.years,
        svtrid=ctx.svtrid,
        refund_of=ledger_id,
        description=description,
    )


def top_up(
    conn: Connection, now: object, registrar_id: int, amount: int, description: str = "top-up"
) -> int:
    """Credit (or, with a negative amount, debit) a registrar outside any EPP command."""
    currency = conn.execute(
        select(t.registrars.c.currency).where(t.registrars.c.id == registrar_id)
    ).scalar_one()
    kind = "topup" if amount >= 0 else "adjustment"
    return _post(
        conn,
        registrar_id=registrar_id,
        at=now,
        kind=kind,
        amount=amount,
        currency=currency,
        description=description,
    )


def adjust(
    conn: Connection, now: object, registrar_id: int, amount: int, reason: str
) -> int | None:
    """An operator's correction: one "adjustment" row of `amount` (either sign) with its reason.

    Returns the row id, or None (and writes nothing) if a debit would take the balance below
    minus the credit limit; a credit is always accepted.
    """
    reg = t.registrars
    where = [reg.c.id == registrar_id]
    if amount < 0:
        where.append(reg.c.balance + reg.c.credit_limit + amount >= 0)
    moved = conn.execute(
        update(reg).where(*where).values(balance=reg.c.balance + amount).returning(reg.c.currency)
    ).first()
    if moved is None:
        return None
    return _insert(
        conn,
        registrar_id=registrar_id,
        at=now,
        kind="adjustment",
        amount=amount,
        currency=moved.currency,
        description=reason,
    )
