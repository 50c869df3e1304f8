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
  `Database.read` gives the flow;
- between `hold` and `release`: the checks of several commands share one snapshot, begun by
  the first of them. The EPP server holds it while it answers the commands that had all
  arrived before (`EppServer._answer_ready`), so each is still answered from a read that
  began after it arrived, and the session ends it (`fresh`) before any other object
  command (the only ones that write what a check reads), so the checks after a write see
  it. The statement's locks and file checks (three system
  calls on SQLite) are then paid once per loop iteration instead of once per check.

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
        self._holding = False  # checks share one snapshot (`hold`)
        self._open = False  # the shared snapshot's transaction is open
        self.snapshots = 0  # read transactions begun (the tests count them)
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
        try:
            if self._holding:  # the shared snapshot, begun by the first check that needs it
                if not self._open:
                    conn.execute("BEGIN DEFERRED")
                    self._open = True
                    self.snapshots += 1
                return domain.check_names(names, self._lookup)
            self.snapshots += 1
            if len(names) == 1:  # one statement: its own snapshot
                return domain.check_names(names, self._lookup)
            conn.execute("BEGIN DEFERRED")
            try:
                return domain.check_names(names, self._lookup)
            finally:
                conn.rollback()
        except self._db.engine.dialect.loaded_dbapi.Error:
            self.close()
            raise

    def hold(self) -> None:
        """Until `release`, checks share one snapshot (one read transaction), begun by the
        first of them: for commands that had all arrived before it began
        (`EppServer._answer_ready`)."""
        self._holding = True

    def fresh(self) -> None:
        """End the shared snapshot, if one is open: the next check begins another (after
        a command that may write, so that the checks after it see what it wrote)."""
        if self._open:
            self._open = False
            try:
                self._conn.rollback()
            except self._db.engine.dialect.loaded_dbapi.Error:
                self.close()

    def release(self) -> None:
        """End the shared snapshot; checks take one each again."""
        self.fresh()
        self._holding = False

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
        self._open = False
        if fairy is not None:
            fairy.invalidate()
