"""The registration lifecycle over years of a name's life, with the clock moved by hand: grace
periods and their refunds, auto-renew, redemption, restore, pendingDelete and purge, transfer
auto-approval, all through the flows and the jobs (`jobs.run_until`), on each backend.

After every step the books balance (each registrar's ledger sums to its balance); every
server-side event leaves its history row (no registrar: the server) and a poll message; a
catch-up after a long downtime ends in the same state as running all along; running the
jobs twice changes nothing; and `domreg serve` and `domreg jobs run` run them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update

from domreg.clock import Clock, FixedClock
from domreg.flows import billing, contact, domain, domain_create, host, lifecycle
from domreg.flows import transfer as trn
from domreg.flows.base import Actor, Context, SvTrIds
from domreg.jobs import lifecycle as jobs
from domreg.jobs.scheduler import Scheduler
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.periods import Period, add_months
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support

START = datetime(2026, 1, 15, 12, 0, 0)
DAY = timedelta(days=1)
AUTH = "auth-INFO1"
SVTRIDS = SvTrIds("TLC")  # one generator for the module: ids stay unique across worlds

REPORT = lifecycle.RestoreReport(
    pre_data="Registration data before the delete.",
    post_data="Registration data after the restore.",
    del_time=START,
    res_time=START,
    res_reason="Registrant error.",
    statements=(
        "This registrar has not restored the Registered Name in order to assume the rights to "
        "use or sell the Registered Name for itself or for any third party.",
        "The information in this report is true to best of this registrar's knowledge.",
    ),
)


class World:
    """The registry of the `db` fixture (TLDs test/com/net, registrars ClientX/Y/Z with funds)
    and a clock that moves only when told."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = FixedClock(START)
        with db.read() as conn:
            ids = {r.clid: r.id for r in conn.execute(select(t.registrars))}
        self.clids = {v: k for k, v in ids.items()}
        self.x = Actor(ids["ClientX"], "ClientX")
        self.y = Actor(ids["ClientY"], "ClientY")
        self.z = Actor(ids["ClientZ"], "ClientZ")
        with db.write() as conn:
            for actor in (self.x, self.y, self.z):
                if self.balance(actor, conn) < 1_000_000:
                    billing.top_up(conn, START, actor.id, support.FUNDS)

    # ------------------------------------------------------------ acting

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def at(self, when: datetime) -> World:
        self.clock.set(when)
        return self

    def run(self, actor: Actor, flow: Callable[..., Any], *args: Any) -> Any:
        """One command: one transaction at the clock's time, then the books are checked."""
        with self.db.write() as conn:
            result = flow(Context(conn, self.now, actor, "TEST-1", SVTRIDS.next()), *args)
        self.check_books()
        return result

    def fails(self, code: Result, actor: Actor, flow: Callable[..., Any], *args: Any) -> EppError:
        before = support.dump(self.db)
        with pytest.raises(EppError) as caught:
            self.run(actor, flow, *args)
        assert caught.value.code == code, caught.value
        assert support.dump(self.db) == before
        return caught.value

    def jobs(self, until: datetime | None = None) -> int:
        """Run the jobs up to `until` (default: the clock), then check the books."""
        done = jobs.run_until(self.db, until or self.now)
        self.check_books()
        return done

    def create(self, actor: Actor, name: str, years: int = 1) -> domain.DomainCreated:
        cmd = domain.DomainCreate(name=name, auth_info=AUTH, period=Period(years, "y"))
        created: domain.DomainCreated = self.run(actor, domain_create.create, cmd)
        return created

    def delete(self, actor: Actor, name: str) -> Result:
        result: Result = self.run(actor, domain.delete_, name)
        return result

    def renew(self, actor: Actor, name: str, years: int = 1) -> Any:
        cur = self.domain(name).expires_at.date().isoformat()
        return self.run(actor, domain.renew, domain.DomainRenew(name, cur, Period(years, "y")))

    def transfer(self, actor: Actor, op: str, name: str) -> trn.TransferData:
        auth = AUTH if op == "request" else None
        data: trn.TransferData = self.run(
            actor, domain.transfer, domain.DomainTransfer(op, name, auth_info=auth)
        )
        return data

    def set_tld(self, name: str, **columns: int) -> None:
        with self.db.write() as conn:
            conn.execute(update(t.tlds).where(t.tlds.c.name == name).values(**columns))

    def set_balance(self, actor: Actor, amount: int) -> None:
        with self.db.write() as conn:
            billing.top_up(conn, self.now, actor.id, amount - self.balance(actor, conn))

    # ------------------------------------------------------------ looking

    def domain(self, name: str) -> Any:
        """The newest row of `name` (live or purged)."""
        with self.db.read() as conn:
            return conn.execute(
                select(t.domains).where(t.domains.c.name == name).order_by(t.domains.c.id.desc())
            ).first()

    def statuses(self, name: str) -> set[str]:
        with self.db.read() as conn:
            return {
                r.status
                for r in conn.execute(
                    select(t.statuses).where(t.statuses.c.roid == self.domain(name).roid)
                )
            }

    def rgp(self, name: str, when: datetime | None = None) -> list[str]:
        with self.db.read() as conn:
            return lifecycle.rgp_statuses(conn, self.domain(name).id, when or self.now)

    def periods(self, name: str) -> list[Any]:
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(t.grace_periods)
                    .where(t.grace_periods.c.domain_id == self.domain(name).id)
                    .order_by(t.grace_periods.c.id)
                )
            )

    def available(self, name: str) -> bool:
        item: domain.CheckItem = self.run(self.x, domain.check, [name])[0]
        return item.avail

    def balance(self, actor: Actor, conn: Any = None) -> int:
        def read(c: Any) -> int:
            q = select(t.registrars.c.balance).where(t.registrars.c.id == actor.id)
            return int(c.execute(q).scalar_one())

        if conn is not None:
            return read(conn)
        with self.db.read() as c:
            return read(c)

    def ledger(self, name: str) -> list[Any]:
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(t.ledger).where(t.ledger.c.domain_name == name).order_by(t.ledger.c.id)
                )
            )

    def history(self, name: str) -> list[tuple[str, datetime, str | None]]:
        """(command, at, registrar clid or None for the server) of every row about `name`."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.history).where(t.history.c.object_name == name).order_by(t.history.c.id)
            )
            return [(r.command, r.at, self.clids.get(r.registrar_id)) for r in rows]

    def polls(self, actor: Actor, kind: str | None = None) -> list[Any]:
        with self.db.read() as conn:
            q = select(t.poll_messages).where(t.poll_messages.c.registrar_id == actor.id)
            if kind is not None:
                q = q.where(t.poll_messages.c.kind == kind)
            return list(conn.execute(q.order_by(t.poll_messages.c.id)))

    def check_books(self) -> None:
        """Every registrar's ledger rows sum to its balance."""
        with self.db.read() as conn:
            sums = dict(
                conn.execute(
                    select(t.ledger.c.registrar_id, func.sum(t.ledger.c.amount)).group_by(
                        t.ledger.c.registrar_id
                    )
                ).all()
            )
            for r in conn.execute(select(t.registrars)):
                assert int(sums.get(r.id) or 0) == r.balance, f"{r.clid}: ledger and balance differ"


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


def price(world: World, kind: str) -> int:
    with world.db.read() as conn:
        row = conn.execute(select(t.tlds).where(t.tlds.c.name == "test")).one()
        return int(getattr(row, f"{kind}_price"))


# ---------------------------------------------------------------- grace periods


def test_grace_periods_last_as_long_as_the_tld_says(world):
    world.set_tld("test", add_grace_days=2, renew_grace_days=3)
    world.create(world.x, "short.test")
    assert world.rgp("short.test") == ["addPeriod"]
    assert world.rgp("short.test", START + 2 * DAY - timedelta(seconds=1)) == ["addPeriod"]
    assert world.rgp("short.test", START + 2 * DAY) == []
    world.at(START + 10 * DAY).renew(world.x, "short.test")
    assert world.rgp("short.test") == ["renewPeriod"]
    assert world.rgp("short.test", START + 13 * DAY) == []
    # Another TLD keeps the defaults: add 5 days.
    world.at(START).create(world.x, "long.com")
    (add,) = world.periods("long.com")
    assert (add.kind, add.ends_at - add.starts_at) == ("add", 5 * DAY)
    # A renew inside the add grace period: both show.
    world.at(START + DAY).renew(world.x, "long.com")
    assert world.rgp("long.com") == ["addPeriod", "renewPeriod"]


def test_delete_in_add_grace_purges_at_once_and_refunds_create_and_renew(world):
    before = world.balance(world.x)
    world.create(world.x, "oops.test", years=2)
    world.at(START + DAY).renew(world.x, "oops.test")
    assert world.balance(world.x) == before - 3 * price(world, "renew")
    assert world.at(START + 2 * DAY).delete(world.x, "oops.test") == Result.SUCCESS
    assert world.balance(world.x) == before
    kinds = [(r.kind, r.amount) for r in world.ledger("oops.test")]
    assert kinds == [
        ("create", -2 * price(world, "create")),
        ("renew", -price(world, "renew")),
        ("refund", 2 * price(world, "create")),
        ("refund", price(world, "renew")),
    ]
    row = world.domain("oops.test")
    assert row.deleted_at == START + 2 * DAY
    assert world.periods("oops.test") == []
    assert [c for c, _, _ in world.history("oops.test")] == [
        "domain:create",
        "domain:renew",
        "domain:delete",
    ]
    assert world.available("oops.test")
    world.create(world.y, "oops.test")  # anyone may register it again at once


def test_delete_after_add_grace_goes_into_redemption_and_refunds_the_renew_grace(world):
    world.create(world.x, "later.test")
    world.at(START + 10 * DAY).renew(world.x, "later.test", years=2)
    assert world.domain("later.test").expires_at == add_months(START, 36)
    before = world.balance(world.x)
    assert world.at(START + 12 * DAY).delete(world.x, "later.test") == Result.SUCCESS_PENDING
    assert world.balance(world.x) == before + 2 * price(world, "renew")
    row = world.domain("later.test")
    assert row.deleted_at is None
    assert row.expires_at == add_months(START, 12)  # the refunded years come off
    assert st.PENDING_DELETE in world.statuses("later.test")
    assert world.rgp("later.test") == ["redemptionPeriod"]
    (redemption,) = world.periods("later.test")
    assert (redemption.kind, redemption.ends_at) == ("redemption", START + 42 * DAY)
    assert not world.available("later.test")
    # In redemption: nothing but a restore.
    world.fails(Result.OBJECT_STATUS_PROHIBITS_OPERATION, world.x, domain.delete_, "later.test")
    cur = row.expires_at.date().isoformat()
    world.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        world.x,
        domain.renew,
        domain.DomainRenew("later.test", cur, Period(1, "y")),
    )
    world.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        world.x,
        domain.update,
        domain.DomainUpdate("later.test", auth_info="other-AUTH2"),
    )
    world.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        world.y,
        domain.transfer,
        domain.DomainTransfer("request", "later.test", auth_info=AUTH),
    )


def test_delete_in_transfer_grace_refunds_the_transfer_to_the_gaining_registrar(world):
    world.create(world.x, "moved.test")
    world.at(START + 70 * DAY).transfer(world.y, "request", "moved.test")
    world.transfer(world.x, "approve", "moved.test")
    assert world.rgp("moved.test") == ["transferPeriod"]
    assert world.domain("moved.test").expires_at == add_months(START, 24)
    x_before, y_before = world.balance(world.x), world.balance(world.y)
    assert world.at(START + 72 * DAY).delete(world.y, "moved.test") == Result.SUCCESS_PENDING
    assert world.balance(world.y) == y_before + price(world, "transfer")
    assert world.balance(world.x) == x_before  # the create was X's, long out of grace
    assert world.domain("moved.test").expires_at == add_months(START, 12)


# ---------------------------------------------------------------- redemption to purge


def test_redemption_then_pending_delete_then_purge_frees_the_name(world):
    world.create(world.x, "gone.test")
    world.at(START + 10 * DAY).delete(world.x, "gone.test")
    assert world.at(START + 40 * DAY - timedelta(seconds=1)).jobs() == 0
    assert world.rgp("gone.test") == ["redemptionPeriod"]

    assert world.at(START + 41 * DAY).jobs() == 1
    assert world.rgp("gone.test") == ["pendingDelete"]
    assert st.PENDING_DELETE in world.statuses("gone.test")
    assert world.history("gone.test")[-1] == ("domain:pending-delete", START + 40 * DAY, None)
    (notice,) = world.polls(world.x, "pending_delete")
    assert notice.created_at == START + 40 * DAY and "gone.test" in notice.message
    world.fails(
        Result.OBJECT_NOT_ELIGIBLE_FOR_RENEWAL, world.x, lifecycle.restore_request, "gone.test"
    )

    assert world.at(START + 60 * DAY).jobs() == 1
    row = world.domain("gone.test")
    assert row.deleted_at == START + 45 * DAY
    assert world.history("gone.test")[-1] == ("domain:purge", START + 45 * DAY, None)
    (purged,) = world.polls(world.x, "purge")
    assert purged.created_at == START + 45 * DAY
    assert orjson.loads(purged.payload)["name"] == "gone.test"
    assert world.periods("gone.test") == [] and world.statuses("gone.test") == set()
    assert world.available("gone.test")
    world.create(world.y, "gone.test")


def test_purge_removes_the_links_and_frees_the_contact(world):
    postal = contact.PostalInfo("int", "Jo Doe", None, (), "Town", None, None, "FR")
    world.run(
        world.x, contact.create, contact.ContactCreate("jo1", (postal,), "jo@x.example", AUTH)
    )
    world.create(world.x, "linked.test")
    world.run(
        world.x,
        domain.update,
        domain.DomainUpdate("linked.test", add_contacts=(("admin", "jo1"),)),
    )
    world.at(START + 10 * DAY).delete(world.x, "linked.test")
    world.fails(
        Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION, world.x, contact.delete_, "jo1"
    )  # still linked while the name can be restored
    world.at(START + 45 * DAY).jobs()
    with world.db.read() as conn:
        links = conn.execute(
            select(t.domain_contacts).where(
                t.domain_contacts.c.domain_id == world.domain("linked.test").id
            )
        ).all()
    assert links == []
    world.run(world.x, contact.delete_, "jo1")


# ---------------------------------------------------------------- auto-renew


def test_expiry_auto_renews_for_a_year_billed_to_the_sponsor_with_a_poll_message(world):
    world.create(world.x, "keep.test")
    expiry = add_months(START, 12)
    assert world.at(expiry - timedelta(seconds=1)).jobs() == 0
    before = world.balance(world.x)
    assert world.at(expiry + DAY).jobs() == 1
    assert world.balance(world.x) == before - price(world, "renew")
    assert world.domain("keep.test").expires_at == add_months(START, 24)
    charge = world.ledger("keep.test")[-1]
    assert (charge.kind, charge.at, charge.years) == ("autorenew", expiry, 1)
    assert world.rgp("keep.test") == ["autoRenewPeriod"]
    (period,) = world.periods("keep.test")[-1:]
    assert (period.starts_at, period.ends_at, period.ledger_id) == (
        expiry,
        expiry + 45 * DAY,
        charge.id,
    )
    assert world.history("keep.test")[-1] == ("domain:autorenew", expiry, None)
    (notice,) = world.polls(world.x, "autorenew")
    assert notice.created_at == expiry
    assert orjson.loads(notice.payload)["expires_at"] == add_months(START, 24).isoformat()
    # Years later: one auto-renew a year, no more.
    assert world.at(add_months(START, 48) + DAY).jobs() == 3
    assert world.domain("keep.test").expires_at == add_months(START, 60)
    assert [r.at for r in world.ledger("keep.test") if r.kind == "autorenew"] == [
        add_months(START, 12 * n) for n in (1, 2, 3, 4)
    ]
    assert len(world.polls(world.x, "autorenew")) == 4


def test_delete_in_auto_renew_grace_refunds_that_year(world):
    world.create(world.x, "lapse.test")
    expiry = add_months(START, 12)
    world.at(expiry + DAY).jobs()
    before = world.balance(world.x)
    assert world.at(expiry + 10 * DAY).delete(world.x, "lapse.test") == Result.SUCCESS_PENDING
    assert world.balance(world.x) == before + price(world, "renew")
    assert world.ledger("lapse.test")[-1].kind == "refund"
    assert world.domain("lapse.test").expires_at == expiry
    assert world.rgp("lapse.test") == ["redemptionPeriod"]
    # Restoring the expired name renews it again: restore fee plus a year.
    world.run(world.x, lifecycle.restore_request, "lapse.test")
    world.at(expiry + 11 * DAY).run(world.x, lifecycle.restore_report, "lapse.test", REPORT)
    assert world.balance(world.x) == before - price(world, "restore")
    assert world.domain("lapse.test").expires_at == add_months(START, 24)
    assert [r.kind for r in world.ledger("lapse.test")][-2:] == ["restore", "renew"]
    assert world.at(expiry + 60 * DAY).jobs() == 0


def test_an_auto_renew_the_sponsor_cannot_pay_deletes_the_name_into_redemption(world):
    world.create(world.z, "poor.test")
    world.set_balance(world.z, 0)
    expiry = add_months(START, 12)
    world.at(expiry - 2 * DAY).transfer(world.y, "request", "poor.test")  # pending at expiry
    assert world.at(expiry + DAY).jobs() == 1
    assert world.balance(world.z) == 0
    assert [r.kind for r in world.ledger("poor.test")] == ["create"]
    assert st.PENDING_DELETE in world.statuses("poor.test")
    assert world.rgp("poor.test") == ["redemptionPeriod"]
    row = world.domain("poor.test")
    assert (row.registrar_id, row.trn_status) == (world.z.id, trn.SERVER_CANCELLED)
    assert ("domain:server-delete", expiry, None) in world.history("poor.test")
    (notice,) = world.polls(world.z, "redemption")
    assert notice.created_at == expiry and "could not be auto-renewed" in notice.message
    assert world.polls(world.y, "transfer")[-1].message == "Transfer cancelled by the registry."
    # Funded again, the registrar restores it (and pays the year it needs).
    world.set_balance(world.z, 100_000)
    world.at(expiry + 3 * DAY).run(world.z, lifecycle.restore_request, "poor.test")
    world.run(world.z, lifecycle.restore_report, "poor.test", REPORT)
    assert world.statuses("poor.test") == set()
    assert world.domain("poor.test").expires_at == add_months(START, 24)
    assert world.balance(world.z) == 100_000 - price(world, "restore") - price(world, "renew")


def test_purging_a_name_the_server_deleted_purges_its_subordinate_hosts(world):
    world.create(world.z, "hosted.test")
    world.run(world.z, host.create, host.HostCreate("ns1.hosted.test", (("192.0.2.1", "v4"),)))
    world.create(world.x, "client.test")
    world.run(
        world.x, domain.update, domain.DomainUpdate("client.test", add_ns=("ns1.hosted.test",))
    )
    world.set_balance(world.z, 0)
    expiry = add_months(START, 12)
    # client.test auto-renews; hosted.test: server delete, pendingDelete, purge.
    assert world.at(expiry + 35 * DAY).jobs() == 4
    assert world.domain("hosted.test").deleted_at == expiry + 35 * DAY
    assert world.history("ns1.hosted.test")[-1] == ("host:purge", expiry + 35 * DAY, None)
    assert world.run(world.x, domain.info, "client.test").ns == []
    assert world.available("hosted.test")


# ---------------------------------------------------------------- restore


def test_restore_request_then_report_brings_the_name_back(world):
    world.create(world.x, "back.test")
    world.run(
        world.x,
        domain.update,
        domain.DomainUpdate("back.test", add_statuses=((st.CLIENT_HOLD, None, None),)),
    )
    world.at(START + 10 * DAY).delete(world.x, "back.test")
    before = world.balance(world.x)
    assert world.at(START + 12 * DAY).run(world.x, lifecycle.restore_request, "back.test") == (
        "pendingRestore"
    )
    assert world.balance(world.x) == before - price(world, "restore")
    assert world.ledger("back.test")[-1].kind == "restore"
    assert world.rgp("back.test") == ["pendingRestore"]
    assert st.PENDING_DELETE in world.statuses("back.test")  # RFC 3915 step 5
    world.at(START + 14 * DAY).run(world.x, lifecycle.restore_report, "back.test", REPORT)
    assert world.statuses("back.test") == {st.CLIENT_HOLD}  # as before the delete
    assert world.rgp("back.test") == []
    assert world.domain("back.test").expires_at == add_months(START, 12)
    commands = [c for c, _, _ in world.history("back.test")]
    assert commands[-2:] == ["domain:restore-request", "domain:restore-report"]
    with world.db.read() as conn:
        snap = conn.execute(
            select(t.history.c.snapshot).where(t.history.c.command == "domain:restore-report")
        ).scalar_one()
    assert orjson.loads(snap)["restore_report"]["res_reason"] == "Registrant error."
    world.renew(world.x, "back.test")  # an ordinary name again
    assert world.at(START + 100 * DAY).jobs() == 0


def test_restore_without_a_report_goes_back_to_redemption(world):
    world.create(world.x, "nearly.test")
    world.at(START + 10 * DAY).delete(world.x, "nearly.test")  # redemption until day 40
    world.at(START + 12 * DAY).run(world.x, lifecycle.restore_request, "nearly.test")
    assert world.at(START + 19 * DAY - timedelta(seconds=1)).jobs() == 0
    assert world.at(START + 19 * DAY).jobs() == 1
    assert world.rgp("nearly.test") == ["redemptionPeriod"]
    assert world.history("nearly.test")[-1] == ("domain:restore-lapsed", START + 19 * DAY, None)
    assert len(world.polls(world.x, "restore_lapsed")) == 1
    world.fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        world.x,
        lifecycle.restore_report,
        "nearly.test",
        REPORT,
    )
    # A second request late in the redemption period suspends its end until the report is due.
    world.at(START + 38 * DAY).run(world.x, lifecycle.restore_request, "nearly.test")
    assert world.at(START + 44 * DAY).jobs() == 0
    assert world.at(START + 45 * DAY).jobs() == 2  # lapse, then the redemption is over
    assert world.rgp("nearly.test") == ["pendingDelete"]
    assert world.at(START + 50 * DAY).jobs() == 1
    assert world.domain("nearly.test").deleted_at == START + 50 * DAY
    assert [r.kind for r in world.ledger("nearly.test")] == ["create", "restore", "restore"]


def test_restore_result_codes(world):
    world.create(world.x, "live.test")
    world.create(world.x, "dead.test")
    world.at(START + 10 * DAY).delete(world.x, "dead.test")
    fails = world.fails
    fails(Result.OBJECT_DOES_NOT_EXIST, world.x, lifecycle.restore_request, "nowhere.test")
    fails(Result.AUTHORIZATION_ERROR, world.y, lifecycle.restore_request, "dead.test")
    fails(Result.OBJECT_NOT_ELIGIBLE_FOR_RENEWAL, world.x, lifecycle.restore_request, "live.test")
    fails(
        Result.OBJECT_STATUS_PROHIBITS_OPERATION,
        world.x,
        lifecycle.restore_report,
        "dead.test",
        REPORT,
    )  # no request yet
    world.run(world.x, lifecycle.restore_request, "dead.test")
    fails(Result.OBJECT_STATUS_PROHIBITS_OPERATION, world.x, lifecycle.restore_request, "dead.test")
    for bad in (
        {"statements": REPORT.statements[:1]},
        {"res_reason": "  "},
        {"del_time": START + DAY, "res_time": START},  # restored before deleted
        {"res_time": START + 20 * DAY},  # in the future
    ):
        report = dataclasses.replace(REPORT, **bad)
        fails(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            world.x,
            lifecycle.restore_report,
            "dead.test",
            report,
        )
    fails(Result.AUTHORIZATION_ERROR, world.y, lifecycle.restore_report, "dead.test", REPORT)
    world.create(world.z, "broke.test")
    world.at(START + 20 * DAY).delete(world.z, "broke.test")
    world.set_balance(world.z, price(world, "restore") - 1)
    fails(Result.BILLING_FAILURE, world.z, lifecycle.restore_request, "broke.test")


# ---------------------------------------------------------------- transfers


def test_a_pending_transfer_is_approved_by_the_server_after_the_tlds_period(world):
    world.set_tld("test", transfer_pending_days=3)
    world.create(world.x, "away.test")
    requested = START + 60 * DAY
    data = world.at(requested).transfer(world.y, "request", "away.test")
    assert data.action_at == requested + 3 * DAY
    y_before = world.balance(world.y)
    assert world.at(requested + 3 * DAY - timedelta(seconds=1)).jobs() == 0
    assert world.at(requested + 10 * DAY).jobs() == 1
    row = world.domain("away.test")
    assert row.registrar_id == world.y.id
    assert (row.trn_status, row.transferred_at) == (trn.SERVER_APPROVED, requested + 3 * DAY)
    assert row.expires_at == add_months(START, 24)
    assert row.auth_info is None or row.auth_info != AUTH
    assert world.balance(world.y) == y_before - price(world, "transfer")
    assert world.ledger("away.test")[-1].at == requested + 3 * DAY
    assert world.rgp("away.test", requested + 4 * DAY) == ["transferPeriod"]
    assert world.history("away.test")[-1] == (
        "domain:transfer-serverApproved",
        requested + 3 * DAY,
        None,
    )
    for actor in (world.x, world.y):
        notice = world.polls(actor, "transfer")[-1]
        assert orjson.loads(notice.payload)["status"] == "serverApproved"
        assert notice.created_at == requested + 3 * DAY


def test_a_transfer_in_the_auto_renew_grace_period_refunds_the_losing_registrar(world):
    world.create(world.x, "renewed.test")
    expiry = add_months(START, 12)
    world.at(expiry - 2 * DAY).transfer(world.y, "request", "renewed.test")
    x_before = world.balance(world.x)
    # The expiry passes while the transfer is pending: auto-renewed, then server-approved.
    assert world.at(expiry + 5 * DAY).jobs() == 2
    assert world.balance(world.x) == x_before  # auto-renew charged, then refunded
    assert [r.kind for r in world.ledger("renewed.test")] == [
        "create",
        "autorenew",
        "refund",
        "transfer",
    ]
    row = world.domain("renewed.test")
    assert row.registrar_id == world.y.id
    assert row.expires_at == add_months(START, 24)  # the transfer's year replaces the auto-renew
    assert world.rgp("renewed.test") == ["transferPeriod"]


def test_a_pending_contact_transfer_is_approved_by_the_server(world):
    postal = contact.PostalInfo("int", "Al Bo", None, (), "Town", None, None, "FR")
    world.run(
        world.x, contact.create, contact.ContactCreate("al1", (postal,), "al@x.example", AUTH)
    )
    world.at(START + DAY).run(
        world.y, contact.transfer, contact.ContactTransfer("request", "al1", AUTH)
    )
    assert world.at(START + 10 * DAY).jobs() == 1
    with world.db.read() as conn:
        row = conn.execute(select(t.contacts).where(t.contacts.c.handle == "al1")).one()
    assert (row.registrar_id, row.trn_status) == (world.y.id, trn.SERVER_APPROVED)
    assert row.trn_action_at == START + 6 * DAY


# ---------------------------------------------------------------- catching up, idempotence


def scenario(world: World, step: Callable[[datetime], None]) -> None:
    """Registrar actions over the first days; `step(t)` runs the jobs (or not) up to t."""
    w = world
    w.create(w.x, "keep.test")
    w.create(w.x, "drop.test")
    w.create(w.x, "move.test")
    w.create(w.x, "lapse.test")
    w.create(w.z, "poor.test")
    w.set_balance(w.z, price(w, "renew"))  # one auto-renew, not two
    for day, act in (
        (3, lambda: w.transfer(w.y, "request", "move.test")),
        (10, lambda: w.delete(w.x, "drop.test")),
        (12, lambda: w.delete(w.x, "lapse.test")),
        (13, lambda: w.run(w.x, lifecycle.restore_request, "lapse.test")),
    ):
        step(START + day * DAY)
        w.at(START + day * DAY)
        act()


def state(world: World) -> dict[str, Any]:
    """Everything the lifecycle decides, without ids and svTRIDs (which differ between runs)."""
    clid = world.clids.get
    with world.db.read() as conn:
        names = {r.id: r.name for r in conn.execute(select(t.domains))}
        roids = {r.roid: r.name for r in conn.execute(select(t.domains))}
        return {
            "domains": sorted(
                (
                    r.name,
                    clid(r.registrar_id),
                    r.expires_at,
                    r.transferred_at,
                    r.deleted_at,
                    r.trn_status,
                )
                for r in conn.execute(select(t.domains))
            ),
            "statuses": sorted(
                (roids[r.roid], r.status)
                for r in conn.execute(select(t.statuses))
                if r.roid in roids
            ),
            "periods": sorted(
                (names[r.domain_id], r.kind, r.starts_at, r.ends_at, clid(r.registrar_id))
                for r in conn.execute(select(t.grace_periods))
            ),
            "ledger": sorted(
                (clid(r.registrar_id), r.at, r.kind, r.amount, r.domain_name or "")
                for r in conn.execute(select(t.ledger))
                if r.kind != "topup"  # the fixture's credits carry the wall clock's time
            ),
            "history": sorted(
                (r.object_name, r.command, r.at, clid(r.registrar_id) or "server")
                for r in conn.execute(select(t.history))
            ),
            "polls": sorted(
                (clid(r.registrar_id), r.created_at, r.kind, r.message)
                for r in conn.execute(select(t.poll_messages))
            ),
            "balances": sorted((r.clid, r.balance) for r in conn.execute(select(t.registrars))),
            "cursor": jobs.processed_until(conn),
        }


def test_catching_up_after_a_long_downtime_ends_as_running_all_along(db):
    end = add_months(START, 36) + DAY
    continuous = World(db)
    last = [START]

    def every_few_days(until: datetime) -> None:
        while last[0] + 3 * DAY <= until:
            last[0] += 3 * DAY
            continuous.jobs(last[0])

    scenario(continuous, every_few_days)
    every_few_days(end)
    continuous.jobs(end)
    expected = state(continuous)

    support.empty(db)
    support.setup_registry(db)
    downtime = World(db)
    scenario(downtime, lambda _: None)  # the jobs never ran...
    assert downtime.jobs(end) > 10  # ...until three years later
    assert state(downtime) == expected

    # What happened, for the record: the life of each name.
    names = {name: deleted for name, _, _, _, deleted, _ in expected["domains"]}
    assert names["keep.test"] is None and names["move.test"] is None
    assert names["drop.test"] == START + 45 * DAY
    assert names["lapse.test"] == START + 47 * DAY  # lapsed restore at day 20, purged day 47
    assert names["poor.test"] == add_months(START, 24) + 35 * DAY  # second auto-renew unpaid
    domains = {d[0]: d for d in expected["domains"]}
    assert domains["keep.test"][2] == add_months(START, 48)
    assert domains["move.test"][1:3] == ("ClientY", add_months(START, 48))


def test_running_the_jobs_twice_changes_nothing_the_second_time(world):
    scenario(world, lambda _: None)
    until = add_months(START, 30)
    assert world.jobs(until) > 0
    after = support.dump(world.db)
    assert world.jobs(until) == 0
    assert world.jobs(START + DAY) == 0  # an earlier time neither redoes nor rewinds anything
    assert support.dump(world.db) == after
    with world.db.read() as conn:
        assert jobs.processed_until(conn) == until


# ---------------------------------------------------------------- the scheduler


async def test_the_scheduler_runs_the_jobs_as_the_clock_moves_and_stops_cleanly(world):
    world.create(world.x, "tick.test")
    world.at(START + DAY).transfer(world.y, "request", "tick.test")
    clock = FixedClock(START + 2 * DAY)
    scheduler = Scheduler(world.db, clock, interval=0.02)
    task = scheduler.start()

    async def until(check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not check():
            assert time.monotonic() < deadline, "the scheduler did not act"
            await asyncio.sleep(0.02)

    await until(lambda: scheduler.runs >= 2)
    assert world.domain("tick.test").trn_status == trn.PENDING  # not due yet
    clock.set(START + 7 * DAY)
    await until(lambda: world.domain("tick.test").trn_status == trn.SERVER_APPROVED)
    clock.set(add_months(START, 24) + DAY)  # the transfer added a year: expiry START + 2y
    await until(lambda: world.domain("tick.test").expires_at == add_months(START, 36))
    await scheduler.stop()
    assert task.done() and task.exception() is None
    world.check_books()


def _prepare_due_events(db: Database) -> World:
    """A name that expired yesterday and a transfer the server should have approved."""
    world = World(db)
    now = Clock().now()
    world.at(add_months(now, -12) - DAY).create(world.x, "expired.test")  # expired yesterday
    world.at(now - 20 * DAY).create(world.x, "wanted.test")
    world.at(now - 10 * DAY).transfer(world.y, "request", "wanted.test")  # due 5 days ago
    return world


def test_domreg_serve_runs_the_scheduler(db, database_url, tmp_path):
    world = _prepare_due_events(db)
    with support.served(database_url, tmp_path / "var", workers=2, jobs_interval="0.2"):
        deadline = time.monotonic() + 30
        while (
            world.domain("wanted.test").trn_status != trn.SERVER_APPROVED
            or world.domain("expired.test").expires_at < Clock().now()
        ):
            assert time.monotonic() < deadline, "domreg serve did not run the due events"
            time.sleep(0.1)
        # And it keeps running: an event that falls due now is taken up within seconds.
        world.at(Clock().now() - 6 * DAY).create(world.x, "later.test")
        world.transfer(world.y, "request", "later.test")
        while world.domain("later.test").trn_status != trn.SERVER_APPROVED:
            assert time.monotonic() < deadline + 30, "the scheduler stopped"
            time.sleep(0.1)
    world.check_books()


def _domreg(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOMREG_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "domreg", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_domreg_jobs_run_catches_up_to_a_time(db, database_url):
    world = _prepare_due_events(db)
    now = Clock().now()
    r = _domreg(
        "jobs", "run", "--until", (now - 3 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ"), url=database_url
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("lifecycle: 1 event processed")  # the transfer; not the expiry yet
    assert world.domain("wanted.test").trn_status == trn.SERVER_APPROVED
    r = _domreg("jobs", "run", url=database_url)
    assert r.returncode == 0 and "1 event processed" in r.stdout, r.stdout + r.stderr
    assert world.domain("expired.test").expires_at > now
    r = _domreg("jobs", "run", "--until", "yesterday", url=database_url)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    world.check_books()


# ---------------------------------------------------------------- over EPP

D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


async def test_over_epp_a_delete_is_pending_until_the_jobs_purge_the_name(connect, db, clock):
    World(db)  # funds
    x = await connect("ClientX")

    async def command(body: str, code: int) -> Any:
        reply = await x.command(body)
        support.assert_schema_valid(reply.raw)
        assert reply.code == code, reply.raw.decode()
        return reply

    name = "<domain:name>epp.test</domain:name>"
    await command(
        f"<create><domain:create {D}>{name}<domain:authInfo><domain:pw>{AUTH}</domain:pw>"
        "</domain:authInfo></domain:create></create>",
        1000,
    )
    clock.advance(10 * DAY)
    await command(f"<delete><domain:delete {D}>{name}</domain:delete></delete>", 1001)
    info = await command(f"<info><domain:info {D}>{name}</domain:info></info>", 1000)
    assert "pendingDelete" in {e.get("s") for e in info.findall(".//domain:status")}
    check = await command(f"<check><domain:check {D}>{name}</domain:check></check>", 1000)
    assert check.find(".//domain:name").get("avail") == "0"
    assert jobs.run_until(db, clock.now() + 35 * DAY) == 2
    check = await command(f"<check><domain:check {D}>{name}</domain:check></check>", 1000)
    assert check.find(".//domain:name").get("avail") == "1"
    await command(f"<info><domain:info {D}>{name}</domain:info></info>", 2303)
