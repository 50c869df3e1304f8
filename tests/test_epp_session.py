"""EPP session behaviour (RFC 5730 section 2 and RFC 5734): greeting, login, logout, hello."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from domreg.epp.client import parse_reply
from tests.support import assert_schema_valid


async def test_greeting_on_connect_announces_objects_and_current_svdate(connect):
    client = await connect()
    assert_schema_valid(client.greeting)
    reply = parse_reply(client.greeting)
    uris = [e.text for e in reply.findall("epp:greeting/epp:svcMenu/epp:objURI")]
    assert uris == [
        "urn:ietf:params:xml:ns:domain-1.0",
        "urn:ietf:params:xml:ns:host-1.0",
        "urn:ietf:params:xml:ns:contact-1.0",
    ]
    sv_date = reply.findtext("epp:greeting/epp:svDate")
    assert sv_date is not None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\dZ", sv_date)
    when = datetime.strptime(sv_date[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 60


async def test_hello_returns_a_greeting_before_and_after_login(connect):
    client = await connect()
    assert b"<greeting>" in await client.hello()
    assert (await client.login("ClientX", "foo-BAR2")).code == 1000
    greeting = await client.hello()
    assert_schema_valid(greeting)
    assert b"<greeting>" in greeting


async def test_login_with_right_password_succeeds_and_logout_ends_session(connect):
    client = await connect()
    reply = await client.login("ClientX", "foo-BAR2")
    assert reply.code == 1000
    assert_schema_valid(reply.raw)
    reply = await client.logout()
    assert reply.code == 1500
    assert_schema_valid(reply.raw)
    assert await client.reader.read() == b""  # the server closed the connection


async def test_wrong_password_is_2200_and_third_failure_closes_with_2501(connect):
    client = await connect()
    assert (await client.login("ClientX", "wrong-pw1")).code == 2200
    assert (await client.login("NoSuchReg", "wrong-pw1")).code == 2200
    reply = await client.login("ClientX", "wrong-pw1")
    assert reply.code == 2501
    assert_schema_valid(reply.raw)
    assert await client.reader.read() == b""


async def test_commands_before_login_are_2002(connect):
    client = await connect()
    reply = await client.domain_check("example.test")
    assert reply.code == 2002
    assert_schema_valid(reply.raw)


async def test_second_login_in_a_session_is_2002(connect):
    client = await connect("ClientX")
    assert (await client.login("ClientX", "foo-BAR2")).code == 2002


async def test_login_with_unimplemented_object_service_is_2307(connect):
    client = await connect()
    reply = await client.login("ClientX", "foo-BAR2", objects=("urn:ietf:params:xml:ns:obj1",))
    assert reply.code == 2307


async def test_new_password_replaces_the_old_one(connect):
    client = await connect()
    assert (await client.login("ClientY", "bar-FOO2", new_password="new-PASS9")).code == 1000
    other = await connect()
    assert (await other.login("ClientY", "bar-FOO2")).code == 2200
    assert (await other.login("ClientY", "new-PASS9")).code == 1000


async def test_objects_not_announced_at_login_are_2307(connect):
    client = await connect()
    reply = await client.login("ClientX", "foo-BAR2", objects=("urn:ietf:params:xml:ns:host-1.0",))
    assert reply.code == 1000
    reply = await client.domain_check("example.test")
    assert reply.code == 2307


async def test_svtrid_is_unique_per_response(connect):
    client = await connect("ClientX")
    ids = set()
    for _ in range(20):
        reply = await client.domain_check("example.test")
        ids.add(reply.findtext("epp:response/epp:trID/epp:svTRID"))
    assert len(ids) == 20
