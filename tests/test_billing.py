"""Registrar billing through the domain flows: every create, renew and completed transfer is
charged at the right price (standard, per-registrar override, premium, per year), refunds
reverse a charge exactly once, insufficient funds are 2104 with nothing changed, credit limits,
reserved and premium names, the low-balance poll message, and (property-based) that a
registrar's balance is always the sum of its ledger and never below minus its credit limit."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as s
from sqlalchemy import func, insert, select, update
from sqlalchemy import text as sql_text

from domreg.flows import billing, domain, domain_create, pricing
from domreg.flows.base import Actor, Context, SvTrIds
from domreg.flows.fees import FeeStatement
from domreg.flows.registry import RegistryError
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support

NOW = datetime(2026, 3, 10, 12, 0, 0)
PW = "domain-PW-1"
#: A stated fee (RFC 8748) above any price here: premium names need one (flows/fees.py).
GENEROUS = FeeStatement(10**9)


class Billing:
    """The `db` fixture's registry (TLDs test/com/net, ClientX/Y/Z funded) driven flow by flow."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.svtrids = SvTrIds()
        self.now = NOW
        with db.read() as conn:
            ids = {r.clid: r.id for r in conn.execute(select(t.registrars))}
            self.tld = {r.name: r.id for r in conn.execute(select(t.tlds))}
        self.x = Actor(ids["ClientX"], "ClientX")
        self.y = Actor(ids["ClientY"], "ClientY")
        self.z = Actor(ids["ClientZ"], "ClientZ")
        # Known standard prices for .test: 10.00 create, 9.00 renew, 7.00 transfer, 50.00 restore.
        with db.write() as conn:
            for op, amount in (("create", 1000), ("renew", 900), ("transfer", 700)):
                pricing.set_tld_price(conn, "test", op, amount)

    def run(self, actor: Actor, flow: Callable[..., Any], *args: Any) -> Any:
        with self.db.write() as conn:
            return flow(Context(conn, self.now, actor, "CL-1", self.svtrids.next()), *args)

    def fails(self, code: Result, actor: Actor, flow: Callable[..., Any], *args: Any) -> EppError:
        before = support.dump(self.db)
        with pytest.raises(EppError) as caught:
            self.run(actor, flow, *args)
        assert caught.value.code == code, caught.value
        assert support.dump(self.db) == before
        return caught.value

    def op(self, fn: Callable[[Any], Any]) -> Any:
        with self.db.write() as conn:
            return fn(conn)

    def balance(self, actor: Actor) -> int:
        with self.db.read() as conn:
            return int(
                conn.execute(
                    select(t.registrars.c.balance).where(t.registrars.c.id == actor.id)
                ).scalar_one()
            )

    def charges(self, actor: Actor) -> list[Any]:
        """The registrar's ledger rows other than top-ups, oldest first."""
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(t.ledger)
                    .where(t.ledger.c.registrar_id == actor.id, t.ledger.c.kind != "topup")
                    .order_by(t.ledger.c.id)
                )
            )

    def create(
        self, actor: Actor, name: str, years: int = 1, fee: FeeStatement | None = None
    ) -> domain.DomainCreated:
        from domreg.model.periods import Period

        return self.run(  # type: ignore[no-any-return]
            actor,
            domain_create.create,
            domain.DomainCreate(name=name, auth_info=PW, period=Period(years, "y"), fee=fee),
        )

    def renew(
        self, actor: Actor, name: str, years: int = 1, fee: FeeStatement | None = None
    ) -> domain.DomainRenewed:
        from domreg.model.periods import Period

        with self.db.read() as conn:
            expiry = conn.execute(
                select(t.domains.c.expires_at).where(
                    t.domains.c.name == name, t.domains.c.deleted_at.is_(None)
                )
            ).scalar_one()
        cmd = domain.DomainRenew(name, expiry.date().isoformat(), Period(years, "y"), fee)
        return self.run(actor, domain.renew, cmd)  # type: ignore[no-any-return]

    def sponsor(self, name: str) -> Actor:
        with self.db.read() as conn:
            rid = conn.execute(
                select(t.domains.c.registrar_id).where(
                    t.domains.c.name == name, t.domains.c.deleted_at.is_(None)
                )
            ).scalar_one()
        return next(a for a in (self.x, self.y, self.z) if a.id == rid)

    def request(
        self, gaining: Actor, name: str, years: int = 1, fee: FeeStatement | None = None
    ) -> Any:
        """The sponsor sets authInfo PW (a completed transfer unsets it); `gaining` requests."""
        from domreg.model.periods import Period

        self.run(self.sponsor(name), domain.update, domain.DomainUpdate(name, auth_info=PW))
        cmd = domain.DomainTransfer(
            op="request", name=name, auth_info=PW, period=Period(years, "y"), fee=fee
        )
        return self.run(gaining, domain.transfer, cmd)

    def approve(self, losing: Actor, name: str) -> int | None:
        """Approve the pending transfer; returns the transfer charge's ledger id."""
        with self.db.read() as conn:
            roid = conn.execute(
                select(t.domains.c.roid).where(
                    t.domains.c.name == name, t.domains.c.deleted_at.is_(None)
                )
            ).scalar_one()

        def flow(ctx: Context) -> int | None:
            domain.transfer(ctx, domain.DomainTransfer(op="approve", name=name))
            return domain.transfer_ledger_id(ctx, roid)

        return self.run(losing, flow)  # type: ignore[no-any-return]

    def set_account(self, actor: Actor, **values: Any) -> None:
        with self.db.write() as conn:
            conn.execute(update(t.registrars).where(t.registrars.c.id == actor.id).values(values))

    def drain_to(self, actor: Actor, target: int) -> None:
        """Bring the registrar's balance to exactly `target` (an adjustment row)."""
        delta = target - self.balance(actor)
        if delta:
            self.op(lambda c: billing.top_up(c, self.now, actor.id, delta, "test"))

    def polls(self, actor: Actor, kind: str) -> list[tuple[str, dict[str, Any]]]:
        with self.db.read() as conn:
            return [
                (r.message, orjson.loads(r.payload))
                for r in conn.execute(
                    select(t.poll_messages)
                    .where(
                        t.poll_messages.c.registrar_id == actor.id, t.poll_messages.c.kind == kind
                    )
                    .order_by(t.poll_messages.c.id)
                )
            ]


@pytest.fixture
def bill(db: Database) -> Billing:
    return Billing(db)


def assert_ledger_matches_balances(db: Database) -> None:
    with db.read() as conn:
        sums = dict(
            conn.execute(
                select(t.ledger.c.registrar_id, func.sum(t.ledger.c.amount)).group_by(
                    t.ledger.c.registrar_id
                )
            ).all()
        )
        for r in conn.execute(select(t.registrars)):
            assert r.balance == sums.get(r.id, 0), r.clid
            assert r.balance + r.credit_limit >= 0, r.clid


# ---------------------------------------------------------------- prices


def test_create_charges_the_create_price_for_each_year_of_the_period(bill: Billing) -> None:
    before = bill.balance(bill.x)
    created = bill.create(bill.x, "three.test", years=3)
    [row] = bill.charges(bill.x)
    assert (row.kind, row.amount, row.years, row.currency) == ("create", -3000, 3, "USD")
    assert (row.domain_name, row.tld_id) == ("three.test", bill.tld["test"])
    assert row.id == created.ledger_id
    with bill.db.read() as conn:
        history = conn.execute(
            select(t.history).where(t.history.c.object_name == "three.test")
        ).one()
        roid = conn.execute(
            select(t.domains.c.roid).where(t.domains.c.name == "three.test")
        ).scalar_one()
    assert (row.svtrid, row.roid, row.at) == (history.svtrid, roid, NOW)
    assert bill.balance(bill.x) == before - 3000
    assert_ledger_matches_balances(bill.db)


def test_renew_charges_the_renew_price_for_its_years(bill: Billing) -> None:
    bill.create(bill.x, "renew.test")
    renewed = bill.renew(bill.x, "renew.test", years=2)
    create, renew = bill.charges(bill.x)
    assert (renew.kind, renew.amount, renew.years) == ("renew", -1800, 2)
    assert renew.id == renewed.ledger_id
    assert create.amount == -1000
    assert_ledger_matches_balances(bill.db)


def test_completed_transfer_charges_the_gaining_registrar_its_transfer_price(
    bill: Billing,
) -> None:
    bill.create(bill.x, "moving.test")
    y_before, x_before = bill.balance(bill.y), bill.balance(bill.x)
    bill.request(bill.y, "moving.test", years=2)
    assert bill.balance(bill.y) == y_before  # nothing charged while pending
    ledger_id = bill.approve(bill.x, "moving.test")
    [row] = bill.charges(bill.y)
    assert (row.kind, row.amount, row.years, row.domain_name) == (
        "transfer",
        -1400,
        2,
        "moving.test",
    )
    assert row.id == ledger_id
    assert bill.balance(bill.y) == y_before - 1400
    assert bill.balance(bill.x) == x_before  # the losing registrar pays nothing
    assert_ledger_matches_balances(bill.db)


def test_rejected_or_cancelled_transfer_charges_nothing(bill: Billing) -> None:
    bill.create(bill.x, "stay.test")
    bill.request(bill.y, "stay.test")
    bill.run(bill.x, domain.transfer, domain.DomainTransfer(op="reject", name="stay.test"))
    bill.request(bill.y, "stay.test")
    bill.run(bill.y, domain.transfer, domain.DomainTransfer(op="cancel", name="stay.test"))
    assert bill.charges(bill.y) == []


def test_registrar_override_replaces_the_tld_price_for_that_registrar_only(
    bill: Billing,
) -> None:
    bill.op(lambda c: pricing.set_registrar_price(c, "ClientX", "test", "create", 650))
    bill.op(lambda c: pricing.set_registrar_price(c, "ClientX", "test", "renew", 600))
    bill.create(bill.x, "cheap.test", years=2)
    bill.renew(bill.x, "cheap.test")
    bill.create(bill.y, "full.test", years=2)
    assert [(r.kind, r.amount) for r in bill.charges(bill.x)] == [
        ("create", -1300),
        ("renew", -600),
    ]
    assert [(r.kind, r.amount) for r in bill.charges(bill.y)] == [("create", -2000)]
    # Removing the override restores the TLD's price.
    bill.op(lambda c: pricing.set_registrar_price(c, "ClientX", "test", "create", None))
    bill.create(bill.x, "again.test")
    assert bill.charges(bill.x)[-1].amount == -1000


def test_premium_names_are_available_and_charged_their_own_prices(bill: Billing) -> None:
    premium = pricing.parse_premium("gold,platinum,1000.00,400.00,300.00,100.00\n")
    bill.op(lambda c: pricing.load_premium(c, "test", premium))
    # An override applies to standard names, never to a premium name's price.
    bill.op(lambda c: pricing.set_registrar_price(c, "ClientX", "test", "create", 1))
    [item] = bill.run(bill.x, domain.check, ["gold.test"])
    assert (item.avail, item.reason) == (True, None)
    with bill.db.read() as conn:
        quote = billing.quote(conn, bill.x.id, bill.tld["test"], "gold", "create", 2)
    assert (quote.amount, quote.price_class) == (200000, "platinum")
    # A premium name needs the fee stated (RFC 8748, flows/fees.py): without it, 2004.
    bill.fails(
        Result.PARAMETER_VALUE_RANGE_ERROR,
        bill.x,
        domain_create.create,
        domain.DomainCreate(name="gold.test", auth_info=PW),
    )
    bill.create(bill.x, "gold.test", years=2, fee=FeeStatement(200000))
    bill.renew(bill.x, "gold.test", fee=FeeStatement(40000))
    bill.request(bill.y, "gold.test", fee=FeeStatement(30000))
    bill.approve(bill.x, "gold.test")
    assert [(r.kind, r.amount) for r in bill.charges(bill.x)] == [
        ("create", -200000),
        ("renew", -40000),
    ]
    assert [(r.kind, r.amount) for r in bill.charges(bill.y)] == [("transfer", -30000)]
    assert_ledger_matches_balances(bill.db)


# ---------------------------------------------------------------- reserved names


def test_reserved_name_create_is_2302_with_its_reason_and_check_says_reserved(
    bill: Billing,
) -> None:
    reserved = pricing.parse_reserved("label,reason\nnic,registry operations\n")
    bill.op(lambda c: pricing.load_reserved(c, "test", reserved))
    items = bill.run(bill.x, domain.check, ["nic.test", "nic.com", "free.test"])
    assert [(i.name, i.avail, i.reason) for i in items] == [
        ("nic.test", False, "Reserved"),
        ("nic.com", True, None),  # reserved under .test only
        ("free.test", True, None),
    ]
    from domreg.model.periods import Period

    err = bill.fails(
        Result.OBJECT_EXISTS,
        bill.x,
        domain_create.create,
        domain.DomainCreate(name="NIC.test", auth_info=PW, period=Period(1, "y")),
    )
    assert err.reason == "reserved: registry operations"
    bill.create(bill.x, "nic.com")


def test_a_registered_reserved_name_checks_as_in_use(bill: Billing) -> None:
    bill.create(bill.x, "later.test")
    bill.op(lambda c: pricing.load_reserved(c, "test", [pricing.Reserved("later", "policy")]))
    [item] = bill.run(bill.y, domain.check, ["later.test"])
    assert (item.avail, item.reason) == (False, "In use")


# ---------------------------------------------------------------- funds


def test_insufficient_funds_is_2104_and_changes_nothing(bill: Billing) -> None:
    from domreg.model.periods import Period

    bill.create(bill.x, "owned.test")
    bill.create(bill.y, "theirs.test")
    bill.drain_to(bill.x, 1999)
    err = bill.fails(
        Result.BILLING_FAILURE,
        bill.x,
        domain_create.create,
        domain.DomainCreate(name="two.test", auth_info=PW, period=Period(2, "y")),
    )
    assert "insufficient funds" in err.reason and "20.00" in err.reason and "19.99" in err.reason
    with bill.db.read() as conn:
        expiry = conn.execute(
            select(t.domains.c.expires_at).where(t.domains.c.name == "owned.test")
        ).scalar_one()
    bill.fails(
        Result.BILLING_FAILURE,
        bill.x,
        domain.renew,
        domain.DomainRenew("owned.test", expiry.date().isoformat(), Period(3, "y")),
    )
    bill.fails(
        Result.BILLING_FAILURE,
        bill.x,
        domain.transfer,
        domain.DomainTransfer(
            op="request",
            name="theirs.test",
            auth_info=PW,
            period=Period(3, "y"),
        ),
    )
    # Exactly enough is enough.
    bill.create(bill.x, "one.test")
    assert bill.balance(bill.x) == 999


def test_transfer_approval_is_2104_when_the_gaining_registrar_can_no_longer_pay(
    bill: Billing,
) -> None:
    bill.create(bill.x, "pending.test")
    bill.request(bill.y, "pending.test")
    bill.drain_to(bill.y, 699)
    bill.fails(
        Result.BILLING_FAILURE,
        bill.x,
        domain.transfer,
        domain.DomainTransfer(op="approve", name="pending.test"),
    )
    bill.drain_to(bill.y, 700)
    bill.approve(bill.x, "pending.test")
    assert bill.balance(bill.y) == 0


def test_credit_limit_lets_the_balance_go_that_far_below_zero_and_no_further(
    bill: Billing,
) -> None:
    bill.drain_to(bill.x, 500)
    bill.op(lambda c: pricing.set_account(c, NOW, "ClientX", credit_limit=2000))
    bill.create(bill.x, "a.test")
    bill.create(bill.x, "b.test")
    assert bill.balance(bill.x) == -1500
    err = bill.fails(Result.BILLING_FAILURE, bill.x, domain.renew, *_renew_args(bill, "a.test"))
    assert "available 5.00" in err.reason
    bill.op(lambda c: pricing.set_account(c, NOW, "ClientX", credit_limit=2400))
    bill.renew(bill.x, "a.test")
    assert bill.balance(bill.x) == -2400
    assert_ledger_matches_balances(bill.db)


def _renew_args(bill: Billing, name: str) -> tuple[domain.DomainRenew]:
    with bill.db.read() as conn:
        expiry = conn.execute(
            select(t.domains.c.expires_at).where(t.domains.c.name == name)
        ).scalar_one()
    return (domain.DomainRenew(name, expiry.date().isoformat()),)


def test_account_in_another_currency_is_2104(bill: Billing) -> None:
    bill.set_account(bill.z, currency="EUR")
    from domreg.model.periods import Period

    err = bill.fails(
        Result.BILLING_FAILURE,
        bill.z,
        domain_create.create,
        domain.DomainCreate(name="euro.test", auth_info=PW, period=Period(1, "y")),
    )
    assert "EUR" in err.reason and "USD" in err.reason


def test_refund_reverses_a_charge_exactly_once(bill: Billing) -> None:
    before = bill.balance(bill.x)
    created = bill.create(bill.x, "undo.test", years=2)
    refund_id = bill.run(bill.x, billing.refund, created.ledger_id, "add grace delete")
    assert refund_id is not None
    assert bill.run(bill.x, billing.refund, created.ledger_id, "again") is None
    charge, refund = bill.charges(bill.x)
    assert (refund.id, refund.kind, refund.amount, refund.refund_of) == (
        refund_id,
        "refund",
        2000,
        created.ledger_id,
    )
    assert (refund.domain_name, refund.roid, refund.years) == (
        charge.domain_name,
        charge.roid,
        charge.years,
    )
    assert refund.description == "add grace delete"
    assert bill.balance(bill.x) == before
    # A refund is not itself refundable, and credits are not refunds' business.
    assert bill.run(bill.x, billing.refund, refund_id, "no") is None
    assert_ledger_matches_balances(bill.db)


async def test_over_epp_2104_and_reserved_2302_are_schema_valid_and_change_nothing(
    connect: Any, db: Database
) -> None:
    bill = Billing(db)
    bill.drain_to(bill.x, 999)
    bill.op(lambda c: pricing.load_reserved(c, "test", [pricing.Reserved("nic", "registry")]))
    client = await connect("ClientX")
    before = support.dump(db)
    reply = await client.domain_create("broke.test")
    support.assert_schema_valid(reply.raw)
    assert reply.code == 2104, reply.raw.decode()
    assert "insufficient funds" in reply.raw.decode()
    reply = await client.domain_create("nic.test")
    support.assert_schema_valid(reply.raw)
    assert reply.code == 2302 and "reserved: registry" in reply.raw.decode()
    assert support.dump(db) == before
    reply = await client.domain_check("nic.test", "broke.test")
    support.assert_schema_valid(reply.raw)
    assert [e.get("avail") for e in reply.findall(".//domain:name")] == ["0", "1"]
    assert reply.findtext(".//domain:reason") == "Reserved"


# ---------------------------------------------------------------- low balance


def test_low_balance_poll_message_is_queued_once_when_a_charge_crosses_the_threshold(
    bill: Billing,
) -> None:
    bill.drain_to(bill.x, 3500)
    bill.op(lambda c: pricing.set_account(c, NOW, "ClientX", low_balance=2000))
    bill.create(bill.x, "one.test")  # 35.00 -> 25.00: above
    assert bill.polls(bill.x, "low_balance") == []
    bill.create(bill.x, "two.test")  # 25.00 -> 15.00: crosses
    bill.create(bill.x, "three.test")  # 15.00 -> 5.00: already below
    assert bill.polls(bill.x, "low_balance") == [
        ("Low balance", {"balance": 1500, "threshold": 2000, "currency": "USD"})
    ]
    bill.op(lambda c: billing.top_up(c, NOW, bill.x.id, 2000))  # 25.00: above again
    bill.create(bill.x, "four.test")  # 25.00 -> 15.00: crosses again
    assert len(bill.polls(bill.x, "low_balance")) == 2
    assert bill.polls(bill.y, "low_balance") == []


def test_no_low_balance_message_without_a_threshold_or_when_landing_on_it(
    bill: Billing,
) -> None:
    bill.drain_to(bill.x, 3000)
    bill.create(bill.x, "one.test")
    bill.op(lambda c: pricing.set_account(c, NOW, "ClientX", low_balance=1000))
    bill.create(bill.x, "two.test")  # 20.00 -> 10.00: at the threshold, not below
    assert bill.polls(bill.x, "low_balance") == []
    bill.op(lambda c: pricing.set_account(c, NOW, "ClientX", clear_low_balance=True))
    bill.create(bill.x, "three.test")
    assert bill.polls(bill.x, "low_balance") == []


# ---------------------------------------------------------------- a create alone


def _alone(ctx: Context, cmd: domain.DomainCreate) -> domain.DomainCreated:
    """A create that is all its transaction does, as an EPP command's (`create`'s `sole`)."""
    return domain_create.create(ctx, cmd, sole=True)


def _cmd(name: str, years: int = 1) -> domain.DomainCreate:
    from domreg.model.periods import Period

    return domain.DomainCreate(name=name, auth_info=PW, period=Period(years, "y"))


def test_a_create_alone_charges_refuses_and_warns_as_one_in_a_larger_transaction(
    bill: Billing,
) -> None:
    """On PostgreSQL its writes are one statement committed as it runs, which undoes itself
    for a refused charge or a low-balance message (then made again in a transaction)."""
    bill.drain_to(bill.x, 3500)
    bill.op(lambda c: pricing.set_account(c, NOW, "ClientX", low_balance=2000))
    one = bill.run(bill.x, _alone, _cmd("one.test"))  # 35.00 -> 25.00: above
    assert bill.polls(bill.x, "low_balance") == []
    two = bill.run(bill.x, _alone, _cmd("two.test"))  # 25.00 -> 15.00: crosses
    assert bill.polls(bill.x, "low_balance") == [
        ("Low balance", {"balance": 1500, "threshold": 2000, "currency": "USD"})
    ]
    err = bill.fails(Result.BILLING_FAILURE, bill.x, _alone, _cmd("three.test", years=2))
    assert "insufficient funds" in err.reason and "20.00" in err.reason and "15.00" in err.reason
    bill.fails(Result.OBJECT_EXISTS, bill.y, _alone, _cmd("one.test"))
    bill.set_account(bill.z, currency="EUR")
    err = bill.fails(Result.BILLING_FAILURE, bill.z, _alone, _cmd("euro.test"))
    assert "EUR" in err.reason and "USD" in err.reason
    creates = [c for c in bill.charges(bill.x) if c.kind == "create"]
    assert [(c.id, c.kind, c.amount, c.domain_name) for c in creates] == [
        (one.ledger_id, "create", -1000, "one.test"),
        (two.ledger_id, "create", -1000, "two.test"),
    ]
    with bill.db.read() as conn:
        grace = conn.execute(
            select(t.domains.c.name, t.grace_periods.c.kind, t.grace_periods.c.ledger_id)
            .join(t.grace_periods, t.grace_periods.c.domain_id == t.domains.c.id)
            .order_by(t.domains.c.name)
        ).all()
        history = conn.execute(
            select(t.history.c.object_name, t.history.c.command).order_by(t.history.c.id)
        ).all()
    assert [tuple(g) for g in grace] == [
        ("one.test", "add", one.ledger_id),
        ("two.test", "add", two.ledger_id),
    ]
    assert [tuple(h) for h in history] == [
        ("one.test", "domain:create"),
        ("two.test", "domain:create"),
    ]
    assert_ledger_matches_balances(bill.db)


@support.POSTGRESQL_ONLY  # SQLite's writers take turns: no create reads while another writes
def test_a_create_alone_that_loses_the_race_for_its_name_is_2302_and_writes_nothing(
    bill: Billing,
) -> None:
    """Its facts see the name free; its INSERT waits for the transaction inserting the name,
    which commits: 2302, with no row of its own, as a create in a larger transaction."""
    import concurrent.futures
    import time

    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        with bill.db.write() as conn:
            domain_create.create(
                Context(conn, NOW, bill.y, "CL-1", bill.svtrids.next()), _cmd("race.test")
            )
            loser = pool.submit(bill.run, bill.x, _alone, _cmd("race.test"))
            for _ in range(500):  # until its INSERT waits for this transaction
                with bill.db.read() as reader:
                    waiting = reader.execute(
                        select(func.count())
                        .select_from(sql_text("pg_stat_activity"))
                        .where(
                            sql_text("datname = current_database() AND wait_event_type = 'Lock'")
                        )
                    ).scalar_one()
                if waiting or loser.done():
                    break
                time.sleep(0.02)
            assert waiting == 1 and not loser.done()
        with pytest.raises(EppError) as caught:
            loser.result(timeout=60)
    finally:
        pool.shutdown()
    assert caught.value.code == Result.OBJECT_EXISTS
    assert bill.charges(bill.x) == []
    with bill.db.read() as conn:
        history = conn.execute(select(t.history.c.object_name, t.history.c.registrar_id)).all()
    assert [tuple(h) for h in history] == [("race.test", bill.y.id)]
    assert_ledger_matches_balances(bill.db)


def test_a_create_said_to_be_alone_inside_an_open_transaction_joins_it(bill: Billing) -> None:
    class Boom(Exception):
        pass

    before = support.dump(bill.db)
    with pytest.raises(Boom), bill.db.write() as conn:
        domain_create.create(
            Context(conn, NOW, bill.x, "CL-1", bill.svtrids.next()), _cmd("first.test")
        )
        ctx = Context(conn, NOW, bill.x, "CL-2", bill.svtrids.next())
        domain_create.create(ctx, _cmd("second.test"), sole=True)
        raise Boom
    assert support.dump(bill.db) == before


# ---------------------------------------------------------------- operator flows


def test_adjustments_post_a_row_with_the_reason_and_refuse_debits_beyond_the_limit(
    bill: Billing,
) -> None:
    bill.drain_to(bill.z, 1000)
    account = bill.op(lambda c: pricing.adjust(c, NOW, "ClientZ", -400, "duplicate top-up"))
    assert account.balance == 600
    row = bill.charges(bill.z)[-1]
    assert (row.kind, row.amount, row.description) == ("adjustment", -400, "duplicate top-up")
    with pytest.raises(RegistryError, match="refused"):
        bill.op(lambda c: pricing.adjust(c, NOW, "ClientZ", -601, "too much"))
    with pytest.raises(RegistryError, match="reason"):
        bill.op(lambda c: pricing.adjust(c, NOW, "ClientZ", 100, "  "))
    assert bill.balance(bill.z) == 600
    assert_ledger_matches_balances(bill.db)


def test_price_lists_parse_csv_with_clear_line_numbered_errors() -> None:
    assert pricing.parse_reserved("Label,Reason\nbücher,brand\n\nNIC, ops \n") == [
        pricing.Reserved("xn--bcher-kva", "brand"),
        pricing.Reserved("nic", "ops"),
    ]
    for text, needle in (
        ("a.b,x\n", "line 1: 'a.b' is not a single label"),
        ("ok,x\n-bad,y\n", "line 2: invalid label"),
        ("ok,x\nOK,y\n", "line 2: ok is already on line 1"),
        ("ok\n", "expected 2 fields"),
        ("ok,\n", "reason must be"),
    ):
        with pytest.raises(RegistryError, match=needle):
            pricing.parse_reserved(text)
    assert pricing.parse_premium("vip,gold,100,50.5,50,10.00\n") == [
        pricing.Premium("vip", "gold", 10000, 5050, 5000, 1000)
    ]
    for text, needle in (
        ("vip,gold,1.005,1,1,1\n", "line 1: amount 1.005 has more than two decimals"),
        ("vip,gold,-1,1,1,1\n", "negative"),
        ("vip,,1,1,1,1\n", "class must be"),
        ("vip,gold,1,1,1\n", "expected 6 fields"),
    ):
        with pytest.raises(RegistryError, match=needle):
            pricing.parse_premium(text)


def test_loading_lists_adds_or_updates_and_replace_drops_unlisted_labels(
    bill: Billing,
) -> None:
    first = [pricing.Reserved("a", "one"), pricing.Reserved("b", "two")]
    assert bill.op(lambda c: pricing.load_reserved(c, "test", first)) == 2
    assert bill.op(lambda c: pricing.load_reserved(c, "test", [pricing.Reserved("b", "2")])) == 2
    assert (
        bill.op(lambda c: pricing.load_reserved(c, "test", [pricing.Reserved("c", "3")], True)) == 1
    )
    with bill.db.read() as conn:
        rows = conn.execute(select(t.reserved_names.c.label, t.reserved_names.c.reason)).all()
    assert [tuple(r) for r in rows] == [("c", "3")]
    with pytest.raises(RegistryError, match="TLD nosuch does not exist"):
        bill.op(lambda c: pricing.load_reserved(c, "nosuch", first))


def test_statement_lists_the_months_rows_with_opening_and_closing_balances(
    bill: Billing,
) -> None:
    bill.now = datetime(2025, 2, 27, 9, 0)
    bill.op(lambda c: pricing.adjust(c, bill.now, "ClientX", 5000, "February credit"))
    bill.now = datetime(2025, 3, 1, 0, 0)
    created = bill.create(bill.x, "march.test")
    bill.now = datetime(2025, 3, 31, 23, 59, 59)
    bill.run(bill.x, billing.refund, created.ledger_id, "refund")
    bill.now = datetime(2025, 4, 1, 0, 0)
    bill.create(bill.x, "april.test")
    with bill.db.read() as conn:
        march = pricing.statement(conn, "ClientX", "2025-03")
        feb = pricing.statement(conn, "ClientX", "2025-02")
    assert [(e.kind, e.amount, e.domain, e.tld) for e in march.entries] == [
        ("create", -1000, "march.test", "test"),
        ("refund", 1000, "march.test", "test"),
    ]
    assert (march.opening, march.closing) == (5000, 5000)
    assert (feb.opening, feb.closing, feb.month) == (0, 5000, "2025-02")
    with pytest.raises(RegistryError, match="invalid month"), bill.db.read() as conn:
        pricing.statement(conn, "ClientX", "March")


# ---------------------------------------------------------------- the ledger property

_counter = itertools.count()
_svtrids = SvTrIds()  # one sequence for every example: svTRIDs are unique in history

operation = s.one_of(
    s.tuples(s.just("topup"), s.integers(0, 2), s.integers(1, 5000), s.just(0)),
    s.tuples(s.just("create"), s.integers(0, 2), s.integers(0, 3), s.integers(1, 3)),
    s.tuples(s.just("create"), s.integers(0, 2), s.integers(0, 3), s.just(1)),
    s.tuples(s.just("renew"), s.integers(0, 2), s.integers(0, 3), s.integers(1, 3)),
    s.tuples(s.just("request"), s.integers(0, 2), s.integers(0, 3), s.integers(1, 2)),
    s.tuples(s.just("approve"), s.integers(0, 2), s.integers(0, 3), s.just(0)),
    s.tuples(s.just("transfer"), s.integers(0, 2), s.integers(0, 3), s.integers(1, 2)),
    s.tuples(s.just("refund"), s.integers(0, 2), s.integers(0, 50), s.just(0)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=s.lists(operation, min_size=4, max_size=30),
    funds=s.lists(s.sampled_from([0, 999, 1000, 2500, 6000, 20000]), min_size=3, max_size=3),
    limits=s.lists(s.integers(0, 3000), min_size=3, max_size=3),
    override=s.integers(0, 2000),
)
def test_balance_is_always_the_ledger_sum_and_never_below_the_credit_limit(
    db: Database, ops: list[tuple[Any, ...]], funds: list[int], limits: list[int], override: int
) -> None:
    """Random top-ups, creates, renews, transfers, refunds and failed charges, flow by flow,
    by three fresh registrars (one with a transfer price override) on a premium and three
    standard names: after every step each registrar's balance is the sum of its ledger rows and
    at least minus its credit limit, and no charge is ever refunded twice."""
    from domreg.model.periods import Period

    n = next(_counter)
    with db.write() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar_one()
        actors = []
        for i, (limit, amount) in enumerate(zip(limits, funds, strict=True)):
            rid = conn.execute(
                insert(t.registrars)
                .values(
                    clid=f"p{n}r{i}",
                    name="prop",
                    password_hash="x",
                    created_at=NOW,
                    credit_limit=limit,
                    low_balance_threshold=1500,
                )
                .returning(t.registrars.c.id)
            ).scalar_one()
            conn.execute(insert(t.registrar_tlds).values(registrar_id=rid, tld_id=tld_id))
            billing.top_up(conn, NOW, rid, amount)
            actors.append(Actor(rid, f"p{n}r{i}"))
        conn.execute(
            insert(t.registrar_prices).values(
                registrar_id=actors[0].id, tld_id=tld_id, operation="transfer", price=override
            )
        )
        conn.execute(
            insert(t.premium_names).values(
                tld_id=tld_id,
                label=f"p{n}n0",
                create_price=2500,
                renew_price=1200,
                transfer_price=800,
                restore_price=100,
            )
        )
    names = [f"p{n}n{i}.test" for i in range(4)]

    def live(conn: Any, name: str) -> Any:
        return conn.execute(
            select(t.domains).where(t.domains.c.name == name, t.domains.c.deleted_at.is_(None))
        ).first()

    def run(label: str, actor: Actor, fn: Callable[[Context], Any]) -> None:
        """One command in its own transaction; a refusal must leave balances and ledger as is."""
        before = ledger_state()
        try:
            with db.write() as conn:
                fn(Context(conn, NOW, actor, None, _svtrids.next()))
            event(f"{label} accepted")
        except EppError as err:
            assert err.code != Result.COMMAND_FAILED
            assert ledger_state() == before
            event(f"{label} refused {int(err.code)}")

    def ledger_state() -> tuple[Any, ...]:
        with db.read() as conn:
            return (
                conn.execute(select(func.count()).select_from(t.ledger)).scalar_one(),
                sorted(
                    tuple(r)
                    for r in conn.execute(select(t.registrars.c.id, t.registrars.c.balance))
                ),
            )

    for kind, who, what, years in ops:
        actor = actors[who]
        name = names[what % len(names)]
        with db.read() as conn:
            row = live(conn, name)
        if kind == "topup":
            with db.write() as conn:
                billing.top_up(conn, NOW, actor.id, what)
        elif kind == "create":
            cmd = domain.DomainCreate(
                name=name, auth_info=PW, period=Period(years, "y"), fee=GENEROUS
            )
            run(kind, actor, lambda ctx, cmd=cmd: domain_create.create(ctx, cmd))
        elif row is None and kind in ("renew", "request", "approve", "transfer"):
            event(f"{kind} skipped: no such name")
        elif kind == "renew":
            cur = row.expires_at.date().isoformat()
            cmd = domain.DomainRenew(name, cur, Period(years, "y"), GENEROUS)
            run(kind, row_actor(actors, row, actor), lambda ctx, cmd=cmd: domain.renew(ctx, cmd))
        elif kind in ("request", "transfer"):
            sponsor = row_actor(actors, row, actor)
            give = domain.DomainUpdate(name, auth_info=PW)
            run("update", sponsor, lambda ctx, give=give: domain.update(ctx, give))
            cmd = domain.DomainTransfer("request", name, PW, None, Period(years, "y"), GENEROUS)
            run("request", actor, lambda ctx, cmd=cmd: domain.transfer(ctx, cmd))
            if kind == "transfer":
                kind = "approve"
        if kind == "approve" and row is not None:
            approve = domain.DomainTransfer("approve", name)
            run(
                kind,
                row_actor(actors, row, actor),
                lambda ctx, approve=approve: domain.transfer(ctx, approve),
            )
        elif kind == "refund":
            with db.read() as conn:
                charge_ids = list(
                    conn.execute(
                        select(t.ledger.c.id)
                        .where(
                            t.ledger.c.registrar_id.in_([a.id for a in actors]),
                            t.ledger.c.amount < 0,
                        )
                        .order_by(t.ledger.c.id)
                    ).scalars()
                )
            if charge_ids:
                target = charge_ids[what % len(charge_ids)]
                run(kind, actor, lambda ctx, target=target: billing.refund(ctx, target, "property"))
        assert_ledger_matches_balances(db)
    with db.read() as conn:
        refunded = conn.execute(
            select(t.ledger.c.refund_of, func.count())
            .where(t.ledger.c.refund_of.is_not(None))
            .group_by(t.ledger.c.refund_of)
        ).all()
    assert all(count == 1 for _, count in refunded)


def row_actor(actors: list[Actor], row: Any, default: Actor) -> Actor:
    """The sponsor of a domain row among `actors` (a stranger's command is refused: 2201)."""
    return next((a for a in actors if a.id == row.registrar_id), default)
