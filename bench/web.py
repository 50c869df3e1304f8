"""The web console benchmark: `python bench/web.py [--domains N] [--requests R]`.

On SQLite and PostgreSQL (when reachable at DOMREG_TEST_PG), a fresh database gets N domains
(one registrar holds 90%, another 10%), a console user signs in, and the registrar's pages
are requested R times each over HTTP from the in-process server (uvicorn, one worker):
`/healthz` (the floor: routing, one `SELECT 1`, the HTTP round trip, in the same run), the
first page of `/console/domains`, a page deep in the keyset (`after=` near the end), a
filtered page (TLD, status ok, expiring before), and the dashboard (counts by status over
all of the registrar's domains, the chart). Prints median and 95th percentile latency and
the ratio of each median to the floor's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
from sqlalchemy import insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from domreg.clock import Clock  # noqa: E402
from domreg.config import Config  # noqa: E402
from domreg.flows import registry, webusers  # noqa: E402
from domreg.http.app import HttpContext, HttpServer, build_app  # noqa: E402
from domreg.store import migrate  # noqa: E402
from domreg.store import schema as t  # noqa: E402
from domreg.store.db import Database  # noqa: E402

PG = os.environ.get("DOMREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "JBSWY3DPEHPK3PXPBENCHAAA"


def populate(db: Database, n: int) -> None:
    now = Clock().now()
    with db.write() as conn:
        registry.add_tld(conn, now, "test")
        for clid in ("BenchA", "BenchB"):
            registry.add_registrar(
                conn, now, clid=clid, name=clid, password="bench-Pw1", tlds=["test"]
            )
        ids = dict(conn.execute(select(t.registrars.c.clid, t.registrars.c.id)).all())
        tld_id = conn.execute(select(t.tlds.c.id)).scalar_one()
        webusers.add_user(
            conn,
            now,
            username="bench",
            password="bench-Password-1",
            role="registrar",
            registrar="BenchA",
            totp_secret=SECRET,
        )
        rows = [
            {
                "roid": f"B{i:X}-TEST",
                "name": f"n{i:06d}.test",
                "tld_id": tld_id,
                "registrar_id": ids["BenchB"] if i % 10 == 9 else ids["BenchA"],
                "creator_id": ids["BenchA"],
                "created_at": now,
                "expires_at": now + timedelta(days=1 + i % 700),
            }
            for i in range(n)
        ]
        for start in range(0, n, 20_000):
            conn.execute(insert(t.domains), rows[start : start + 20_000])
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


async def measure(db: Database, n: int, requests: int) -> dict[str, tuple[float, float]]:
    server = HttpServer(build_app(HttpContext(db=db, clock=Clock(), cfg=Config())))
    await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as c:
            page = await c.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            r = await c.post(
                "/login",
                data={
                    "csrf": token,
                    "username": "bench",
                    "password": "bench-Password-1",
                    "code": pyotp.TOTP(SECRET).now(),
                    "next": "",
                },
            )
            assert r.status_code == 303, r.text
            last = f"n{n - 60:06d}.test"
            paths = {
                "/healthz (floor)": "/healthz",
                "domains, first page": "/console/domains",
                "domains, deep keyset page": f"/console/domains?after={last}",
                "domains, filtered": "/console/domains?tld=test&status=ok&before=2100-01-01&after=n050000.test",
                "dashboard": "/console",
            }
            out = {}
            for label, path in paths.items():
                for _ in range(3):
                    assert (await c.get(path)).status_code == 200
                times = []
                for _ in range(requests):
                    start = time.perf_counter()
                    resp = await c.get(path)
                    times.append(time.perf_counter() - start)
                    assert resp.status_code == 200
                times.sort()
                out[label] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
            return out
    finally:
        await server.close()


def backends() -> list[tuple[str, str]]:
    tmp = Path(tempfile.mkdtemp())
    found = [("sqlite", f"sqlite:///{tmp / 'bench.db'}")]
    try:
        import psycopg

        with psycopg.connect(PG, connect_timeout=3, autocommit=True) as conn:
            name = f"domreg_bench_{secrets.token_hex(4)}"
            conn.execute(f'CREATE DATABASE "{name}"')
        found.append(("postgresql", PG.rsplit("/", 1)[0] + "/" + name))
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc}); SQLite only")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=100)
    args = ap.parse_args()
    for backend, url in backends():
        db = Database(url, pool_size=4)
        migrate.upgrade(db.engine)
        populate(db, args.domains)
        results = asyncio.run(measure(db, args.domains, args.requests))
        floor = results["/healthz (floor)"][0]
        print(f"\n{backend}: {args.domains} domains, {args.requests} requests each")
        print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'x floor':>8}")
        for label, (median, p95) in results.items():
            print(f"{label:34} {median * 1000:10.2f} {p95 * 1000:8.2f} {median / floor:8.1f}")
        db.close()
        if backend == "postgresql":
            import psycopg

            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
