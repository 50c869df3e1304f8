"""`domreg serve` (2 worker processes sharing the ports) answers RDAP on its HTTP port and
WHOIS on its WHOIS port, and both see what is written to the database at once; every query is
counted for the monthly activity report, and each worker flushes its counts when it stops."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from domreg.clock import Clock
from domreg.flows import domain
from domreg.store import schema as t
from domreg.store.db import Database
from tests import rdds_data, support


def whois(port: int, query: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(query.encode() + b"\r\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def counted(db: Database) -> dict[tuple[str, str], int]:
    """The query counts in the database, by service and TLD (every day)."""
    sc = t.service_counters
    with db.read() as conn:
        rows = conn.execute(
            select(sc.c.service, sc.c.tld, func.sum(sc.c.count)).group_by(sc.c.service, sc.c.tld)
        )
        return {(service, tld): int(n) for service, tld, n in rows}


def test_domreg_serve_answers_rdap_and_whois(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    data = rdds_data.populate(db)
    before = counted(db)
    with support.served(database_url, tmp_path / "var", workers=2, jobs_interval="0") as env:
        http_port, whois_port = int(env["DOMREG_HTTP_PORT"]), int(env["DOMREG_WHOIS_PORT"])
        deadline = time.monotonic() + 30
        while True:  # the HTTP and WHOIS listeners start just after EPP's
            try:
                socket.create_connection(("127.0.0.1", whois_port), timeout=1).close()
                httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=2)
                break
            except (OSError, httpx.HTTPError):
                assert time.monotonic() < deadline
                time.sleep(0.1)
        base = f"http://127.0.0.1:{http_port}/rdap"
        # Several requests, so that both workers answer (and fill their caches).
        for _ in range(6):
            r = httpx.get(f"{base}/domain/exam2.test", timeout=10)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/rdap+json"
            assert "client hold" not in r.json()["status"]
            assert "clientHold" not in whois(whois_port, "exam2.test")
        rdds_data.run(
            db,
            data.y,
            Clock().now() + timedelta(seconds=1),
            domain.update,
            domain.DomainUpdate("exam2.test", add_statuses=(("clientHold", None, None),)),
        )
        for _ in range(6):  # every worker's next answer has the change
            assert (
                "client hold" in httpx.get(f"{base}/domain/exam2.test", timeout=10).json()["status"]
            )
            assert "Domain Status: clientHold" in whois(whois_port, "exam2.test")
    # Stopped (SIGTERM): each worker has flushed its counts; the 12 RDAP and 12 WHOIS
    # queries above (the healthz request is no RDAP query) are all counted, once, for the
    # TLD of the name queried (each worker read the TLD names when it started).
    after = counted(db)
    for service in ("rdap", "whois"):
        added = {k: n - before.get(k, 0) for k, n in after.items() if k[0] == service}
        assert {k: n for k, n in added.items() if n} == {(service, "test"): 12}
