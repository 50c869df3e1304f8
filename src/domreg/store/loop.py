"""PostgreSQL reads on the event loop: one prepared statement answering a batch of requests.

The thread pool of `Database.run` costs each command a hand-off between threads, and
psycopg's execute costs tens of microseconds of Python per statement. The hottest reads (the
plain domain:check and domain:info of `flows/loopreads.py`) instead go out from the event
loop through libpq's non-blocking calls (psycopg's `pq` layer, as `rdds.query.DataVersion`
reads the version token): `LoopBatches` keeps one connection of its own (autocommit,
read-only) with one prepared statement, and every request made while the loop was busy
goes out in the same execution of it, the requests' parameters as arrays.

Each request is answered by an execution that started after it was made: a request made
while an execution is under way waits for the next, which is sent as soon as the running
one is answered. Nothing is cached, so an answer is as fresh as a statement run for that
request alone (at READ COMMITTED every statement sees what was committed before it
started). A batch whose execution fails (the connection broke, the statement failed) has
every request fail with the error; the connection is then dropped, and the next request
opens a new one.

What a statement means is the `BatchSpec`'s business: its SQL (parameters `$1`, `$2`...,
usually arrays with one element per request, `WITH ORDINALITY` numbering the rows), how a
batch of requests becomes the parameters (text format), and how the rows become one answer,
or one exception, per request. Rows are loaded by psycopg's own loaders (its `Transformer`
on the connection), so values are those psycopg's cursors give.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger("domreg.store")

_OK = 0  # libpq CONNECTION_OK (psycopg.pq.ConnStatus.OK)
_TUPLES_OK = 2  # libpq PGRES_TUPLES_OK (psycopg.pq.ExecStatus.TUPLES_OK)

I = TypeVar("I")  # noqa: E741 - a request
R = TypeVar("R")  # its answer
I_contra = TypeVar("I_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class BatchSpec(Protocol[I_contra, R_co]):
    """One read statement for a batch of requests."""

    name: bytes  # the prepared statement's name
    sql: str  # PostgreSQL SQL with `$n` parameters

    def params(self, items: Sequence[I_contra]) -> list[bytes | None]:
        """The statement's parameters (text format) for the requests `items`."""
        ...

    def answers(
        self, items: Sequence[I_contra], rows: list[tuple[Any, ...]]
    ) -> Sequence[R_co | BaseException]:
        """One answer (or the exception to raise) per request, from the statement's rows."""
        ...


def text_array(values: Sequence[str | int | None]) -> bytes:
    """A PostgreSQL array literal (text format) of strings or integers, every element quoted."""
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        else:
            s = str(v)
            if "\\" in s or '"' in s:
                s = s.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{s}"')
    return ("{" + ",".join(out) + "}").encode()


class LoopBatches(Generic[I, R]):
    """Requests answered in batches by one prepared statement, from the event loop (see the
    module's docstring). Use it from one event loop; `aclose` it when done."""

    def __init__(self, url: str, spec: BatchSpec[I, R]) -> None:
        self.url = url  # libpq connection string or URI
        self.spec = spec
        self._queued: list[tuple[I, asyncio.Future[R]]] = []  # not yet sent
        self._flight: list[tuple[I, asyncio.Future[R]]] | None = None  # sent, unanswered
        self._scheduled = False  # a send is scheduled for the loop's next iteration
        self._conn: Any = None  # psycopg.AsyncConnection (its pgconn is driven directly)
        self._tx: Any = None  # psycopg Transformer of the connection: loads rows
        self._connecting: asyncio.Task[None] | None = None
        self._result: Any = None  # the statement's result, while the rest is read
        self._fd = -1  # the connection's socket (libpq no longer tells once it broke)
        self._closed = False
        self.executions = 0  # statements sent (for tests and benchmarks)
        self.requests = 0  # requests they answered

    def submit(self, item: I) -> asyncio.Future[R]:
        """A future of the answer to `item`, from an execution that starts after this call."""
        loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError("LoopBatches is closed")
        fut: asyncio.Future[R] = loop.create_future()
        self._queued.append((item, fut))
        if self._flight is None and not self._scheduled and self._connecting is None:
            # Sent at the next iteration: the requests every other session makes in this one
            # go out in the same execution.
            self._scheduled = True
            loop.call_soon(self._send)
        return fut

    # ------------------------------------------------------------------ sending

    def _send(self) -> None:
        self._scheduled = False
        if self._flight is not None or not self._queued or self._connecting is not None:
            return
        conn = self._conn
        if conn is None or conn.closed:
            self._connecting = asyncio.ensure_future(self._connect())
            return
        batch, self._queued = self._queued, []
        self._flight = batch
        self.executions += 1
        self.requests += len(batch)
        pgconn = conn.pgconn
        try:
            params = self.spec.params([item for item, _ in batch])
            pgconn.send_query_prepared(self.spec.name, params, result_format=1)
            if pgconn.flush() != 0:  # a large batch: the rest goes out when it can
                asyncio.get_running_loop().add_writer(self._fd, self._writable)
        except Exception as exc:
            self._broken(exc)

    def _writable(self) -> None:
        pgconn = self._conn.pgconn
        try:
            if pgconn.flush() == 0:
                asyncio.get_running_loop().remove_writer(self._fd)
        except Exception as exc:
            self._broken(exc)

    async def _connect(self) -> None:
        import psycopg
        from psycopg.adapt import Transformer

        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            try:
                await conn.execute("SET default_transaction_read_only = on")
                # One plan, made once: the statement is the same shape for any batch, and
                # planning its joins again per execution costs more than running it.
                await conn.execute("SET plan_cache_mode = force_generic_plan")
                await conn.execute(f"PREPARE {self.spec.name.decode()} AS {self.spec.sql}")
            except BaseException:
                await conn.close()
                raise
            conn.pgconn.nonblocking = 1
            self._conn, self._tx, self._fd = conn, Transformer(conn), conn.pgconn.socket
            # Watched while the connection lives (not added and removed per batch): its
            # results, and while idle, the server ending it (the next batch then reconnects
            # instead of failing on it).
            asyncio.get_running_loop().add_reader(self._fd, self._readable)
        except Exception as exc:
            self._connecting = None
            batch, self._queued = self._queued, []
            self._fail(batch, exc)
            return
        self._connecting = None
        if self._closed:
            await conn.close()
            return
        self._send()

    # ------------------------------------------------------------------ receiving

    def _readable(self) -> None:
        pgconn = self._conn.pgconn
        try:
            pgconn.consume_input()
            if self._flight is None:  # idle: a notice, or the end of the connection
                if pgconn.status != _OK:
                    raise OSError(f"{self.spec.name.decode()}: the connection was closed")
                return
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the statement's results are all in
                    break
                if self._result is None:
                    self._result = result
            else:
                return  # more to come
            result, self._result = self._result, None
            if result is None or result.status != _TUPLES_OK:
                message = result.error_message.decode(errors="replace") if result else "none"
                raise OSError(f"{self.spec.name.decode()} failed: {message}")
            tx = self._tx
            tx.set_pgresult(result)
            rows = tx.load_rows(0, result.ntuples, tuple)
            tx.set_pgresult(None)
        except Exception as exc:
            self._broken(exc)
            return
        batch, self._flight = self._flight or [], None
        try:
            answers = self.spec.answers([item for item, _ in batch], rows)
        except Exception as exc:  # a bug: every request of the batch gets it
            answers = [exc] * len(batch)
        for (_, fut), answer in zip(batch, answers, strict=True):
            if fut.done():
                continue
            if isinstance(answer, BaseException):
                fut.set_exception(answer)
            else:
                fut.set_result(answer)
        if self._queued and not self._scheduled:
            self._send()

    def _broken(self, exc: BaseException) -> None:
        """The connection or the statement failed: the batch under way fails with `exc`, the
        connection is dropped (the next batch opens another)."""
        conn, self._conn, self._tx, self._result = self._conn, None, None, None
        if conn is not None:
            self._forget(conn)
        batch, self._flight = self._flight or [], None
        log.warning("%s: %s", self.spec.name.decode(), exc)
        self._fail(batch, exc)
        if self._queued and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    @staticmethod
    def _fail(batch: list[tuple[Any, asyncio.Future[Any]]], exc: BaseException) -> None:
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(exc)

    async def aclose(self) -> None:
        """Fail what is waiting and close the connection."""
        self._closed = True
        if self._connecting is not None:
            with contextlib.suppress(Exception):
                await self._connecting
        closed = RuntimeError("LoopBatches closed")
        batch = [*(self._flight or []), *self._queued]
        self._flight, self._queued = None, []
        self._fail(batch, closed)
        conn, self._conn = self._conn, None
        if conn is not None:
            self._forget(conn)

    def _forget(self, conn: Any) -> None:
        """Stop watching the connection's socket, and close it."""
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._fd)
        loop.remove_writer(self._fd)
        self._fd = -1
        with contextlib.suppress(Exception):
            conn.pgconn.finish()
