"""ICANN's monthly reports: a month of known activity over EPP (creates of several terms, a
failed create, renews, a delete inside and one outside the add grace period, a restore, an
approved and a rejected transfer, queries), plus RDAP and WHOIS counts through the metrics API
about names in two TLDs and about none; every column of both reports is checked (the activity
report for both TLDs), and the CSV files are written as ICANN reads them. Then EPP commands
about names of two TLDs (and of none): each TLD's activity report counts its own commands and
those of no TLD, a check of several TLDs once in each, and attempted-adds per registrar per
TLD."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

import pytest

from domreg import metrics
from domreg.clock import FixedClock
from domreg.reports import monthly
from domreg.store import schema as t
from tests import support
from tests.registry_data import (
    RGP,
    C,
    D,
    H,
    contact,
    delete,
    domain,
    host,
    login,
    ok,
    renew,
    transfer,
    update,
)

MONTH_START = datetime(2027, 5, 1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONTH_START + timedelta(days=1, hours=9))


def _restore(op: str, report: str = "") -> str:
    return f'<rgp:update {RGP}><rgp:restore op="{op}">{report}</rgp:restore></rgp:update>'


def _report(deleted: datetime, now: datetime) -> str:
    return (
        "<rgp:report><rgp:preData>before</rgp:preData><rgp:postData>after</rgp:postData>"
        f"<rgp:delTime>{deleted:%Y-%m-%dT%H:%M:%S}Z</rgp:delTime><rgp:resTime>{now:%Y-%m-%dT%H:%M:%S}Z</rgp:resTime>"
        "<rgp:resReason>Registrant error.</rgp:resReason><rgp:statement>one</rgp:statement>"
        "<rgp:statement>two</rgp:statement></rgp:report>"
    )


async def _exp(client, name: str) -> str:
    reply = await ok(
        client, f"<info><domain:info {D}><domain:name>{name}</domain:name></domain:info></info>"
    )
    return reply.findtext(".//domain:exDate")[:10]


async def test_a_month_of_known_activity_gives_every_column(db, connect, clock, tmp_path):
    with db.write() as conn:
        for iana_id, clid in ((1001, "ClientX"), (1002, "ClientY"), (1003, "ClientZ")):
            conn.execute(
                t.registrars.update().where(t.registrars.c.clid == clid).values(iana_id=iana_id)
            )
    metrics.COUNTERS.take()  # counts of earlier tests in this process belong to their days
    metrics.load_tlds(db)  # as `domreg serve` does when it starts (metrics.Flusher)
    x = await connect()
    await login(x, "ClientX", support.PASSWORDS["ClientX"])
    y = await connect()
    await login(y, "ClientY", support.PASSWORDS["ClientY"])
    # Day 2: creates of 1, 2, 1 and 10 years by X (one name taken: a failed attempt), 1 by Y.
    await ok(x, domain("a1.test", 1))
    await ok(x, domain("a2.test", 2))
    await ok(x, domain("a3.test", 1))
    await ok(x, domain("a4.test", 10))
    await ok(x, domain("a1.test", 1), codes=(2302,))
    await ok(y, domain("b1.test", 1))
    await ok(x, host("ns1.a4.test", ("192.0.2.7", "v4")))
    await ok(x, delete("a3.test"))  # inside the add grace period: refunded, purged
    await ok(
        x, f"<check><domain:check {D}><domain:name>zz.test</domain:name></domain:check></check>"
    )
    await ok(
        y,
        f"<check><domain:check {D}><domain:name>zz.test</domain:name><domain:name>a1.test</domain:name></domain:check></check>",
    )
    await ok(y, f"<info><domain:info {D}><domain:name>a1.test</domain:name></domain:info></info>")
    # Day 12: renews (3 years of a1, 1 year of a2), then a2 deleted in its renew grace period.
    clock.advance(timedelta(days=10))
    await ok(x, renew("a1.test", await _exp(x, "a1.test"), 3))
    await ok(x, renew("a2.test", await _exp(x, "a2.test"), 1))
    deleted_at = clock.now()
    await ok(x, delete("a2.test"))  # outside the add grace period: redemption (1001)
    # Day 13: a2 restored (request and report).
    clock.advance(timedelta(days=1))
    await ok(x, update("a2.test", "<domain:chg/>"), extension=_restore("request"))
    await ok(
        x,
        update("a2.test", "<domain:chg/>"),
        extension=_restore("report", _report(deleted_at, clock.now())),
    )
    # Day 14: Y takes a1 (X approves) and asks for a4 (X rejects).
    clock.advance(timedelta(days=1))
    await ok(y, transfer("request", "a1.test"))
    await ok(x, transfer("approve", "a1.test", None))
    await ok(y, transfer("request", "a4.test"))
    await ok(x, transfer("reject", "a4.test", None))
    # Queries other services count through the metrics API (RDAP and WHOIS call it so), each
    # in the report of the TLD of the name it is about (test or com), or in every TLD's.
    now = clock.now()
    for name, subject in (
        ("domain", "a1.test"),
        ("domain", "A4.TEST."),
        ("entity", None),
        ("domain", "x.com"),
        ("nameserver", "ns1.x.com"),
        ("nameservers-search", "ns*.x.com"),
    ):
        metrics.count("rdap", name, now, subject)
    for service, name, subject in (
        ("whois", "port43", "a1.test"),
        ("whois", "port43", "x.com"),
        ("whois", "port43", "ns1.x.com"),
        ("whois", "web", "a2.test"),
        ("whois", "web", "ClientX"),  # a registrar: no TLD
        ("whois", "web", "x.org"),  # not a TLD of the registry
    ):
        metrics.count(service, name, now, subject)
    metrics.count("rdap", "domain", MONTH_START - timedelta(days=1), "a1.test")  # another month
    metrics.flush(db)

    with db.read() as conn:
        rows = {r["registrar-name"]: r for r in monthly.transactions(conn, "test", "2027-05")}
        activity = monthly.activity(conn, "test", "2027-05")
        other = monthly.activity(conn, "com", "2027-05")
    zero = {c: 0 for c in monthly.TRANSACTION_COLUMNS[2:]}
    expected_x = {
        **zero,
        "registrar-name": "ClientX Inc.",
        "iana-id": 1001,
        "total-domains": 2,  # a2 (restored) and a4; a1 went to Y, a3 was purged
        "total-nameservers": 1,  # ns1.a4.test
        "net-adds-1-yr": 1,  # a1 (a3 was deleted in its add grace period)
        "net-adds-2-yr": 1,  # a2
        "net-adds-10-yr": 1,  # a4
        "net-renews-3-yr": 1,  # a1; a2's 1-year renew was refunded by its delete
        "transfer-losing-successful": 1,  # a1
        "transfer-losing-nacked": 1,  # a4
        "deleted-domains-grace": 1,  # a3
        "deleted-domains-nograce": 1,  # a2
        "restored-domains": 1,  # a2
        "attempted-adds": 5,  # a1, a2, a3, a4 and the failed a1
    }
    expected_y = {
        **zero,
        "registrar-name": "ClientY Inc.",
        "iana-id": 1002,
        "total-domains": 2,  # b1 and a1
        "net-adds-1-yr": 1,  # b1
        "transfer-gaining-successful": 1,
        "transfer-gaining-nacked": 1,
        "attempted-adds": 1,
    }
    expected_z = {**zero, "registrar-name": "ClientZ Inc.", "iana-id": 1003}
    assert rows["ClientX Inc."] == expected_x
    assert rows["ClientY Inc."] == expected_y
    assert rows["ClientZ Inc."] == expected_z
    totals = {c: expected_x[c] + expected_y[c] for c in zero}
    assert rows["Totals"] == {"registrar-name": "Totals", "iana-id": "", **totals}

    srs = {c: 0 for c in monthly.SRS}
    srs.update(
        {
            "srs-dom-check": 2,
            "srs-dom-create": 6,
            "srs-dom-delete": 2,
            "srs-dom-info": 1 + 2,  # Y's info, and two exDate lookups by X
            "srs-dom-renew": 2,
            "srs-dom-rgp-restore-request": 1,
            "srs-dom-rgp-restore-report": 1,
            "srs-dom-transfer-request": 2,
            "srs-dom-transfer-approve": 1,
            "srs-dom-transfer-reject": 1,
            "srs-host-create": 1,
        }
    )
    assert activity == {
        "operational-registrars": 3,
        "zfa-passwords": 0,
        "whois-43-queries": 1,
        "web-whois-queries": 1 + 2,  # a2.test, and the two about no TLD
        "searchable-whois-queries": 0,
        "dns-udp-queries-received": 0,
        "dns-udp-queries-responded": 0,
        "dns-tcp-queries-received": 0,
        "dns-tcp-queries-responded": 0,
        **srs,
        "rdap-queries": 2 + 1,  # a1.test, a4.test, and the entity lookup
    }
    # The other TLD: its own RDAP and WHOIS queries and those about no TLD; every EPP command
    # above was about a name under test, so none is in its report.
    assert other == {
        **activity,
        **{c: 0 for c in monthly.SRS},
        "whois-43-queries": 2,
        "web-whois-queries": 2,
        "rdap-queries": 3 + 1,
    }
    # The CSV files: ICANN's column order, one row per registrar plus Totals; one activity row.
    with db.read() as conn:
        tx, act = monthly.write(conn, "test", "2027-05", tmp_path)
    assert tx.name == "test-transactions-202705.csv" and act.name == "test-activity-202705.csv"
    with tx.open(newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == monthly.TRANSACTION_COLUMNS
    assert [r[0] for r in table[1:]] == ["ClientX Inc.", "ClientY Inc.", "ClientZ Inc.", "Totals"]
    assert table[1] == [str(expected_x[c]) for c in monthly.TRANSACTION_COLUMNS]
    with act.open(newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == monthly.ACTIVITY_COLUMNS and len(table) == 2
    assert dict(zip(table[0], table[1], strict=True))["rdap-queries"] == str(2 + 1)


def test_a_bad_month_or_tld_is_a_clear_error(db):
    with db.read() as conn:
        with pytest.raises(monthly.ReportError, match="invalid month"):
            monthly.transactions(conn, "test", "2027-13")
        with pytest.raises(monthly.ReportError, match="no TLD"):
            monthly.activity(conn, "nope", "2027-05")


def _check(names: tuple[str, ...], kind: str = "domain") -> str:
    ns = D if kind == "domain" else H
    listed = "".join(f"<{kind}:name>{n}</{kind}:name>" for n in names)
    return f"<check><{kind}:check {ns}>{listed}</{kind}:check></check>"


TOKEN = (
    '<allocationToken:allocationToken xmlns:allocationToken="'
    'urn:ietf:params:xml:ns:allocationToken-1.0">no-such-token</allocationToken:allocationToken>'
)


async def test_epp_commands_count_in_the_reports_of_the_tlds_of_their_names(db, connect, clock):
    metrics.COUNTERS.take()  # counts of earlier tests in this process belong to their days
    metrics.load_tlds(db)  # test, com and net (as `domreg serve` does when it starts)
    x = await connect()
    await login(x, "ClientX", support.PASSWORDS["ClientX"])
    y = await connect()
    await login(y, "ClientY", support.PASSWORDS["ClientY"])
    await ok(x, contact("cx1"))  # no TLD: in every TLD's report
    await ok(x, f"<check><contact:check {C}><contact:id>cx1</contact:id></contact:check></check>")
    for name in ("a.test", "a2.test", "b.com", "c.com"):
        await ok(x, domain(name))
    await ok(x, domain("a.test"), codes=(2302,))  # attempted: counted all the same
    await ok(y, domain("d.com"))
    reply = await y.command(domain("foo.org"))  # under no TLD of the registry
    assert reply.code >= 2000, reply.raw
    await ok(x, host("ns1.a.test", ("192.0.2.1", "v4")))
    await ok(x, host("ns1.b.com", ("192.0.2.2", "v4")))
    for names in (
        ("x.test",),
        ("y.com", "z.com"),  # two names of one TLD: once
        ("w.com",),
        ("m.test", "m.com", "n.com", "q.org"),  # test and com: once in each, not under ""
        ("q.org",),  # no TLD of the registry: in every TLD's report
    ):
        await ok(x, _check(names))
    await ok(x, _check(("t1.test", "t2.com")), extension=TOKEN)  # an extended check
    for name in ("a.test", "b.com", "c.com"):
        await ok(
            x, f"<info><domain:info {D}><domain:name>{name}</domain:name></domain:info></info>"
        )
    await ok(x, _check(("ns1.a.test", "ns1.b.com", "ns9.x.org"), "host"))
    await ok(x, f"<info><host:info {H}><host:name>ns1.a.test</host:name></host:info></info>")
    await ok(
        x,
        f"<update><host:update {H}><host:name>ns1.a.test</host:name><host:add>"
        '<host:addr ip="v4">192.0.2.9</host:addr></host:add></host:update></update>',
    )
    await ok(x, f"<delete><host:delete {H}><host:name>ns1.b.com</host:name></host:delete></delete>")
    metrics.flush(db)

    sc = t.service_counters
    with db.read() as conn:
        checks = {
            r.tld: r.count
            for r in conn.execute(
                sc.select().where(sc.c.service == "epp", sc.c.name == "domain:check")
            )
        }
        activity = {tld: monthly.activity(conn, tld, "2027-05") for tld in ("test", "com", "net")}
        adds = {
            tld: {r["registrar-name"]: r["attempted-adds"] for r in rows}
            for tld in ("test", "com", "net")
            for rows in [monthly.transactions(conn, tld, "2027-05")]
        }
    assert checks == {"test": 3, "com": 4, "": 1}
    no_tld = {"srs-dom-check": 1, "srs-dom-create": 1, "srs-cont-create": 1, "srs-cont-check": 1}
    own = {
        "test": {
            "srs-dom-check": 3,
            "srs-dom-create": 3,
            "srs-dom-info": 1,
            "srs-host-check": 1,
            "srs-host-create": 1,
            "srs-host-info": 1,
            "srs-host-update": 1,
        },
        "com": {
            "srs-dom-check": 4,
            "srs-dom-create": 3,
            "srs-dom-info": 2,
            "srs-host-check": 1,
            "srs-host-create": 1,
            "srs-host-delete": 1,
        },
        "net": {},
    }
    for tld, counted in own.items():
        srs = {c: counted.get(c, 0) + no_tld.get(c, 0) for c in monthly.SRS}
        assert {c: activity[tld][c] for c in monthly.SRS} == srs, tld
    # Y's create of foo.org names no TLD of the registry: an attempt in every TLD's report.
    assert adds == {
        "test": {"ClientX Inc.": 3, "ClientY Inc.": 1, "ClientZ Inc.": 0, "Totals": 4},
        "com": {"ClientX Inc.": 2, "ClientY Inc.": 2, "ClientZ Inc.": 0, "Totals": 4},
        "net": {"ClientX Inc.": 0, "ClientY Inc.": 1, "ClientZ Inc.": 0, "Totals": 1},
    }
