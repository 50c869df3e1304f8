"""PostgreSQL: the plain domain:check and domain:info answered from the event loop in batches
(`flows/loopreads.py`, `store/loop.py`) give the answers of the flows in the thread pool.

A session whose registry has `loop_reads` and one without answer the same frames
byte-identically (apart from the svTRID), on a registry with every kind of domain state
(`tests/registry_data.populate`: DS data, subordinate and foreign hosts, contacts, client
statuses, a renew, a pending transfer, redemption, a purged name; and here server statuses,
an unset authInfo, an IDN), for the sponsor and other registrars, every `hosts` value,
with and without the extensions announced, unknown, deleted, foreign-TLD, reserved and
invalid names, one name or many; and when many sessions ask at once (one execution answers
several commands). Each answer comes from a read that started after the command arrived,
and a connection broken under a batch fails that batch's commands with 2400, after which
the path recovers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import insert, select

from domreg.clock import FixedClock
from domreg.epp import namespaces as ns
from domreg.epp.client import EppClient, parse_reply
from domreg.epp.session import Registry, Session
from domreg.flows import admin
from domreg.flows.base import Context, registry_actor
from domreg.flows.loopreads import LoopReads
from domreg.store import schema as t
from domreg.store.db import Database
from tests import registry_data as rd
from tests import support
from tests.test_epp_fastpath import check_frame, info_frame

pytestmark = pytest.mark.skipif(
    "postgresql" not in support.backends(), reason="loop reads are PostgreSQL's"
)
START = datetime(2027, 3, 1, 9, 0, 0)
_SVTRID = re.compile(rb"<svTRID>[^<]*</svTRID>")


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with support.fresh_database("postgresql", tmp_path_factory.mktemp("db")) as url:
        yield url


class InProcess(EppClient):
    """An `EppClient` whose frames go straight to a `Session` (no TLS, no network)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.greeting = b""

    async def send_raw(self, payload: bytes) -> bytes:
        return (await self.session.handle(payload))[0]


class Pair:
    """One registrar's two sessions: answered from the loop, and by the flows."""

    def __init__(self, loop: Registry, general: Registry) -> None:
        self.loop = Session(loop, "127.0.0.1", None)
        self.general = Session(general, "127.0.0.1", None)

    async def login(self, clid: str, extensions: tuple[str, ...] = ()) -> None:
        for session in (self.loop, self.general):
            reply = await InProcess(session).login(
                clid, support.PASSWORDS[clid], extensions=extensions
            )
            assert reply.code == 1000, reply.raw

    async def send(self, data: bytes) -> bytes:
        looped = (await self.loop.handle(data))[0]
        general = (await self.general.handle(data))[0]
        assert _SVTRID.sub(b"", looped) == _SVTRID.sub(b"", general), data
        return looped


async def populated(general: Registry, clock: FixedClock) -> Any:
    """Empty the database of `general`, then fill it through `general` (its svTRIDs) with
    every kind of domain state (`NAMES` says which); returns `registry_data.populate`'s
    objects. Shared with `test_inline_checks.py` (SQLite)."""
    db = general.db
    support.empty(db)
    support.setup_registry(db, START - timedelta(days=1))
    with db.write() as conn:
        tld = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar_one()
        conn.execute(insert(t.reserved_names).values(tld_id=tld, label="kept", reason="ours"))
    x, y = InProcess(Session(general, None, None)), InProcess(Session(general, None, None))
    await rd.login(x, "ClientX", support.PASSWORDS["ClientX"])
    await rd.login(y, "ClientY", support.PASSWORDS["ClientY"])
    objs = await rd.populate(x, y, clock)
    await rd.ok(x, rd.domain("xn--bcher-kva.test", 1, "cx1", (), ("ns1.example.org",)))
    await rd.ok(
        x,
        rd.update(
            "xn--bcher-kva.test",
            "<domain:chg><domain:authInfo><domain:pw/></domain:authInfo></domain:chg>",
        ),
    )
    await rd.ok(x, rd.domain("locked.test", 1))
    with db.write() as conn:
        ctx = Context(conn, clock.now(), registry_actor("test"), None, "TEST-1")
        change = admin.StatusChange(
            "locked.test", "court order", ("serverHold", "serverUpdateProhibited")
        )
        admin.set_server_statuses(ctx, change)
    return objs


@pytest_asyncio.fixture
async def world(pg_url: str) -> AsyncIterator[dict[str, Any]]:
    """The populated registry, a registry with loop reads and one without."""
    db = Database(pg_url, pool_size=4)
    clock = FixedClock(START)
    general = Registry(db, clock=clock)
    objs = await populated(general, clock)
    reads = LoopReads(db)
    loop = Registry(db, clock=clock, loop_reads=reads)
    try:
        yield {
            "db": db,
            "clock": clock,
            "reads": reads,
            "loop": loop,
            "general": general,
            "objs": objs,
            "url": pg_url,
        }
    finally:
        await reads.aclose()
        db.close()


NAMES = [
    "alpha.test",  # DS data, a subordinate host, contacts, renewed: renewPeriod and addPeriod
    "ALPHA.test",
    "beta.test",  # clientHold, two name servers, no DS
    "delta.test",  # deleted after its add grace period: redemption, pendingDelete
    "epsilon.test",  # ClientY's, with a transfer to ClientX pending
    "gamma.test",  # deleted in its add grace period: purged
    "xn--bcher-kva.test",  # IDN, its authInfo unset
    "bücher.test",  # the same, as a U-label (the codec parses it)
    "locked.test",  # server statuses, no name servers (inactive)
    "nobody.test",
    "kept.test",  # reserved
    "x.org",  # no TLD served here
    "ns1.alpha.test",  # a host's name
]
INVALID = ["-bad.test", "a..test", "x_y.test"]


def check_frames() -> list[bytes]:
    """Checks of every name at once, of each alone, of a name twice, of only invalid names
    (shared with `test_inline_checks.py`)."""
    frames = [check_frame(NAMES + INVALID, "ALL-NAMES")]
    frames += [check_frame([name], f"ONE-{i}") for i, name in enumerate(NAMES + INVALID)]
    frames.append(check_frame(["free.test", "free.test", "-x.test", "alpha.test"], "TWICE"))
    frames.append(check_frame(INVALID, "NONE-VALID"))
    return frames


def _frames() -> list[bytes]:
    frames = []
    for i, name in enumerate(NAMES + INVALID):
        for hosts in (None, "all", "del", "sub", "none"):
            frames.append(info_frame(name, hosts, f"INFO-{i}"))
    return frames + check_frames()


@pytest.mark.parametrize("extensions", [(), tuple(ns.EXTENSIONS)], ids=["bare", "extensions"])
async def test_answers_are_the_flows_for_every_registrar_name_and_hosts_value(
    world: dict[str, Any], extensions: tuple[str, ...]
) -> None:
    reads: LoopReads = world["reads"]
    for clid in ("ClientX", "ClientY", "ClientZ"):
        pair = Pair(world["loop"], world["general"])
        await pair.login(clid, extensions)
        for data in _frames():
            answer = await pair.send(data)
            assert b'code="1000"' in answer or b'code="2303"' in answer or b'code="2005"' in answer
        if clid == "ClientX":  # the sponsor's full views, the RGP and DS parts among them
            full = await pair.send(info_frame("alpha.test"))
            assert b"<domain:host>ns1.alpha.test</domain:host>" in full
            assert b"<domain:authInfo>" in full
            delta = await pair.send(info_frame("delta.test"))
            if extensions:
                assert b"keyTag>12345<" in full and b"renewPeriod" in full
                assert b"redemptionPeriod" in delta
            idn = await pair.send(info_frame("xn--bcher-kva.test"))
            assert b"crDate" in idn and b"<domain:authInfo>" not in idn
        if clid == "ClientZ":  # others see name, roid and sponsor only
            partial = await pair.send(info_frame("alpha.test"))
            assert b"crDate" not in partial and b"<domain:clID>ClientX<" in partial
        pending = await pair.send(info_frame("epsilon.test"))
        if clid == "ClientY":
            assert b'<domain:status s="pendingTransfer"' in pending
    assert reads._check.executions > 0 and reads._info.executions > 0


async def test_concurrent_commands_share_executions_and_get_their_own_answers(
    world: dict[str, Any],
) -> None:
    reads: LoopReads = world["reads"]
    clids = ("ClientX", "ClientY", "ClientZ")
    expected = {}
    frames = _frames()
    for clid in clids:  # each registrar's answers from the flows, one at a time
        general = Session(world["general"], "127.0.0.1", None)
        login = InProcess(general).login(clid, support.PASSWORDS[clid], extensions=ns.EXTENSIONS)
        assert (await login).code == 1000
        for k, data in enumerate(frames):
            expected[(clid, k)] = _SVTRID.sub(b"", (await general.handle(data))[0])
    sessions = []
    for i in range(12):
        session = Session(world["loop"], "127.0.0.1", None)
        clid = clids[i % 3]
        login = InProcess(session).login(clid, support.PASSWORDS[clid], extensions=ns.EXTENSIONS)
        assert (await login).code == 1000
        sessions.append((clid, session))
    before_exec = reads._check.executions + reads._info.executions
    before_req = reads._check.requests + reads._info.requests

    async def run(i: int, clid: str, session: Session) -> None:
        for k in range(i, len(frames), 3):
            answer = (await session.handle(frames[k]))[0]
            assert _SVTRID.sub(b"", answer) == expected[(clid, k)], frames[k]

    await asyncio.gather(*(run(i, clid, session) for i, (clid, session) in enumerate(sessions)))
    executions = reads._check.executions + reads._info.executions - before_exec
    requests = reads._check.requests + reads._info.requests - before_req
    assert 0 < executions < requests / 4  # batches of several commands


async def test_each_answer_comes_from_a_read_that_started_after_the_command(
    world: dict[str, Any],
) -> None:
    pair = Pair(world["loop"], world["general"])
    await pair.login("ClientX")
    reads: LoopReads = world["reads"]
    free = b'<domain:name avail="1">fresh.test</domain:name>'
    assert free in await pair.send(check_frame(["fresh.test"]))
    # A check under way when the name is taken, then a check sent after: the second one
    # waits for the next execution and sees the name taken.
    first = asyncio.ensure_future(pair.loop.handle(check_frame(["fresh.test"])))
    while reads._check._flight is None:
        await asyncio.sleep(0)
    create = InProcess(pair.general)
    await rd.ok(create, rd.domain("fresh.test"))
    second = await pair.loop.handle(check_frame(["fresh.test"]))
    assert b'<domain:name avail="0">fresh.test</domain:name>' in second[0]
    assert b'code="1000"' in (await first)[0]
    info = await pair.send(info_frame("fresh.test"))
    assert b"<domain:name>fresh.test</domain:name>" in info


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_a_connection_broken_under_a_batch_fails_it_with_2400_and_the_path_recovers(
    world: dict[str, Any],
) -> None:
    reads: LoopReads = world["reads"]
    url = world["url"]
    pairs = [Pair(world["loop"], world["general"]) for _ in range(6)]
    for pair in pairs:
        await pair.login("ClientX")
    await pairs[0].send(check_frame(["alpha.test"]))  # the connections are open
    await pairs[0].send(info_frame("alpha.test"))
    # Hold the batch in the database: a lock its statement waits for.
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE tlds, domains IN ACCESS EXCLUSIVE MODE")
        frames = [check_frame(["alpha.test", "free.test"]), info_frame("beta.test")] * 3
        tasks = [
            asyncio.ensure_future(pair.loop.handle(data))
            for pair, data in zip(pairs, frames, strict=True)
        ]
        while reads._check._flight is None or reads._info._flight is None:
            await asyncio.sleep(0.01)
        for batches in (reads._check, reads._info):
            _terminate(url, batches._conn.pgconn.backend_pid)
        answers = await asyncio.gather(*tasks)
        locker.rollback()
    for answer, _ in answers:
        assert b'code="2400"' in answer, answer
    for pair, data in zip(pairs, frames, strict=True):
        await pair.send(data)  # answered again, and as the flows answer
    # Ended while idle: the connection is given up when the server closes it, and the
    # next command is answered on a new one.
    for batches in (reads._check, reads._info):
        _terminate(url, batches._conn.pgconn.backend_pid)
    for _ in range(500):
        if reads._check._conn.broken and reads._info._conn.broken:
            break
        await asyncio.sleep(0.01)
    assert reads._check._conn.broken and reads._info._conn.broken
    for pair, data in zip(pairs, frames, strict=True):
        await pair.send(data)


async def test_a_database_that_cannot_be_reached_answers_2400(world: dict[str, Any]) -> None:
    db: Database = world["db"]
    reads = LoopReads(db)
    reads._check.url = reads._info.url = "postgresql://postgres@127.0.0.1:1/nowhere"
    registry = Registry(db, clock=world["clock"], loop_reads=reads)
    session = Session(registry, "127.0.0.1", None)
    assert (await InProcess(session).login("ClientX", support.PASSWORDS["ClientX"])).code == 1000
    try:
        for data in (check_frame(["alpha.test"]), info_frame("alpha.test")):
            reply = parse_reply((await session.handle(data))[0])
            assert reply.code == 2400
        # Names the database is not asked about are still answered.
        reply = parse_reply((await session.handle(check_frame(["-x.test"])))[0])
        assert reply.code == 1000
    finally:
        await reads.aclose()
