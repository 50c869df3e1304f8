"""domain:create on PostgreSQL from the event loop (`store/loop.py LoopStatements`).

`domain.create` with `sole` (an EPP command's create) runs a create with nothing to link in
autocommit: its facts SELECT, then one write statement committed as it runs. `LoopWrites`
runs those same two statements (`domain.create_steps`: the same checks, in the same order,
from the same code) from the event loop, on connections of its own sent and read with
libpq's non-blocking calls: no thread pool hand-off and no psycopg cursor per statement.
Each create is its own statements on its own connection while they run (no batching): its
write is committed, durably, before its answer is made.

What the steps cannot do without a transaction of their own (a premium price, a TLD with
explicit launch phases, a create whose write undid itself: 2302 after a race, 2104, a
low-balance message) raises `domain.Handoff` before anything is written, and the session
runs the create through its flow in the thread pool instead, as if this path did not exist
(`tests/test_loopwrites.py` holds both paths to the same answers and rows).
"""

from __future__ import annotations

from typing import Any

from domreg.flows import domain
from domreg.flows.base import Context
from domreg.store.db import Database
from domreg.store.loop import LoopStatements


class LoopWrites:
    """The event-loop path of the plain domain:create (PostgreSQL only)."""

    def __init__(self, db: Database, size: int = 8) -> None:
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.statements = LoopStatements(url, db.engine.dialect, size)
        self.creates = 0  # creates answered here (for tests and benchmarks)
        self.handoffs = 0  # creates handed to the flow

    async def create(self, ctx: Context, cmd: domain.DomainCreate) -> domain.DomainCreated | None:
        """The created domain, or None: run the create through `domain.create` (nothing was
        written). `ctx.conn` is None. Raises the flow's EppErrors, and a statement's or a
        broken connection's error, as the flow would."""
        try:
            steps = domain.create_steps(ctx, cmd)
            query, params = next(steps)
            while True:
                try:
                    row: Any = await self.statements.first(query, **params)
                except Exception as exc:
                    query, params = steps.throw(exc)
                else:
                    query, params = steps.send(row)
        except StopIteration as done:
            self.creates += 1
            created: domain.DomainCreated = done.value
            return created
        except domain.Handoff:
            self.handoffs += 1
            return None

    async def aclose(self) -> None:
        await self.statements.aclose()
