"""domain:create on PostgreSQL from the event loop (`store/loop.py LoopStatements`).

`domain_create.create` with `sole` (an EPP command's create) runs a create with nothing to
link in autocommit: its facts SELECT, then one write statement committed as it runs.
`LoopWrites` runs those same two statements (`domain_create.create_steps`: the same checks,
in the same order, from the same code) from the event loop, on connections of its own sent
and read with libpq's non-blocking calls: no thread pool hand-off and no psycopg cursor per
statement. Each create is its own statements on its own connection while they run (no
batching): its write is committed, durably, before its answer is made.

The facts SELECT is made only for the first create of a registrar in a TLD (and after one
that was handed back): the TLD-wide part of its row (the TLD's policy and prices, the
registrar's accreditation and price; nothing about the name) is kept, and the next creates
of that registrar in that TLD assume it and are one statement
(`domain_create._CREATE_CHECKED`), which writes only if the database, as that statement sees
it, still says what the kept row says and nothing holds, reserves or prices the name;
otherwise it undoes itself and the create is handed to the flow (which reads the facts
afresh), and the kept row is dropped. Nothing kept ever answers a command: it only saves a
read that the statement repeats.

What the steps cannot do without a transaction of their own (a premium price, a TLD with
explicit launch phases, a create whose write undid itself: 2302 after a race, 2104, a
low-balance message) raises `domain_create.Handoff` before anything is written, and the
session runs the create through its flow in the thread pool instead, as if this path did not
exist (`tests/test_loopwrites.py` holds both paths to the same answers and rows).
"""

from __future__ import annotations

from typing import Any

from domreg.flows import domain, domain_create
from domreg.flows.base import Context
from domreg.model.errors import EppError
from domreg.store.db import Database
from domreg.store.loop import LoopStatements


class LoopWrites:
    """The event-loop path of the plain domain:create (PostgreSQL only)."""

    #: Kept facts rows beyond which all are forgotten (one per registrar and TLD in use).
    KEEP = 10_000

    def __init__(self, db: Database, size: int = 8) -> None:
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.statements = LoopStatements(url, db.engine.dialect, size)
        self.creates = 0  # creates answered here (for tests and benchmarks)
        self.handoffs = 0  # creates handed to the flow
        self.assumed = 0  # creates answered without a facts SELECT
        self._facts: dict[tuple[str, int], Any] = {}  # (TLD label, registrar id) -> facts

    async def create(self, ctx: Context, cmd: domain.DomainCreate) -> domain.DomainCreated | None:
        """The created domain, or None: run the create through `domain_create.create` (nothing
        was written). `ctx.conn` is None. Raises the flow's EppErrors, and a statement's or a
        broken connection's error, as the flow would."""
        key = (cmd.name.rpartition(".")[2].lower(), ctx.actor.id)
        assumed = self._facts.get(key)
        facts = None
        try:
            steps = domain_create.create_steps(ctx, cmd, assumed)
            query, params = next(steps)
            while True:
                try:
                    row: Any = await self.statements.first(query, **params)
                except Exception as exc:
                    query, params = steps.throw(exc)
                else:
                    if query is domain_create.CREATE_FACTS:
                        facts = row
                    query, params = steps.send(row)
        except StopIteration as done:
            self.creates += 1
            if assumed is not None:
                self.assumed += 1
            elif facts is not None and not facts.phased and facts.accredited is not None:
                if len(self._facts) >= self.KEEP:
                    self._facts.clear()
                self._facts[key] = facts._replace(taken=None, reserved=None, premium=None)
            created: domain.DomainCreated = done.value
            return created
        except domain_create.Handoff:
            self._handoff(key, assumed)
            return None
        except EppError:
            if assumed is None:
                raise
            self._handoff(key, assumed)  # found on assumed facts: the flow reads them
            return None

    def _handoff(self, key: tuple[str, int], assumed: Any) -> None:
        self.handoffs += 1
        if assumed is not None:
            self._facts.pop(key, None)

    async def aclose(self) -> None:
        await self.statements.aclose()
