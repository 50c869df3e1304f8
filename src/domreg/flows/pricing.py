"""Operator billing flows: TLD prices, per-registrar price overrides, reserved and premium name
lists, credit limits and low-balance thresholds, adjustments, and monthly ledger statements.

Pure functions over a connection, used by `domreg` (cli/billing.py) and, later, the
administration console; refusals raise `RegistryError` with a one-line reason. The domain
flows read the reserved list through `reserved_reasons`. Money is integer minor units.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, bindparam, delete, func, insert, select, tuple_, update

from domreg.flows import billing
from domreg.flows.registry import RegistryError
from domreg.model.names import NameError_, check_label, to_ascii
from domreg.store import schema as t
from domreg.store.db import Query

#: The largest amount an operator may set or post (minor units): ten billion units.
MAX_AMOUNT = 10**12
MAX_REASON = 255
MAX_CLASS = 32


# ---------------------------------------------------------------- shared parsing


def parse_amount(text: str, *, negative: bool = False) -> int:
    """'12.50' -> 1250 minor units; at most two decimals; negative only if allowed."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise RegistryError(f"invalid amount {text!r}") from None
    if not value.is_finite():
        raise RegistryError(f"invalid amount {text!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise RegistryError(f"amount {text} has more than two decimals")
    if cents < 0 and not negative:
        raise RegistryError(f"amount {text} is negative")
    if abs(cents) > MAX_AMOUNT:
        raise RegistryError(f"amount {text} is larger than {MAX_AMOUNT // 100}")
    return int(cents)


def format_amount(minor: int) -> str:
    """1250 -> '12.50', -5 -> '-0.05': exact, always two decimals."""
    return str(Decimal(minor).scaleb(-2))


def parse_label(text: str) -> str:
    """One label as stored: lower-case A-label (a U-label is converted)."""
    raw = text.strip()
    if "." in raw.strip("."):
        raise RegistryError(f"{raw!r} is not a single label")
    try:
        label = to_ascii(raw.strip("."))
        check_label(label)
    except NameError_ as exc:
        raise RegistryError(f"invalid label {raw!r}: {exc}") from None
    return label


def _operation(operation: str) -> str:
    op = operation.strip().lower()
    if op not in billing.OPERATIONS:
        raise RegistryError(
            f"unknown operation {operation!r}: one of {', '.join(billing.OPERATIONS)}"
        )
    return op


def _tld(conn: Connection, name: str) -> int:
    row = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == name.lower().strip("."))).first()
    if row is None:
        raise RegistryError(f"TLD {name} does not exist")
    return int(row.id)


def _registrar(conn: Connection, clid: str) -> int:
    row = conn.execute(select(t.registrars.c.id).where(t.registrars.c.clid == clid)).first()
    if row is None:
        raise RegistryError(f"registrar {clid} does not exist")
    return int(row.id)


def _check_amount(amount: int, what: str) -> None:
    if not 0 <= amount <= MAX_AMOUNT:
        raise RegistryError(f"{what} must be between 0 and {MAX_AMOUNT // 100}")


# ---------------------------------------------------------------- prices


def set_tld_price(conn: Connection, tld: str, operation: str, amount: int) -> None:
    """The TLD's standard price of `operation` (per year; restore: one fee)."""
    op = _operation(operation)
    _check_amount(amount, "a price")
    tld_id = _tld(conn, tld)
    conn.execute(update(t.tlds).where(t.tlds.c.id == tld_id).values({f"{op}_price": amount}))


def set_registrar_price(
    conn: Connection, clid: str, tld: str, operation: str, amount: int | None
) -> None:
    """One registrar's own price of `operation` under a TLD; None removes the override."""
    op = _operation(operation)
    registrar_id = _registrar(conn, clid)
    tld_id = _tld(conn, tld)
    rp = t.registrar_prices
    conn.execute(
        delete(rp).where(
            rp.c.registrar_id == registrar_id, rp.c.tld_id == tld_id, rp.c.operation == op
        )
    )
    if amount is not None:
        _check_amount(amount, "a price")
        conn.execute(
            insert(rp).values(registrar_id=registrar_id, tld_id=tld_id, operation=op, price=amount)
        )


# ---------------------------------------------------------------- reserved and premium names


@dataclass(frozen=True, slots=True)
class Reserved:
    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class Premium:
    label: str
    price_class: str
    create: int
    renew: int
    transfer: int
    restore: int


def _rows(text: str, header: list[str]) -> Iterable[tuple[int, list[str]]]:
    """CSV rows with their line numbers; blank rows and a leading header row are skipped."""
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if reader.line_num == 1 and [c.lower() for c in cells] == header:
            continue
        if len(cells) != len(header):
            raise RegistryError(
                f"line {reader.line_num}: expected {len(header)} fields ({','.join(header)}), "
                f"got {len(cells)}"
            )
        yield reader.line_num, cells


def _unique(labels: list[tuple[int, str]]) -> None:
    seen: dict[str, int] = {}
    for line, label in labels:
        if label in seen:
            raise RegistryError(f"line {line}: {label} is already on line {seen[label]}")
        seen[label] = line


def parse_reserved(text: str) -> list[Reserved]:
    """A reserved list as CSV: `label,reason` per line (an optional header line)."""
    entries: list[tuple[int, Reserved]] = []
    try:
        for line, (label, reason) in _rows(text, ["label", "reason"]):
            try:
                parsed = parse_label(label)
            except RegistryError as exc:
                raise RegistryError(f"line {line}: {exc}") from None
            if not reason or len(reason) > MAX_REASON:
                raise RegistryError(f"line {line}: the reason must be 1 to {MAX_REASON} characters")
            entries.append((line, Reserved(parsed, reason)))
    except csv.Error as exc:
        raise RegistryError(f"not valid CSV: {exc}") from None
    _unique([(line, e.label) for line, e in entries])
    return [e for _, e in entries]


def parse_premium(text: str) -> list[Premium]:
    """A premium list as CSV: `label,class,create,renew,transfer,restore` per line (amounts in
    currency units, e.g. 250.00; create, renew and transfer per year)."""
    entries: list[tuple[int, Premium]] = []
    header = ["label", "class", "create", "renew", "transfer", "restore"]
    try:
        for line, (label, cls, *prices) in _rows(text, header):
            try:
                parsed = parse_label(label)
                amounts = [parse_amount(p) for p in prices]
            except RegistryError as exc:
                raise RegistryError(f"line {line}: {exc}") from None
            if not cls or len(cls) > MAX_CLASS:
                raise RegistryError(f"line {line}: the class must be 1 to {MAX_CLASS} characters")
            entries.append((line, Premium(parsed, cls, *amounts)))
    except csv.Error as exc:
        raise RegistryError(f"not valid CSV: {exc}") from None
    _unique([(line, e.label) for line, e in entries])
    return [e for _, e in entries]


def load_reserved(
    conn: Connection, tld: str, entries: list[Reserved], replace: bool = False
) -> int:
    """Add (or update the reason of) reserved labels; `replace` drops labels not listed.

    Returns how many labels the TLD now reserves.
    """
    tld_id = _tld(conn, tld)
    rn = t.reserved_names
    if replace:
        conn.execute(delete(rn).where(rn.c.tld_id == tld_id))
    elif entries:
        conn.execute(
            delete(rn).where(rn.c.tld_id == tld_id, rn.c.label.in_([e.label for e in entries]))
        )
    if entries:
        conn.execute(
            insert(rn), [{"tld_id": tld_id, "label": e.label, "reason": e.reason} for e in entries]
        )
    return int(
        conn.execute(select(func.count()).select_from(rn).where(rn.c.tld_id == tld_id)).scalar_one()
    )


def load_premium(conn: Connection, tld: str, entries: list[Premium], replace: bool = False) -> int:
    """Add (or reprice) premium labels; `replace` drops labels not listed.

    Returns how many premium labels the TLD now has.
    """
    tld_id = _tld(conn, tld)
    pn = t.premium_names
    if replace:
        conn.execute(delete(pn).where(pn.c.tld_id == tld_id))
    elif entries:
        conn.execute(
            delete(pn).where(pn.c.tld_id == tld_id, pn.c.label.in_([e.label for e in entries]))
        )
    if entries:
        conn.execute(
            insert(pn),
            [
                {
                    "tld_id": tld_id,
                    "label": e.label,
                    "price_class": e.price_class,
                    "create_price": e.create,
                    "renew_price": e.renew,
                    "transfer_price": e.transfer,
                    "restore_price": e.restore,
                }
                for e in entries
            ],
        )
    return int(
        conn.execute(select(func.count()).select_from(pn).where(pn.c.tld_id == tld_id)).scalar_one()
    )


_RESERVED = Query(
    select(t.reserved_names.c.reason).where(
        t.reserved_names.c.tld_id == bindparam("tld_id"),
        t.reserved_names.c.label == bindparam("label"),
    )
)


def reserved_reasons(conn: Connection, wanted: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """Reserved labels among (tld id, label) pairs, with their reasons."""
    if not wanted:
        return {}
    if len(wanted) == 1:  # every create and most checks: a fixed statement (see `Query`)
        ((tld_id, label),) = wanted
        reason = _RESERVED.scalar(conn, tld_id=tld_id, label=label)
        return {} if reason is None else {(tld_id, label): reason}
    rn = t.reserved_names
    rows = conn.execute(
        select(rn.c.tld_id, rn.c.label, rn.c.reason).where(
            tuple_(rn.c.tld_id, rn.c.label).in_(sorted(wanted))
        )
    )
    return {(r.tld_id, r.label): r.reason for r in rows}


# ---------------------------------------------------------------- registrar accounts


@dataclass(frozen=True, slots=True)
class Account:
    clid: str
    balance: int
    currency: str
    credit_limit: int
    low_balance_threshold: int | None


def account(conn: Connection, clid: str) -> Account:
    r = conn.execute(select(t.registrars).where(t.registrars.c.clid == clid)).first()
    if r is None:
        raise RegistryError(f"registrar {clid} does not exist")
    return Account(r.clid, r.balance, r.currency, r.credit_limit, r.low_balance_threshold)


def set_account(
    conn: Connection,
    now: datetime,
    clid: str,
    *,
    credit_limit: int | None = None,
    low_balance: int | None = None,
    clear_low_balance: bool = False,
) -> Account:
    """Set a registrar's credit limit (how far below zero its balance may go) and/or its
    low-balance threshold (a poll message when a charge crosses it; cleared with
    `clear_low_balance`)."""
    registrar_id = _registrar(conn, clid)
    values: dict[str, object] = {}
    if credit_limit is not None:
        _check_amount(credit_limit, "the credit limit")
        values["credit_limit"] = credit_limit
    if clear_low_balance:
        values["low_balance_threshold"] = None
    elif low_balance is not None:
        _check_amount(low_balance, "the low-balance threshold")
        values["low_balance_threshold"] = low_balance
    if values:
        values["updated_at"] = now
        conn.execute(update(t.registrars).where(t.registrars.c.id == registrar_id).values(values))
    return account(conn, clid)


def adjust(conn: Connection, now: datetime, clid: str, amount: int, reason: str) -> Account:
    """Post an adjustment (a credit or a debit) with its reason; returns the account after it.

    A debit that would take the balance below minus the credit limit is refused.
    """
    registrar_id = _registrar(conn, clid)
    reason = reason.strip()
    if not reason:
        raise RegistryError("an adjustment needs a reason")
    if amount == 0:
        raise RegistryError("an adjustment of 0 changes nothing")
    if abs(amount) > MAX_AMOUNT:
        raise RegistryError(f"an adjustment must be at most {MAX_AMOUNT // 100}")
    if billing.adjust(conn, now, registrar_id, amount, reason) is None:
        now_at = account(conn, clid)
        raise RegistryError(
            f"debit of {-amount / 100:.2f} refused: registrar {clid} has "
            f"{(now_at.balance + now_at.credit_limit) / 100:.2f} {now_at.currency} available "
            "(balance plus credit limit)"
        )
    return account(conn, clid)


# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    kind: str
    amount: int
    currency: str
    tld: str | None
    domain: str | None
    years: int | None
    svtrid: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Statement:
    clid: str
    month: str  # YYYY-MM
    currency: str
    opening: int  # the balance at the start of the month (sum of every earlier row)
    closing: int  # opening plus this month's rows
    entries: list[Entry]


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-03' -> (2026-03-01 00:00, 2026-04-01 00:00), UTC."""
    try:
        start = datetime.strptime(month.strip(), "%Y-%m")
    except ValueError:
        raise RegistryError(f"invalid month {month!r}: expected YYYY-MM") from None
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


def statement(conn: Connection, clid: str, month: str) -> Statement:
    """A registrar's ledger rows of one calendar month (UTC), in order, with the balances."""
    start, end = month_bounds(month)
    registrar = account(conn, clid)
    registrar_id = _registrar(conn, clid)
    lg = t.ledger
    opening = conn.execute(
        select(func.coalesce(func.sum(lg.c.amount), 0)).where(
            lg.c.registrar_id == registrar_id, lg.c.at < start
        )
    ).scalar_one()
    rows = conn.execute(
        select(lg, t.tlds.c.name.label("tld_name"))
        .outerjoin(t.tlds, t.tlds.c.id == lg.c.tld_id)
        .where(lg.c.registrar_id == registrar_id, lg.c.at >= start, lg.c.at < end)
        .order_by(lg.c.at, lg.c.id)
    )
    entries = [
        Entry(
            id=r.id,
            at=r.at,
            kind=r.kind,
            amount=r.amount,
            currency=r.currency,
            tld=r.tld_name,
            domain=r.domain_name,
            years=r.years,
            svtrid=r.svtrid,
            description=r.description,
        )
        for r in rows
    ]
    opening = int(opening)
    closing = opening + sum(e.amount for e in entries)
    return Statement(clid, start.strftime("%Y-%m"), registrar.currency, opening, closing, entries)
