"""PostgreSQL statements from the event loop: `LoopConnection`, `LoopBatches`, `LoopStatements`.

The thread pool of `Database.run` costs each command a hand-off between threads, and
psycopg's execute costs tens of microseconds of Python per statement. The hottest
statements instead go out from the event loop through libpq's non-blocking calls (psycopg's
`pq` layer) on a `LoopConnection`: the plain domain:check and domain:info of
`flows/loopreads.py` (`LoopBatches`), the plain domain:create of `flows/loopwrites.py`
(`LoopStatements`), and the version token of `rdds.query.DataVersion`.

`LoopBatches` keeps one connection of its own (autocommit, read-only) with one prepared
statement, and every request made while the loop was busy goes out in the same execution
of it, the requests' parameters as arrays. A request's answer comes as a future (`submit`)
or, cheaper, by a callback called from the loop's callback that read the rows (`call`).

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
import collections
import contextlib
import functools
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.exc import DBAPIError

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


def rows_result(results: list[Any] | BaseException, what: str) -> Any:
    """The result of a statement that returns rows, from what `LoopConnection.send` gave
    its callback: the exception of a connection that broke is raised, and a statement that
    failed is an OSError with the server's message."""
    if isinstance(results, BaseException):
        raise results
    result = results[0] if results else None
    if result is None or result.status != _TUPLES_OK:
        message = result.error_message.decode(errors="replace") if result else "none"
        raise OSError(f"{what} failed: {message}")
    return result


#: What is called with a request's answer (or the exception it fails with).
_Answered = Callable[[R | BaseException], None]


def settle(fut: asyncio.Future[R], answer: R | BaseException) -> None:
    """An answer into a future (unless it was cancelled): `LoopBatches.submit`'s callback."""
    if fut.done():
        return
    if isinstance(answer, BaseException):
        fut.set_exception(answer)
    else:
        fut.set_result(answer)


def _tell(answered: _Answered[R], answer: R | BaseException) -> None:
    """Call one request's callback; what it raises is logged, not passed on to the batch."""
    try:
        answered(answer)
    except Exception:
        log.exception("answering a batched request failed")


class LoopBatches(Generic[I, R]):
    """Requests answered in batches by one prepared statement, from the event loop (see the
    module's docstring). Use it from one event loop; `aclose` it when done."""

    def __init__(self, url: str, spec: BatchSpec[I, R]) -> None:
        self.url = url  # libpq connection string or URI
        self.spec = spec
        self._queued: list[tuple[I, _Answered[R]]] = []  # not yet sent
        self._flight: list[tuple[I, _Answered[R]]] | None = None  # sent, unanswered
        self._scheduled = False  # a send is scheduled for the loop's next iteration
        self._conn: LoopConnection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False
        self.executions = 0  # statements sent (for tests and benchmarks)
        self.requests = 0  # requests they answered

    def submit(self, item: I) -> asyncio.Future[R]:
        """A future of the answer to `item`, from an execution that starts after this call."""
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.call(item, functools.partial(settle, fut))
        return fut

    def call(self, item: I, answered: Callable[[R | BaseException], None]) -> None:
        """Have `answered` called with the answer to `item` (or the exception it fails
        with), from an execution that starts after this call: without a future and the
        loop iteration its callbacks take. `answered` runs in the loop's callback that read
        the result, one request after another, so it should be short; what it raises is
        logged, and the batch's other requests are answered all the same."""
        if self._closed:
            raise RuntimeError("LoopBatches is closed")
        self._queued.append((item, answered))
        if self._flight is None and not self._scheduled and self._connecting is None:
            # Sent at the next iteration: the requests every other session makes in this one
            # go out in the same execution.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        if self._flight is not None or not self._queued or self._connecting is not None:
            return
        conn = self._conn
        if conn is None or not conn.usable():  # never opened, or closed since
            self._conn = None
            self._connecting = asyncio.ensure_future(self._connect())
            return
        batch, self._queued = self._queued, []
        self._flight = batch
        self.executions += 1
        self.requests += len(batch)
        try:
            params = self.spec.params([item for item, _ in batch])
        except Exception as exc:  # a bug: the batch fails, the connection is kept
            self._flight = None
            self._fail(batch, exc)
            return
        name = self.spec.name
        conn.send(lambda pg: pg.send_query_prepared(name, params, result_format=1), self._read)

    async def _connect(self) -> None:
        try:
            conn = await LoopConnection.open(
                self.url,
                "SET default_transaction_read_only = on",
                # One plan, made once: the statement is the same shape for any batch, and
                # planning its joins again per execution costs more than running it.
                "SET plan_cache_mode = force_generic_plan",
                f"PREPARE {self.spec.name.decode()} AS {self.spec.sql}",
            )
        except Exception as exc:
            self._connecting = None
            batch, self._queued = self._queued, []
            self._fail(batch, exc)
            return
        self._connecting = None
        if self._closed:
            conn.close()
            return
        self._conn = conn
        self._send()

    def _read(self, results: list[Any] | BaseException) -> None:
        """The execution's results (`LoopConnection.send`): one answer per request."""
        conn = self._conn
        try:
            result = rows_result(results, self.spec.name.decode())
            assert conn is not None
            rows = conn.rows(result)
        except Exception as exc:
            self._broken(exc)
            return
        batch, self._flight = self._flight or [], None
        try:
            answers = self.spec.answers([item for item, _ in batch], rows)
        except Exception as exc:  # a bug: every request of the batch gets it
            answers = [exc] * len(batch)
        for (_, answered), answer in zip(batch, answers, strict=True):
            _tell(answered, answer)
        if self._queued and not self._scheduled:
            self._send()

    def _broken(self, exc: BaseException) -> None:
        """The connection or the statement failed: the batch under way fails with `exc`, the
        connection is dropped (the next batch opens another)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        batch, self._flight = self._flight or [], None
        log.warning("%s: %s", self.spec.name.decode(), exc)
        self._fail(batch, exc)
        if self._queued and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    @staticmethod
    def _fail(batch: list[tuple[Any, _Answered[Any]]], exc: BaseException) -> None:
        for _, answered in batch:
            _tell(answered, exc)

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
            conn.close()


_COMMAND_OK = 1  # libpq PGRES_COMMAND_OK
_FATAL_ERROR = 7  # libpq PGRES_FATAL_ERROR

#: What `LoopConnection.send` calls with the statement's results (or the OSError of a
#: connection that broke).
_Results = Callable[[list[Any] | BaseException], None]


class LoopConnection:
    """One PostgreSQL connection driven from the event loop: autocommit, its socket watched
    while it lives, one statement at a time sent with one of libpq's non-blocking send calls
    (psycopg's `pq` layer), its results handed to a callback (`send`) or awaited
    (`results`). Rows are loaded by psycopg's own loaders (`rows`). A connection that breaks,
    or that the server ends while it is idle, is closed (`broken`), and what waits on it
    fails with OSError. `LoopBatches`, `LoopStatements` and `rdds.query.DataVersion` read
    and write through it."""

    def __init__(self, conn: Any) -> None:
        from psycopg.adapt import Transformer

        self.conn = conn  # psycopg.AsyncConnection (its pgconn is driven directly)
        self.pgconn = conn.pgconn
        self.tx = Transformer(conn)
        self.fd = self.pgconn.socket
        self.prepared: set[bytes] = set()  # statements prepared on it (for its users)
        self.broken = False
        self.loop = asyncio.get_running_loop()  # the loop watching its socket
        self._done: _Results | None = None  # waiting for the results of what was sent
        self._results: list[Any] = []
        self.pgconn.nonblocking = 1
        # The loop holds the connection weakly: one its owner drops (without closing it) is
        # closed when it is collected, its socket no longer watched.
        self._ref = weakref.ref(self)
        self._forget = weakref.finalize(self, _forget, self.loop, self.fd, self.pgconn)
        self.loop.add_reader(self.fd, _on_readable, self._ref)

    @classmethod
    async def open(cls, url: str, *setup: str) -> LoopConnection:
        """A connection to `url` on which the statements `setup` have run."""
        import psycopg

        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            for sql in setup:
                await conn.execute(sql)
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    def usable(self) -> bool:
        """Whether statements may be sent on it: not broken, and watched by the running
        event loop (one opened under another loop, as a test's `asyncio.run` makes, is
        closed: nothing would read its results)."""
        if not self.broken and self.loop is not asyncio.get_running_loop():
            self.close()
        return not self.broken

    def send(self, send: Callable[[Any], None], done: _Results) -> None:
        """Call `send` with the libpq connection (one of its send calls), then `done` with
        the results, from the loop's callback that read them; the rest of what was sent is
        flushed when the socket can take it. A connection that breaks calls `done` with the
        OSError, from this call if it broke sending."""
        if self.broken:
            done(OSError("the connection is closed"))
            return
        self._done, self._results = done, []
        try:
            send(self.pgconn)
            if self.pgconn.flush() != 0:
                self.loop.add_writer(self.fd, _on_writable, self._ref)
        except Exception as exc:
            self._fail(exc)

    def results(self, send: Callable[[Any], None]) -> asyncio.Future[list[Any]]:
        """`send`, and a future of its results."""
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.send(send, functools.partial(settle, fut))
        return fut

    def rows(self, result: Any, limit: int | None = None) -> list[tuple[Any, ...]]:
        """The rows of `result` (at most `limit`), values as psycopg's cursors give them."""
        tx = self.tx
        tx.set_pgresult(result)
        try:
            n = result.ntuples if limit is None else min(limit, result.ntuples)
            return tx.load_rows(0, n, tuple)
        finally:
            tx.set_pgresult(None)

    def raise_unless(self, result: Any, status: int) -> None:
        """psycopg's error for a statement that failed; OSError for another status."""
        if result.status == status:
            return
        from psycopg import errors

        if result.status == _FATAL_ERROR:
            raise errors.error_from_result(result, encoding=self.conn.info.encoding)
        raise OSError(f"unexpected result status {result.status}")

    def _writable(self) -> None:
        try:
            if self.pgconn.flush() == 0:
                self.loop.remove_writer(self.fd)
        except Exception as exc:
            self._fail(exc)

    def _readable(self) -> None:
        pgconn = self.pgconn
        try:
            pgconn.consume_input()
            if self._done is None:  # idle: a notice, or the end of the connection
                if pgconn.status != _OK:
                    raise OSError("the connection was closed")
                return
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # all in
                    break
                self._results.append(result)
            else:
                return  # more to come
        except Exception as exc:
            self._fail(exc)
            return
        done, self._done = self._done, None
        results, self._results = self._results, []
        done(results)

    def _fail(self, exc: BaseException) -> None:
        """The connection broke: what waits on it fails with `exc`; it is closed."""
        self.close()
        done, self._done = self._done, None
        if done is not None:
            done(exc if isinstance(exc, OSError) else OSError(str(exc)))

    def close(self) -> None:
        if self.broken:
            return
        self.broken = True
        self._forget()


def _on_readable(ref: weakref.ref[LoopConnection]) -> None:
    conn = ref()
    if conn is not None:
        conn._readable()


def _on_writable(ref: weakref.ref[LoopConnection]) -> None:
    conn = ref()
    if conn is not None:
        conn._writable()


def _forget(loop: asyncio.AbstractEventLoop, fd: int, pgconn: Any) -> None:
    """A `LoopConnection` closed, or collected: its socket no longer watched, it closed."""
    with contextlib.suppress(Exception):  # its loop may be closed already
        loop.remove_reader(fd)
        loop.remove_writer(fd)
    with contextlib.suppress(Exception):
        pgconn.finish()


async def _first(conn: LoopConnection, name: bytes, sql: str, args: list[Any]) -> Any:
    """The first row (values as psycopg loads them), or None, of prepared statement `name`
    (`sql`, prepared first if `conn` has not yet) with `args`. Raises psycopg's error for a
    statement that failed, OSError for a connection that broke."""
    from psycopg.adapt import PyFormat

    if name not in conn.prepared:
        (result,) = await conn.results(lambda pg: pg.send_prepare(name, sql.encode()))
        conn.raise_unless(result, _COMMAND_OK)
        conn.prepared.add(name)
    values = conn.tx.dump_sequence(args, [PyFormat.TEXT] * len(args))
    (result,) = await conn.results(lambda pg: pg.send_query_prepared(name, values, result_format=1))
    conn.raise_unless(result, _TUPLES_OK)
    rows = conn.rows(result, limit=1)
    return rows[0] if rows else None


class LoopStatements:
    """`Query`s run from the event loop, without the thread pool or psycopg's cursors: each on
    a connection of its own while it runs (at most `size` at once; more wait for one), sent
    and read with libpq's non-blocking calls, in autocommit, so a write is committed
    (durably, as any COMMIT) before its result comes back. Each `Query` is prepared on a
    connection the first time it runs there. A statement's error is raised as `Query.first`
    raises it (SQLAlchemy's exception around psycopg's); a connection that breaks fails its
    statement (the connection is dropped, the next statement opens another). Use it from one
    event loop; `aclose` it when done."""

    def __init__(self, url: str, dialect: Any, size: int = 8) -> None:
        self.url = url  # libpq connection string or URI
        self.dialect = dialect  # SQLAlchemy's PostgreSQL dialect (psycopg)
        self.size = size
        self._idle: list[LoopConnection] = []
        self._open = 0  # connections open or being opened
        self._waiting: collections.deque[asyncio.Future[LoopConnection]] = collections.deque()
        self._names: dict[int, bytes] = {}  # id(query) -> prepared statement name
        self._running: set[LoopConnection] = set()  # running a statement
        self._closed = False
        self.statements = 0  # statements run (for tests and benchmarks)

    async def first(self, query: Any, **params: Any) -> Any | None:
        """`query.first(conn, **params)`, run from the event loop in autocommit."""
        c, args = query.libpq_args(self.dialect, params)
        name = self._names.get(id(query))
        if name is None:
            name = self._names[id(query)] = f"domreg_loop_{len(self._names)}".encode()
        conn = await self._acquire()
        self.statements += 1
        self._running.add(conn)
        try:
            raw = await _first(conn, name, c.sql, args)
        except Exception as exc:
            if conn.pgconn.status != _OK:  # it broke (a send that failed, say): not reused
                conn.close()
            self._release(conn)
            dbapi = self.dialect.loaded_dbapi
            if isinstance(exc, dbapi.Error):
                raise DBAPIError.instance(
                    c.sql, args, exc, dbapi.Error, dialect=self.dialect
                ) from exc
            raise
        except BaseException:  # cancelled while the statement runs: its result is unknown
            conn.close()
            self._release(conn)
            raise
        self._release(conn)
        return None if raw is None else query.row(c, raw)

    async def _acquire(self) -> LoopConnection:
        if self._closed:
            raise RuntimeError("LoopStatements is closed")
        while self._idle:
            conn = self._idle.pop()
            if conn.usable():
                return conn
            self._open -= 1
        if self._open < self.size:
            self._open += 1
            try:
                return await self._connect()
            except BaseException:
                self._open -= 1
                raise
        waiter: asyncio.Future[LoopConnection] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        return await waiter

    async def _connect(self) -> LoopConnection:
        return await LoopConnection.open(self.url)

    def _busy(self) -> list[LoopConnection]:
        """The connections running a statement now (for tests)."""
        return list(self._running)

    def _release(self, conn: LoopConnection) -> None:
        self._running.discard(conn)
        if conn.broken:
            self._open -= 1
            if self._waiting and not self._closed:  # a place to open another
                waiter = self._waiting.popleft()
                self._open += 1
                task = asyncio.ensure_future(self._connect())
                task.add_done_callback(functools.partial(self._opened, waiter=waiter))
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _opened(
        self, task: asyncio.Future[LoopConnection], *, waiter: asyncio.Future[LoopConnection]
    ) -> None:
        if task.exception() is not None:
            self._open -= 1
            if not waiter.done():
                waiter.set_exception(task.exception())  # type: ignore[arg-type]
        elif waiter.done():
            self._release(task.result())
        else:
            waiter.set_result(task.result())

    async def aclose(self) -> None:
        """Close the connections; statements waiting for one fail."""
        self._closed = True
        closed = RuntimeError("LoopStatements closed")
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(closed)
        while self._idle:
            self._idle.pop().close()
        self._open = 0
