"""RDAP and WHOIS lookups are counted for ICANN's monthly activity report of each TLD: known
numbers of RDAP queries of every kind (through the HTTP application, answered 200, 304 or 404;
refused ones are not counted) and of WHOIS port-43 queries (through the WHOIS server, found or
not; refusals are not counted) and of the public lookup page (web WHOIS), about names in two
TLDs (test and net) and about none, flushed with `metrics.flush`, give exactly those numbers
in the rdap-queries, whois-43-queries and web-whois-queries columns of each TLD's report, in
the month of the queries: a TLD counts the queries about its names and those about no TLD."""

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


def _counted(db: Database) -> dict[tuple[str, str, str], int]:
    sc = t.service_counters
    with db.read() as conn:
        return {
            (r.service, r.name, r.tld): r.count
            for r in conn.execute(sc.select().where(sc.c.day == NOW.date().isoformat()))
        }


async def test_rdap_and_whois_queries_are_counted_in_the_activity_report(db: Database) -> None:
    rdds_data.populate(db, NOW - timedelta(days=1))
    clock = FixedClock(NOW)
    metrics.COUNTERS.take()  # counts of earlier tests in this process belong to their days
    metrics.load_tlds(db)  # as `domreg serve` does when it starts (metrics.Flusher)
    app = build_app(HttpContext(db=db, clock=clock, cfg=Config(rdap_rate_limit=0.0)))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.77", 4321))
    answered = {  # path -> (the status it is answered with, the TLD it counts for)
        "/rdap/domain/example.test": (200, "test"),
        "/rdap/domain/xn--bcher-kva.test": (200, "test"),
        "/rdap/domain/b\u00fccher.test": (200, "test"),  # a U-label
        "/rdap/domain/nosuch.test": (404, "test"),
        "/rdap/domain/dns.net": (200, "net"),
        "/rdap/domain/example.org": (404, ""),  # not a TLD of this registry
        "/rdap/nameserver/ns1.dns.net": (200, "net"),
        "/rdap/entity/1234": (200, ""),
        "/rdap/help": (200, ""),
        "/rdap/domains?name=exam*.test": (200, "test"),
        "/rdap/nameservers?name=ns*.dns.net": (200, "net"),
        "/rdap/entities?fn=Client*": (200, ""),
    }
    refused = {  # not counted: bad input, unsupported, wrong method
        "/rdap/domain/bad..name": 400,
        "/rdap/ip/192.0.2.1": 501,
        "/rdap/domains?name=*": 422,
    }
    statuses = {**{path: status for path, (status, _) in answered.items()}, **refused}
    async with httpx.AsyncClient(transport=transport, base_url="http://rdap.test") as http:
        for path, status in statuses.items():
            r = await http.get(path)
            assert r.status_code == status, (path, r.text)
        etag = (await http.get("/rdap/domain/example.test")).headers["etag"]
        r = await http.get("/rdap/domain/example.test", headers={"if-none-match": etag})
        assert r.status_code == 304
        assert (await http.head("/rdap/entity/1234")).status_code == 200
        assert (await http.post("/rdap/help")).status_code == 405
        assert (await http.options("/rdap/help")).status_code == 204
        # The public lookup page is the registry's web WHOIS: answered lookups count.
        for q, status in (
            ("example.test", 200),
            ("nosuch.test", 404),
            ("dns.net", 200),
            ("ns2.dns.net", 200),
            ("ClientX", 200),
            ("", 400),
        ):
            assert (await http.get("/lookup", params={"q": q})).status_code == status, q
    # the empty query is refused, not counted
    web = {"test": 2, "net": 2, "": 1}
    rdap = {"test": 5 + 2, "net": 3, "": 4 + 1}  # + the ETag lookup and the 304; + the HEAD
    assert sum(rdap.values()) == len(answered) + 3

    server = WhoisServer(db, clock, rate=0.0, timeout=2.0)
    await server.start("127.0.0.1", 0)
    try:
        for line in (
            b"example.test\r\n",
            b"domain example.test\r\n",
            b"nameserver ns1.dns.net\r\n",
            b"registrar 1234\r\n",
        ):
            assert "Last update of WHOIS database" in await _whois(server.port, line)
        for line in (b"nosuch.test\r\n", b"nosuch.org\r\n"):
            assert "No match" in await _whois(server.port, line)
        for refused_line in (
            b"\xff\xfe\r\n",
            b"\r\n",
            b"",
        ):  # not text, empty, none (timed out): not counted
            assert "Error:" in await _whois(server.port, refused_line)
    finally:
        await server.close()
    whois = {"test": 3, "net": 1, "": 2}

    metrics.flush(db)
    assert _counted(db) == {
        # test: 3 found (one as a U-label), 1 not registered, the ETag lookup, the 304
        ("rdap", "domain", "test"): 6,
        ("rdap", "domain", "net"): 1,
        ("rdap", "domain", ""): 1,
        ("rdap", "nameserver", "net"): 1,
        ("rdap", "entity", ""): 2,  # GET and HEAD
        ("rdap", "help", ""): 1,
        ("rdap", "domains-search", "test"): 1,
        ("rdap", "nameservers-search", "net"): 1,
        ("rdap", "entities-search", ""): 1,
        ("whois", "port43", "test"): whois["test"],
        ("whois", "port43", "net"): whois["net"],
        ("whois", "port43", ""): whois[""],
        ("whois", "web", "test"): web["test"],
        ("whois", "web", "net"): web["net"],
        ("whois", "web", ""): web[""],
    }
    with db.read() as conn:
        reports = {tld: monthly.activity(conn, tld, MONTH) for tld in ("test", "net", "com")}
        previous = monthly.activity(conn, "test", "2027-05")
    for tld, activity in reports.items():  # its own queries and those of no TLD
        assert activity["rdap-queries"] == rdap.get(tld, 0) + rdap[""], tld
        assert activity["whois-43-queries"] == whois.get(tld, 0) + whois[""], tld
        assert activity["web-whois-queries"] == web.get(tld, 0) + web[""], tld
        assert activity["searchable-whois-queries"] == 0
    assert previous["rdap-queries"] == previous["whois-43-queries"] == 0
    assert previous["web-whois-queries"] == 0
