"""The WHOIS server (RFC 3912) on `whois_host:whois_port`, started by `domreg serve`.

One query per connection: the client sends a line (ended by CRLF or LF, or by closing its
side), the server answers and closes. Queries: `<domain>` (A-label or U-label; a name that
is no domain but is a nameserver gets the nameserver), `domain <name>`, `nameserver <name>`,
`registrar <name or IANA id>`. Defences: a line longer than `whois_max_query` characters is
refused as soon as it is seen, bytes that are not UTF-8 text are refused, a client that sends
no line within `whois_timeout` seconds is told so and disconnected, and each client IP gets
`whois_rate_limit` queries per second (bursts of `whois_rate_burst`), per worker.

Every answered query (an object or "No match") counts once in `domreg.metrics` (service
"whois", name "port43": ICANN's whois-43-queries); refusals (rate limit, timeout, too long,
not text, empty) do not.

Answers come from the worker's `AnswerCache` while the version of the registration data
covers theirs. SQLite: the version and a miss are read on the event loop. PostgreSQL: the
query asks for the version (`DataVersion.request`, one read shared by the queries in
flight) and is answered from its callback when the cache has the answer (no task per
query); a miss is read in the database's thread pool, once: a query whose version covers
that of an answer being read for the same text waits for that read (`WhoisServer.building`)
instead of reading it again, so a burst of queries for one name is one read, not one each.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import datetime
from typing import Any, cast

from domreg import metrics
from domreg.clock import Clock
from domreg.model.names import NameError_, parse_name, to_ascii
from domreg.rdds import query
from domreg.rdds.cache import AnswerCache, Entry
from domreg.rdds.ratelimit import RateLimiter, retry_after
from domreg.store.db import Database
from domreg.whois import render

log = logging.getLogger("domreg.whois")

KINDS = ("domain", "nameserver", "registrar")
PORT43 = "port43"  # the metrics name of a port-43 query (reports/monthly.py: whois-43-queries)


def answer(conn: Any, text: str, now: datetime) -> tuple[str, datetime | None]:
    """The WHOIS answer to query `text` (one line, already decoded), and the time until which
    it stays true if nothing is written (see `DomainData.stable_until`)."""
    words = text.split(None, 1)
    if not words:
        return render.refusal(
            "empty query; send a domain name, 'nameserver NAME' or 'registrar NAME'"
        ), None
    kind = words[0].lower()
    if kind in KINDS and len(words) == 2:
        subject = words[1].strip()
    else:
        kind, subject = "any", text.strip()
    if kind == "registrar":
        found = query.registrar(conn, subject)
        if found is None:
            return render.no_match(subject, now), None
        return render.registrar(found, now), None
    try:
        name = parse_name(to_ascii(subject)).name
    except NameError_:
        return render.no_match(subject, now), None
    if kind in ("any", "domain"):
        data = query.domain(conn, name, now)
        if data is not None:
            return render.domain(data, now), data.stable_until
    if kind in ("any", "nameserver"):
        ns = query.host(conn, name)
        if ns is not None:
            return render.nameserver(ns, now), None
    return render.no_match(subject, now), None


def subject(text: str) -> str | None:
    """The domain or name server name query `text` is about (for its TLD in the activity
    report, `metrics.tld_of`); None for a registrar query."""
    words = text.split(None, 1)
    kind = words[0].lower() if words else ""
    if kind == "registrar" and len(words) == 2:
        return None
    if kind in KINDS and len(words) == 2:
        return words[1].strip()
    return text.strip()


class WhoisProtocol(asyncio.Protocol):
    """One connection: read one line (bounded, timed), answer it, close."""

    def __init__(self, server: WhoisServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        ip = peer[0] if peer else "-"
        wait = self.server.limiter.take(ip)
        if wait:
            self._finish(render.refusal(f"rate limit exceeded; retry in {retry_after(wait)} s"))
            return
        self.timer = asyncio.get_running_loop().call_later(self.server.timeout, self._timed_out)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.buffer += data
        end = self.buffer.find(b"\n")
        line = self.buffer if end < 0 else self.buffer[:end]
        if len(line.rstrip(b"\r")) > self.server.max_query:
            self._finish(render.refusal(f"query longer than {self.server.max_query} characters"))
        elif end >= 0:
            self._query(bytes(line))

    def eof_received(self) -> bool | None:
        if not self.done:
            self._query(bytes(self.buffer))
        return True  # keep the transport open to write the answer; _finish closes it

    def connection_lost(self, exc: Exception | None) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()

    def _timed_out(self) -> None:
        self._finish(render.refusal(f"no query received within {self.server.timeout:g} s"))

    def _query(self, raw: bytes) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        assert self.transport is not None
        self.transport.pause_reading()
        try:
            text = raw.rstrip(b"\r").decode("utf-8")
            if any(ord(c) < 32 and c != "\t" for c in text):
                raise ValueError("control characters")
        except (UnicodeDecodeError, ValueError):
            self._finish(render.refusal("the query is not a line of UTF-8 text"), force=True)
            return
        if self.server.db.is_sqlite:  # local and short: answered on the loop, no task
            try:
                reply = self.server.answer_now(text)
            except Exception:
                log.exception("WHOIS query %r failed", text[:80])
                self._failed()
                return
            self._finish(reply, force=True)
            return
        # PostgreSQL: the version read is shared with the other queries in flight; a cached
        # answer is written from its callback, without a task; a miss reads in a thread.
        server = self.server
        now, stamp = server.begin(text)
        try:
            version = server.versions.request()
        except Exception:
            log.exception("WHOIS query %r failed", text[:80])
            self._failed()
            return
        version.add_done_callback(lambda fut: self._versioned(fut, text, now, stamp))

    def _versioned(
        self, fut: asyncio.Future[query.Version], text: str, now: datetime, stamp: bytes
    ) -> None:
        if fut.cancelled():  # the server is closing
            self._failed()
            return
        exc = fut.exception()
        if exc is not None:
            log.error("WHOIS query %r failed: %s", text[:80], exc)
            self._failed()
            return
        token = fut.result()
        server = self.server
        reply = server.cached(text, token, now, stamp)
        if reply is not None:
            self._finish(reply, force=True)
            return
        building = server.building.get(text)
        if building is not None and token.covers(building[0]):
            # The same answer is being read under a version this query's covers: it is
            # cached when that read ends (or, if it was not, this query reads it itself).
            building[1].add_done_callback(lambda _: self._joined(text, token, now, stamp))
            return
        self._read(text, now, stamp, token)

    def _joined(self, text: str, token: query.Version, now: datetime, stamp: bytes) -> None:
        reply = self.server.cached(text, token, now, stamp)
        if reply is not None:
            self._finish(reply, force=True)
        else:
            self._read(text, now, stamp, token)

    def _read(self, text: str, now: datetime, stamp: bytes, token: query.Version) -> None:
        """Read the answer in the thread pool (`_build`), as the one read of `text` that
        queries covering `token` wait for."""
        server = self.server
        task = asyncio.ensure_future(self._build(text, now, stamp, token))
        server.tasks.add(task)
        server.building[text] = (token, task)

        def ended(done: asyncio.Future[None]) -> None:
            server.tasks.discard(done)
            if server.building.get(text, (None, None))[1] is done:
                del server.building[text]

        task.add_done_callback(ended)

    async def _build(self, text: str, now: datetime, stamp: bytes, token: query.Version) -> None:
        server = self.server
        try:
            reply = await server.db.run(lambda: server.build(text, now, stamp, token))
        except Exception:
            log.exception("WHOIS query %r failed", text[:80])
            self._failed()
            return
        self._finish(reply, force=True)

    def _failed(self) -> None:
        self._finish(render.refusal("the server could not answer; the error is logged"), force=True)

    def _finish(self, reply: str | bytes, force: bool = False) -> None:
        if self.done and not force:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(reply.encode("utf-8") if isinstance(reply, str) else reply)
        transport.close()


class WhoisServer:
    """The asyncio WHOIS listener of one worker process."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        max_query: int = 255,
        timeout: float = 10.0,
        rate: float = 10.0,
        burst: float = 30.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_query = max_query
        self.timeout = timeout
        self.limiter = RateLimiter(rate, burst)
        self.tasks: set[asyncio.Future[None]] = set()
        #: PostgreSQL: query text -> (version, read) of the answers being read in the pool.
        self.building: dict[str, tuple[query.Version, asyncio.Future[None]]] = {}
        #: Answers read from the database (the cache's misses that read).
        self.reads = 0
        self.cache = AnswerCache()
        self.versions = query.DataVersion(db)
        self._stamp: tuple[datetime | None, bytes] = (None, b"")
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    def _stamp_of(self, now: datetime) -> bytes:
        second = now.replace(microsecond=0)
        if self._stamp[0] != second:
            self._stamp = (second, render.stamp(second).encode())
        return self._stamp[1]

    def begin(self, text: str) -> tuple[datetime, bytes]:
        """A query's time and its "last update" stamp; counts it unless it is empty (an
        empty line is refused, not counted)."""
        now = self.clock.now()
        if text and not text.isspace():
            metrics.count(metrics.WHOIS, PORT43, now, subject(text))
        return now, self._stamp_of(now)

    def cached(self, text: str, token: query.Version, now: datetime, stamp: bytes) -> bytes | None:
        """The cached answer's bytes with the current stamp, or None."""
        entry = self.cache.get(token, text, now)
        return None if entry is None else entry.body.replace(entry.stamp, stamp)

    def build(self, text: str, now: datetime, stamp: bytes, token: query.Version) -> bytes:
        """The answer read from the database (blocking), kept in the cache."""
        self.reads += 1
        with self.db.read() as conn:
            reply, valid_until = answer(conn, text, now)
        body = reply.encode("utf-8")
        self.cache.put(token, text, Entry(body, stamp, b"", valid_until))
        return body

    def answer_now(self, text: str) -> bytes:
        """The answer's bytes, from the cache while the database is unchanged (blocking:
        for SQLite, whose reads are local and short)."""
        now, stamp = self.begin(text)
        token = self.versions.current()  # before the data: what is read after is newer
        return self.cached(text, token, now, stamp) or self.build(text, now, stamp, token)

    async def start(self, host: str, port: int, reuse_port: bool = False) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: WhoisProtocol(self), sock=sock, backlog=1024
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.versions.aclose()


def from_config(db: Database, clock: Clock, cfg: Any) -> WhoisServer:
    return WhoisServer(
        db,
        clock,
        max_query=cfg.whois_max_query,
        timeout=cfg.whois_timeout,
        rate=cfg.whois_rate_limit,
        burst=cfg.whois_rate_burst,
    )
