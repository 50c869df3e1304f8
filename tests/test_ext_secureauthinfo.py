"""Secure authorization information for transfer (RFC 9154) over EPP: authInfo stored hashed,
empty allowed (unset: no transfer until one is set), set by update with a time to live,
never returned (the sponsor sees `<domain:pw/>` while one is set), matched only when set,
non-empty and unexpired, and unset when a transfer completes.

Every example of the RFC is validated against the official schemas and sent verbatim.
The RFC sets the authInfo of example.com but transfers example1.com; example1.com gets the
same update first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from domreg.clock import FixedClock
from domreg.epp import namespaces as ns
from domreg.epp.client import parse_reply
from domreg.epp.extensions import secureauthinfo
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid

URI = secureauthinfo.URI
SECRET = "LuQ7Bu@w9?%+_HK3cayg$55$LSft3MPP"

# ---------------------------------------------------------------- RFC 9154 examples, verbatim

CREATE_DOMAIN = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <create>
      <domain:create
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:authInfo>
          <domain:pw/>
        </domain:authInfo>
      </domain:create>
    </create>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

CREATE_CONTACT = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <create>
      <contact:create
       xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">
        <contact:id>sh8013</contact:id>
        <contact:postalInfo type="int">
          <contact:name>John Doe</contact:name>
          <contact:addr>
            <contact:city>Dulles</contact:city>
            <contact:cc>US</contact:cc>
          </contact:addr>
        </contact:postalInfo>
        <contact:email>jdoe@example.com</contact:email>
        <contact:authInfo>
          <contact:pw/>
        </contact:authInfo>
      </contact:create>
    </create>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

UPDATE_SET = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <update>
      <domain:update
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:rem>
          <domain:status s="clientTransferProhibited"/>
        </domain:rem>
        <domain:chg>
          <domain:authInfo>
            <domain:pw>LuQ7Bu@w9?%+_HK3cayg$55$LSft3MPP
            </domain:pw>
          </domain:authInfo>
        </domain:chg>
      </domain:update>
    </update>
    <clTRID>ABC-12345-XYZ</clTRID>
  </command>
</epp>
"""

UPDATE_UNSET_NULL = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <update>
      <domain:update
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:add>
          <domain:status s="clientTransferProhibited"/>
        </domain:add>
        <domain:chg>
          <domain:authInfo>
            <domain:null/>
          </domain:authInfo>
        </domain:chg>
      </domain:update>
    </update>
    <clTRID>ABC-12345-XYZ</clTRID>
  </command>
</epp>
"""

UPDATE_UNSET_EMPTY = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <update>
      <domain:update
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:add>
          <domain:status s="clientTransferProhibited"/>
        </domain:add>
        <domain:chg>
          <domain:authInfo>
            <domain:pw/>
          </domain:authInfo>
        </domain:chg>
      </domain:update>
    </update>
    <clTRID>ABC-12345-XYZ</clTRID>
  </command>
</epp>
"""

UPDATE_CONTACT = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <update>
      <contact:update
        xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">
        <contact:id>sh8013</contact:id>
        <contact:chg>
          <contact:authInfo>
            <contact:pw/>
          </contact:authInfo>
        </contact:chg>
      </contact:update>
    </update>
    <clTRID>ABC-12345-XYZ</clTRID>
  </command>
</epp>
"""

INFO = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <info>
      <domain:info
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:authInfo>
          <domain:pw>LuQ7Bu@w9?%+_HK3cayg$55$LSft3MPP
          </domain:pw>
        </domain:authInfo>
      </domain:info>
    </info>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

INFO_RESPONSE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
    </result>
    <resData>
      <domain:infData
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:status s="ok"/>
        <domain:clID>ClientX</domain:clID>
        <domain:authInfo>
          <domain:pw/>
        </domain:authInfo>
      </domain:infData>
    </resData>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

TRANSFER = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <transfer op="request">
      <domain:transfer
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example1.com</domain:name>
        <domain:authInfo>
          <domain:pw>LuQ7Bu@w9?%+_HK3cayg$55$LSft3MPP
          </domain:pw>
        </domain:authInfo>
      </domain:transfer>
    </transfer>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

EXAMPLES = {
    "create domain with empty authInfo": CREATE_DOMAIN,
    "create contact with empty authInfo": CREATE_CONTACT,
    "update setting authInfo": UPDATE_SET,
    "update unsetting authInfo with null": UPDATE_UNSET_NULL,
    "update unsetting authInfo with empty pw": UPDATE_UNSET_EMPTY,
    "update unsetting contact authInfo": UPDATE_CONTACT,
    "info with authInfo": INFO,
    "info response to the sponsor": INFO_RESPONSE,
    "transfer request": TRANSFER,
}

START = datetime(2026, 1, 15, 12, 0, 0)


@pytest.fixture
def db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db, tlds=("com", "test"))
    return shared_db


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rfc9154_examples_are_valid_against_the_official_schemas(name):
    assert_schema_valid(EXAMPLES[name].encode())


async def test_greeting_announces_secure_authinfo_transfer(connect):
    client = await connect()
    assert URI in [e.text for e in parse_reply(client.greeting).findall(".//epp:extURI")]


async def send(client, xml: str, code: int):
    raw = await client.send_raw(xml.encode())
    assert_schema_valid(raw)
    reply = parse_reply(raw)
    assert reply.code == code, raw.decode()
    return reply


def stored(db: Database, name: str):
    with db.read() as conn:
        return conn.execute(
            select(t.domains.c.auth_info, t.domains.c.auth_info_expires_at).where(
                t.domains.c.name == name, t.domains.c.deleted_at.is_(None)
            )
        ).one()


def auth_element(reply):
    return reply.find("epp:response/epp:resData/domain:infData/domain:authInfo")


async def test_rfc9154_secure_authinfo_lifecycle(connect, db, clock):
    x = await connect("ClientX")
    y = await connect("ClientY")
    # Create with an empty authInfo: stored as NULL (unset); nothing can match it.
    await send(x, CREATE_DOMAIN, 1000)
    assert stored(db, "example.com").auth_info is None
    reply = await x.domain_info("example.com")
    assert reply.code == 1000 and auth_element(reply) is None  # unset: no authInfo element
    await send(y, INFO, 2202)
    reply = await y.command(
        INFO[INFO.index("<info>") : INFO.index("</info>") + 7].replace(SECRET, "")
    )
    assert reply.code == 2202  # an empty authInfo matches nothing either

    # The sponsor sets it: stored hashed, with a time to live.
    await send(x, UPDATE_SET, 1000)
    row = stored(db, "example.com")
    assert row.auth_info.startswith("pbkdf2-sha256$") and SECRET not in row.auth_info
    assert row.auth_info_expires_at == START + timedelta(days=14)
    assert SECRET not in str(support.dump(db))  # the plain value is nowhere

    # The sponsor learns that one is set, never its value (the RFC's info response).
    reply = await x.domain_info("example.com")
    assert_schema_valid(reply.raw)
    pw = auth_element(reply).find("domain:pw", {"domain": ns.DOMAIN})
    expected = parse_reply(INFO_RESPONSE.encode())
    assert pw is not None and not pw.text and pw.attrib == {}
    assert expected.find(".//domain:authInfo/domain:pw").text is None
    # Another registrar verifies it (RFC 9154 section 5.3) without learning whether one is set.
    reply = await send(y, INFO, 1000)
    assert auth_element(reply) is None
    assert reply.findtext(".//domain:clID") == "ClientX"
    await send(y, INFO.replace("LuQ7", "XuQ7"), 2202)

    # Its time to live runs out: it no longer matches, and the sponsor sees it unset.
    clock.advance(timedelta(days=14))
    await send(y, INFO, 2202)
    reply = await x.domain_info("example.com")
    assert auth_element(reply) is None

    # Unsetting, with <domain:null/> and with an empty <domain:pw/>.
    for unset in (UPDATE_UNSET_NULL, UPDATE_UNSET_EMPTY):
        await send(x, UPDATE_SET, 1000)
        await send(y, INFO, 1000)
        await send(x, unset, 1000)
        assert tuple(stored(db, "example.com")) == (None, None)
        await send(y, INFO, 2202)


async def test_rfc9154_transfer_with_the_authinfo_then_it_is_unset(connect, db):
    x = await connect("ClientX")
    y = await connect("ClientY")
    await send(x, CREATE_DOMAIN.replace("example.com", "example1.com"), 1000)
    await send(y, TRANSFER, 2202)  # unset: no transfer
    await send(x, UPDATE_SET.replace("example.com", "example1.com"), 1000)
    reply = await send(y, TRANSFER, 1001)
    assert reply.findtext(".//domain:trStatus") == "pending"
    approve = (
        '<transfer op="approve"><domain:transfer xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">'
        "<domain:name>example1.com</domain:name></domain:transfer></transfer>"
    )
    assert (await x.command(approve)).code == 1000
    # RFC 9154 section 5.4: the registry unsets it when the transfer completes.
    assert tuple(stored(db, "example1.com")) == (None, None)
    reply = await y.domain_info("example1.com")
    assert reply.findtext(".//domain:clID") == "ClientY" and auth_element(reply) is None
    z = await connect("ClientZ")
    await send(z, TRANSFER, 2202)


async def test_rfc9154_contact_examples(connect, db):
    x = await connect("ClientX")
    y = await connect("ClientY")
    await send(x, CREATE_CONTACT, 1000)
    info = (
        '<info><contact:info xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">'
        "<contact:id>sh8013</contact:id>{auth}</contact:info></info>"
    )
    secret = "<contact:authInfo><contact:pw>c0ntact-Secret-9</contact:pw></contact:authInfo>"
    reply = await x.command(info.format(auth=""))
    assert reply.code == 1000 and reply.find(".//contact:authInfo") is None
    assert (await y.command(info.format(auth=secret))).code == 2202
    chg = (
        '<update><contact:update xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">'
        f"<contact:id>sh8013</contact:id><contact:chg>{secret}</contact:chg></contact:update></update>"
    )
    assert (await x.command(chg)).code == 1000
    with db.read() as conn:
        value = conn.execute(select(t.contacts.c.auth_info)).scalar_one()
    assert value.startswith("pbkdf2-sha256$")
    reply = await x.command(info.format(auth=""))
    assert_schema_valid(reply.raw)
    pw = reply.find(".//contact:authInfo/contact:pw")
    assert pw is not None and not pw.text  # set, and never shown
    reply = await y.command(info.format(auth=secret))
    assert reply.code == 1000 and reply.find(".//contact:authInfo") is None
    await send(x, UPDATE_CONTACT, 1000)
    assert (await y.command(info.format(auth=secret))).code == 2202


def test_configuration_sets_the_authinfo_ttl_and_the_password_age(monkeypatch, tmp_path):
    from domreg.config import load
    from domreg.serve import policy

    monkeypatch.chdir(tmp_path)  # no domreg.toml

    cfg = load(env={"DOMREG_AUTH_INFO_TTL_DAYS": "3", "DOMREG_PASSWORD_MAX_AGE_DAYS": "0"})
    assert policy(cfg).auth_info_ttl == timedelta(days=3)
    assert policy(cfg).password_max_age is None  # 0: passwords never expire
    default = policy(load(env={}))
    assert (default.auth_info_ttl, default.password_max_age, default.password_warning) == (
        timedelta(days=14),
        timedelta(days=365),
        timedelta(days=30),
    )
