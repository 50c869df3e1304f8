"""Authorisation matrix: registrar B attempting every transform on registrar A's objects gets
the RFC's answer (2201, or 2202/2106/2301 where the RFC prescribes those) and nothing changes."""

from __future__ import annotations

import pytest

from tests.support import assert_schema_valid, dump

D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
H = 'xmlns:host="urn:ietf:params:xml:ns:host-1.0"'
C = 'xmlns:contact="urn:ietf:params:xml:ns:contact-1.0"'

SETUP = [
    f"""<create><contact:create {C}><contact:id>owner-a</contact:id><contact:postalInfo type="int">
    <contact:name>A Owner</contact:name><contact:addr><contact:city>Paris</contact:city><contact:cc>FR</contact:cc>
    </contact:addr></contact:postalInfo><contact:email>a@example.org</contact:email>
    <contact:authInfo><contact:pw>contact-SECRET1</contact:pw></contact:authInfo></contact:create></create>""",
    f"""<create><domain:create {D}><domain:name>owned-by-a.test</domain:name><domain:registrant>owner-a</domain:registrant>
    <domain:authInfo><domain:pw>domain-SECRET1</domain:pw></domain:authInfo></domain:create></create>""",
    f"""<create><host:create {H}><host:name>ns1.owned-by-a.test</host:name>
    <host:addr ip="v4">192.0.2.10</host:addr></host:create></create>""",
]

ATTEMPTS = {
    "domain update": (
        f"""<update><domain:update {D}><domain:name>owned-by-a.test</domain:name><domain:chg>
        <domain:authInfo><domain:pw>stolen-PW1</domain:pw></domain:authInfo></domain:chg></domain:update></update>""",
        2201,
    ),
    "domain delete": (
        f"<delete><domain:delete {D}><domain:name>owned-by-a.test</domain:name></domain:delete></delete>",
        2201,
    ),
    "domain renew": (
        f"""<renew><domain:renew {D}><domain:name>owned-by-a.test</domain:name>
        <domain:curExpDate>2030-01-01</domain:curExpDate></domain:renew></renew>""",
        2201,
    ),
    "domain transfer approve": (
        f'<transfer op="approve"><domain:transfer {D}><domain:name>owned-by-a.test</domain:name></domain:transfer></transfer>',
        2301,  # nothing is pending; with a pending transfer it is 2201 (tested below)
    ),
    "domain transfer request with wrong authInfo": (
        f"""<transfer op="request"><domain:transfer {D}><domain:name>owned-by-a.test</domain:name>
        <domain:authInfo><domain:pw>guessed-PW1</domain:pw></domain:authInfo></domain:transfer></transfer>""",
        2202,
    ),
    "domain transfer query without authInfo": (
        f'<transfer op="query"><domain:transfer {D}><domain:name>owned-by-a.test</domain:name></domain:transfer></transfer>',
        2201,
    ),
    "domain info with wrong authInfo": (
        f"""<info><domain:info {D}><domain:name>owned-by-a.test</domain:name>
        <domain:authInfo><domain:pw>guessed-PW1</domain:pw></domain:authInfo></domain:info></info>""",
        2202,
    ),
    "host update": (
        f"""<update><host:update {H}><host:name>ns1.owned-by-a.test</host:name><host:add>
        <host:addr ip="v4">192.0.2.66</host:addr></host:add></host:update></update>""",
        2201,
    ),
    "host delete": (
        f"<delete><host:delete {H}><host:name>ns1.owned-by-a.test</host:name></host:delete></delete>",
        2201,
    ),
    "host create under another's domain": (
        f"""<create><host:create {H}><host:name>ns2.owned-by-a.test</host:name>
        <host:addr ip="v4">192.0.2.11</host:addr></host:create></create>""",
        2201,
    ),
    "contact update": (
        f"""<update><contact:update {C}><contact:id>owner-a</contact:id><contact:chg>
        <contact:email>thief@example.org</contact:email></contact:chg></contact:update></update>""",
        2201,
    ),
    "contact delete": (
        f"<delete><contact:delete {C}><contact:id>owner-a</contact:id></contact:delete></delete>",
        2201,
    ),
    "contact transfer request with wrong authInfo": (
        f"""<transfer op="request"><contact:transfer {C}><contact:id>owner-a</contact:id>
        <contact:authInfo><contact:pw>guessed-PW1</contact:pw></contact:authInfo></contact:transfer></transfer>""",
        2202,
    ),
    "contact transfer reject": (
        f'<transfer op="reject"><contact:transfer {C}><contact:id>owner-a</contact:id></contact:transfer></transfer>',
        2301,
    ),
}


@pytest.fixture
async def world(connect):
    a = await connect("ClientX")
    for body in SETUP:
        reply = await a.command(body)
        assert reply.code == 1000, reply.raw
    return a, await connect("ClientY")


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
async def test_other_registrar_cannot_touch_objects(world, db, attempt):
    _, b = world
    body, expected = ATTEMPTS[attempt]
    before = dump(db)
    reply = await b.command(body)
    assert_schema_valid(reply.raw)
    assert reply.code == expected, reply.raw.decode()
    assert dump(db) == before


async def test_non_sponsor_info_without_authinfo_shows_no_details(world):
    _, b = world
    reply = await b.domain_info("owned-by-a.test")
    assert reply.code == 1000
    assert_schema_valid(reply.raw)
    assert reply.findtext(".//domain:clID") == "ClientX"
    assert reply.find(".//domain:registrant") is None
    assert reply.find(".//domain:authInfo") is None
    assert reply.find(".//domain:exDate") is None


async def test_pending_transfer_can_only_be_approved_by_the_sponsor_and_cancelled_by_the_gainer(
    world, db, connect
):
    a, b = world
    z = await connect("ClientZ")
    request = f"""<transfer op="request"><domain:transfer {D}><domain:name>owned-by-a.test</domain:name>
        <domain:authInfo><domain:pw>domain-SECRET1</domain:pw></domain:authInfo></domain:transfer></transfer>"""
    assert (await b.command(request)).code == 1001
    for op, who in (("approve", b), ("reject", b), ("approve", z), ("cancel", z), ("cancel", a)):
        before = dump(db)
        body = f'<transfer op="{op}"><domain:transfer {D}><domain:name>owned-by-a.test</domain:name></domain:transfer></transfer>'
        reply = await who.command(body)
        assert reply.code == 2201, (op, reply.raw)
        assert dump(db) == before
