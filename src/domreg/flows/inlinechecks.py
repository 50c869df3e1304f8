"""domain:check on SQLite without the transaction machinery: one statement per name on a
connection of the checker's own.

The plain check (names only, no extension) is most of a registry's EPP traffic, and on
SQLite the statement that answers it costs a few microseconds while opening a `Database.read`
transaction, binding through `Query` and building the flow's `Context` cost more than the
statement. `InlineChecks` runs the flow's own statement (`domain._CHECK`, compiled for
SQLite) on the driver connection directly and makes the answers with the flow's own
`domain.check_names`, so they are `domain.check`'s:

- one name: one statement in autocommit mode, which is its own read transaction (one
  snapshot of what was committed before it started);
- several names: BEGIN and ROLLBACK around them, one snapshot for the whole command, as
  `Database.read` gives the flow.

Nothing is cached: every answer comes from a statement run after the command arrived. A
driver error drops the connection (the next check opens a new one) and reaches the session
as any flow's error does (2400). `Registry.inline_checks` is set by `serve.py` on SQLite;
`tests/test_inline_checks.py` holds both paths to byte-identical answers.
"""

from __future__ import annotations

from typing import Any

from domreg.flows import domain
from domreg.store.db import Database


class InlineChecks:
    """The plain domain:check on SQLite, run on the caller's thread (the event loop's)."""

    def __init__(self, db: Database) -> None:
        if not db.is_sqlite:
            raise ValueError("inline checks are SQLite's (PostgreSQL has `LoopReads`)")
        self._db = db
        self._fairy: Any = None  # the pooled connection kept checked out, and its driver's
        self._conn: Any = None
        compiled = domain.CHECK_QUERY.compiled(db.engine.dialect)
        self._sql = compiled.sql
        self._row = compiled.row
        order = compiled.positions or ()
        # Bound and read as the driver's values: the statement has no processors to apply.
        if (
            sorted(order) != ["label", "name", "tld"]
            or compiled.binds
            or compiled.results
            or compiled.defaults
        ):
            raise ValueError(f"the check statement changed: {compiled}")
        self._order = tuple(("name", "label", "tld").index(n) for n in order)

    def check(self, names: list[str]) -> list[domain.CheckItem]:
        """`domain.check` of `names`, answered from this checker's connection."""
        conn = self._conn or self._connect()
        many = len(names) > 1
        try:
            if many:
                conn.execute("BEGIN DEFERRED")
            try:
                return domain.check_names(names, self._lookup)
            finally:
                if many:
                    conn.rollback()
        except self._db.engine.dialect.loaded_dbapi.Error:
            self.close()
            raise

    def _lookup(self, name: str, label: str, tld: str) -> Any:
        values = (name, label, tld)
        row = self._conn.execute(self._sql, [values[i] for i in self._order]).fetchone()
        return None if row is None else self._row._make(row)

    def _connect(self) -> Any:
        self._fairy = self._db.engine.raw_connection()
        self._conn = self._fairy.dbapi_connection
        return self._conn

    def close(self) -> None:
        """Give the connection back (dropped: it may be broken); the next check reconnects."""
        fairy, self._fairy, self._conn = self._fairy, None, None
        if fairy is not None:
            fairy.invalidate()
