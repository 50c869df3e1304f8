"""Ten years of a registry in one test: a few thousand names, three registrars acting at random
(creates, renews, transfers and their answers, deletes, restores) while the clock moves ten
years in steps of days to weeks and the lifecycle jobs run at every step.

The flows are driven directly (one transaction and one `Context` per command, as the EPP
session runs them) with a seeded random generator, so a failure replays exactly. Expected
refusals (EppError with a code in EXPECTED) are counted, never failures; any other exception,
and any error the jobs log, fails the test. After every step the invariants hold:

1. at most one live row per name, and a name `domain.check` reports available has none;
2. no live domain expires more than ten years after the check time;
3. every registrar's ledger sums to its balance, and the balance stays above minus its
   credit limit;
4. every successful command has its history row (counted per command), every charge or
   refund its command's history row, and every server event its poll message(s).

At the end every path must have been taken at least once.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from domreg.flows import domain, domain_create, lifecycle, rgp
from domreg.flows.base import Actor, Context, SvTrIds
from domreg.jobs import lifecycle as jobs
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.periods import Period, add_months
from domreg.store import schema as t
from domreg.store.db import Database

SEED = 20260115
START = datetime(2026, 1, 15, 12, 0, 0)
END = add_months(START, 120)
NAMES = [f"sim{i:04d}.{('test', 'com', 'net')[i % 3]}" for i in range(2000)]
OPS_PER_STEP = 5  # commands on random names at each step, besides the pending work
SVTRIDS = SvTrIds("SIM")
EXPECTED = {
    2104,
    2105,
    2201,
    2300,
    2301,
    2302,
    2303,
    2304,
    2004,
    2306,
}
#: What each successful client command writes to the history.
CLIENT_COMMANDS = {
    "create": "domain:create",
    "renew": "domain:renew",
    "update": "domain:update",
    "delete": "domain:delete",
    "request": "domain:transfer-request",
    "approve": "domain:transfer-clientApproved",
    "reject": "domain:transfer-clientRejected",
    "cancel": "domain:transfer-clientCancelled",
    "restore-request": "domain:restore-request",
    "restore-report": "domain:restore-report",
}
#: The poll messages each history row's command queues: kind -> how many.
POLLS = {
    "domain:autorenew": {"autorenew": 1},
    "domain:pending-delete": {"pending_delete": 1},
    "domain:restore-lapsed": {"restore_lapsed": 1},
    "domain:purge": {"purge": 1},
    "domain:server-delete": {"redemption": 1},
    "domain:transfer-request": {"transfer": 1},
    "domain:transfer-clientApproved": {"transfer": 2},
    "domain:transfer-serverApproved": {"transfer": 2},
    "domain:transfer-clientRejected": {"transfer": 1},
    "domain:transfer-clientCancelled": {"transfer": 1},
}
SERVER_COMMANDS = {
    "domain:autorenew",
    "domain:pending-delete",
    "domain:restore-lapsed",
    "domain:purge",
    "domain:server-delete",
    "domain:transfer-serverApproved",
    "domain:transfer-serverCancelled",
}


def auth_of(name: str, generation: int) -> str:
    return f"Sim-{name}-{generation}-AUTH"


class Simulation:
    def __init__(self, db: Database, seed: int) -> None:
        self.db = db
        self.rng = random.Random(seed)
        self.now = START
        with db.read() as conn:
            ids = {r.clid: r.id for r in conn.execute(select(t.registrars))}
        self.actors = [Actor(ids[c], c) for c in ("ClientX", "ClientY", "ClientZ")]
        self.by_id = {a.id: a for a in self.actors}
        self.auth: dict[str, str] = {}  # the authInfo each live name has (as far as we know)
        self.done: Counter[str] = Counter()  # successful commands
        self.refused: Counter[int] = Counter()  # expected EppError codes
        self.steps = 0

    # ------------------------------------------------------------ commands

    def run(self, what: str, actor: Actor, flow: Any, *args: Any) -> Any:
        """One command in its own transaction; an expected refusal is counted and None returned."""
        try:
            with self.db.write() as conn:
                ctx = Context(conn, self.now, actor, f"SIM-{what}", SVTRIDS.next())
                result = flow(ctx, *args)
        except EppError as exc:
            assert int(exc.code) in EXPECTED, f"{what} by {actor.clid}: {exc.code} {exc.reason}"
            self.refused[int(exc.code)] += 1
            return None
        self.done[what] += 1
        return result if result is not None else True

    def live(self, conn: Any, name: str) -> Any:
        return conn.execute(
            select(t.domains).where(t.domains.c.name == name, t.domains.c.deleted_at.is_(None))
        ).first()

    def other(self, actor_id: int) -> Actor:
        return self.rng.choice([a for a in self.actors if a.id != actor_id])

    def create(self, name: str, actor: Actor | None = None) -> None:
        actor = actor or self.rng.choice(self.actors)
        value = auth_of(name, self.steps)
        cmd = domain.DomainCreate(
            name=name, auth_info=value, period=Period(self.rng.randint(1, 10), "y")
        )
        if self.run("create", actor, domain_create.create, cmd):
            self.auth[name] = value
            if self.rng.random() < 0.08:  # a mistake, deleted at once inside the add grace
                self.run("delete", actor, domain.delete_, name)

    def renew(self, actor: Actor, row: Any) -> None:
        cmd = domain.DomainRenew(
            row.name, row.expires_at.date().isoformat(), Period(self.rng.randint(1, 6), "y")
        )
        self.run("renew", actor, domain.renew, cmd)

    def request_transfer(self, row: Any) -> None:
        sponsor = self.by_id[row.registrar_id]
        # A completed transfer unsets the authInfo (RFC 9154) and one set by an update lives
        # auth_info_ttl: the sponsor sets a fresh, known one first (as a registrant asks).
        value = auth_of(row.name, self.steps)
        if self.run(
            "update", sponsor, domain.update, domain.DomainUpdate(row.name, auth_info=value)
        ):
            self.auth[row.name] = value
        cmd = domain.DomainTransfer("request", row.name, auth_info=self.auth.get(row.name))
        self.run("request", self.other(row.registrar_id), domain.transfer, cmd)

    def answer_transfer(self, row: Any) -> None:
        roll = self.rng.random()
        if roll < 0.25:
            op, actor = "approve", self.by_id[row.registrar_id]
        elif roll < 0.4:
            op, actor = "reject", self.by_id[row.registrar_id]
        elif roll < 0.5:
            op, actor = "cancel", self.by_id[row.trn_gaining_id]
        elif roll < 0.52:  # a third registrar asks too: 2300
            third = next(
                a for a in self.actors if a.id not in (row.registrar_id, row.trn_gaining_id)
            )
            cmd = domain.DomainTransfer("request", row.name, auth_info=self.auth.get(row.name))
            self.run("request", third, domain.transfer, cmd)
            return
        elif roll < 0.57:  # the wrong party: 2201
            op, actor = self.rng.choice(["approve", "reject"]), self.by_id[row.trn_gaining_id]
        else:
            return  # nobody answers: the server approves after the pending period
        self.run(op, actor, domain.transfer, domain.DomainTransfer(op, row.name))

    def restore(self, row: Any, op: str) -> None:
        report = (
            lifecycle.RestoreReport(
                pre_data=f"{row.name} before the delete.",
                post_data=f"{row.name} after the restore.",
                del_time=self.now - timedelta(days=1),
                res_time=self.now,
                res_reason="Registrant error.",
                statements=("Not restored to assume the rights.", "The report is true."),
            )
            if op == rgp.REPORT
            else None
        )
        self.run(
            f"restore-{op}",
            self.by_id[row.registrar_id],
            rgp.restore,
            rgp.DomainRestore(row.name, op, report),
        )

    def act_on(self, name: str) -> None:
        """One random command on `name`, chosen by its state (sometimes a doomed one)."""
        with self.db.read() as conn:
            row = self.live(conn, name)
            stored = (
                {
                    r.status
                    for r in conn.execute(select(t.statuses).where(t.statuses.c.roid == row.roid))
                }
                if row is not None
                else set()
            )
        if row is None:
            self.create(name)
            return
        sponsor = self.by_id[row.registrar_id]
        roll = self.rng.random()
        if roll < 0.05:  # someone else tries to take or renew it: 2302 / 2201
            if self.rng.random() < 0.5:
                self.create(name, self.other(row.registrar_id))
            else:
                self.renew(self.other(row.registrar_id), row)
        elif st.PENDING_DELETE in stored:
            self.restore(row, rgp.REQUEST)  # 2105 once redemption is over, 2304 if pending
        elif roll < 0.45:
            self.renew(sponsor, row)  # 2004 when past ten years
        elif roll < 0.80:
            self.request_transfer(row)  # 2300 if one is pending
        else:
            self.run("delete", sponsor, domain.delete_, name)

    def pending_work(self) -> None:
        """Registrars answer pending transfers and follow up their restores and redemptions."""
        with self.db.read() as conn:
            d, g = t.domains, t.grace_periods
            transfers = conn.execute(
                select(d).where(d.c.deleted_at.is_(None), d.c.trn_status == "pending")
            ).all()
            rgp_rows = conn.execute(
                select(d, g.c.kind)
                .join(g, g.c.domain_id == d.c.id)
                .where(
                    d.c.deleted_at.is_(None),
                    g.c.kind.in_([lifecycle.REDEMPTION, lifecycle.PENDING_RESTORE]),
                )
            ).all()
        for row in sorted(transfers, key=lambda r: r.id):
            self.answer_transfer(row)
        for row in sorted(rgp_rows, key=lambda r: (r.id, r.kind)):
            if row.kind == lifecycle.PENDING_RESTORE and self.rng.random() < 0.5:
                self.restore(row, rgp.REPORT)  # else it lapses back into redemption
            elif row.kind == lifecycle.REDEMPTION and self.rng.random() < 0.08:
                self.restore(row, rgp.REQUEST)

    # ------------------------------------------------------------ invariants

    def check(self, full: bool) -> None:
        with self.db.read() as conn:
            d = t.domains
            # 1. one live row per name; available means no live row
            dup = conn.execute(
                select(d.c.name, func.count())
                .where(d.c.deleted_at.is_(None))
                .group_by(d.c.name)
                .having(func.count() > 1)
            ).all()
            assert not dup, f"{self.now}: names live twice: {dup[:5]}"
            live = {
                r.name: r.expires_at
                for r in conn.execute(
                    select(d.c.name, d.c.expires_at).where(d.c.deleted_at.is_(None))
                )
            }
            # 2. nothing expires beyond ten years from now (the flows cap with add_months)
            cap = add_months(self.now, 120)
            beyond = sorted((e, n) for n, e in live.items() if e > cap)
            assert not beyond, f"{self.now}: expiries beyond {cap}: {beyond[:5]}"
            # 3. the books
            sums = dict(
                conn.execute(
                    select(t.ledger.c.registrar_id, func.sum(t.ledger.c.amount)).group_by(
                        t.ledger.c.registrar_id
                    )
                ).all()
            )
            for r in conn.execute(select(t.registrars)):
                assert int(sums.get(r.id) or 0) == r.balance, f"{self.now}: {r.clid} books"
                assert r.balance + r.credit_limit >= 0, f"{self.now}: {r.clid} beyond its limit"
            if not full:
                return
            # 4. history: one row per successful command, and per server event
            by_command = dict(
                conn.execute(
                    select(t.history.c.command, func.count())
                    .where(t.history.c.registrar_id.is_not(None))
                    .group_by(t.history.c.command)
                ).all()
            )
            mine = {CLIENT_COMMANDS[w]: n for w, n in self.done.items()}
            assert by_command == mine, f"{self.now}: history {by_command} != commands {mine}"
            h = t.history
            orphans = conn.execute(
                select(t.ledger.c.svtrid, t.ledger.c.kind, t.ledger.c.domain_name).where(
                    t.ledger.c.domain_name.is_not(None),
                    ~select(h.c.id).where(h.c.svtrid == t.ledger.c.svtrid).exists(),
                )
            ).all()
            assert not orphans, f"{self.now}: ledger rows without a history row: {orphans[:5]}"
            # every state change's poll messages: (kind, time, name) multisets
            want: Counter[tuple[str, datetime, str]] = Counter()
            for r in conn.execute(select(h.c.command, h.c.at, h.c.object_name)):
                for kind, n in POLLS.get(r.command, {}).items():
                    want[(kind, r.at, r.object_name)] += n
            got: Counter[tuple[str, datetime, str]] = Counter()
            for r in conn.execute(select(t.poll_messages)):
                got[(r.kind, r.created_at, orjson.loads(r.payload)["name"])] += 1
            # serverCancelled (the gaining side, and the losing side when the server approval
            # could not be paid) is the only variable count: there must be none, or check it
            cancelled = conn.execute(
                select(func.count()).where(h.c.command == "domain:transfer-serverCancelled")
            ).scalar_one()
            if cancelled:
                for r in conn.execute(
                    select(h.c.at, h.c.object_name).where(
                        h.c.command == "domain:transfer-serverCancelled"
                    )
                ):
                    key = ("transfer", r.at, r.object_name)
                    extra = got[key] - want[key]
                    assert extra in (1, 2), f"{self.now}: serverCancelled polls of {key}"
                    want[key] = got[key]
            assert got == want, f"{self.now}: poll messages {got - want} / {want - got}"
            # and a name domain.check reports available has no live row
            ctx = Context(conn, self.now, self.actors[0], None, SVTRIDS.next())
            for i in range(0, len(NAMES), 500):
                for item in domain.check(ctx, NAMES[i : i + 500]):
                    assert item.avail == (item.name not in live), f"{self.now}: check {item}"

    def history_counts(self) -> Counter[str]:
        with self.db.read() as conn:
            return Counter(
                dict(
                    conn.execute(
                        select(t.history.c.command, func.count()).group_by(t.history.c.command)
                    ).all()
                )
            )


@pytest.mark.slow
def test_ten_years_of_random_registrars_keep_every_invariant(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="domreg.jobs")
    sim = Simulation(db, SEED)
    rng = sim.rng
    # The first month fills the registry.
    for name in NAMES:
        if rng.random() < 0.4:
            sim.create(name)
    while sim.now < END:
        sim.steps += 1
        sim.now = min(
            END, sim.now + timedelta(days=rng.randint(2, 21), seconds=rng.randint(0, 3600))
        )
        jobs.run_until(db, sim.now)
        assert not caplog.records, f"{sim.now}: a lifecycle job failed: {caplog.records[0]}"
        sim.check(full=False)
        sim.pending_work()
        for name in rng.sample(NAMES, OPS_PER_STEP):
            sim.act_on(name)
        sim.check(full=sim.steps % 10 == 0)
    jobs.run_until(db, sim.now)
    sim.check(full=True)
    assert not caplog.records

    history = sim.history_counts()
    print("commands:", dict(sim.done))
    print("refused:", dict(sim.refused))
    print("history:", dict(history))
    # every path was taken
    for what in CLIENT_COMMANDS:
        assert sim.done[what] > 0, f"no successful {what}"
    with db.read() as conn:
        purged_in_grace = conn.execute(
            select(func.count()).where(
                t.history.c.command == "domain:delete",
                t.history.c.snapshot.like('%"deleted_at":"2%'),
            )
        ).scalar_one()
    assert purged_in_grace > 0, "no delete inside the add grace period"
    assert sim.done["delete"] > purged_in_grace, "no delete into redemption"
    for command in (
        "domain:autorenew",
        "domain:transfer-serverApproved",
        "domain:pending-delete",
        "domain:restore-lapsed",
        "domain:purge",
    ):
        assert history[command] > 0, f"no {command}"
    for code in (2004, 2201, 2302):
        assert sim.refused[code] > 0, f"never refused with {code}"
