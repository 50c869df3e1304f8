"""RDAP and WHOIS lookups are counted for ICANN's monthly activity report: known numbers of
RDAP queries of every kind (through the HTTP application, answered 200, 304 or 404; refused
ones are not counted) and of WHOIS port-43 queries (through the WHOIS server, found or not;
refusals are not counted) and of the public lookup page (web WHOIS), flushed with `metrics.flush`, give exactly those numbers in the
activity report's rdap-queries, whois-43-queries and web-whois-queries columns, in the month of the queries."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx

from domreg import metrics
from domreg.clock import FixedClock
from domreg.config import Config
from domreg.http.app import HttpContext, build_app
from domreg.reports import monthly
from domreg.store import schema as t
from domreg.store.db import Database
from domreg.whois.server import WhoisServer
from tests import rdds_data

MONTH = "2027-06"
NOW = datetime(2027, 6, 10, 12)


async def _whois(port: int, line: bytes) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(line)
    answer = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    return answer.decode()


def _counted(db: Database) -> dict[tuple[str, str], int]:
    sc = t.service_counters
    with db.read() as conn:
        return {
            (r.service, r.name): r.count
            for r in conn.execute(sc.select().where(sc.c.day == NOW.date().isoformat()))
        }


async def test_rdap_and_whois_queries_are_counted_in_the_activity_report(db: Database) -> None:
    rdds_data.populate(db, NOW - timedelta(days=1))
    clock = FixedClock(NOW)
    metrics.COUNTERS.take()  # counts of earlier tests in this process belong to their days
    app = build_app(HttpContext(db=db, clock=clock, cfg=Config(rdap_rate_limit=0.0)))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.77", 4321))
    answered = {  # path -> the status it is answered with; every one is counted
        "/rdap/domain/example.test": 200,
        "/rdap/domain/xn--bcher-kva.test": 200,
        "/rdap/domain/nosuch.test": 404,
        "/rdap/nameserver/ns1.dns.net": 200,
        "/rdap/entity/1234": 200,
        "/rdap/help": 200,
        "/rdap/domains?name=exam*.test": 200,
        "/rdap/nameservers?name=ns*.dns.net": 200,
        "/rdap/entities?fn=Client*": 200,
    }
    refused = {  # not counted: bad input, unsupported, wrong method
        "/rdap/domain/bad..name": 400,
        "/rdap/ip/192.0.2.1": 501,
        "/rdap/domains?name=*": 422,
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://rdap.test") as http:
        for path, status in {**answered, **refused}.items():
            r = await http.get(path)
            assert r.status_code == status, (path, r.text)
        etag = (await http.get("/rdap/domain/example.test")).headers["etag"]
        r = await http.get("/rdap/domain/example.test", headers={"if-none-match": etag})
        assert r.status_code == 304
        assert (await http.head("/rdap/entity/1234")).status_code == 200
        assert (await http.post("/rdap/help")).status_code == 405
        assert (await http.options("/rdap/help")).status_code == 204
        # The public lookup page is the registry's web WHOIS: answered lookups count.
        for q, status in (("example.test", 200), ("nosuch.test", 404), ("", 400)):
            assert (await http.get("/lookup", params={"q": q})).status_code == status
    web_total = 2  # the empty query is refused, not counted
    rdap_total = len(answered) + 3  # the lookup for the ETag, the 304 and the HEAD

    server = WhoisServer(db, clock, rate=0.0, timeout=2.0)
    await server.start("127.0.0.1", 0)
    try:
        for line in (b"example.test\r\n", b"nameserver ns1.dns.net\r\n", b"registrar 1234\r\n"):
            assert "Last update of WHOIS database" in await _whois(server.port, line)
        assert "No match" in await _whois(server.port, b"nosuch.test\r\n")
        for refused_line in (
            b"\xff\xfe\r\n",
            b"\r\n",
            b"",
        ):  # not text, empty, none (timed out): not counted
            assert "Error:" in await _whois(server.port, refused_line)
    finally:
        await server.close()
    whois_total = 4

    metrics.flush(db)
    assert _counted(db) == {
        ("rdap", "domain"): 5,  # 2 found, 1 not registered, the ETag lookup, the 304
        ("rdap", "nameserver"): 1,
        ("rdap", "entity"): 2,  # GET and HEAD
        ("rdap", "help"): 1,
        ("rdap", "domains-search"): 1,
        ("rdap", "nameservers-search"): 1,
        ("rdap", "entities-search"): 1,
        ("whois", "port43"): whois_total,
        ("whois", "web"): web_total,
    }
    with db.read() as conn:
        activity = monthly.activity(conn, "test", MONTH)
        previous = monthly.activity(conn, "test", "2027-05")
    assert activity["rdap-queries"] == rdap_total
    assert activity["whois-43-queries"] == whois_total
    assert activity["web-whois-queries"] == web_total
    assert previous["rdap-queries"] == previous["whois-43-queries"] == 0
