"""Fees (RFC 8748) as typed data: what a client states it agrees to pay, the fee agreement
check, what a command charged, and the fee check of names.

Policy (RFC 8748 section 3.8 leaves it to the server):
- A transform (create, renew, transfer request, restore) whose client states a fee
  (`<fee:create><fee:fee>` ...) is refused with 2004 if the stated total is lower than the
  price, or in another currency than the price's; a higher stated fee is accepted and the
  real price charged.
- A premium name (any price class but "standard") needs a stated fee: without one the
  create, renew, transfer or restore is refused with 2004, so no registrar pays a premium
  price it did not see.
- The refusal happens before anything is written, so nothing changes.
- Answers carry the fee charged (`Charged`, for `<fee:creData>` ...) only when the command
  stated a fee: a client that never uses the fee extension gets no fee data (which RFC 9038
  would otherwise move into `<extValue>` of every create).

Amounts are integer minor units (two decimals on the wire).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, select

from domreg.flows import billing
from domreg.flows.base import Context
from domreg.flows.lookup import tld_for
from domreg.model.errors import EppError
from domreg.model.names import NameError_, parse_name
from domreg.model.results import Result
from domreg.store import schema as t

STANDARD = "standard"
#: Commands with a fee, as `<fee:command name="...">`.
PRICED = ("create", "renew", "transfer", "restore")


@dataclass(frozen=True, slots=True)
class FeeStatement:
    """The fee a client agrees to pay for a transform: the sum of its `<fee:fee>` elements
    (minor units) and its `<fee:currency>`, if given."""

    amount: int
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Charged:
    """What a transform costs: the price (charged now, or on completion for a transfer),
    and the registrar's balance and credit limit after the command (minor units)."""

    operation: str
    amount: int
    currency: str
    price_class: str
    years: int | None
    balance: int
    credit_limit: int


@dataclass(frozen=True, slots=True)
class FeeQuery:
    """One `<fee:command>` of a fee check: the command and its period in years (None: the
    default, one year; restore has none)."""

    command: str
    years: int | None = None
    unit: str = "y"
    period: int | None = None  # as given (months or years), to echo back


@dataclass(frozen=True, slots=True)
class FeeCheck:
    """A fee check (`<fee:check>`): the currency asked for and the commands to price."""

    currency: str | None
    commands: tuple[FeeQuery, ...]


@dataclass(frozen=True, slots=True)
class FeeCommand:
    """The fee of one command for one name; `amount` None with a `reason` when not priced."""

    command: str
    period: int | None
    unit: str
    amount: int | None
    standard: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FeeItem:
    """One name of a fee check (`<fee:cd>`)."""

    name: str
    avail: bool
    price_class: str | None
    commands: tuple[FeeCommand, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FeeCheckResult:
    currency: str
    items: tuple[FeeItem, ...]


def decimal(minor: int) -> str:
    """1250 -> "12.50" (the wire form of an amount)."""
    return str(Decimal(minor).scaleb(-2))


def minor_units(text: str) -> int:
    """ "12.5" -> 1250; 2004 for more than two decimals (the schema checked the syntax)."""
    value = Decimal(text.strip()) * 100
    if value != value.to_integral_value():
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR, f"fee {text.strip()} has more than two decimals"
        )
    return int(value)


def agree(price: billing.Price, stated: FeeStatement | None) -> None:
    """The fee agreement check (module docstring): 2004 unless the client may be charged."""
    shown = f"{decimal(price.amount)} {price.currency}"
    if stated is None:
        if price.price_class != STANDARD:
            raise EppError(
                Result.PARAMETER_VALUE_RANGE_ERROR,
                f"{price.operation} of a {price.price_class} name costs {shown}: "
                "state the fee with the fee extension (RFC 8748)",
            )
        return
    if stated.currency is not None and stated.currency != price.currency:
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR,
            f"{price.operation} is priced in {price.currency}, not {stated.currency}",
        )
    if stated.amount < price.amount:
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR,
            f"{price.operation} costs {shown}; the stated fee is {decimal(stated.amount)}",
        )


def charged(
    conn: Connection, registrar_id: int, price: billing.Price, years: int | None
) -> Charged:
    """The `Charged` of a price, with the registrar's balance as it is now."""
    reg = conn.execute(
        select(t.registrars.c.balance, t.registrars.c.credit_limit).where(
            t.registrars.c.id == registrar_id
        )
    ).one()
    return Charged(
        operation=price.operation,
        amount=price.amount,
        currency=price.currency,
        price_class=price.price_class,
        years=years,
        balance=int(reg.balance),
        credit_limit=int(reg.credit_limit),
    )


def price_of_charge(conn: Connection, ledger_id: int, price_class: str) -> billing.Price:
    """The price a ledger charge took (its amount is negative)."""
    row = conn.execute(select(t.ledger).where(t.ledger.c.id == ledger_id)).one()
    return billing.Price(row.kind, -int(row.amount), row.currency, price_class)


def _account_currency(conn: Connection, registrar_id: int) -> str:
    return str(
        conn.execute(
            select(t.registrars.c.currency).where(t.registrars.c.id == registrar_id)
        ).scalar_one()
    )


def check(ctx: Context, names: list[str], request: FeeCheck) -> FeeCheckResult:
    """The fee of each asked command for each name (`<fee:chkData>`), in the registrar's
    account currency (its prices and overrides; premium prices for premium names).

    2004 a currency other than the registrar's account currency. A name that is invalid or
    not under a served TLD, or a TLD priced in another currency, is `avail` false with a
    reason; a command without a fee here (delete, update, custom) is answered without a fee
    (free); a period that is not whole years 1 to 10 (for create: the TLD's registration
    periods) is answered without a fee, with a reason, and makes the name `avail` false
    (RFC 8748 section 3.9).
    """
    conn = ctx.conn
    currency = _account_currency(conn, ctx.actor.id)
    if request.currency is not None and request.currency != currency:
        raise EppError(
            Result.PARAMETER_VALUE_RANGE_ERROR,
            f"fees are quoted in {currency}, the registrar's account currency, "
            f"not {request.currency}",
        )
    items: list[FeeItem] = []
    for raw in names:
        try:
            dn = parse_name(raw)
        except NameError_:
            items.append(FeeItem(raw, False, None, (), "Invalid domain name syntax"))
            continue
        tld = tld_for(conn, dn)
        if tld is None:
            items.append(FeeItem(raw, False, None, (), "Not under a TLD served here"))
            continue
        label = dn.labels[0]
        first = billing.quote(conn, ctx.actor.id, tld.id, label, "create")
        if first.currency != currency:
            items.append(FeeItem(raw, False, None, (), f"Priced in {first.currency}"))
            continue
        commands: list[FeeCommand] = []
        price_class = first.price_class
        for q in request.commands:
            period = None if q.command == "restore" else (q.period or 1)
            if q.command not in PRICED:  # free here: no <fee:fee> (RFC 8748 section 5.1.1)
                commands.append(FeeCommand(q.command, None, q.unit, None, False))
                continue
            years = 1 if q.command == "restore" or q.period is None else q.years
            low, high = (
                (tld.min_period_years, tld.max_period_years) if q.command == "create" else (1, 10)
            )
            if years is None or not low <= years <= high:
                span = f"{low}" if low == high else f"{low} to {high}"
                what = "registration" if q.command == "create" else q.command
                why = f"Only {span} year {what} periods are valid."
                commands.append(FeeCommand(q.command, period, q.unit, None, False, why))
                continue
            price = billing.quote(conn, ctx.actor.id, tld.id, label, q.command, years)
            commands.append(
                FeeCommand(q.command, period, q.unit, price.amount, price.price_class == STANDARD)
            )
        # RFC 8748 section 3.9: a command that cannot be priced makes the object unavailable.
        avail = all(c.reason is None for c in commands)
        items.append(FeeItem(raw, avail, price_class, tuple(commands)))
    return FeeCheckResult(currency, tuple(items))
