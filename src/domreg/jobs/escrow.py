"""The daily escrow job: for every TLD, a full deposit (and, if configured, a diff and a BRDA
file) for each day whose 00:00 UTC watermark has passed and that its cursor
(`escrow:<kind>:<tld>`) has not reached; days missed while the registry was down are made up,
oldest first, each as of its own watermark. The first run deposits today only.

`EscrowJob` runs it inside `domreg serve` every `escrow_interval` seconds, on a thread (a
deposit takes seconds to minutes), in the worker that runs the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from domreg.clock import Clock
from domreg.config import Config
from domreg.escrow import deposit
from domreg.escrow import model as m
from domreg.store import schema as t
from domreg.store.db import Database

log = logging.getLogger("domreg.jobs")


def kinds(cfg: Config) -> list[str]:
    return [m.FULL] + ([m.DIFF] if cfg.escrow_diffs else []) + ([m.THIN] if cfg.escrow_brda else [])


def run_due(db: Database, cfg: Config, now: datetime) -> list[deposit.Result]:
    """Make every deposit due by `now`; returns what was made."""
    made = []
    today = now.date()
    with db.read() as conn:
        tlds = [r.name for r in conn.execute(select(t.tlds.c.name).order_by(t.tlds.c.name))]
        last = {(k, tld): deposit.last_day(conn, k, tld) for tld in tlds for k in kinds(cfg)}
    key_ring = None
    for tld in tlds:
        for kind in kinds(cfg):
            done = last[(kind, tld)]
            day = today if done is None else done + timedelta(days=1)
            while day <= today:
                key_ring = key_ring or deposit.keys(cfg)
                made.append(deposit.make(db, cfg, m.Spec(tld, day, kind), now, key_ring))
                day += timedelta(days=1)
    return made


class EscrowJob:
    """`run_due` every `interval` seconds on a thread, until `stop()`."""

    def __init__(self, db: Database, cfg: Config, clock: Clock) -> None:
        self.db, self.cfg, self.clock = db, cfg, clock
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(run_due, self.db, self.cfg, self.clock.now())
            except Exception:
                log.exception("escrow deposit failed; retrying in %s s", self.cfg.escrow_interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.cfg.escrow_interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="domreg-escrow")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
