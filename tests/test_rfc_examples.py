"""Every client example of RFC 5730-5733 (../shared/reference/epp-examples, the `C:` lines)
sent verbatim to a running server, each answer checked and validated against the schemas.

The examples reference objects (contacts jd1234, mak21; hosts ns1/ns2.example.net) and a
history (example.com created 1998-04-03 for two years, so that renew's curExpDate
2000-04-03 is right). The test builds that world first, with the clock set to the RFC's
dates. Two examples name the registrant's ROID as "JD1234-REP"; that ROID is replaced with
the one this server assigned to jd1234, the only change made to any example.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from domreg.clock import FixedClock
from domreg.epp.client import parse_reply
from domreg.jobs import run_until
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid, reference


@pytest.fixture
def db(shared_db: Database) -> Database:
    """Only .com and .test are served, so the example's ns1/ns2.example.net are external hosts."""
    support.empty(shared_db)
    support.setup_registry(shared_db, tlds=("com", "test"))
    return shared_db


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(1998, 4, 3, 22, 0, 0))


def example(rfc: str, name: str) -> bytes:
    path: Path = reference("epp-examples", rfc, name)
    return path.read_bytes()


async def send(client, rfc: str, name: str, expect: int, replace: dict[str, str] | None = None):
    data = example(rfc, name)
    for old, new in (replace or {}).items():
        data = data.replace(old.encode(), new.encode())
    raw = await client.send_raw(data)
    assert_schema_valid(raw)
    reply = parse_reply(raw)
    assert reply.code == expect, f"{rfc}/{name}: {raw.decode()}"
    sent = re.search(rb"<clTRID>(.*?)</clTRID>", data)
    if sent:
        assert reply.findtext("epp:response/epp:trID/epp:clTRID") == sent.group(1).decode()
    return reply


CONTACT = """<create><contact:create xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">
<contact:id>{id}</contact:id><contact:postalInfo type="int"><contact:name>{id} Name</contact:name>
<contact:addr><contact:city>Dulles</contact:city><contact:cc>US</contact:cc></contact:addr>
</contact:postalInfo><contact:email>{id}@example.com</contact:email>
<contact:authInfo><contact:pw>2fooBAR</contact:pw></contact:authInfo></contact:create></create>"""

HOST = """<create><host:create xmlns:host="urn:ietf:params:xml:ns:host-1.0">
<host:name>{name}</host:name>{addr}</host:create></create>"""

UPDATE_NS = """<update><domain:update xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
<domain:name>example.com</domain:name><domain:{op}><domain:ns><domain:hostObj>{host}</domain:hostObj>
</domain:ns></domain:{op}></domain:update></update>"""


async def ok(client, body: str) -> None:
    reply = await client.command(body)
    assert_schema_valid(reply.raw)
    assert reply.code == 1000, reply.raw.decode()


async def test_rfc5731_5732_5733_examples_run_against_the_server(connect, clock, db):
    x = await connect()
    # RFC 5730 login example announces placeholder objects: refused precisely (2307).
    await send(x, "rfc5730", "13-c-login.xml", 2307)
    assert (await x.login("ClientX", "foo-BAR2")).code == 1000
    y = await connect("ClientY")

    # Contacts: sh8013 from RFC 5733, jd1234 and mak21 that RFC 5731 refers to.
    await send(x, "rfc5733", "07-c-contact-create.xml", 1000)
    for handle in ("jd1234", "mak21"):
        await ok(x, CONTACT.format(id=handle))
    reply = await send(x, "rfc5733", "01-c-contact-check.xml", 1000)
    avail = {e.text: e.get("avail") for e in reply.findall(".//contact:id")}
    assert avail == {"sh8013": "0", "sah8013": "1", "8013sah": "1"}
    reply = await send(x, "rfc5733", "03-c-contact-info.xml", 1000)
    assert reply.findtext(".//contact:email") == "jdoe@example.com"

    # External hosts the RFC 5731 create example delegates to.
    for name in ("ns1.example.net", "ns2.example.net"):
        await ok(x, HOST.format(name=name, addr=""))
    reply = await send(x, "rfc5731", "01-c-domain-check.xml", 1000)
    avail = {e.text: e.get("avail") for e in reply.findall(".//domain:name")}
    assert avail == {"example.com": "1", "example.net": "0", "example.org": "0"}
    reply = await send(x, "rfc5731", "09-c-domain-create.xml", 1000)
    assert reply.findtext(".//domain:exDate").startswith("2000-04-03T22:00:00")
    reply = await send(x, "rfc5731", "03-c-domain-info.xml", 1000)
    assert [e.text for e in reply.findall(".//domain:hostObj")] == [
        "ns1.example.net",
        "ns2.example.net",
    ]
    assert reply.findtext(".//domain:registrant") == "jd1234"
    await send(y, "rfc5731", "04-c-domain-info-authinfo.xml", 1000)

    # RFC 5732: subordinate host create, check, info, update with rename.
    clock.set(datetime(1999, 4, 3, 22, 0, 0))
    await send(x, "rfc5732", "05-c-host-create.xml", 1000)
    reply = await send(x, "rfc5732", "01-c-host-check.xml", 1000)
    avail = {e.text: e.get("avail") for e in reply.findall(".//host:name")}
    assert avail == {"ns1.example.com": "0", "ns2.example.com": "1", "ns3.example.com": "1"}
    reply = await send(x, "rfc5732", "03-c-host-info.xml", 1000)
    assert sorted(e.text for e in reply.findall(".//host:addr")) == sorted(
        ["192.0.2.2", "192.0.2.29", "1080::8:800:200c:417a"]
    )
    await send(x, "rfc5732", "09-c-host-update.xml", 1000)  # ns1 renamed to ns2.example.com

    # RFC 5731 update: removes ns1.example.com (re-created and delegated first), adds ns2.
    await ok(
        x, HOST.format(name="ns1.example.com", addr='<host:addr ip="v4">192.0.2.2</host:addr>')
    )
    await ok(x, UPDATE_NS.format(op="add", host="ns1.example.com"))
    await send(x, "rfc5731", "17-c-domain-update.xml", 1000)
    reply = await send(x, "rfc5731", "03-c-domain-info.xml", 1000)
    assert [e.text for e in reply.findall(".//domain:hostObj")] == [
        "ns1.example.net",
        "ns2.example.com",
        "ns2.example.net",
    ]
    assert {e.get("s") for e in reply.findall(".//domain:status")} == {"clientHold"}
    assert reply.findtext(".//domain:registrant") == "sh8013"
    # RFC 9154: the authInfo is stored hashed and never shown; the sponsor sees an empty
    # <domain:pw/> saying one is set. The update's 2BARfoo now authorises another registrar
    # (without telling it whether one is set); the create's 2fooBAR no longer does.
    pw = reply.find(".//domain:authInfo/domain:pw")
    assert pw is not None and not pw.text
    other = await y.domain_info("example.com", "2BARfoo")
    assert_schema_valid(other.raw)
    assert other.code == 1000 and other.find(".//domain:authInfo") is None
    assert other.findtext(".//domain:registrant") == "sh8013"
    await send(y, "rfc5731", "04-c-domain-info-authinfo.xml", 2202)

    # Renew with the curExpDate of the example, five years.
    reply = await send(x, "rfc5731", "13-c-domain-renew.xml", 1000)
    assert reply.findtext(".//domain:exDate").startswith("2005-04-03")

    # Transfer: ClientY requests with the registrant's authInfo (roid-qualified).
    with db.read() as conn:
        jd_roid = conn.execute(
            select(t.contacts.c.roid).where(t.contacts.c.handle == "jd1234")
        ).scalar_one()
    await ok(
        x,
        """<update><domain:update xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name><domain:chg><domain:registrant>jd1234</domain:registrant>
        </domain:chg></domain:update></update>""",
    )
    roid = {"JD1234-REP": jd_roid}
    reply = await send(y, "rfc5731", "15-c-domain-transfer-request.xml", 1001, roid)
    assert reply.findtext(".//domain:trStatus") == "pending"
    reply = await send(y, "rfc5731", "07-c-domain-transfer-query.xml", 1000, roid)
    assert reply.findtext(".//domain:reID") == "ClientY"
    reply = await x.command(
        """<transfer op="approve"><domain:transfer xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name></domain:transfer></transfer>"""
    )
    assert_schema_valid(reply.raw)
    assert reply.code == 1000

    # Delete: the subordinate hosts go first (RFC 5731 forbids deleting a domain with them).
    await send(y, "rfc5732", "07-c-host-delete.xml", 1000)  # ns1.example.com, now ClientY's
    await send(y, "rfc5731", "11-c-domain-delete.xml", 2305)  # ns2.example.com still exists
    await ok(y, UPDATE_NS.format(op="rem", host="ns2.example.com"))
    await ok(
        y,
        """<delete><host:delete xmlns:host="urn:ietf:params:xml:ns:host-1.0">
        <host:name>ns2.example.com</host:name></host:delete></delete>""",
    )
    # Out of its add grace period (created by X), the name goes into redemption (RFC 3915);
    # the lifecycle jobs purge it 35 days later, which frees sh8013 for its delete below.
    await send(y, "rfc5731", "11-c-domain-delete.xml", 1001)
    clock.advance(timedelta(days=35))
    assert run_until(db, clock.now()) == 2

    # RFC 5733 transfer, update and delete of sh8013.
    reply = await send(y, "rfc5733", "11-c-contact-transfer-request.xml", 1001)
    assert reply.findtext(".//contact:trStatus") == "pending"
    await send(y, "rfc5733", "05-c-contact-transfer-query.xml", 1000)
    await send(x, "rfc5733", "13-c-contact-update.xml", 2304)  # pendingTransfer blocks updates
    await ok(
        x,
        """<transfer op="approve"><contact:transfer xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">
        <contact:id>sh8013</contact:id></contact:transfer></transfer>""",
    )
    await send(y, "rfc5733", "13-c-contact-update.xml", 1000)
    await send(
        y, "rfc5733", "09-c-contact-delete.xml", 2304
    )  # the update set clientDeleteProhibited
    await ok(
        y,
        """<update><contact:update xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">
        <contact:id>sh8013</contact:id><contact:rem><contact:status s="clientDeleteProhibited"/>
        </contact:rem></contact:update></update>""",
    )
    await send(y, "rfc5733", "09-c-contact-delete.xml", 1000)


# RFC 5730 defines no object: its object examples use placeholder namespaces (2307), and its
# section 2.7 templates are not EPP documents at all (2001).
RFC5730_EXPECTED = {
    "03-c-command.xml": 2307,
    "08-c-protocol-extension-template.xml": 2001,
    "09-c-object-command-template.xml": 2001,
    "11-c-command-extension-template.xml": 2001,
    "17-c-check.xml": 2307,
    "19-c-info.xml": 2307,
    "21-c-poll.xml": 1300,
    "23-c-poll-ack.xml": 2303,  # message 12345 does not exist
    "27-c-transfer-query.xml": 2307,
    "29-c-create.xml": 2307,
    "31-c-delete.xml": 2307,
    "33-c-renew.xml": 2307,
    "35-c-transfer.xml": 2307,
    "37-c-update.xml": 2307,
}


@pytest.mark.parametrize("name", sorted(RFC5730_EXPECTED))
async def test_rfc5730_examples_get_their_precise_result(connect, name):
    client = await connect("ClientX")
    await send(client, "rfc5730", name, RFC5730_EXPECTED[name])


async def test_rfc5730_hello_and_logout_examples(connect):
    client = await connect()
    greeting = await client.send_raw(example("rfc5730", "01-c-hello.xml"))
    assert_schema_valid(greeting)
    assert b"<greeting>" in greeting
    assert (await client.login("ClientX", "foo-BAR2")).code == 1000
    await send(client, "rfc5730", "15-c-logout.xml", 1500)


def test_every_client_example_is_covered():
    covered = set(RFC5730_EXPECTED) | {"01-c-hello.xml", "13-c-login.xml", "15-c-logout.xml"}
    files = {p.name for p in reference("epp-examples", "rfc5730").glob("*-c-*.xml")}
    assert files == covered
    source = Path(__file__).read_text()
    for rfc in ("rfc5731", "rfc5732", "rfc5733"):
        for p in reference("epp-examples", rfc).glob("*-c-*.xml"):
            assert f'"{rfc}", "{p.name}"' in source, f"{rfc}/{p.name} is not sent by any test"
