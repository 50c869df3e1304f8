"""Domain rules over EPP (RFC 5731): name and TLD policy, periods, statuses, renew, transfer,
poll messages, and one history row per transform carrying the response's svTRID."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from domreg.clock import Clock, FixedClock
from domreg.flows import registry
from domreg.store import schema as t
from tests.support import assert_schema_valid, dump

D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
H = 'xmlns:host="urn:ietf:params:xml:ns:host-1.0"'
START = datetime(2026, 1, 15, 12, 0, 0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def create(
    name: str, period: str = '<domain:period unit="y">1</domain:period>', extra: str = ""
) -> str:
    return (
        f"<create><domain:create {D}><domain:name>{name}</domain:name>{period}{extra}"
        "<domain:authInfo><domain:pw>auth-INFO1</domain:pw></domain:authInfo></domain:create></create>"
    )


def update(name: str, inner: str) -> str:
    return f"<update><domain:update {D}><domain:name>{name}</domain:name>{inner}</domain:update></update>"


def host(name: str, addr: str = "") -> str:
    a = f'<host:addr ip="v4">{addr}</host:addr>' if addr else ""
    return f"<create><host:create {H}><host:name>{name}</host:name>{a}</host:create></create>"


def renew(name: str, cur: str, years: int = 1) -> str:
    return (
        f"<renew><domain:renew {D}><domain:name>{name}</domain:name><domain:curExpDate>{cur}</domain:curExpDate>"
        f'<domain:period unit="y">{years}</domain:period></domain:renew></renew>'
    )


def transfer(op: str, name: str, pw: str | None = None) -> str:
    auth = f"<domain:authInfo><domain:pw>{pw}</domain:pw></domain:authInfo>" if pw else ""
    return f'<transfer op="{op}"><domain:transfer {D}><domain:name>{name}</domain:name>{auth}</domain:transfer></transfer>'


async def expect(client, body: str, code: int):
    reply = await client.command(body)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


@pytest.mark.parametrize(
    ("name", "period", "code"),
    [
        ("fine.test", '<domain:period unit="y">10</domain:period>', 1000),
        ("fine.test", '<domain:period unit="m">24</domain:period>', 1000),
        ("fine.test", '<domain:period unit="y">11</domain:period>', 2004),
        ("fine.test", '<domain:period unit="m">13</domain:period>', 2306),
        ("fine.org", '<domain:period unit="y">1</domain:period>', 2306),  # TLD not served
        (
            "a.b.test",
            '<domain:period unit="y">1</domain:period>',
            2306,
        ),  # not directly under the TLD
        ("xn--bcher-kva.test", '<domain:period unit="y">1</domain:period>', 1000),  # bücher
        (
            "xn--bcher-kvb.test",
            '<domain:period unit="y">1</domain:period>',
            2005,
        ),  # invalid A-label
        (
            "bücher.test",
            '<domain:period unit="y">1</domain:period>',
            2005,
        ),  # U-labels are not EPP names
        ("-lead.test", '<domain:period unit="y">1</domain:period>', 2005),
        ("ab--cd.test", '<domain:period unit="y">1</domain:period>', 2005),
    ],
)
async def test_create_name_and_period_rules(connect, db, name, period, code):
    client = await connect("ClientX")
    before = dump(db)
    await expect(client, create(name, period), code)
    if code != 1000:
        assert dump(db) == before


async def test_create_expiry_is_period_from_now(connect):
    client = await connect("ClientX")
    reply = await expect(
        client, create("dated.test", '<domain:period unit="y">3</domain:period>'), 1000
    )
    assert reply.findtext(".//domain:crDate") == "2026-01-15T12:00:00.0Z"
    assert reply.findtext(".//domain:exDate") == "2029-01-15T12:00:00.0Z"


async def test_create_by_registrar_not_accredited_for_the_tld_is_2201(connect, db):
    with db.write() as conn:
        registry.add_registrar(
            conn, Clock().now(), clid="Outsider", name="O", password="secret-PW1", tlds=["com"]
        )
    client = await connect()
    assert (await client.login("Outsider", "secret-PW1")).code == 1000
    await expect(client, create("nope.test"), 2201)


async def test_create_existing_name_is_2302_and_unknown_references_2303(connect):
    client = await connect("ClientX")
    await expect(client, create("taken.test"), 1000)
    await expect(client, create("taken.test"), 2302)
    ns = "<domain:ns><domain:hostObj>ns1.nowhere.example</domain:hostObj></domain:ns>"
    await expect(client, create("other.test", extra=ns), 2303)
    await expect(
        client, create("other.test", extra="<domain:registrant>ghost1</domain:registrant>"), 2303
    )


async def test_info_hosts_attribute_selects_delegated_and_subordinate_hosts(connect):
    client = await connect("ClientX")
    await expect(client, create("zone.test"), 1000)
    await expect(client, host("ns1.zone.test", "192.0.2.1"), 1000)
    await expect(client, host("ns.external.example"), 1000)
    ns = "<domain:ns><domain:hostObj>ns.external.example</domain:hostObj></domain:ns>"
    await expect(client, update("zone.test", f"<domain:add>{ns}</domain:add>"), 1000)

    async def info(hosts: str):
        return await expect(
            client,
            f'<info><domain:info {D}><domain:name hosts="{hosts}">zone.test</domain:name></domain:info></info>',
            1000,
        )

    r = await info("all")
    assert [e.text for e in r.findall(".//domain:hostObj")] == ["ns.external.example"]
    assert [e.text for e in r.findall(".//domain:host")] == ["ns1.zone.test"]
    r = await info("del")
    assert r.findall(".//domain:hostObj") and not r.findall(".//domain:host")
    r = await info("sub")
    assert not r.findall(".//domain:hostObj") and r.findall(".//domain:host")
    r = await info("none")
    assert not r.findall(".//domain:hostObj") and not r.findall(".//domain:host")


async def test_client_statuses_prohibit_what_they_name(connect, db):
    client = await connect("ClientX")
    await expect(client, create("locked.test"), 1000)
    statuses = "".join(
        f'<domain:status s="{s}"/>'
        for s in (
            "clientDeleteProhibited",
            "clientRenewProhibited",
            "clientTransferProhibited",
            "clientUpdateProhibited",
        )
    )
    await expect(client, update("locked.test", f"<domain:add>{statuses}</domain:add>"), 1000)
    before = dump(db)
    await expect(
        client,
        f"<delete><domain:delete {D}><domain:name>locked.test</domain:name></domain:delete></delete>",
        2304,
    )
    await expect(client, renew("locked.test", "2027-01-15"), 2304)
    chg = "<domain:chg><domain:authInfo><domain:pw>new-AUTH1</domain:pw></domain:authInfo></domain:chg>"
    await expect(client, update("locked.test", chg), 2304)
    other = await connect("ClientY")
    await expect(other, transfer("request", "locked.test", "auth-INFO1"), 2304)
    assert dump(db) == before
    # Removing clientUpdateProhibited alone is allowed; then updates work again.
    await expect(
        client,
        update(
            "locked.test", '<domain:rem><domain:status s="clientUpdateProhibited"/></domain:rem>'
        ),
        1000,
    )
    await expect(client, update("locked.test", chg), 1000)


async def test_server_statuses_cannot_be_set_by_registrars(connect):
    client = await connect("ClientX")
    await expect(client, create("srv.test"), 1000)
    await expect(
        client, update("srv.test", '<domain:add><domain:status s="serverHold"/></domain:add>'), 2306
    )


async def test_renew_checks_current_expiry_and_ten_year_cap(connect):
    client = await connect("ClientX")
    await expect(client, create("renewme.test", '<domain:period unit="y">2</domain:period>'), 1000)
    await expect(client, renew("renewme.test", "2027-01-15"), 2306)  # wrong curExpDate
    await expect(client, renew("renewme.test", "2028-01-15", 9), 2004)  # 2037 > now + 10y
    reply = await expect(client, renew("renewme.test", "2028-01-15", 8), 1000)
    assert reply.findtext(".//domain:exDate") == "2036-01-15T12:00:00.0Z"


async def test_transfer_request_approve_moves_sponsor_extends_expiry_and_polls_both(
    connect, db, clock
):
    x = await connect("ClientX")
    y = await connect("ClientY")
    await expect(x, create("moving.test"), 1000)
    await expect(x, host("ns1.moving.test", "192.0.2.7"), 1000)
    clock.advance(timedelta(days=70))
    r = await expect(y, transfer("request", "moving.test", "auth-INFO1"), 1001)
    assert r.findtext(".//domain:trStatus") == "pending"
    assert r.findtext(".//domain:reID") == "ClientY" and r.findtext(".//domain:acID") == "ClientX"
    assert r.findtext(".//domain:exDate") == "2028-01-15T12:00:00.0Z"
    await expect(y, transfer("request", "moving.test", "auth-INFO1"), 2300)

    # The losing registrar learns of the request by poll.
    r = await expect(x, '<poll op="req"/>', 1301)
    assert r.findtext(".//domain:trStatus") == "pending"
    msg_id = r.find(".//epp:msgQ").get("id")
    await expect(x, f'<poll op="ack" msgID="{msg_id}"/>', 1000)
    await expect(x, '<poll op="req"/>', 1300)

    info = await expect(
        x,
        f"<info><domain:info {D}><domain:name>moving.test</domain:name></domain:info></info>",
        1000,
    )
    assert "pendingTransfer" in {e.get("s") for e in info.findall(".//domain:status")}

    await expect(x, transfer("approve", "moving.test"), 1000)
    info = await expect(
        y,
        f"<info><domain:info {D}><domain:name>moving.test</domain:name></domain:info></info>",
        1000,
    )
    assert info.findtext(".//domain:clID") == "ClientY"
    assert info.findtext(".//domain:exDate") == "2028-01-15T12:00:00.0Z"
    assert info.findtext(".//domain:trDate") is not None
    # RFC 9154 section 5.4: the transfer unset the authInfo: the new sponsor sees none, and
    # the old one authorises nothing any more.
    assert info.find(".//domain:authInfo") is None
    z = await connect("ClientZ")
    await expect(z, transfer("request", "moving.test", "auth-INFO1"), 2202)
    assert "pendingTransfer" not in {e.get("s") for e in info.findall(".//domain:status")}
    # The subordinate host moved with its domain.
    h = await expect(
        y, f"<info><host:info {H}><host:name>ns1.moving.test</host:name></host:info></info>", 1000
    )
    assert h.findtext(".//host:clID") == "ClientY"
    r = await expect(y, '<poll op="req"/>', 1301)
    assert r.findtext(".//domain:trStatus") == "clientApproved"
    r = await expect(x, '<poll op="req"/>', 1301)
    assert r.findtext(".//domain:trStatus") == "clientApproved"


async def test_transfer_reject_and_cancel(connect):
    x = await connect("ClientX")
    y = await connect("ClientY")
    await expect(x, create("stay.test"), 1000)
    await expect(y, transfer("request", "stay.test", "auth-INFO1"), 1001)
    r = await expect(x, transfer("reject", "stay.test"), 1000)
    assert r.findtext(".//domain:trStatus") == "clientRejected"
    await expect(y, transfer("request", "stay.test", "auth-INFO1"), 1001)
    r = await expect(y, transfer("cancel", "stay.test"), 1000)
    assert r.findtext(".//domain:trStatus") == "clientCancelled"
    r = await expect(x, transfer("query", "stay.test"), 1000)
    assert r.findtext(".//domain:trStatus") == "clientCancelled"
    await expect(x, transfer("request", "stay.test", "auth-INFO1"), 2106)  # already the sponsor


async def test_every_transform_writes_one_history_row_with_the_response_svtrid(connect, db):
    client = await connect("ClientX")
    replies = [
        await expect(client, create("hist.test"), 1000),
        await expect(
            client,
            update("hist.test", '<domain:add><domain:status s="clientHold"/></domain:add>'),
            1000,
        ),
        await expect(client, renew("hist.test", "2027-01-15"), 1000),
        await expect(
            client,
            f"<delete><domain:delete {D}><domain:name>hist.test</domain:name></domain:delete></delete>",
            1000,
        ),
    ]
    await expect(
        client,
        f"<check><domain:check {D}><domain:name>hist.test</domain:name></domain:check></check>",
        1000,
    )
    with db.read() as conn:
        rows = conn.execute(
            select(t.history.c.svtrid, t.history.c.command, t.history.c.cltrid)
            .where(t.history.c.object_name == "hist.test")
            .order_by(t.history.c.id)
        ).all()
    assert [r.command for r in rows] == [
        "domain:create",
        "domain:update",
        "domain:renew",
        "domain:delete",
    ]
    assert [r.svtrid for r in rows] == [r.findtext(".//epp:svTRID") for r in replies]
    assert [r.cltrid for r in rows] == [r.findtext(".//epp:clTRID") for r in replies]


async def test_deleted_name_is_available_again(connect):
    client = await connect("ClientX")
    await expect(client, create("again.test"), 1000)
    await expect(
        client,
        f"<delete><domain:delete {D}><domain:name>again.test</domain:name></domain:delete></delete>",
        1000,
    )
    r = await client.domain_check("again.test")
    assert r.find(".//domain:name").get("avail") == "1"
    await expect(client, create("again.test"), 1000)


async def test_poll_ack_of_unknown_message_is_2303(connect):
    client = await connect("ClientX")
    await expect(client, '<poll op="ack" msgID="999999"/>', 2303)
