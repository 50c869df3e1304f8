"""The EPP transport (`epp/server.py`) answers frames in order and keeps its limits, whether a
frame is answered from `data_received` (SQLite: `Database.inline`) or by the connection's task
(PostgreSQL, and SQLite with `EppServer.answer_inline` off).

Frames sent back to back in one write, split across writes, or many more than the transport
buffers without reading the answers all get their answers, in order; a client that keeps
sending is not idle, however long it stays; the end of the session closes the connection."""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio

from domreg.bench import epp as bench
from domreg.clock import Clock
from domreg.epp import namespaces as ns
from domreg.epp import render
from domreg.epp.client import EppClient, client_tls_context, parse_reply
from domreg.epp.server import EppServer, Limits, server_tls_context
from domreg.epp.session import Registry, Session
from domreg.flows.inlinechecks import InlineChecks
from domreg.flows.loopreads import LoopReads
from domreg.store.db import Database
from tests import support

IDLE = 1.0  # seconds: the idle limit of the servers here


@pytest_asyncio.fixture(params=["inline", "task"])
async def server(
    request: pytest.FixtureRequest, db: Database, tls_dir: Path
) -> AsyncIterator[EppServer]:
    inline = request.param == "inline"
    # As `domreg serve`: plain checks on the driver (SQLite) or read from the loop
    # (PostgreSQL), answered from the data callback; "task": all through the task.
    checks = InlineChecks(db) if inline and db.is_sqlite else None
    reads = LoopReads(db) if inline and not db.is_sqlite else None
    srv = EppServer(
        Registry(db=db, clock=Clock(), inline_checks=checks, loop_reads=reads),
        server_tls_context(
            str(tls_dir / "server.crt"), str(tls_dir / "server.key"), str(tls_dir / "ca.crt")
        ),
        Limits(max_frame=65536, idle_timeout=IDLE, frame_timeout=IDLE),
    )
    srv.answer_inline = inline
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.close()
    if checks is not None:
        checks.close()
    if reads is not None:
        await reads.aclose()


@pytest_asyncio.fixture
async def client(server: EppServer, tls_dir: Path) -> AsyncIterator[Callable[..., Any]]:
    clients: list[EppClient] = []

    async def _connect() -> EppClient:
        c = await EppClient.connect(
            "127.0.0.1", server.ports[0], client_tls_context(ca_file=str(tls_dir / "ca.crt"))
        )
        clients.append(c)
        assert (await c.login("ClientX", support.PASSWORDS["ClientX"])).code == 1000
        return c

    yield _connect
    for c in clients:
        await c.close()


def check(name: str, cltrid: str, more: int = 0) -> bytes:
    """A framed domain:check of `name` and `more` other names."""
    names = "".join(
        f"<domain:name>{n}</domain:name>" for n in [name, *[f"x{k}-{name}" for k in range(more)]]
    )
    payload = (
        f'<?xml version="1.0" encoding="UTF-8"?><epp xmlns="{ns.EPP}"><command><check>'
        f'<domain:check xmlns:domain="{ns.DOMAIN}">{names}'
        f"</domain:check></check><clTRID>{cltrid}</clTRID></command></epp>"
    ).encode()
    return struct.pack("!I", len(payload) + 4) + payload


async def answers(c: EppClient, n: int) -> list[tuple[int, str | None, str | None]]:
    out = []
    for _ in range(n):
        reply = parse_reply(await c.read_frame())
        out.append((reply.code, reply.findtext(".//epp:clTRID"), reply.findtext(".//domain:name")))
    return out


async def test_frames_in_one_write_are_answered_in_order(client: Callable[..., Any]) -> None:
    c = await client()
    c.writer.write(b"".join(check(f"n{i}.test", f"ORDER-{i}") for i in range(20)))
    await c.writer.drain()
    assert await answers(c, 20) == [(1000, f"ORDER-{i}", f"n{i}.test") for i in range(20)]


async def test_concurrent_connections_get_their_own_answers_and_see_earlier_creates(
    server: EppServer, client: Callable[..., Any]
) -> None:
    """Connections whose frames arrive together are answered together (on SQLite their
    plain checks share a snapshot, `EppServer._answer_ready`); a check pipelined after a
    create on one connection, and checks sent after its answer on others, see it."""
    server.limits = Limits(idle_timeout=60.0)  # eight logins take longer than IDLE
    conns = [await client() for _ in range(8)]
    for _ in range(5):
        for i, c in enumerate(conns):
            c.writer.write(b"".join(check(f"c{i}-{k}.test", f"C{i}-{k}", more=k) for k in range(3)))
        await asyncio.gather(*(c.writer.drain() for c in conns))
        got = await asyncio.gather(*(answers(c, 3) for c in conns))
        assert got == [[(1000, f"C{i}-{k}", f"c{i}-{k}.test") for k in range(3)] for i in range(8)]
    first = conns[0]
    first.writer.write(create_frame("made.test") + check("made.test", "AFTER-CREATE"))
    await first.writer.drain()
    created, after = parse_reply(await first.read_frame()), parse_reply(await first.read_frame())
    assert created.code == 1000
    assert after.find(".//domain:name").get("avail") == "0"
    for c in conns[1:]:
        c.writer.write(check("made.test", "LATER"))
    await asyncio.gather(*(c.writer.drain() for c in conns[1:]))
    for c in conns[1:]:
        assert parse_reply(await c.read_frame()).find(".//domain:name").get("avail") == "0"
    checks = server.registry.inline_checks
    if checks is not None:  # several commands to a snapshot
        assert 0 < checks.snapshots < 8 * 5 * 3


def create_frame(name: str) -> bytes:
    payload = (
        f'<?xml version="1.0" encoding="UTF-8"?><epp xmlns="{ns.EPP}"><command><create>'
        f'<domain:create xmlns:domain="{ns.DOMAIN}"><domain:name>{name}</domain:name>'
        "<domain:authInfo><domain:pw>auth-X1Y2</domain:pw></domain:authInfo></domain:create>"
        "</create><clTRID>CREATE-1</clTRID></command></epp>"
    ).encode()
    return struct.pack("!I", len(payload) + 4) + payload


async def test_frames_split_across_writes_are_answered(client: Callable[..., Any]) -> None:
    c = await client()
    data = check("a.test", "SPLIT-1") + check("b.test", "SPLIT-2") + check("c.test", "SPLIT-3")
    # a header alone, a frame and the start of the next, the rest byte by byte at the end
    for piece in (
        data[:2],
        data[2:4],
        data[4:150],
        data[150:-20],
        *[data[-20 + i : len(data) - 19 + i] for i in range(20)],
    ):
        c.writer.write(piece)
        await c.writer.drain()
        await asyncio.sleep(0.01)
    assert [a[1] for a in await answers(c, 3)] == ["SPLIT-1", "SPLIT-2", "SPLIT-3"]


async def test_a_client_that_keeps_sending_is_not_idle(client: Callable[..., Any]) -> None:
    c = await client()
    loop = asyncio.get_running_loop()
    end = loop.time() + 3 * IDLE
    i = 0
    while loop.time() < end:
        i += 1
        c.writer.write(check(f"busy{i}.test", f"BUSY-{i}"))
        assert (await answers(c, 1))[0][:2] == (1000, f"BUSY-{i}")
        await asyncio.sleep(IDLE / 4)
    # then idle: refused and closed after the idle limit, counted from the last answer
    reply = parse_reply(await asyncio.wait_for(c.read_frame(), 10 * IDLE))
    assert reply.code == 2500
    assert "idle" in reply.msg
    assert await c.reader.read() == b""


async def test_many_frames_sent_without_reading_are_all_answered_in_order(
    client: Callable[..., Any],
) -> None:
    """More answers than the client and the sockets buffer: the server stops writing (and
    then reading) until the client reads, and nothing is lost or reordered."""
    c = await client()
    n = 3000
    # 6 KB answers: 18 MB, more than the client's stream buffer (8 MB) and the sockets' hold
    frames = [check(f"many{i}.test", f"MANY-{i}", more=60) for i in range(n)]

    async def send() -> None:
        for i in range(0, n, 100):
            c.writer.write(b"".join(frames[i : i + 100]))
            await c.writer.drain()

    sender = asyncio.create_task(send())
    await asyncio.sleep(0.5)  # the client reads nothing meanwhile
    got = await answers(c, n)
    await sender
    assert got == [(1000, f"MANY-{i}", f"many{i}.test") for i in range(n)]


async def test_logout_ends_the_connection_and_later_frames_are_not_answered(
    client: Callable[..., Any],
) -> None:
    c = await client()
    logout = (
        f'<?xml version="1.0" encoding="UTF-8"?><epp xmlns="{ns.EPP}"><command><logout/>'
        "<clTRID>BYE-1</clTRID></command></epp>"
    ).encode()
    c.writer.write(
        check("a.test", "BEFORE-1")
        + struct.pack("!I", len(logout) + 4)
        + logout
        + check("b.test", "AFTER-1")
    )
    await c.writer.drain()
    first, bye = await answers(c, 2)
    assert first[:2] == (1000, "BEFORE-1")
    assert bye[:2] == (1500, "BYE-1")
    assert await c.reader.read() == b""


async def test_a_refused_length_after_answered_frames_closes(client: Callable[..., Any]) -> None:
    c = await client()
    c.writer.write(check("a.test", "OK-1") + struct.pack("!I", 10_000_000))
    await c.writer.drain()
    assert (await answers(c, 1))[0][:2] == (1000, "OK-1")
    reply = parse_reply(await c.read_frame())
    assert reply.code == 2500
    assert "exceeds" in reply.msg
    assert await c.reader.read() == b""


async def test_shutdown_closes_idle_connections(
    server: EppServer, client: Callable[..., Any]
) -> None:
    c = await client()
    c.writer.write(check("a.test", "LAST-1"))
    assert (await answers(c, 1))[0][:2] == (1000, "LAST-1")
    await server.shutdown(grace=5)
    assert await c.reader.read() == b""


def test_only_a_database_whose_work_runs_inline_is_answered_from_data_received(
    db: Database,
) -> None:
    assert db.inline == db.is_sqlite


class CountingClock(Clock):
    def __init__(self) -> None:
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return super().now()


async def test_a_read_reads_the_clock_once_and_a_write_again_in_its_transaction(
    db: Database,
) -> None:
    """One clock read per read-only command (its metrics and its flow); a write reads the
    clock again inside its transaction, so its times follow the order of the writes."""
    clock = CountingClock()
    session = Session(Registry(db=db, clock=clock), "127.0.0.1", None)
    login = bench.login_request("ClientX", support.PASSWORDS["ClientX"], "LOGIN-1")[4:]
    assert b'code="1000"' in (await session.handle(login))[0]
    for frame, reads in [
        (check("clock.test", "CLOCK-1")[4:], 1),
        (bench.create_request("clock.test", "CLOCK-2")[4:], 2),
        (bench.info_request("clock.test", "CLOCK-3")[4:], 1),
    ]:
        clock.reads = 0
        reply, _ = await session.handle(frame)
        assert re.search(rb'code="1000"', reply), reply
        assert clock.reads == reads, frame


async def test_handle_now_answers_as_handle_does_where_the_work_runs_inline(
    tmp_path: Path,
) -> None:
    """`handle_now` is for a database whose work runs inline: SQLite, whatever the backends
    the other tests run on."""
    with support.fresh_database("sqlite", tmp_path) as url:
        db = Database(url)
        try:
            assert db.inline
            support.setup_registry(db)
            await _handle_now_and_handle_alike(db)
        finally:
            db.close()


async def _handle_now_and_handle_alike(db: Database) -> None:
    sessions = [Session(Registry(db=db, clock=Clock()), "127.0.0.1", None) for _ in range(2)]
    login = bench.login_request("ClientX", support.PASSWORDS["ClientX"], "LOGIN-1")[4:]
    frames = [
        login,
        check("now.test", "NOW-1")[4:],
        bench.create_request("now.test", "NOW-2")[4:],
        bench.info_request("now.test", "NOW-3")[4:],
        b"<epp>not a command",
        bench.logout_request("NOW-4")[4:],
    ]
    for frame in frames:
        if b"<create>" in frame:  # one create; the other session checks the same name again
            now = sessions[0].handle_now(frame)
            later = await sessions[1].handle(check("now.test", "NOW-2")[4:])
            assert b'code="1000"' in now[0] and b'avail="0"' in later[0]
            continue
        now = sessions[0].handle_now(frame)
        later = await sessions[1].handle(frame)
        strip = re.compile(rb"<svTRID>[^<]*</svTRID>|<crDate>[^<]*</crDate>")
        assert (strip.sub(b"", now[0]), now[1]) == (strip.sub(b"", later[0]), later[1])


# ------------------------------------------------------------ PostgreSQL: checks read from the loop
#
# On PostgreSQL `domreg serve` answers plain checks from the data callback too: the check is
# read from the event loop (`LoopReads`) and its answer sent from the callback that read it
# (`Session.check_soon`, `Connection._checked`). Meanwhile the connection answers nothing
# else; the frames behind the check wait for its answer. A lock on the tables the check reads
# holds it in the database for as long as a test needs.

INLINE = pytest.mark.parametrize("server", ["inline"], indirect=True)


@contextlib.asynccontextmanager
async def checks_held(db: Database) -> AsyncIterator[None]:
    """Checks (and infos) wait in the database until the block ends."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(url) as locker:
        await locker.execute("LOCK TABLE domains IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await locker.rollback()


async def send_unanswered(c: EppClient, data: bytes) -> None:
    """Send `data`, and find nothing answered for a while (its checks are held)."""
    c.writer.write(data)
    await c.writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(c.reader.readexactly(1), 0.3)


@support.POSTGRESQL_ONLY
@INLINE
async def test_postgresql_checks_are_answered_without_the_task_and_frames_behind_wait(
    server: EppServer, client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    handled: list[bytes] = []
    real = Session.handle

    async def handle(self: Session, data: bytes) -> tuple[bytes, bool]:
        handled.append(data)
        return await real(self, data)

    monkeypatch.setattr(Session, "handle", handle)
    c = await client()
    handled.clear()
    info = bench.info_request("a.test", "HELD-INFO")
    async with checks_held(server.registry.db):
        await send_unanswered(c, check("a.test", "HELD-1") + info + check("b.test", "HELD-2"))
    assert await answers(c, 3) == [
        (1000, "HELD-1", "a.test"),
        (2303, "HELD-INFO", None),
        (1000, "HELD-2", "b.test"),
    ]
    # The first check was answered without the connection's task; the task answered the
    # info, and then (awake) the check behind it.
    assert handled[0] == info[4:]


@support.POSTGRESQL_ONLY
@INLINE
async def test_shutdown_sends_the_answer_of_a_check_being_read_then_closes(
    server: EppServer, client: Callable[..., Any]
) -> None:
    c = await client()
    async with checks_held(server.registry.db):
        await send_unanswered(c, check("a.test", "LAST-1"))
        stopping = asyncio.create_task(server.shutdown(grace=10))
        await asyncio.sleep(0.2)
        assert not stopping.done()  # the check is still in flight
    assert (await answers(c, 1))[0][:2] == (1000, "LAST-1")
    assert await c.reader.read() == b""
    await stopping


@support.POSTGRESQL_ONLY
@INLINE
async def test_a_client_gone_while_its_check_is_read_leaves_the_server_answering(
    server: EppServer, client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    gone = await client()
    async with checks_held(server.registry.db):
        await send_unanswered(gone, check("a.test", "GONE-1") + check("b.test", "GONE-2"))
        gone.writer.transport.abort()
        await asyncio.sleep(0.2)
    c = await client()
    c.writer.write(check("c.test", "AFTER-1"))
    assert (await answers(c, 1))[0][:2] == (1000, "AFTER-1")
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


@support.POSTGRESQL_ONLY
@INLINE
async def test_a_check_read_for_longer_than_the_idle_limit_is_answered_and_the_session_goes_on(
    server: EppServer, client: Callable[..., Any]
) -> None:
    """The idle limit counts while the client waits for nothing: not during a slow read."""
    c = await client()
    async with checks_held(server.registry.db):
        await send_unanswered(c, check("slow.test", "SLOW-1"))
        await asyncio.sleep(2.5 * IDLE)
    assert (await answers(c, 1))[0][:2] == (1000, "SLOW-1")
    c.writer.write(check("next.test", "NEXT-1"))
    assert (await answers(c, 1))[0][:2] == (1000, "NEXT-1")


@INLINE
async def test_a_check_whose_answer_cannot_be_made_is_answered_2400_and_the_session_goes_on(
    server: EppServer, client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = await client()

    def broken(items: Any) -> str:
        raise RuntimeError("a bug in rendering")

    monkeypatch.setattr(render, "domain_check", broken)
    c.writer.write(check("a.test", "BROKEN-1"))
    assert (await answers(c, 1))[0][:2] == (2400, "BROKEN-1")
    monkeypatch.undo()
    c.writer.write(check("b.test", "AFTER-1"))
    assert (await answers(c, 1))[0][:2] == (1000, "AFTER-1")
