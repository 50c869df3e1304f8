"""What counting RDAP and WHOIS queries (`domreg.metrics`) costs on the hot path, in-process:
`python bench/rdds_counting.py [--domains 200] [--rounds 7] [--lookups 5000]`.

A fresh SQLite database (`domreg.bench.rdds.populate`), the RDAP ASGI application and the
WHOIS server's answer function called in a loop on cached answers (the fastest path, where
a fixed cost shows most), in alternating rounds with counting on and with `metrics.count`
replaced by a no-op: the floor, measured in the same run. Prints microseconds per lookup
(the best round of each) and the difference; plus one `metrics.count` call alone."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from domreg import metrics
from domreg.bench.rdds import populate
from domreg.clock import Clock
from domreg.config import Config
from domreg.http.app import HttpContext
from domreg.rdap.app import RdapApp
from domreg.store.db import Database
from domreg.whois.server import WhoisServer


async def _rdap_round(app: RdapApp, names: list[str], lookups: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    scopes = [
        {
            "type": "http",
            "method": "GET",
            "path": f"/rdap/domain/{name}",
            "query_string": b"",
            "headers": [(b"host", b"rdap.test")],
            "client": ("192.0.2.1", 1),
        }
        for name in names
    ]
    start = time.perf_counter()
    for i in range(lookups):
        await app(scopes[i % len(scopes)], receive, send)
    return (time.perf_counter() - start) / lookups * 1e6


def _whois_round(server: WhoisServer, names: list[str], lookups: int) -> float:
    start = time.perf_counter()
    for i in range(lookups):
        server.answer_now(names[i % len(names)])
    return (time.perf_counter() - start) / lookups * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--domains", type=int, default=200)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--lookups", type=int, default=5000)
    opts = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        names = populate(url, opts.domains)
        db = Database(url, pool_size=2)
        metrics.load_tlds(db)  # as `domreg serve` does: queries are counted per TLD
        cfg = Config(rdap_rate_limit=0.0)
        app = RdapApp(HttpContext(db=db, clock=Clock(), cfg=cfg))
        whois = WhoisServer(db, Clock(), rate=0.0)
        real = metrics.count
        best: dict[tuple[str, bool], float] = {}

        async def run() -> None:
            for _ in range(opts.rounds):
                for counting in (True, False):
                    metrics.count = real if counting else (lambda *a, **k: None)  # type: ignore[assignment]
                    try:
                        r = await _rdap_round(app, names, opts.lookups)
                        w = _whois_round(whois, names, opts.lookups)
                    finally:
                        metrics.count = real  # type: ignore[assignment]
                    for key, value in ((("rdap", counting), r), (("whois", counting), w)):
                        best[key] = min(best.get(key, value), value)

        asyncio.run(run())
        metrics.COUNTERS.take()
        one = (
            min(
                timeit.repeat(
                    lambda: real("rdap", "domain", None, names[0]), number=100_000, repeat=5
                )
            )
            * 10
        )
        metrics.COUNTERS.take()
        db.close()
    for service in ("rdap", "whois"):
        on, off = best[(service, True)], best[(service, False)]
        print(
            f"{service}: {on:.2f} us/lookup counted, {off:.2f} us not counted (floor): "
            f"+{on - off:.2f} us ({(on - off) / off:+.1%})"
        )
    print(f"metrics.count alone: {one:.2f} us per call")


if __name__ == "__main__":
    main()
