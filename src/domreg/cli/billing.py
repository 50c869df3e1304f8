"""`domreg` billing subcommands: prices, reserved and premium lists, registrar accounts, and
monthly ledger statements.

    domreg tld price TLD OPERATION AMOUNT             # create, renew, transfer (per year), restore
    domreg tld reserve TLD --file CSV [--replace]     # label,reason
    domreg tld premium TLD --file CSV [--replace]     # label,class,create,renew,transfer,restore
    domreg registrar price CLID TLD OPERATION AMOUNT  # the registrar's own price ("default" removes it)
    domreg registrar set CLID [--credit-limit AMOUNT] [--low-balance AMOUNT|none]
    domreg registrar adjust CLID AMOUNT --reason TEXT # a credit, or a debit with a minus sign
    domreg registrar statement CLID --month YYYY-MM [-o FILE]

Amounts are in the currency's units with at most two decimals (12.50). The statement is a
plain CSV (a header row, then one row per ledger entry of the month, in order: id, time in
RFC 3339 UTC, kind, amount, currency, tld, domain, years, svtrid, description) on standard
output or in FILE; the month's opening and closing balances go to standard error as one line,
so the CSV stays a table (closing = opening + the sum of the amount column). Refusals are one
line on standard error and exit status 2, as for every `domreg` command.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

from domreg.clock import Clock
from domreg.config import Config
from domreg.flows import billing, pricing
from domreg.flows.registry import RegistryError
from domreg.store.db import Database

STATEMENT_COLUMNS = (
    "id",
    "time",
    "kind",
    "amount",
    "currency",
    "tld",
    "domain",
    "years",
    "svtrid",
    "description",
)


def _db(cfg: Config) -> Database:
    return Database(cfg.database_url, pool_size=2)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RegistryError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RegistryError(f"{path} is not UTF-8 text") from None


# ---------------------------------------------------------------- TLDs


def cmd_tld_price(args: argparse.Namespace, cfg: Config) -> int:
    amount = pricing.parse_amount(args.amount)
    db = _db(cfg)
    try:
        with db.write() as conn:
            pricing.set_tld_price(conn, args.tld, args.operation, amount)
    finally:
        db.close()
    print(f"TLD {args.tld.lower()}: {args.operation.lower()} costs {pricing.format_amount(amount)}")
    return 0


def _load_list(args: argparse.Namespace, cfg: Config, what: str) -> int:
    text = _read(args.file)
    db = _db(cfg)
    try:
        with db.write() as conn:
            if what == "reserved":
                reserved = pricing.parse_reserved(text)
                count = len(reserved)
                total = pricing.load_reserved(conn, args.tld, reserved, replace=args.replace)
            else:
                premium = pricing.parse_premium(text)
                count = len(premium)
                total = pricing.load_premium(conn, args.tld, premium, replace=args.replace)
    finally:
        db.close()
    print(f"TLD {args.tld.lower()}: {count} {what} labels loaded; {total} {what} in all")
    return 0


def cmd_tld_reserve(args: argparse.Namespace, cfg: Config) -> int:
    return _load_list(args, cfg, "reserved")


def cmd_tld_premium(args: argparse.Namespace, cfg: Config) -> int:
    return _load_list(args, cfg, "premium")


# ---------------------------------------------------------------- registrars


def _show(account: pricing.Account) -> str:
    low = (
        "none"
        if account.low_balance_threshold is None
        else pricing.format_amount(account.low_balance_threshold)
    )
    return (
        f"registrar {account.clid}: balance {pricing.format_amount(account.balance)} "
        f"{account.currency}, credit limit {pricing.format_amount(account.credit_limit)}, "
        f"low-balance threshold {low}"
    )


def cmd_registrar_price(args: argparse.Namespace, cfg: Config) -> int:
    amount = None if args.amount.lower() == "default" else pricing.parse_amount(args.amount)
    db = _db(cfg)
    try:
        with db.write() as conn:
            pricing.set_registrar_price(conn, args.clid, args.tld, args.operation, amount)
    finally:
        db.close()
    what = "the TLD's price" if amount is None else pricing.format_amount(amount)
    print(f"registrar {args.clid}: {args.operation.lower()} under {args.tld.lower()} costs {what}")
    return 0


def cmd_registrar_set(args: argparse.Namespace, cfg: Config) -> int:
    credit_limit = None if args.credit_limit is None else pricing.parse_amount(args.credit_limit)
    clear = args.low_balance is not None and args.low_balance.lower() == "none"
    low = None if args.low_balance is None or clear else pricing.parse_amount(args.low_balance)
    db = _db(cfg)
    try:
        with db.write() as conn:
            account = pricing.set_account(
                conn,
                Clock().now(),
                args.clid,
                credit_limit=credit_limit,
                low_balance=low,
                clear_low_balance=clear,
            )
    finally:
        db.close()
    print(_show(account))
    return 0


def cmd_registrar_adjust(args: argparse.Namespace, cfg: Config) -> int:
    amount = pricing.parse_amount(args.amount, negative=True)
    db = _db(cfg)
    try:
        with db.write() as conn:
            account = pricing.adjust(conn, Clock().now(), args.clid, amount, args.reason)
    finally:
        db.close()
    print(_show(account))
    return 0


def statement_csv(statement: pricing.Statement) -> str:
    """The statement's rows as CSV text (header first), amounts with two decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    for e in statement.entries:
        writer.writerow(
            (
                e.id,
                e.at.isoformat() + "Z",
                e.kind,
                pricing.format_amount(e.amount),
                e.currency,
                e.tld or "",
                e.domain or "",
                "" if e.years is None else e.years,
                e.svtrid or "",
                e.description or "",
            )
        )
    return out.getvalue()


def cmd_registrar_statement(args: argparse.Namespace, cfg: Config) -> int:
    db = _db(cfg)
    try:
        with db.read() as conn:
            statement = pricing.statement(conn, args.clid, args.month)
    finally:
        db.close()
    text = statement_csv(statement)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RegistryError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    print(
        f"registrar {statement.clid} {statement.month}: opening balance "
        f"{pricing.format_amount(statement.opening)} {statement.currency}, "
        f"{len(statement.entries)} entries, closing balance "
        f"{pricing.format_amount(statement.closing)} {statement.currency}",
        file=sys.stderr,
    )
    return 0


# ---------------------------------------------------------------- parsers


def add_parsers(tld: Any, registrar: Any) -> None:
    """Add the billing subcommands to `domreg tld` and `domreg registrar`."""
    ops = ", ".join(billing.OPERATIONS)

    price = tld.add_parser("price", help="set a TLD's standard price")
    price.add_argument("tld")
    price.add_argument("operation", help=ops)
    price.add_argument("amount", help="per year (restore: one fee), e.g. 10.00")
    price.set_defaults(fn=cmd_tld_price)
    for name, fn, columns in (
        ("reserve", cmd_tld_reserve, "label,reason"),
        ("premium", cmd_tld_premium, "label,class,create,renew,transfer,restore"),
    ):
        p = tld.add_parser(name, help=f"load {name} labels from a CSV file ({columns})")
        p.add_argument("tld")
        p.add_argument("--file", required=True, metavar="CSV", help=f"rows of {columns}")
        p.add_argument(
            "--replace", action="store_true", help="drop the labels the file does not list"
        )
        p.set_defaults(fn=fn)

    rprice = registrar.add_parser("price", help="set a registrar's own price under a TLD")
    rprice.add_argument("clid")
    rprice.add_argument("tld")
    rprice.add_argument("operation", help=ops)
    rprice.add_argument("amount", help="e.g. 8.00, or 'default' to remove the override")
    rprice.set_defaults(fn=cmd_registrar_price)

    rset = registrar.add_parser("set", help="credit limit and low-balance threshold")
    rset.add_argument("clid")
    rset.add_argument("--credit-limit", metavar="AMOUNT", help="how far below zero it may go")
    rset.add_argument(
        "--low-balance", metavar="AMOUNT", help="poll the registrar below this; 'none' to stop"
    )
    rset.set_defaults(fn=cmd_registrar_set)

    adjust = registrar.add_parser("adjust", help="post a credit or debit adjustment")
    adjust.add_argument("clid")
    adjust.add_argument("amount", help="e.g. 25.00 or -25.00")
    adjust.add_argument("--reason", required=True)
    adjust.set_defaults(fn=cmd_registrar_adjust)

    stmt = registrar.add_parser("statement", help="a month's ledger as CSV")
    stmt.add_argument("clid")
    stmt.add_argument("--month", required=True, metavar="YYYY-MM")
    stmt.add_argument("-o", "--output", metavar="FILE", help="write the CSV here (default stdout)")
    stmt.set_defaults(fn=cmd_registrar_statement)
