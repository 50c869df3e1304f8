"""PostgreSQL: domain:create run from the event loop (`flows/loopwrites.py`,
`store/loop.py LoopStatements`) gives the answers and the rows of the flow in the thread pool.

A session whose registry has `loop_writes` and one without answer the same create frames
byte-identically (apart from the svTRID) and write the same rows: the fast path's frames of
every kind, taken, reserved and foreign-TLD names, periods out of range, and the creates
handed to the flow (a premium name, a TLD in an explicit launch phase, a refused charge, a
charge that crosses the low-balance threshold, a create with nameservers or extensions). A
create that loses the race for its name is 2302 with nothing written; many at once each get
their own answer; a connection broken under a create answers 2400, writes nothing, and the
path recovers; an unreachable database answers 2400. Facts kept from a registrar's earlier
create that no longer hold hand the create to the flow, which answers from fresh ones.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from sqlalchemy import select, update

from domreg.clock import FixedClock
from domreg.epp.session import Registry, Session
from domreg.flows import billing, launch, pricing
from domreg.flows.base import SvTrIds
from domreg.flows.loopwrites import LoopWrites
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.test_epp_fastpath import _login_frame, _registry_objects
from tests.test_epp_fastpath_create import create_frame, declined, generated

pytestmark = support.POSTGRESQL_ONLY  # the event-loop create is PostgreSQL's

NOW = datetime(2030, 6, 1, 12, 0, 0, 300_000)
_SVTRID = re.compile(rb"<svTRID>[^<]*</svTRID>")
_ROID = re.compile(r'"roid":"[^"]*"')


def _written(db: Database, since: dict[str, int]) -> dict[str, list[Any]]:
    """The rows written since `since` (each table's largest id then), without ids, roids
    and authInfo hashes (random on each path)."""
    out: dict[str, list[Any]] = {}
    with db.read() as conn:
        d = t.domains
        out["domains"] = [
            tuple(r)
            for r in conn.execute(
                select(
                    d.c.name,
                    d.c.registrar_id,
                    d.c.created_at,
                    d.c.expires_at,
                    d.c.deleted_at,
                    d.c.delegation,
                    d.c.auth_info.is_(None),
                )
                .where(d.c.id > since["domains"])
                .order_by(d.c.id)
            )
        ]
        h = t.history
        out["history"] = [
            (r.object_name, r.command, r.registrar_id, r.at, _ROID.sub("", r.snapshot))
            for r in conn.execute(select(h).where(h.c.id > since["history"]).order_by(h.c.id))
        ]
        o = t.outbox
        out["outbox"] = [
            (r.topic, r.name, r.tld, r.created_at)
            for r in conn.execute(select(o).where(o.c.id > since["outbox"]).order_by(o.c.id))
        ]
        led = t.ledger
        out["ledger"] = [
            (r.registrar_id, r.kind, r.amount, r.currency, r.domain_name, r.years, r.at)
            for r in conn.execute(select(led).where(led.c.id > since["ledger"]).order_by(led.c.id))
        ]
        g = t.grace_periods
        out["grace"] = [
            (r.kind, r.starts_at, r.ends_at, r.registrar_id)
            for r in conn.execute(select(g).where(g.c.id > since["grace"]).order_by(g.c.id))
        ]
        p = t.poll_messages
        out["polls"] = [
            (r.registrar_id, r.kind, r.message, orjson.loads(r.payload))
            for r in conn.execute(select(p).where(p.c.id > since["polls"]).order_by(p.c.id))
        ]
        out["balances"] = sorted(
            tuple(r) for r in conn.execute(select(t.registrars.c.id, t.registrars.c.balance))
        )
    return out


_TABLES = {
    "domains": t.domains,
    "history": t.history,
    "outbox": t.outbox,
    "ledger": t.ledger,
    "grace": t.grace_periods,
    "polls": t.poll_messages,
}


def _marks(db: Database) -> dict[str, int]:
    from sqlalchemy import func

    with db.read() as conn:
        return {
            k: conn.execute(select(func.coalesce(func.max(tab.c.id), 0))).scalar_one()
            for k, tab in _TABLES.items()
        }


def _undo(db: Database, since: dict[str, int], balances: list[Any]) -> None:
    """Forget what a create wrote: its domain (deleted, the name free again), and the
    registrars' balances as they were."""
    with db.write() as conn:
        conn.execute(
            update(t.domains)
            .where(t.domains.c.id > since["domains"])
            .values(deleted_at=datetime(2031, 1, 1))
        )
        for rid, balance in balances:
            conn.execute(
                update(t.registrars).where(t.registrars.c.id == rid).values(balance=balance)
            )


def _world(db: Database) -> None:
    """`_registry_objects`, a premium label, .net in an explicit general-availability phase,
    ClientY nearly out of funds, ClientZ one charge above its low-balance threshold."""
    _registry_objects(db)
    with db.write() as conn:
        pricing.load_premium(conn, "test", [pricing.Premium("gold", "A", 50000, 1, 1, 1)])
        launch.add_phase(conn, "net", "open", NOW - timedelta(days=30))
        for op in ("create", "renew", "transfer"):
            pricing.set_tld_price(conn, "test", op, 1000)
        ids = {r.clid: r.id for r in conn.execute(select(t.registrars))}
    with db.write() as conn:
        balance = {r.id: r.balance for r in conn.execute(select(t.registrars))}
        billing.top_up(conn, NOW, ids["ClientY"], 500 - balance[ids["ClientY"]], "test")
        billing.top_up(conn, NOW, ids["ClientZ"], 2500 - balance[ids["ClientZ"]], "test")
        pricing.set_account(conn, NOW, "ClientZ", low_balance=2000)


class Registries:
    """Two registries on one database (each its own svTRIDs): with the event-loop create,
    and without."""

    def __init__(self, db: Database, writes: LoopWrites) -> None:
        clock = FixedClock(NOW)
        self.looped = Registry(db, clock=clock, svtrids=SvTrIds("LOOP"), loop_writes=writes)
        self.general = Registry(db, clock=clock, svtrids=SvTrIds("GEN"))

    async def sessions(self, clid: str) -> tuple[Session, Session]:
        """A logged-in session of `clid` on each."""
        looped = Session(self.looped, "127.0.0.1", None)
        general = Session(self.general, "127.0.0.1", None)
        for session in (looped, general):
            assert b'code="1000"' in (await session.handle(_login_frame(clid)))[0]
        return looped, general


def _frames() -> list[bytes]:
    ns = (
        "<domain:ns><domain:hostObj>ns1.example.net</domain:hostObj></domain:ns>"
        '<domain:period unit="y">1</domain:period>'
    )
    return [
        *generated(),
        *declined(),
        create_frame("taken.test"),
        create_frame("kept.test"),
        create_frame("gold.test"),  # premium: no fee stated (2004), by the flow
        create_frame("opened.net"),  # an explicit phase: by the flow
        create_frame("linked.test", period="", more=ns),
    ]


async def test_creates_answer_and_write_as_the_flow(db: Database) -> None:
    _world(db)
    writes = LoopWrites(db, size=2)
    registries = Registries(db, writes)
    try:
        for clid, frames in (
            ("ClientX", _frames()),
            ("ClientY", [create_frame("poor.test")]),  # 2104 after the statement undid itself
            ("ClientZ", [create_frame("low.test")]),  # crosses the threshold: with its message
        ):
            looped, general = await registries.sessions(clid)
            if clid == "ClientX":
                assert b'code="1000"' in (await general.handle(create_frame("taken.test")))[0]
            for data in frames:
                answers, rows = [], []
                for session in (looped, general):
                    since = _marks(db)
                    balances = _written(db, since)["balances"]
                    answers.append(_SVTRID.sub(b"", (await session.handle(data))[0]))
                    rows.append(_written(db, since))
                    _undo(db, since, balances)
                assert answers[0] == answers[1], data
                assert rows[0] == rows[1], data
    finally:
        await writes.aclose()
    assert writes.creates > 15 and writes.handoffs >= 4, (writes.creates, writes.handoffs)
    assert writes.assumed > 10, writes.assumed  # without a facts SELECT: one statement


async def test_facts_kept_from_an_earlier_create_that_no_longer_hold_hand_the_create_to_the_flow(
    db: Database,
) -> None:
    """The kept facts row is checked by the write itself: a changed price, a new override,
    a reserved or premium label, a launch phase or a lost accreditation each make it undo
    itself, and the flow answers from the facts as they are (the row is read again)."""
    _registry_objects(db)
    writes = LoopWrites(db)
    registries = Registries(db, writes)
    looped, _ = await registries.sessions("ClientX")

    async def create(name: str) -> bytes:
        return (await looped.handle(create_frame(name)))[0]

    def charged(name: str) -> int:
        with db.read() as conn:
            return int(
                conn.execute(select(t.ledger.c.amount).where(t.ledger.c.domain_name == name))
                .scalars()
                .one()
            )

    try:
        assert b'code="1000"' in await create("first.test")  # facts read, then kept
        assert b'code="1000"' in await create("second.test")
        assert (writes.assumed, writes.handoffs) == (1, 0)
        with db.write() as conn:
            pricing.set_tld_price(conn, "test", "create", 1234)
        assert b'code="1000"' in await create("third.test")  # by the flow, at the new price
        assert (writes.assumed, writes.handoffs) == (1, 1) and charged("third.test") == -1234
        assert b'code="1000"' in await create("fourth.test")  # facts read again, kept
        assert b'code="1000"' in await create("fifth.test")
        assert writes.assumed == 2 and charged("fifth.test") == -1234
        with db.write() as conn:
            pricing.load_reserved(conn, "test", [pricing.Reserved("sixth", "ours")])
            pricing.load_premium(conn, "test", [pricing.Premium("seventh", "A", 9, 9, 9, 9)])
        reserved = await create("sixth.test")
        assert b'code="2302"' in reserved and b"reserved: ours" in reserved
        assert b'code="2004"' in await create("seventh.test")  # premium: no fee stated
        assert b'code="1000"' in await create("eighth.test")  # kept again after those
        with db.write() as conn:
            clid = select(t.registrars.c.id).where(t.registrars.c.clid == "ClientX")
            conn.execute(
                t.registrar_tlds.delete().where(
                    t.registrar_tlds.c.registrar_id == clid.scalar_subquery()
                )
            )
        assert b'code="2201"' in await create("ninth.test")
        assert writes.handoffs == 4
    finally:
        await writes.aclose()


async def test_a_create_that_loses_the_race_for_its_name_is_2302_and_writes_nothing(
    db: Database, database_url: str
) -> None:
    writes = LoopWrites(db)
    registries = Registries(db, writes)
    looped, _ = await registries.sessions("ClientX")
    try:
        since = _marks(db)
        with (
            psycopg.connect(database_url) as holder,  # the name, uncommitted
            psycopg.connect(database_url, autocommit=True) as watcher,
        ):
            with db.read() as conn:
                row = conn.execute(select(t.domains.c.id)).first()
                tld = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar()
                rid = conn.execute(select(t.registrars.c.id)).scalars().first()
            assert row is None
            holder.execute(
                "INSERT INTO domains (roid, name, tld_id, registrar_id, creator_id, created_at,"
                " expires_at) VALUES ('DHOLD-TEST', 'race.test', %s, %s, %s, %s, %s)",
                (tld, rid, rid, NOW, NOW),
            )
            task = asyncio.ensure_future(looped.handle(create_frame("race.test")))
            for _ in range(500):  # until its INSERT waits for the holder's transaction
                locks = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                ).fetchone()
                if locks and locks[0]:
                    break
                await asyncio.sleep(0.02)
            assert locks and locks[0] == 1 and not task.done()
            holder.commit()
        answer, _ = await task
    finally:
        await writes.aclose()
    assert b'code="2302"' in answer, answer
    rows = _written(db, since)
    assert [r[0] for r in rows["domains"]] == ["race.test"]  # the holder's
    assert rows["history"] == rows["ledger"] == rows["grace"] == rows["outbox"] == []
    assert writes.handoffs == 1


async def test_many_creates_at_once_each_get_their_own_answer(db: Database) -> None:
    writes = LoopWrites(db, size=3)  # fewer connections than creates: the rest wait
    registries = Registries(db, writes)
    sessions = []
    try:
        for i in range(12):
            looped, _ = await registries.sessions(("ClientX", "ClientY", "ClientZ")[i % 3])
            sessions.append(looped)
        frames = [create_frame(f"own{i}.test") for i in range(12)]
        contested = create_frame("contested.test")
        answers = await asyncio.gather(
            *(s.handle(f) for s, f in zip(sessions, frames, strict=True)),
            *(s.handle(contested) for s in sessions),
        )
    finally:
        await writes.aclose()
    codes = [a.split(b'code="')[1][:4] for a, _ in answers]
    assert codes[:12] == [b"1000"] * 12
    assert sorted(codes[12:]) == [b"1000"] + [b"2302"] * 11
    with db.read() as conn:
        names = conn.execute(select(t.domains.c.name).order_by(t.domains.c.name)).scalars().all()
        history = conn.execute(select(t.history.c.object_name)).scalars().all()
    assert names == sorted(["contested.test", *(f"own{i}.test" for i in range(12))])
    assert sorted(history) == names
    assert writes.statements.statements >= 2 * 13


async def test_a_connection_broken_under_a_create_answers_2400_and_the_path_recovers(
    db: Database, database_url: str
) -> None:
    writes = LoopWrites(db, size=1)
    registries = Registries(db, writes)
    looped, _ = await registries.sessions("ClientX")
    url = database_url
    try:
        assert b'code="1000"' in (await looped.handle(create_frame("first.test")))[0]
        since = _marks(db)
        with psycopg.connect(url) as locker:  # holds the create's statement in the database
            locker.execute("LOCK TABLE domains IN ACCESS EXCLUSIVE MODE")
            task = asyncio.ensure_future(looped.handle(create_frame("second.test")))
            while not writes.statements._busy():
                await asyncio.sleep(0.01)
            [conn] = writes.statements._busy()
            with psycopg.connect(url, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (conn.pgconn.backend_pid,))
            answer, _ = await task
            locker.rollback()
        assert b'code="2400"' in answer, answer
        assert _written(db, since)["domains"] == []
        assert b'code="1000"' in (await looped.handle(create_frame("second.test")))[0]
    finally:
        await writes.aclose()


async def test_a_database_that_cannot_be_reached_answers_2400(db: Database) -> None:
    writes = LoopWrites(db)
    writes.statements.url = "postgresql://postgres@127.0.0.1:1/nowhere"
    registries = Registries(db, writes)
    looped, _ = await registries.sessions("ClientX")
    try:
        answer = (await looped.handle(create_frame("unreached.test")))[0]
        assert b'code="2400"' in answer, answer
        # A frame refused before any statement is answered as ever.
        assert b'code="2005"' in (await looped.handle(create_frame("-bad.test")))[0]
    finally:
        await writes.aclose()
    assert _written(db, {k: 0 for k in _TABLES})["domains"] == []
