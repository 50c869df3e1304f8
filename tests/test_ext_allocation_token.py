"""allocationToken-1.0 (RFC 8495) over EPP, in the flows and in `domreg token`: the RFC's
check, create and info examples, copied verbatim, validated against the official schemas and
sent to a running server; a reserved name created with a token that allows it; the token's
discount charged exactly (ledger); a single-use token refused the second time (2201) with
nothing changed, also when two sessions race for it; expiry; a token for another
registrar, TLD or name (2201, precise reasons); the CLI.

Set-up for the RFC's examples: TLD "example", the labels "allocation" and "allocation2"
reserved, and token "abc123" bound to allocation.example and allowing reserved names, so
"abc123 matches allocation.example but does not match allocation2.example" (section 3.1.1).
The create example names contacts jd1234 and sh8013, created first. `<allocationToken:info>`
(section 3.1.2) is not supported: its example answers 2102 (the RFC's info response is only
validated).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domreg.cli.main import main
from domreg.clock import FixedClock
from domreg.epp.extensions import allocation_token
from domreg.flows import pricing, tokens
from domreg.flows.base import Actor, Context, SvTrIds
from domreg.flows.registry import RegistryError
from domreg.model.errors import EppError
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid, dump

START = datetime(2026, 1, 15, 12, 0, 0)
DAY = timedelta(days=1)
URI = allocation_token.URI
D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
AT = f'xmlns:allocationToken="{URI}"'

# ---------------------------------------------------------------- RFC 8495 examples, verbatim

CHECK = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <check>
      <domain:check
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>allocation.example</domain:name>
      </domain:check>
    </check>
    <extension>
      <allocationToken:allocationToken
        xmlns:allocationToken=
          "urn:ietf:params:xml:ns:allocationToken-1.0">
        abc123
      </allocationToken:allocationToken>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

CHECK_RESPONSE = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
 <response>
  <result code="1000">
   <msg lang="en-US">Command completed successfully</msg>
  </result>
  <resData>
   <domain:chkData
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
    <domain:cd>
     <domain:name avail="1">allocation.example</domain:name>
    </domain:cd>
   </domain:chkData>
  </resData>
  <trID>
   <clTRID>ABC-DEF-12345</clTRID>
   <svTRID>54321-XYZ</svTRID>
  </trID>
 </response>
</epp>"""

CHECK_TWO = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
 <command>
  <check>
   <domain:check
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
    <domain:name>allocation.example</domain:name>
    <domain:name>allocation2.example</domain:name>
   </domain:check>
  </check>
  <extension>
   <allocationToken:allocationToken
     xmlns:allocationToken=
       "urn:ietf:params:xml:ns:allocationToken-1.0">
     abc123
   </allocationToken:allocationToken>
  </extension>
  <clTRID>ABC-DEF-12345</clTRID>
 </command>
</epp>"""

CHECK_TWO_RESPONSE = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
 <response>
  <result code="1000">
   <msg lang="en-US">Command completed successfully</msg>
  </result>
  <resData>
   <domain:chkData
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
    <domain:cd>
     <domain:name avail="1">allocation.example</domain:name>
    </domain:cd>
    <domain:cd>
     <domain:name avail="0">allocation2.example</domain:name>
     <domain:reason>Allocation Token mismatch</domain:reason>
    </domain:cd>
   </domain:chkData>
  </resData>
  <trID>
   <clTRID>ABC-DEF-12345</clTRID>
   <svTRID>54321-XYZ</svTRID>
  </trID>
 </response>
</epp>"""

INFO = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
   <info>
    <domain:info
      xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
      <domain:name>allocation.example</domain:name>
    </domain:info>
   </info>
   <extension>
      <allocationToken:info
        xmlns:allocationToken=
          "urn:ietf:params:xml:ns:allocationToken-1.0"/>
   </extension>
   <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

INFO_RESPONSE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
    </result>
    <resData>
      <domain:infData
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>allocation.example</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:status s="pendingCreate"/>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:clID>ClientX</domain:clID>
        <domain:crID>ClientY</domain:crID>
        <domain:crDate>2012-04-03T22:00:00.0Z</domain:crDate>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:infData>
    </resData>
    <extension>
      <allocationToken:allocationToken
        xmlns:allocationToken=
          "urn:ietf:params:xml:ns:allocationToken-1.0">
        abc123
      </allocationToken:allocationToken>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>"""

CREATE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <create>
      <domain:create
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>allocation.example</domain:name>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:create>
    </create>
    <extension>
      <allocationToken:allocationToken
        xmlns:allocationToken=
          "urn:ietf:params:xml:ns:allocationToken-1.0">
        abc123
      </allocationToken:allocationToken>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

EXAMPLES = [CHECK, CHECK_RESPONSE, CHECK_TWO, CHECK_TWO_RESPONSE, INFO, INFO_RESPONSE, CREATE]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db, START, tlds=("example", "test", "com"))
    with shared_db.write() as conn:
        reserved = pricing.parse_reserved("allocation,founders\nallocation2,founders\nnic,ops\n")
        pricing.load_reserved(conn, "example", reserved)
        pricing.load_reserved(conn, "test", [pricing.Reserved("nic", "ops")])
        tokens.add(conn, START, "abc123", domain_name="allocation.example", allows_reserved=True)
    return shared_db


def _add(db: Database, token: str, **kw: Any) -> None:
    with db.write() as conn:
        tokens.add(conn, START, token, **kw)


def _token(db: Database, token: str) -> tokens.Token:
    with db.read() as conn:
        found = tokens.find(conn, token)
    assert found is not None
    return found


async def _client(connect: Any, clid: str = "ClientX") -> Any:
    client = await connect()
    reply = await client.login(clid, support.PASSWORDS[clid], extensions=(URI,))
    assert reply.code == 1000, reply.raw
    return client


async def _send(client: Any, body: str, code: int, extension: str = "") -> Any:
    reply = await client.command(body, extension=extension)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


async def _request(client: Any, xml: str, code: int) -> Any:
    reply = await client.request(xml)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


def _create(name: str) -> str:
    return (
        f"<create><domain:create {D}><domain:name>{name}</domain:name>"
        '<domain:period unit="y">1</domain:period>'
        "<domain:authInfo><domain:pw>2fooBAR</domain:pw></domain:authInfo>"
        "</domain:create></create>"
    )


def _check(*names: str) -> str:
    inner = "".join(f"<domain:name>{n}</domain:name>" for n in names)
    return f"<check><domain:check {D}>{inner}</domain:check></check>"


def _ext(token: str) -> str:
    return f"<allocationToken:allocationToken {AT}>{token}</allocationToken:allocationToken>"


def _contact(handle: str) -> str:
    c = 'xmlns:contact="urn:ietf:params:xml:ns:contact-1.0"'
    return (
        f"<create><contact:create {c}><contact:id>{handle}</contact:id>"
        '<contact:postalInfo type="int"><contact:name>John Doe</contact:name>'
        "<contact:addr><contact:city>Dulles</contact:city><contact:cc>US</contact:cc>"
        "</contact:addr></contact:postalInfo><contact:email>jdoe@example.com</contact:email>"
        "<contact:authInfo><contact:pw>2fooBAR</contact:pw></contact:authInfo>"
        "</contact:create></create>"
    )


def _availability(reply: Any) -> list[tuple[str, str | None, str | None]]:
    return [
        (
            cd.findtext("domain:name", namespaces=support_ns),
            cd.find("domain:name", support_ns).get("avail"),
            cd.findtext("domain:reason", namespaces=support_ns),
        )
        for cd in reply.tree.findall(".//domain:cd", support_ns)
    ]


support_ns = {"domain": "urn:ietf:params:xml:ns:domain-1.0"}


def _expected(xml: str) -> list[tuple[str, str | None, str | None]]:
    from lxml import etree

    tree = etree.fromstring(xml.encode())
    return [
        (
            cd.findtext("domain:name", namespaces=support_ns),
            cd.find("domain:name", support_ns).get("avail"),
            cd.findtext("domain:reason", namespaces=support_ns),
        )
        for cd in tree.findall(".//domain:cd", support_ns)
    ]


def _ledger(db: Database, name: str) -> list[int]:
    with db.read() as conn:
        return [
            int(a)
            for a in conn.execute(
                select(t.ledger.c.amount).where(t.ledger.c.domain_name == name)
            ).scalars()
        ]


# ---------------------------------------------------------------- the RFC's examples


def test_the_rfc_examples_are_schema_valid():
    for example in EXAMPLES:
        assert_schema_valid(example.encode())


async def test_greeting_announces_allocation_token(connect):
    client = await connect()
    assert URI.encode() in client.greeting


async def test_rfc_check_examples(connect, db):
    x = await _client(connect)
    reply = await _request(x, CHECK, 1000)
    assert _availability(reply) == _expected(CHECK_RESPONSE)
    reply = await _request(x, CHECK_TWO, 1000)
    assert _availability(reply) == _expected(CHECK_TWO_RESPONSE)
    # Without the token both names are reserved.
    reply = await _send(x, _check("allocation.example", "allocation2.example"), 1000)
    assert [a[1:] for a in _availability(reply)] == [("0", "Reserved"), ("0", "Reserved")]


async def test_rfc_create_example_creates_the_reserved_name_and_uses_the_token(connect, db):
    x = await _client(connect)
    for handle in ("jd1234", "sh8013"):
        await _send(x, _contact(handle), 1000)
    await _send(x, _create("allocation.example"), 2302)  # reserved without the token
    await _request(x, CREATE, 1000)
    assert _token(db, "abc123").uses == 1
    # Used up: a check no longer reports it available, a second create is refused.
    reply = await _request(x, CHECK, 1000)
    assert _availability(reply) == [("allocation.example", "0", "In use")]


async def test_rfc_info_example_is_2102_and_changes_nothing(connect, db):
    x = await _client(connect)
    before = dump(db)
    reply = await _request(x, INFO, 2102)
    assert "allocationToken:info" in reply.raw.decode()
    assert dump(db) == before


# ---------------------------------------------------------------- token rules over EPP


async def test_reserved_name_needs_a_token_that_allows_it(connect, db):
    _add(db, "NIC-ANY", tld="test", allows_reserved=False, max_uses=5)
    _add(db, "NIC-OK", tld="test", allows_reserved=True)
    x = await _client(connect)
    before = dump(db)
    await _send(x, _create("nic.test"), 2302)
    reply = await _send(x, _create("nic.test"), 2302, _ext("NIC-ANY"))
    assert "reserved" in reply.raw.decode()
    reply = await _send(x, _check("nic.test"), 1000, _ext("NIC-ANY"))
    assert _availability(reply) == [("nic.test", "0", "Allocation Token mismatch")]
    assert dump(db) == before
    reply = await _send(x, _check("nic.test", "free.test"), 1000, _ext("NIC-OK"))
    assert _availability(reply) == [("nic.test", "1", None), ("free.test", "1", None)]
    await _send(x, _create("nic.test"), 1000, _ext("NIC-OK"))
    assert _token(db, "NIC-OK").uses == 1
    assert _token(db, "NIC-ANY").uses == 0


async def test_discount_is_charged_exactly(connect, db):
    with db.write() as conn:
        pricing.set_tld_price(conn, "test", "create", 1001)  # 10.01 a year
    _add(db, "QUARTER", tld="test", discount_percent=25)
    x = await _client(connect)
    await _send(x, _create("cheap.test"), 1000, _ext("QUARTER"))
    # 25 % of 10.01 is 2.5025: 2.50 off (rounded down), 7.51 charged.
    assert _ledger(db, "cheap.test") == [-751]
    await _send(x, _create("full.test"), 1000)
    assert _ledger(db, "full.test") == [-1001]


async def test_single_use_token_is_refused_the_second_time_and_nothing_changes(connect, db):
    _add(db, "ONCE", tld="test")
    x = await _client(connect)
    await _send(x, _create("first.test"), 1000, _ext("ONCE"))
    before = dump(db)
    reply = await _send(x, _create("second.test"), 2201, _ext("ONCE"))
    assert "used up (1 of 1)" in reply.raw.decode()
    assert dump(db) == before


async def test_two_sessions_racing_for_a_single_use_token_only_one_wins(connect, db):
    _add(db, "RACE", tld="test")
    x = await _client(connect)
    y = await _client(connect)
    replies = await asyncio.gather(
        x.command(_create("race1.test"), extension=_ext("RACE")),
        y.command(_create("race2.test"), extension=_ext("RACE")),
    )
    assert sorted(r.code for r in replies) == [1000, 2201]
    assert _token(db, "RACE").uses == 1


async def test_expired_token_is_2201(connect, db, clock):
    _add(db, "SOON", tld="test", expires_at=START + DAY, max_uses=5)
    x = await _client(connect)
    await _send(x, _create("before.test"), 1000, _ext("SOON"))
    clock.set(START + DAY)
    before = dump(db)
    reply = await _send(x, _create("after.test"), 2201, _ext("SOON"))
    assert "expired at 2026-01-16T12:00:00Z" in reply.raw.decode()
    assert dump(db) == before


async def test_token_for_another_registrar_tld_or_name_or_unknown_is_2201(connect, db):
    _add(db, "FOR-Y", registrar="ClientY")
    _add(db, "FOR-COM", tld="com")
    _add(db, "FOR-NAME", domain_name="this.test")
    x = await _client(connect)
    before = dump(db)
    cases = [
        ("FOR-Y", "a.test", "not valid for this registrar"),
        ("FOR-COM", "a.test", "not valid for this TLD"),
        ("FOR-NAME", "that.test", "not valid for that.test"),
        ("NOPE", "a.test", "unknown allocation token 'NOPE'"),
    ]
    for token, name, why in cases:
        reply = await _send(x, _create(name), 2201, _ext(token))
        assert why in reply.raw.decode(), reply.raw.decode()
    assert dump(db) == before
    y = await _client(connect, "ClientY")
    await _send(y, _create("a.test"), 1000, _ext("FOR-Y"))
    await _send(x, _create("this.test"), 1000, _ext("FOR-NAME"))


async def test_token_on_an_unsupported_command_is_2002(connect, db):
    x = await _client(connect)
    renew = (
        f"<renew><domain:renew {D}><domain:name>a.test</domain:name>"
        "<domain:curExpDate>2027-01-15</domain:curExpDate></domain:renew></renew>"
    )
    await _send(x, renew, 2002, _ext("abc123"))


# ---------------------------------------------------------------- flows


def test_redeem_is_conditional_on_uses_left(db):
    """The conditional UPDATE is the arbiter: a token validated before another transaction
    used it up is refused at redemption."""
    _add(db, "LAST", tld="test")
    with db.write() as conn:
        rid = conn.execute(
            select(t.registrars.c.id).where(t.registrars.c.clid == "ClientX")
        ).scalar_one()
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar_one()
        ctx = Context(conn, START, Actor(rid, "ClientX"), "CL", SvTrIds().next())
        token = tokens.validate(conn, ctx.now, rid, tld_id, "x.test", "LAST")
        conn.execute(
            t.allocation_tokens.update().where(t.allocation_tokens.c.token == "LAST").values(uses=1)
        )
        with pytest.raises(EppError) as err:
            tokens.redeem(conn, ctx.now, token)
    assert int(err.value.code) == 2201


def test_add_refuses_bad_values(db):
    with db.write() as conn:
        for kwargs, why in [
            ({"tld": "nope"}, "TLD nope does not exist"),
            ({"registrar": "Nobody"}, "registrar Nobody does not exist"),
            ({"discount_percent": 101}, "not a percentage"),
            ({"max_uses": 0}, "at least 1"),
            ({"domain_name": "a.nope"}, "not directly under a TLD"),
            ({"domain_name": "a.com", "tld": "test"}, "not under TLD test"),
        ]:
            with pytest.raises(RegistryError, match=why):
                tokens.add(conn, START, "T1", **kwargs)
        with pytest.raises(RegistryError, match="already exists"):
            tokens.add(conn, START, "abc123")


# ---------------------------------------------------------------- CLI


@pytest.fixture
def cli(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMREG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOMREG_DATABASE_URL", database_url)
    monkeypatch.delenv("DOMREG_CONFIG", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_token_add_and_list(cli, db):
    code, out, err = cli(
        "token",
        "add",
        "FOUNDER-1",
        "--tld",
        "test",
        "--registrar",
        "ClientX",
        "--domain",
        "Nic.Test",
        "--allows-reserved",
        "--discount",
        "50",
        "--max-uses",
        "2",
        "--expires",
        "2027-01-01T00:00:00Z",
    )
    assert code == 0, err
    line = (
        "FOUNDER-1: tld test, registrar ClientX, domain nic.test, reserved allowed, "
        "discount 50%, uses 0/2, expires 2027-01-01T00:00:00Z"
    )
    assert out == f"token added: {line}\n"
    token = _token(db, "FOUNDER-1")
    assert (token.domain_name, token.allows_reserved, token.max_uses) == ("nic.test", True, 2)
    assert token.expires_at == datetime(2027, 1, 1)
    code, out, err = cli("token", "list")
    assert code == 0, err
    assert out.splitlines() == [
        line,
        "abc123: tld any, registrar any, domain allocation.example, reserved allowed, "
        "discount 0%, uses 0/1, expires never",
    ]


@pytest.mark.parametrize(
    "args, why",
    [
        (("--tld", "nope"), "TLD nope does not exist"),
        (("--registrar", "Nobody"), "registrar Nobody does not exist"),
        (("--discount", "150"), "not a percentage"),
        (("--max-uses", "0"), "at least 1"),
        (("--expires", "soon"), "is not a date"),
        (("--discount", "x"), "invalid int value"),
    ],
)
def test_cli_token_add_refusals_are_one_line_exit_2(cli, db, args, why):
    before = dump(db)
    code, out, err = cli("token", "add", "BAD", *args)
    assert code == 2, out
    assert len(err.strip().splitlines()) == 1, err
    assert why in err
    assert dump(db) == before
