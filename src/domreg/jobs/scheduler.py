"""The scheduler inside `domreg serve`: an asyncio task that runs the lifecycle jobs every few
seconds, in small batches so EPP sessions keep being served, and stops cleanly on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from domreg.clock import Clock
from domreg.jobs.lifecycle import run_until
from domreg.store.db import Database

log = logging.getLogger("domreg.jobs")

#: Seconds between runs when the configuration does not say (`jobs_interval`).
DEFAULT_INTERVAL = 5.0
#: Events per transaction batch before yielding to the event loop.
BATCH = 25


class Scheduler:
    """Runs `jobs.lifecycle.run_until(db, clock.now())` every `interval` seconds.

    `tick()` runs once, to completion (the catch-up `domreg serve` does before it listens);
    `start()` starts the periodic task and `stop()` ends it after the batch in progress.
    """

    def __init__(
        self, db: Database, clock: Clock, interval: float = DEFAULT_INTERVAL, batch: int = BATCH
    ) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self.batch = batch
        self.runs = 0  # completed ticks, for tests and monitoring
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """Process every event due now; returns how many ran."""
        until = self.clock.now()
        total = 0
        while True:
            done = await self.db.run(partial(run_until, self.db, until, limit=self.batch))
            total += done
            if done < self.batch:
                break
            await asyncio.sleep(0)  # let sessions in between batches
        self.runs += 1
        if total:
            log.info("lifecycle jobs: %d events processed up to %s", total, until)
        return total

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("lifecycle jobs failed; retrying in %s s", self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def start(self) -> asyncio.Task[None]:
        self._stop.clear()
        self._task = asyncio.create_task(self._loop(), name="domreg-jobs")
        return self._task

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
