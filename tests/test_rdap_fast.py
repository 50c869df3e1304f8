"""RDAP's fast path (`http/fast.py`), on each backend: the HTTP server answers cached lookups
itself, byte for byte as the ASGI application does through uvicorn.

Every test runs the same requests, over raw sockets, against two servers on the same
database, each with its own application (cache, rate limiter) and a fixed clock: one with
the fast path, one plain uvicorn. The bytes they send back must be equal (the Date header
aside), for hits, misses, 304, HEAD, authenticated and refused requests, the rate limit,
bad paths, HTTP/1.0 and pipelined requests; the query counts must be equal too; and the
fast path must have answered the hits. What EPP changes is in the next answer; a failed
version read leaves the request to the ASGI path.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from domreg import metrics
from domreg.clock import Clock, FixedClock
from domreg.config import Config
from domreg.flows import domain
from domreg.http.app import HttpContext, HttpServer, build_app
from domreg.http.fast import FastProtocol
from domreg.rdap import RdapApp
from domreg.store.db import Database
from tests import rdds_data, support

pytestmark = pytest.mark.xdist_group("rdds")

NOW = Clock().now().replace(microsecond=0)  # the servers' (fixed) time
_DATE = re.compile(rb"\r\ndate: [^\r]*\r\n")


def get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: rdap.test", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def last(request: bytes) -> bytes:
    """`request` asking the server to close the connection after its answer."""
    return request[:-2] + b"Connection: close\r\n\r\n"


def basic(clid: str, password: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{clid}:{password}".encode()).decode()


@asynccontextmanager
async def servers(
    db: Database, apps: list[RdapApp] | None = None, **settings: Any
) -> AsyncIterator[tuple[int, int]]:
    """The ports of a fast-path server and of a plain uvicorn one (own applications, their
    RDAP applications added to `apps`)."""
    cfg = Config(**{"rdap_rate_limit": 0.0, **settings})
    started = []
    try:
        for fast in (True, False):
            server = HttpServer(
                build_app(HttpContext(db=db, clock=FixedClock(NOW), cfg=cfg)), fast=fast
            )
            await server.start("127.0.0.1", 0)
            started.append(server)
            if apps is not None:
                apps.append(server.app.state.rdap)
        yield started[0].port, started[1].port
    finally:
        for server in started:
            await server.close()


async def exchange(port: int, *writes: bytes) -> bytes:
    """Send each of `writes` (after the answers to the previous one began to arrive, if it
    is not the first); everything received until the server closes, Date headers masked."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        received = b""
        for i, data in enumerate(writes):
            writer.write(data)
            await writer.drain()
            if i < len(writes) - 1:
                received += await asyncio.wait_for(reader.read(65536), 10)
        received += await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    return _DATE.sub(b"\r\ndate: -\r\n", received)


async def compare(ports: tuple[int, int], *writes: bytes) -> tuple[bytes, int, Counter[Any]]:
    """The same exchange with both servers: the bytes (equal), how many answers the fast
    path wrote, and the query counts (equal)."""
    metrics.COUNTERS.take()
    before = FastProtocol.answered
    fast = await exchange(ports[0], *writes)
    answered = FastProtocol.answered - before
    fast_counts = metrics.COUNTERS.take()
    plain = await exchange(ports[1], *writes)
    assert FastProtocol.answered - before == answered  # the plain server has no fast path
    assert fast.split(b"HTTP/1.1 ") == plain.split(b"HTTP/1.1 ")
    assert fast_counts == metrics.COUNTERS.take()
    return fast, answered, fast_counts


def statuses(received: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", received)]


@pytest.fixture
def data(db: Database) -> rdds_data.Data:
    return rdds_data.populate(db, NOW - timedelta(minutes=1))


async def test_hits_misses_conditional_head_and_bad_paths(db: Database, data: Any) -> None:
    async with servers(db) as ports:
        received, _, _ = await compare(ports, last(get("/rdap/domain/example.test")))
        etag = re.search(rb"\r\netag: ([^\r]*)\r\n", received)
        assert etag is not None
        tag = etag.group(1).decode()
        requests = [
            get("/rdap/domain/example.test"),  # a hit
            get("/rdap/domain/EXAMPLE.test"),  # another key: a miss, then a hit
            get("/rdap/domain/EXAMPLE.test"),
            get("/rdap/domain/example.test", method="HEAD"),
            get("/rdap/domain/example.test", f"If-None-Match: {tag}"),
            get("/rdap/domain/example.test", f'If-None-Match: "x", {tag}', method="HEAD"),
            get("/rdap/domain/example.test", 'If-None-Match: "other"'),
            get("/rdap/domain/example.test?x=1"),
            get("/rdap/domain/example.test?x=1"),
            get("/rdap/domain/b%C3%BCcher.test"),
            get("/rdap/domain/b%C3%BCcher.test"),
            get("/rdap/domain/xn--bcher-kva.test"),
            get("/rdap/nameserver/ns1.dns.net"),
            get("/rdap/nameserver/ns1.dns.net"),
            get("/rdap/entity/1234"),
            get("/rdap/entity/1234"),
            get("/rdap/domain/nosuch.test"),  # 404, not cached
            get("/rdap/domain/nosuch.test"),
            get("/rdap/domain/"),
            get("/rdap/domain/a/b"),
            get("/rdap/domain/" + "a" * 600),
            get("/rdap/nosuch/x"),
            get("/rdap/ip/192.0.2.1"),
            get("/rdap/help"),
            get("/rdap/domains?name=exam*.test"),
            get("/rdap"),
            get("/rdap/domain/example.test", method="POST"),
            get("/rdap/domain/example.test", method="OPTIONS"),
            get("/healthz"),
        ]
        for request in requests:  # one at a time, each on a connection of its own
            await compare(ports, last(request))
        # All on one connection, one after the other, then all pipelined in one write.
        one_by_one, answered, counts = await compare(ports, *requests, last(requests[0]))
        assert len(statuses(one_by_one)) == len(requests) + 1
        assert answered == 17  # every hit, the 304s and HEADs among them
        assert sum(n for (_, _, name, _), n in counts.items() if name == "domain") == 15
        pipelined, answered, _ = await compare(ports, b"".join(requests) + last(requests[0]))
        assert pipelined == one_by_one
        assert answered == 17
        assert statuses(pipelined)[:8] == [200, 200, 200, 200, 304, 304, 200, 200]


async def test_http_10_and_keep_alive(db: Database, data: Any) -> None:
    async with servers(db) as ports:
        await compare(ports, last(get("/rdap/domain/example.test")))
        received, answered, _ = await compare(
            ports, get("/rdap/domain/example.test", version="1.0")
        )
        assert answered == 1
        assert b"\r\nconnection: close\r\n" in received
        received, answered, _ = await compare(
            ports, get("/rdap/domain/example.test", "Connection: keep-alive", version="1.0")
        )
        assert answered == 1 and statuses(received) == [200]


async def test_authenticated_requests_are_not_served_from_the_anonymous_cache(
    db: Database, data: Any
) -> None:
    async with servers(db) as ports:
        anonymous = get("/rdap/domain/example.test")
        owner = get("/rdap/domain/example.test", basic("ClientX", support.PASSWORDS["ClientX"]))
        other = get("/rdap/domain/example.test", basic("ClientY", support.PASSWORDS["ClientY"]))
        wrong = get("/rdap/domain/example.test", basic("ClientX", "wrong-Password1"))
        received, answered, _ = await compare(
            ports, anonymous, anonymous, owner, owner, other, wrong, last(anonymous)
        )
        assert answered == 2  # the second and the last anonymous lookups
        assert statuses(received) == [200, 200, 200, 200, 200, 401, 200]
        answers = received.split(b"HTTP/1.1 ")[1:]
        assert b"Jane" not in answers[1] and b"Jane" in answers[2] and b"Jane" in answers[3]
        assert b"private, no-cache" in answers[2] and b"public" in answers[1]
        assert b"Jane" not in answers[4] and b"Jane" not in answers[6]


async def test_the_rate_limit_holds_on_the_fast_path(db: Database, data: Any) -> None:
    async with servers(db, rdap_rate_limit=0.001, rdap_rate_burst=3) as ports:
        lookup = get("/rdap/domain/example.test")
        received, answered, counts = await compare(ports, *[lookup] * 5, last(lookup))
        assert statuses(received) == [200, 200, 200, 429, 429, 429]
        assert received.count(b"\r\nretry-after: 1000\r\n") == 3
        assert answered == 5  # two hits and the three refusals
        assert sum(counts.values()) == 3  # refused queries are not counted


async def test_epp_changes_are_in_the_next_fast_answer(db: Database, data: Any) -> None:
    async with servers(db) as ports:
        lookup = last(get("/rdap/domain/exam2.test"))
        for _ in range(2):
            received, _, _ = await compare(ports, lookup)
            assert b"client hold" not in received
        before = FastProtocol.answered
        rdds_data.run(
            db,
            data.y,
            NOW + timedelta(seconds=1),
            domain.update,
            domain.DomainUpdate("exam2.test", add_statuses=(("clientHold", None, None),)),
        )
        received, answered, _ = await compare(ports, lookup)
        assert b"client hold" in received and answered == 0  # the first is a miss again
        received, answered, _ = await compare(ports, lookup)
        assert b"client hold" in received and answered == 1
        assert FastProtocol.answered == before + 1


async def test_a_connection_closed_while_its_lookups_wait_is_left_alone(
    db: Database, data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with servers(db) as ports:
        await compare(ports, last(get("/rdap/domain/example.test")))
        for port in ports:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(get("/rdap/domain/example.test") * 20)
            writer.close()
        await asyncio.sleep(0.2)
        received, answered, _ = await compare(ports, last(get("/rdap/domain/example.test")))
        assert statuses(received) == [200] and answered == 1
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_a_failed_version_read_is_left_to_the_asgi_path(
    db: Database, data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite: the version connection closed, both servers answer 500 through the ASGI path.
    PostgreSQL: a version read failing, the fast path hands the request to the ASGI path,
    whose own read reconnects and answers (without the fast path, the request that met the
    failed read gets the 500); the fast path answers again from then on."""
    apps: list[RdapApp] = []
    async with servers(db, apps) as ports:
        lookup = last(get("/rdap/domain/example.test"))
        await compare(ports, lookup)
        sqlite = apps[0].versions.synchronous
        for app in apps:
            versions = app.versions
            if sqlite:
                assert versions._raw is not None
                versions._raw.close()
            else:  # its next read fails
                conn = versions._conn
                await conn.results(lambda pg: pg.send_query(b"DEALLOCATE rdds_generation"))
        if sqlite:
            received, answered, _ = await compare(ports, lookup)
            assert statuses(received) == [500] and answered == 0
            assert b'"errorCode":500' in received
            assert "the data version could not be read" in caplog.text
        else:
            before = FastProtocol.answered
            assert statuses(await exchange(ports[0], lookup)) == [200]
            assert FastProtocol.answered == before
            assert statuses(await exchange(ports[1], lookup)) == [500]
            received, answered, _ = await compare(ports, lookup)
            assert statuses(received) == [200] and answered == 1
