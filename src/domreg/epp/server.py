"""EPP over TLS (RFC 5734): TLS 1.2+, 4-byte length framing, frame size and idle limits.

Each connection gets a greeting, then frames are read and answered one at a time. A frame
longer than the limit, a malformed length header, a client idle for too long or one that
stalls in the middle of a frame is answered (where possible) and disconnected; nothing a
client sends can crash the server or reach another session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import struct
from dataclasses import dataclass
from typing import cast

from domreg.epp import render
from domreg.epp.session import Registry, Session
from domreg.model.results import Result

log = logging.getLogger("domreg.epp")

HEADER = struct.Struct("!I")
#: A deadline counts as reached this close to it (uvloop's timers have millisecond steps).
TIMER_SLACK = 0.002


@dataclass(frozen=True)
class Limits:
    max_frame: int = 65536  # bytes, header included
    idle_timeout: float = 600.0  # seconds without a new frame
    frame_timeout: float = 30.0  # seconds to receive the rest of a started frame


def server_tls_context(
    cert_file: str, key_file: str, client_ca: str | None = None
) -> ssl.SSLContext:
    """TLS 1.2 or 1.3 only. Client certificates are requested, and verified against
    `client_ca` when one is configured; the registrar's pinned fingerprints are checked at login."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload) + HEADER.size) + payload


class EppServer:
    """Accepts EPP connections and runs one `Session` per connection."""

    def __init__(
        self, registry: Registry, tls: ssl.SSLContext, limits: Limits | None = None
    ) -> None:
        self.registry = registry
        self.tls = tls
        self.limits = limits or Limits()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._by_task: dict[asyncio.Task[None], Connection] = {}
        self.stopping = False
        #: Answer frames from `data_received` where the database allows it (`Connection`);
        #: off, every frame goes through the connection's task (the tests compare).
        self.answer_inline = True
        #: Connections with frames to answer inline, answered together once the loop has
        #: read what is ready (`_answer_ready`).
        self._ready: list[Connection] = []

    async def start(self, host: str, port: int, reuse_port: bool = False) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self),
            host,
            port,
            ssl=self.tls,
            reuse_port=reuse_port,
            backlog=1024,
            ssl_handshake_timeout=self.limits.frame_timeout,
        )
        return self._server

    def _queue(self, conn: Connection) -> None:
        self._ready.append(conn)
        if len(self._ready) == 1:
            asyncio.get_running_loop().call_soon(self._answer_ready)

    def _answer_ready(self) -> None:
        """Answer the frames of every connection that received some since the last call, in
        the order they came. Their plain checks share one SQLite snapshot
        (`InlineChecks.hold`), taken after all of them arrived, so each answer still comes
        from a read that started after its command did; any other object command ends the
        shared snapshot first (`Session`), so what it writes is seen by the checks after it."""
        ready, self._ready = self._ready, []
        checks = self.registry.inline_checks
        if checks is not None:
            checks.hold()
        try:
            for conn in ready:
                try:
                    conn._answer_queued()
                except Exception:  # never leave the others unanswered: its task takes over
                    log.exception("EPP connection failed")
                    conn._queued = False
                    conn._wake()
        finally:
            if checks is not None:
                checks.release()

    @property
    def ports(self) -> list[int]:
        assert self._server is not None
        return [s.getsockname()[1] for s in self._server.sockets]

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop accepting; let every command in flight finish and its answer go out (at most
        `grace` seconds), closing each connection after it; close idle ones at once."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for task, conn in list(self._by_task.items()):
            if not conn.busy:
                task.cancel()
        if self._connections:
            _, pending = await asyncio.wait(list(self._connections), timeout=grace)
            for task in pending:
                task.cancel()
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)


class Connection(asyncio.Protocol):
    """One client connection: RFC 5734 framing on the transport, one task answering frames.

    Bytes are gathered by `data_received`; the connection's task takes whole frames from
    them one at a time, answers each through the `Session`, and waits for the next. Reading
    pauses while more than two maximal frames wait unanswered, and answering waits while the
    transport's write buffer is full, so a client that sends without reading cannot make the
    server buffer without bound. A protocol rather than asyncio streams: streams and a
    `wait_for` per read cost as much CPU as TLS itself on the fast commands. For the same
    reason the idle and frame limits share one timer per connection (`_wait`), not one
    scheduled and cancelled per frame.

    When the database's work never suspends (`Database.inline`: SQLite, whose statements run
    on the event loop's thread), the whole frames `data_received` completes are answered
    without the task while it waits for bytes (`_answer_now`, `Session.handle_now`): the
    connection is queued, and once the loop has delivered what was ready on every
    connection, `EppServer._answer_ready` answers the queued ones in turn (their plain
    checks sharing one snapshot). The same answers in the same order, a wake-up of the task
    fewer per command. Anything else (a refused length, the end of the session, a full
    write buffer, a shutdown) is left to the task, which goes on as before.

    Where plain checks are read from the event loop instead (PostgreSQL's
    `Registry.loop_reads`), the same way answers those: `_answer_now` hands a plain check
    to `Session.check_soon`, and `_checked` sends its answer from the callback that read
    it, then goes on with the frames that came meanwhile; until then the connection answers
    nothing else, and the idle limit does not run. Any other frame is handed to the task
    (`_handed`), which answers it, and what follows it, as before. Two task wake-ups fewer
    per check.
    """

    def __init__(self, server: EppServer) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[bool] | None = None  # True: bytes came or the peer went
        # The waiting deadline, and one timer for it, set again only when it fires early or
        # is too late (see `_wait`): not one timer per frame.
        self._deadline = 0.0
        self._in_frame = False  # the deadline is the frame limit's, not the idle limit's
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._drained: asyncio.Future[None] | None = None  # set when the transport can take more
        self._paused_reading = False
        self._paused_writing = False
        self._closed = False  # the peer closed its side, or the connection is gone
        self.busy = False  # answering a command
        self._lost: Exception | None = None
        self.session: Session | None = None  # once the greeting is out
        # Frames may be answered from `data_received` (see the class docstring): all of
        # them where the database's work never suspends (SQLite), the plain checks where
        # they are read from the event loop (PostgreSQL's `Registry.loop_reads`).
        registry = server.registry
        every = server.answer_inline and registry.db.inline
        self._soon = server.answer_inline and not every and registry.loop_reads is not None
        self._inline = every or self._soon
        self._ending = False  # the session ended in `_answer_now`: the task closes the connection
        self._queued = False  # waiting in `EppServer._ready` to be answered inline
        self._awaiting = False  # a check taken by `_answer_now` is being read (`_checked`)
        self._handed: bytes | None = None  # a frame `_answer_now` took and left to the task

    # ---------------------------------------------------------------- transport callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.task = self.loop.create_task(self._run())
        self.server._connections.add(self.task)
        self.server._by_task[self.task] = self

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > 2 * self.limits.max_frame and not self._paused_reading:
            assert self.transport is not None
            self._paused_reading = True
            self.transport.pause_reading()
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # the task is busy, or already woken: it takes the frames
        if self._inline and self.session is not None:
            if not self._queued:  # answered with the others that came in this iteration
                self._queued = True
                self.server._queue(self)
            return
        waiter.set_result(True)

    def _answer_queued(self) -> None:
        """`EppServer._answer_ready`: answer the whole frames here, unless the task has
        been woken meanwhile (it then takes them); wake it for what is left to it."""
        self._queued = False
        waiter = self._waiter
        if waiter is None or waiter.done() or self._awaiting:
            return  # the task, or `_checked`, takes the frames
        self._answer_now()
        self._wake_if_left()

    def _wake_if_left(self) -> None:
        """After `_answer_now`: wake the task when it has something to do (frames left to
        it, the end of the session), unless an answer is still being read."""
        if self._awaiting or (not self.buffer and not self._ending and self._handed is None):
            return  # every frame answered: the task waits on, for the next one
        self._wake()

    def _answer_now(self) -> None:
        """Answer the whole frames in the buffer here, in order, while the task waits for
        bytes (only when the database's work never suspends). Stops at the first thing the
        task must do instead: a refused length, a full write buffer, the end of the session
        or the server's; what is left in the buffer is the task's."""
        transport, session, server = self.transport, self.session, self.server
        assert transport is not None and session is not None
        answered = False
        try:
            while not (self._paused_writing or self._closed or server.stopping):
                data = self._take()
                if not isinstance(data, bytes):
                    break
                answered = True
                if self._soon:  # a plain check is read, and answered by `_checked`
                    if session.check_soon(data, self._checked):
                        self._awaiting = self.busy = True
                    else:
                        self._handed = data
                    break
                response, close = session.handle_now(data)
                transport.write(frame(response))
                if close:
                    self._ending = True
                    break
        except Exception:
            log.exception("EPP connection failed")
            self._ending = True
        if answered:  # the client is not idle: the idle limit starts again
            self._deadline = self.loop.time() + self.limits.idle_timeout
            self._in_frame = False

    def _checked(self, response: bytes) -> None:
        """The answer to the check `_answer_now` took: sent, and the frames that came
        meanwhile answered (or left to the task), from the callback that read it."""
        self._awaiting = self.busy = False
        if self._closed or self.transport is None:
            self._wake()  # the task ends the connection
            return
        self.transport.write(frame(response))
        if self.server.stopping:  # answered: the task closes the connection
            self._ending = True
        elif self._waiter is not None and not self._waiter.done():
            self._answer_now()
        self._wake_if_left()

    def eof_received(self) -> bool | None:
        self._closed = True
        self._wake()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._lost = exc or ConnectionResetError("connection lost")
        self._wake()
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(self._lost)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    # ---------------------------------------------------------------- the connection's task

    async def _run(self) -> None:
        task = self.task
        try:
            await self._serve()
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("EPP connection failed")
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if task is not None:
                self.server._connections.discard(task)
                self.server._by_task.pop(task, None)
            if self.transport is not None:
                self.transport.close()

    async def _serve(self) -> None:
        assert self.transport is not None
        transport = self.transport
        peer = transport.get_extra_info("peername")
        peer_ip = peer[0] if peer else None
        sslobj = transport.get_extra_info("ssl_object")
        cert = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        fingerprint = hashlib.sha256(cert).hexdigest() if cert else None
        registry = self.server.registry
        session = Session(registry, peer_ip, fingerprint)
        transport.write(frame(registry.greeting()))
        self.session = session
        await self._drain()
        while True:
            data = await self._next_frame()
            if data is None:
                return
            self.busy = True  # a shutdown lets this command finish and its answer go out
            if self._paused_writing:  # answers from `data_received` filled the buffer
                await self._drain()
            response, close = await session.handle(data)
            transport.write(frame(response))
            await self._drain()
            self.busy = False
            if close or self.server.stopping:
                return

    def _take(self) -> bytes | str | None:
        """The next whole frame's payload, taken from the buffer; None while it is not all
        here; a str (the buffer left as it is) when its length must be refused."""
        buf, limits = self.buffer, self.limits
        if len(buf) < HEADER.size:
            return None
        (length,) = HEADER.unpack_from(buf)
        if length <= HEADER.size:
            return f"invalid frame length {length}"
        if length > limits.max_frame:
            return f"frame of {length} bytes exceeds the limit of {limits.max_frame}"
        if len(buf) < length:
            return None
        data = bytes(buf[HEADER.size : length])
        del buf[:length]
        if self._paused_reading and len(buf) <= limits.max_frame:
            assert self.transport is not None
            self._paused_reading = False
            self.transport.resume_reading()
        return data

    async def _next_frame(self) -> bytes | None:
        """The next frame's payload; None once the client went away or was refused, or the
        session ended while frames were answered from `data_received`."""
        self._deadline = self.loop.time() + self.limits.idle_timeout
        self._in_frame = False
        while True:
            if self._ending:
                return None
            handed, self._handed = self._handed, None
            if handed is not None:
                return handed
            # While a check taken from the data callback is read, its answer comes first:
            # `_checked` sends it, then wakes this task when it has something to do.
            data = None if self._awaiting else self._take()
            if isinstance(data, bytes):
                return data
            if data is not None:
                await self._refuse(data)
                return None
            if len(self.buffer) >= HEADER.size and not self._in_frame and not self._awaiting:
                # The header is here: the rest of the frame has its own, shorter limit.
                self._in_frame = True
                self._deadline = self.loop.time() + self.limits.frame_timeout
            if self._closed:
                return None
            if not await self._wait():
                if self._awaiting:  # the client is waiting for an answer, not idle
                    self._deadline = self.loop.time() + self.limits.idle_timeout
                    continue
                await self._refuse(
                    "frame not received in time" if self._in_frame else "session idle for too long"
                )
                return None

    async def _wait(self) -> bool:
        """Wait for more bytes (or the end of the connection); False if `_deadline` passed.

        A timer per wait (scheduled, then cancelled, for nearly every frame) costs more
        than the rest of the transport's Python per frame. The connection keeps one timer
        instead: it is scheduled again only when the deadline comes before it (the first
        bytes of a frame start the shorter frame limit), and when it fires before the
        current deadline (the connection was busy, or got frames, in between).
        """
        deadline = self._deadline
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(deadline, self._expire)
            self._timer_at = deadline
        waiter = self._waiter = self.loop.create_future()
        try:
            return await waiter
        finally:
            self._waiter = None

    def _expire(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # not waiting: the next wait schedules the timer again
        if self.loop.time() >= self._deadline - TIMER_SLACK:
            waiter.set_result(False)
        else:
            self._timer = self.loop.call_at(self._deadline, self._expire)
            self._timer_at = self._deadline

    async def _drain(self) -> None:
        if self._lost is not None:
            raise self._lost
        if not self._paused_writing:
            return
        self._drained = self.loop.create_future()
        try:
            await self._drained
        finally:
            self._drained = None

    async def _refuse(self, reason: str) -> None:
        assert self.transport is not None
        svtrid = self.server.registry.svtrids.next()
        code = Result.COMMAND_FAILED_CLOSING
        self.transport.write(frame(render.response(code, svtrid, msg=f"{code.message}: {reason}")))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain(), 5.0)
