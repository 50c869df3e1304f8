"""The database handle: engine creation for SQLite (WAL) and PostgreSQL (psycopg 3), transactions,
and `Query`, the fast path for the fixed statements of the hot EPP commands.

`Database.write()` opens one transaction for one command; on SQLite it starts with
BEGIN IMMEDIATE so concurrent writers queue on the database lock instead of failing
half-way. `Database.read()` opens a read-only transaction: one consistent snapshot on SQLite;
on PostgreSQL a read-only autocommit connection, where each statement sees what was committed
before it started, as it would inside a READ COMMITTED transaction, without the BEGIN and
ROLLBACK round trips. Both begin and end their transaction on the driver, on connections kept
from one command to the next (`_Transaction`). `fetch_all` sends independent reads
together (one round trip on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

T = TypeVar("T")

DEFAULT_URL = "sqlite:///var/domreg.db"


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and select the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, pool_size: int = 8) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size * 4,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is wrong).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            dbapi_conn: Any = conn.connection.dbapi_connection
            if dbapi_conn.in_transaction:  # `Database.read()` began it already
                return
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            dbapi_conn.execute(f"BEGIN {mode}")  # straight to the driver: it is on every command

        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=False,
        connect_args={"prepare_threshold": 1},
    )


def make_read_engine(url: str, pool_size: int = 8) -> Engine:
    """PostgreSQL connections for `Database.read()`: autocommit and read-only.

    Inside a transaction at READ COMMITTED (PostgreSQL's default, and domreg's) every
    statement takes a new snapshot anyway, so autocommit changes nothing a reader sees; it
    saves the BEGIN and ROLLBACK round trips. Writes on these connections fail.
    """
    engine = create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        isolation_level="AUTOCOMMIT",
        connect_args={"prepare_threshold": 1},
    )

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        dbapi_conn.execute("SET default_transaction_read_only = on")
        dbapi_conn.autocommit = autocommit

    return engine


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # parameter order for positional paramstyles
    defaults: dict[str, Any]  # values of literal binds in the statement
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # bind processors that apply
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, processor) that apply
    row: Any  # named tuple class of the result columns, None for no rows


_cursors = 0  # names of server-side cursors (`Query.stream`)


def _cursor(conn: Connection, key: str = "domreg_cursor") -> Any:
    """A PostgreSQL cursor kept with the pooled connection and reused by every `Query`.

    A new psycopg cursor costs more CPU than running a prepared statement on an old one
    (about 75 against 29 us for a one-row SELECT here); psycopg fetches a result whole at
    execute, so a cursor holds nothing between statements. The cursor is kept in the pool
    record's `info` with the DBAPI connection it belongs to, so a reconnect gets a new one.
    """
    fairy: Any = conn.connection
    dbapi_conn = fairy.dbapi_connection
    kept = fairy.info.get(key)
    if kept is not None and kept[0] is dbapi_conn and not kept[1].closed:
        return kept[1]
    cursor = dbapi_conn.cursor()
    fairy.info[key] = (dbapi_conn, cursor)
    return cursor


def _done(conn: Connection, cursor: Any) -> None:
    """After a statement: SQLite cursors are closed (ending the statement); the kept
    PostgreSQL ones stay open for the next."""
    if conn.dialect.name != "postgresql":
        cursor.close()


class Query:
    """A fixed statement, compiled once per dialect and run on the DBAPI cursor directly.

    SQLAlchemy Core spends 20-60 µs per execution before the driver sees a statement
    (building it, its cache key, parameter and result set-up): on SQLite that is ten times
    the query itself. The hot EPP commands run their fixed statements through `Query`: the
    SQL is still written with the schema's Core objects and compiled by SQLAlchemy for each
    dialect, parameters are bound by name (`bindparam`), values pass through the column
    types' processors, and rows are named tuples read by column name, as `Row`s are. Driver
    errors are raised as SQLAlchemy's exceptions (`IntegrityError`...), as `execute` does.

    The statement runs in the transaction of the `Connection` it is given. Statements with
    `IN` lists that expand at execution time are not supported: give one bind per value.
    """

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect, paramstyle: str | None = None) -> _Compiled:
        key = dialect.name
        if paramstyle is not None:  # `libpq_args`: $1, $2... (each bind once)
            key = f"{key}:{paramstyle}"
            dialect = type(dialect)(paramstyle=paramstyle)  # type: ignore[call-arg]
        elif key == "postgresql" and not dialect.positional:
            # psycopg binds a list of positional parameters with less work than a dict of
            # named ones (about 22 against 29 us for a one-row SELECT here).
            dialect = type(dialect)(paramstyle="format")  # type: ignore[call-arg]
        compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        if getattr(compiled, "literal_execute_params", None) or getattr(
            compiled, "post_compile_params", None
        ):
            raise ValueError("Query does not support binds expanded at execution time")
        defaults, binds = {}, []
        for name, bind in compiled.binds.items():
            if not bind.required:
                defaults[name] = bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds.append((name, processor))
        columns = list(getattr(self.statement, "exported_columns", ()))
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        results = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        row = (
            collections.namedtuple("QueryRow", [c.key for c in columns], rename=True)
            if columns
            else None
        )
        positions = tuple(compiled.positiontup or ()) if dialect.positional else None
        entry = _Compiled(compiled.string, positions, defaults, tuple(binds), results, row)
        self._compiled[key] = entry
        return entry

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The statement as compiled for `dialect`: SQL, bind order, processors, row class."""
        return self._compiled.get(dialect.name) or self._compile(dialect)

    def libpq_args(self, dialect: Dialect, params: dict[str, Any]) -> tuple[_Compiled, list[Any]]:
        """PostgreSQL without psycopg's cursor (`store.loop.LoopStatements`): the statement
        compiled with `$n` parameters, and their values in that order, through the column
        types' bind processors as `first` passes them. `row` makes a result row."""
        c = self._compiled.get("postgresql:numeric_dollar") or self._compile(
            dialect, "numeric_dollar"
        )
        if c.defaults:
            params = {**c.defaults, **params}
        for name, processor in c.binds:
            if name in params:
                params[name] = processor(params[name])
        assert c.positions is not None
        return c, [params[n] for n in c.positions]

    def _run(self, conn: Connection, params: dict[str, Any], cursor: Any = None) -> Any:
        dialect = conn.dialect
        c = self._compiled.get(dialect.name) or self._compile(dialect)
        if c.defaults:
            params = {**c.defaults, **params}
        for name, processor in c.binds:
            if name in params:
                params[name] = processor(params[name])
        args: Any = params if c.positions is None else [params[n] for n in c.positions]
        if cursor is None:
            if dialect.name == "postgresql":
                cursor = _cursor(conn)
            else:  # the driver's cursor, not through the pool's proxy (a microsecond less)
                dbapi_conn: Any = conn.connection.dbapi_connection
                cursor = dbapi_conn.cursor()
        try:
            cursor.execute(c.sql, args)
        except Exception as exc:
            cursor.close()
            dbapi = dialect.loaded_dbapi
            if not isinstance(exc, dbapi.Error):
                raise
            raise DBAPIError.instance(c.sql, args, exc, dbapi.Error, dialect=dialect) from exc
        return c, cursor

    def all(self, conn: Connection, **params: Any) -> list[Any]:
        """Every row of the result."""
        c, cursor = self._run(conn, params)
        try:
            rows = cursor.fetchall() if c.row is not None else []
        finally:
            _done(conn, cursor)
        return [self._row(c, r) for r in rows]

    def first(self, conn: Connection, **params: Any) -> Any | None:
        """The first row, or None."""
        c, cursor = self._run(conn, params)
        try:
            raw = cursor.fetchone() if c.row is not None else None
        finally:
            _done(conn, cursor)
        return None if raw is None else self._row(c, raw)

    def scalar(self, conn: Connection, **params: Any) -> Any:
        """The first column of the first row, or None."""
        row = self.first(conn, **params)
        return None if row is None else row[0]

    def stream(
        self, conn: Connection, batch: int = 5000, raw: bool = False, **params: Any
    ) -> Iterator[Any]:
        """Every row, fetched `batch` at a time: on PostgreSQL through a server-side (named)
        cursor, so a result of any size never sits whole in memory (escrow deposits).
        `raw`: values as the driver returns them (SQLite: times as ISO strings), without the
        column types' result processing."""
        dialect = conn.dialect
        c = self._compiled.get(dialect.name) or self._compile(dialect)
        params = {**c.defaults, **params}
        for name, processor in c.binds:
            if name in params:
                params[name] = processor(params[name])
        args: Any = params if c.positions is None else [params[n] for n in c.positions]
        dbapi_conn: Any = conn.connection.dbapi_connection
        if dialect.name == "postgresql":
            global _cursors
            _cursors += 1
            cursor = dbapi_conn.cursor(name=f"domreg_stream_{_cursors}")
            cursor.itersize = batch
        else:
            cursor = dbapi_conn.cursor()
        try:
            cursor.execute(c.sql, args)
            make = c.row._make
            while True:
                rows = cursor.fetchmany(batch)
                if not rows:
                    return
                if c.results and not raw:
                    for values in rows:
                        yield self._row(c, values)
                else:
                    for values in rows:
                        yield make(values)
        finally:
            cursor.close()

    def execute(self, conn: Connection, **params: Any) -> int:
        """Run a statement that returns no rows; returns the number of rows it changed."""
        _, cursor = self._run(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            _done(conn, cursor)

    @staticmethod
    def row(c: _Compiled, raw: Any) -> Any:
        """A result row (a named tuple, values through the column types' result processors)
        from the values psycopg loads for it."""
        return Query._row(c, raw)

    @staticmethod
    def _row(c: _Compiled, raw: Any) -> Any:
        assert c.row is not None
        if c.results:
            raw = list(raw)
            for i, processor in c.results:
                if raw[i] is not None:
                    raw[i] = processor(raw[i])
        return c.row._make(raw)


def fetch_all(conn: Connection, calls: list[tuple[Query, dict[str, Any]]]) -> list[list[Any]]:
    """Every row of each (query, params), in order: several independent reads at once.

    On PostgreSQL the statements go out together in psycopg's pipeline mode and their results
    come back in one round trip instead of one each; on SQLite (no network) they simply run
    one after another. Each statement still sees what it would see alone (at READ COMMITTED
    each takes its own snapshot either way).
    """
    if conn.dialect.name != "postgresql" or len(calls) < 2:
        return [q.all(conn, **params) for q, params in calls]
    dbapi_conn: Any = conn.connection.dbapi_connection
    dialect = conn.dialect
    cursors: list[tuple[_Compiled, Any]] = []
    try:
        with dbapi_conn.pipeline():
            for i, (q, params) in enumerate(calls):
                cursors.append(q._run(conn, dict(params), _cursor(conn, f"domreg_cursor_{i}")))
            out = []
            for c, cursor in cursors:
                rows = cursor.fetchall() if c.row is not None else []
                out.append([Query._row(c, r) for r in rows])
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            "pipeline", None, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    return out


_IDLE = 0  # libpq PQTRANS_IDLE (psycopg.pq.TransactionStatus.IDLE): no transaction open
#: The SQLSTATE of `domreg_abort` (migration 0012): a statement that undid itself.
ABORTED = "DR001"


def autocommit(conn: Connection) -> bool:
    """PostgreSQL: if no transaction is open on `conn`, turn autocommit on and return True:
    each following statement is then a transaction of its own, committed (durably, as any
    COMMIT) before its result comes back, so a write that needs one statement is one round
    trip instead of three (BEGIN, the statement, COMMIT). False (nothing changed) with a
    transaction open: statements join it. `end_autocommit` turns it off again (psycopg
    begins a transaction at the next statement); `Database.write()` turns it off if a
    block hands its connection back with it on, and drops the connection if it cannot."""
    dbapi_conn: Any = conn.connection.dbapi_connection
    if dbapi_conn.pgconn.transaction_status != _IDLE:
        return False
    dbapi_conn.autocommit = True
    return True


def end_autocommit(conn: Connection) -> None:
    """After `autocommit`: the statements that follow are one transaction again."""
    dbapi_conn: Any = conn.connection.dbapi_connection
    if dbapi_conn.autocommit:
        dbapi_conn.autocommit = False


def aborted(exc: BaseException) -> bool:
    """True if `exc` is a statement's `domreg_abort` (it wrote nothing)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == ABORTED


class Database:
    """One engine plus the rules for running transactions from async code."""

    def __init__(self, url: str = DEFAULT_URL, pool_size: int = 8) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.read_engine = (
            self.engine if self.is_sqlite else make_read_engine(self.url, pool_size=pool_size)
        )
        # SQLite calls are local and short: they run on the event loop's thread. PostgreSQL
        # calls wait on the network: they run in a thread pool so sessions overlap.
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        # Connections kept checked out between transactions (see `_Transaction`): one each
        # on SQLite (one thread), up to the pool size on PostgreSQL (the database threads).
        self._keep = 1 if self.is_sqlite else pool_size
        self._spare_read: list[Connection] = []
        self._spare_write: list[Connection] = []
        if not self.is_sqlite:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=pool_size, thread_name_prefix="db"
            )

    def write(self) -> contextlib.AbstractContextManager[Connection]:
        """A read-write transaction, committed when the block ends without an exception.

        SQLite: BEGIN IMMEDIATE, so concurrent writers queue on the database lock instead of
        failing half-way; PostgreSQL: psycopg's implicit BEGIN at the first statement.
        """
        begin = "BEGIN IMMEDIATE" if self.is_sqlite else None
        return _Transaction(self, self._spare_write, self.engine, begin, True)

    def read(self) -> contextlib.AbstractContextManager[Connection]:
        """Read-only work: one snapshot on SQLite (a transaction, always rolled back); on
        PostgreSQL an autocommit read-only connection (see `make_read_engine`)."""
        begin = "BEGIN DEFERRED" if self.is_sqlite else None
        return _Transaction(self, self._spare_read, self.read_engine, begin, False)

    @property
    def inline(self) -> bool:
        """True if `run` never suspends: the work runs on the caller's thread (SQLite)."""
        return self._pool is None

    async def run(self, fn: Callable[[], T]) -> T:
        """Run blocking database work `fn` without stalling other sessions (SQLite: on the
        event loop's thread, at once; PostgreSQL: in the thread pool)."""
        if self._pool is None:
            return fn()
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def close(self) -> None:
        for spares in (self._spare_read, self._spare_write):
            while spares:
                spares.pop().close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


class _Transaction:
    """One transaction (`Database.read`, `Database.write`), begun and ended on the driver, on
    a connection kept from one transaction to the next.

    Each command is a few statements (microseconds each on SQLite): the pool's checkout
    and checkin and SQLAlchemy's transaction objects would cost more than they do, and so
    would a generator-based context manager (`contextlib.contextmanager`) on the fastest
    commands. Work that uses `Connection.execute` makes SQLAlchemy join the transaction the
    driver began (the "begin" event sees it open); it is then ended through SQLAlchemy. A
    block that raises rolls back and hands its connection back to the pool, which resets it
    (and drops it if it broke).
    """

    __slots__ = ("_begin", "_commit", "_conn", "_db", "_dbapi", "_engine", "_spares")

    def __init__(
        self,
        db: Database,
        spares: list[Connection],
        engine: Engine,
        begin: str | None,
        commit: bool,
    ) -> None:
        self._db, self._spares, self._engine = db, spares, engine
        self._begin, self._commit = begin, commit

    def __enter__(self) -> Connection:
        try:
            conn = self._spares.pop()
        except IndexError:
            conn = self._engine.connect()
        dbapi_conn: Any = conn.connection.dbapi_connection
        if self._begin is not None:
            try:
                dbapi_conn.execute(self._begin)
            except BaseException:
                conn.close()
                raise
        self._conn, self._dbapi = conn, dbapi_conn
        return conn

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        conn, dbapi_conn = self._conn, self._dbapi
        if exc_type is not None:
            try:
                if conn.in_transaction():
                    conn.rollback()
                else:
                    dbapi_conn.rollback()
            finally:
                if self._autocommit_left(conn):
                    conn.invalidate()  # never back to the pool in autocommit
                conn.close()
            return
        try:
            if conn.in_transaction():  # the work used `execute`: SQLAlchemy joined in
                conn.commit() if self._commit else conn.rollback()
            else:
                dbapi_conn.commit() if self._commit else dbapi_conn.rollback()
        except BaseException:
            conn.close()
            raise
        spares = self._spares
        if len(spares) >= self._db._keep or conn.invalidated or self._autocommit_left(conn):
            conn.close()
        else:
            spares.append(conn)

    def _autocommit_left(self, conn: Connection) -> bool:
        """A write connection handed back in autocommit (`autocommit`) is turned back; True
        if that failed (the connection broke): it is then dropped, not kept or pooled."""
        if not self._commit or self._db.is_sqlite or conn.invalidated:
            return False
        dbapi_conn: Any = conn.connection.dbapi_connection
        if dbapi_conn is None or not dbapi_conn.autocommit:
            return False
        try:
            dbapi_conn.autocommit = False
        except Exception:
            return True
        return False
