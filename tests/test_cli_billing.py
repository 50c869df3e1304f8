"""The billing commands of `domreg`: TLD and registrar prices, reserved and premium lists from
CSV files, credit limits and low-balance thresholds, adjustments, and the monthly statement
CSV (checked row by row and against its opening and closing balances), on SQLite and
PostgreSQL; refusals are one line on stderr with exit status 2."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domreg.cli.main import main
from domreg.flows import billing, domain, domain_create
from domreg.flows.base import Actor, Context, SvTrIds
from domreg.model.periods import Period
from domreg.store import schema as t
from domreg.store.db import Database

PW = "domain-PW-1"


class Cli:
    def __init__(self, db: Database, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = db
        self.capsys = capsys
        self.svtrids = SvTrIds()

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 0, err
        return out

    def refused(self, *args: str) -> str:
        code, out, err = self(*args)
        assert code == 2, out
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert "Traceback" not in err
        return lines[0]

    def actor(self, clid: str) -> Actor:
        with self.db.read() as conn:
            rid = conn.execute(
                select(t.registrars.c.id).where(t.registrars.c.clid == clid)
            ).scalar_one()
        return Actor(rid, clid)

    def run(self, clid: str, now: datetime, flow: Any, *args: Any) -> Any:
        with self.db.write() as conn:
            ctx = Context(conn, now, self.actor(clid), "CL", self.svtrids.next())
            return flow(ctx, *args)

    def create(self, clid: str, now: datetime, name: str, years: int = 1) -> Any:
        cmd = domain.DomainCreate(name=name, auth_info=PW, period=Period(years, "y"))
        return self.run(clid, now, domain_create.create, cmd)

    def rows(self, table: Any, *where: Any) -> list[Any]:
        """The rows in primary-key order: a table scan has none (PostgreSQL moves updated rows)."""
        with self.db.read() as conn:
            return list(conn.execute(select(table).where(*where).order_by(*table.primary_key)))


@pytest.fixture
def cli(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`domreg` in this process, on the `db` fixture's database (ClientX/Y/Z, TLDs test/com/net)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMREG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOMREG_DATABASE_URL", database_url)
    monkeypatch.delenv("DOMREG_CONFIG", raising=False)
    return Cli(db, capsys)


def test_tld_price_sets_what_a_create_costs(cli: Cli) -> None:
    assert cli.ok("tld", "price", "test", "create", "12.50") == "TLD test: create costs 12.50\n"
    cli.ok("tld", "price", "TEST", "Restore", "40")
    [tld] = cli.rows(t.tlds, t.tlds.c.name == "test")
    assert (tld.create_price, tld.restore_price) == (1250, 4000)
    created = cli.create("ClientX", datetime(2026, 1, 1), "priced.test", years=2)
    [row] = cli.rows(t.ledger, t.ledger.c.id == created.ledger_id)
    assert row.amount == -2500


def test_registrar_price_overrides_and_default_removes_the_override(cli: Cli) -> None:
    cli.ok("registrar", "price", "ClientX", "test", "renew", "7.25")
    [override] = cli.rows(t.registrar_prices)
    assert (override.operation, override.price) == ("renew", 725)
    cli.ok("registrar", "price", "ClientX", "test", "renew", "8")
    assert [r.price for r in cli.rows(t.registrar_prices)] == [800]
    out = cli.ok("registrar", "price", "ClientX", "test", "renew", "default")
    assert "the TLD's price" in out
    assert cli.rows(t.registrar_prices) == []


def test_registrar_set_credit_limit_and_low_balance_threshold(cli: Cli) -> None:
    out = cli.ok("registrar", "set", "ClientY", "--credit-limit", "250", "--low-balance", "100.5")
    assert out.strip() == (
        "registrar ClientY: balance 1000000.00 USD, credit limit 250.00, "
        "low-balance threshold 100.50"
    )
    [r] = cli.rows(t.registrars, t.registrars.c.clid == "ClientY")
    assert (r.credit_limit, r.low_balance_threshold) == (25000, 10050)
    cli.ok("registrar", "set", "ClientY", "--low-balance", "none")
    [r] = cli.rows(t.registrars, t.registrars.c.clid == "ClientY")
    assert (r.credit_limit, r.low_balance_threshold) == (25000, None)
    assert "credit limit 250.00" in cli.ok("registrar", "set", "ClientY")  # shows the account


def test_tld_reserve_and_premium_load_csv_files(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "reserved.csv").write_text(
        "label,reason\nnic,registry operations\nbücher,brand protection\n", encoding="utf-8"
    )
    out = cli.ok("tld", "reserve", "test", "--file", "reserved.csv")
    assert out == "TLD test: 2 reserved labels loaded; 2 reserved in all\n"
    (tmp_path / "premium.csv").write_text("gold,platinum,1000,500,450.50,100\n")
    cli.ok("tld", "premium", "test", "--file", "premium.csv")
    reserved = {(r.label, r.reason) for r in cli.rows(t.reserved_names)}
    assert reserved == {("nic", "registry operations"), ("xn--bcher-kva", "brand protection")}
    [p] = cli.rows(t.premium_names)
    assert (p.label, p.price_class, p.create_price, p.renew_price, p.transfer_price) == (
        "gold",
        "platinum",
        100000,
        50000,
        45050,
    )
    assert p.restore_price == 10000
    # The flows see both lists.
    items = cli.run("ClientX", datetime(2026, 1, 1), domain.check, ["nic.test", "gold.test"])
    assert [(i.avail, i.reason) for i in items] == [(False, "Reserved"), (True, None)]
    # --replace keeps only what the file lists.
    (tmp_path / "reserved.csv").write_text("www,policy\n")
    assert "1 reserved in all" in cli.ok(
        "tld", "reserve", "test", "--file", "reserved.csv", "--replace"
    )


def test_registrar_adjust_posts_an_adjustment_row(cli: Cli) -> None:
    out = cli.ok("registrar", "adjust", "ClientZ", "-25.00", "--reason", "duplicate payment")
    assert "balance 999975.00 USD" in out
    [row] = cli.rows(t.ledger, t.ledger.c.kind == "adjustment")
    assert (row.amount, row.description) == (-2500, "duplicate payment")
    cli.ok("registrar", "adjust", "ClientZ", "10", "--reason", "goodwill")
    [r] = cli.rows(t.registrars, t.registrars.c.clid == "ClientZ")
    assert r.balance == 100_000_000 - 2500 + 1000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ("registrar", "statement", "nobody", "--month", "2026-01"),
            "registrar nobody does not exist",
        ),
        (("registrar", "statement", "ClientX", "--month", "2026-1x"), "invalid month"),
        (("registrar", "statement", "ClientX"), "--month"),
        (("registrar", "price", "ClientX", "test", "delete", "1"), "unknown operation"),
        (("registrar", "price", "ClientX", "nosuch", "create", "1"), "TLD nosuch does not exist"),
        (("registrar", "set", "ClientX", "--credit-limit", "-5"), "negative"),
        (("registrar", "set", "ClientX", "--low-balance", "1.001"), "more than two decimals"),
        (("registrar", "adjust", "ClientX", "5"), "--reason"),
        (("registrar", "adjust", "ClientX", "-2000000", "--reason", "x"), "refused"),
        (("tld", "price", "test", "create", "lots"), "invalid amount"),
        (("tld", "price", "test", "create", "Infinity"), "invalid amount"),
        (("tld", "reserve", "test", "--file", "missing.csv"), "cannot read missing.csv"),
        (("tld", "reserve", "test", "--file", "bad.csv"), "line 2: invalid label"),
        (("tld", "premium", "test", "--file", "bad.csv"), "expected 6 fields"),
        (("tld", "reserve", "nosuch", "--file", "good.csv"), "TLD nosuch does not exist"),
    ],
)
def test_refusals_are_one_line_and_exit_2(cli: Cli, tmp_path: Path, args: Any, needle: str) -> None:
    (tmp_path / "bad.csv").write_text("ok,fine\n-bad-,no\n")
    (tmp_path / "good.csv").write_text("ok,fine\n")
    before = cli.rows(t.ledger)
    assert needle in cli.refused(*args)
    assert cli.rows(t.ledger) == before


def test_statement_exports_the_months_ledger_as_csv_with_its_balances(
    cli: Cli, tmp_path: Path
) -> None:
    """A month with known activity: every row, then the sums against the stated balances."""
    with cli.db.write() as conn:
        x = cli.actor("ClientX").id
        billing.adjust(conn, datetime(2025, 2, 27, 9, 30), x, 5000, "February credit")
    cli.ok("registrar", "price", "ClientX", "test", "renew", "8.00")
    created = cli.create("ClientX", datetime(2025, 3, 1, 0, 0, 0), "alpha.test", years=2)
    expiry = (datetime(2027, 3, 1)).date().isoformat()
    cli.run(
        "ClientX",
        datetime(2025, 3, 15, 10, 0, 0, 250000),
        domain.renew,
        domain.DomainRenew("alpha.test", expiry, Period(1, "y")),
    )
    cli.run("ClientX", datetime(2025, 3, 20, 8, 0), billing.refund, created.ledger_id, "add grace")
    cli.create("ClientY", datetime(2025, 3, 21), "other.test")  # another registrar's row
    with cli.db.write() as conn:
        billing.adjust(conn, datetime(2025, 3, 31, 23, 59, 59), x, -500, 'fee, "quoted"')
    cli.create("ClientX", datetime(2025, 4, 1, 0, 0, 0), "april.test")  # next month

    code, out, err = cli("registrar", "statement", "ClientX", "--month", "2025-03")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
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
    ]
    ledger = {
        r.id: r for r in cli.rows(t.ledger, t.ledger.c.registrar_id == cli.actor("ClientX").id)
    }
    body = rows[1:]
    assert [r[2:8] for r in body] == [
        ["create", "-20.00", "USD", "test", "alpha.test", "2"],
        ["renew", "-8.00", "USD", "test", "alpha.test", "1"],
        ["refund", "20.00", "USD", "test", "alpha.test", "2"],
        ["adjustment", "-5.00", "USD", "", "", ""],
    ]
    assert [r[1] for r in body] == [
        "2025-03-01T00:00:00Z",
        "2025-03-15T10:00:00.250000Z",
        "2025-03-20T08:00:00Z",
        "2025-03-31T23:59:59Z",
    ]
    assert int(body[0][0]) == created.ledger_id
    for r in body:
        assert ledger[int(r[0])].svtrid == (r[8] or None)
    assert [r[9] for r in body] == ["", "", "add grace", 'fee, "quoted"']
    # The balances on stderr: opening = everything before March, closing = opening + the rows.
    opening = Decimal("50.00")
    total = sum(Decimal(r[3]) for r in body)
    assert total == Decimal("-13.00")
    assert err.strip() == (
        f"registrar ClientX 2025-03: opening balance {opening} USD, 4 entries, "
        f"closing balance {opening + total} USD"
    )

    # -o writes the same CSV to a file and nothing to stdout.
    code, out2, err2 = cli(
        "registrar", "statement", "ClientX", "--month", "2025-03", "-o", "march.csv"
    )
    assert code == 0 and out2 == "" and err2 == err
    assert (tmp_path / "march.csv").read_text() == out

    # A month without activity: only the header, opening equal to closing.
    code, out3, err3 = cli("registrar", "statement", "ClientX", "--month", "2024-12")
    assert out3.splitlines() == [",".join(rows[0])]
    assert "opening balance 0.00 USD, 0 entries, closing balance 0.00 USD" in err3
