"""In-process EPP cost per command: `Session.handle` of the benchmark's frames in a loop.

No TLS, no network, no load generator: the CPU one worker spends on a command (parsing,
the flow and its statements, rendering). Run beside `domreg bench epp` to see where a
change moves the cost; `--profile` prints a cProfile (CPU clock) of the chosen phase.

    .venv/bin/python bench/inproc.py --backend sqlite --phases check,info,create -n 2000
    .venv/bin/python bench/inproc.py --backend sqlite --phases create --profile
    .venv/bin/python bench/inproc.py --backend postgresql --phases check,info,create [--no-loop-reads]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from domreg.bench import epp as bench
from domreg.epp.session import Registry, Session
from domreg.flows.inlinechecks import InlineChecks
from domreg.flows.loopreads import LoopReads
from domreg.flows.loopwrites import LoopWrites
from domreg.store.db import Database


async def run(url: str, phases: list[str], n: int, profile: str | None, loop_reads: bool) -> None:
    db = Database(url, pool_size=4)
    # As `domreg serve`: on PostgreSQL plain checks and infos are read, and plain creates
    # written, from the event loop; on SQLite plain checks run on the driver connection
    # (`--no-loop-reads`: the flows).
    reads = LoopReads(db) if loop_reads and not db.is_sqlite else None
    writes = LoopWrites(db) if loop_reads and not db.is_sqlite else None
    inline = InlineChecks(db) if loop_reads and db.is_sqlite else None
    registry = Registry(db, loop_reads=reads, loop_writes=writes, inline_checks=inline)
    session = Session(registry, "127.0.0.1", None)
    clid, password = bench.registrar(0)
    reply, _ = await session.handle(bench.login_request(clid, password, "LOGIN-1")[4:])
    assert b'code="1000"' in reply, reply
    plan = bench.SessionPlan(0, clid, password, 0)
    for phase in phases:
        requests = bench.Requests(phase, plan, 200)
        frames = [requests.next()[4:] for _ in range(n)]
        for f in frames[: min(50, n)]:  # warm caches
            await session.handle(f)
        frames = [requests.next()[4:] for _ in range(n)]
        prof = cProfile.Profile(time.process_time) if profile == phase else None
        bad = 0
        chunks: list[float] = []  # CPU per op of each tenth: the minimum is the least disturbed
        size = max(1, n // 10)
        if prof:
            prof.enable()
        for start in range(0, n, size):
            c0 = time.process_time()
            for f in frames[start : start + size]:
                out, _ = await session.handle(f)
                if b'code="1' not in out:
                    bad += 1
                    if bad == 1:
                        print(out.decode()[:600])
            chunks.append(1e6 * (time.process_time() - c0) / len(frames[start : start + size]))
        if prof:
            prof.disable()
        chunks.sort()
        print(
            f"{phase:7s} cpu us/op: min {chunks[0]:7.1f}  median {chunks[len(chunks) // 2]:7.1f}"
            f"  errors {bad}"
        )
        if prof:
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    if reads is not None:
        await reads.aclose()
    if writes is not None:
        await writes.aclose()
    db.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    p.add_argument("--phases", default="check,info,create")
    p.add_argument("-n", type=int, default=2000)
    p.add_argument("--profile", default=None)
    p.add_argument("--pg-url", default=bench.DEFAULT_PG_URL)
    p.add_argument(
        "--no-loop-reads",
        action="store_true",
        help="checks, and on PostgreSQL infos and creates, in the flows",
    )
    a = p.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench.fresh_database(a.backend, Path(tmp), a.pg_url) as url,
    ):
        bench.populate(url, 1, 200)
        asyncio.run(run(url, a.phases.split(","), a.n, a.profile, not a.no_loop_reads))


if __name__ == "__main__":
    main()
