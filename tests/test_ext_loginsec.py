"""loginSec-1.0 (RFC 8807) over EPP: passwords longer than RFC 5730 allows through the
"[LOGIN-SECURITY]" placeholder, the user agent, and login security events (password expiry
warning, expired password, refused new password) in the login response.

Every example of the RFC is validated against the official schemas; the login commands are
sent to a server whose clock stands at the RFC's "current date" (2020-03-25) with a password
maximum age of 365 days, so the events carry the RFC's own exDate values. The examples
announce placeholder object services (obj1-3, refused with 2307 as RFC 5730's own example
is); `ours()` replaces them with this registry's, the only change made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from lxml import etree
from sqlalchemy import select, update

from domreg.clock import FixedClock
from domreg.epp import codec
from domreg.epp import namespaces as ns
from domreg.epp.client import parse_reply
from domreg.epp.extensions import loginsec
from domreg.epp.server import EppServer, Limits, server_tls_context
from domreg.epp.session import Registry
from domreg.flows import registry
from domreg.flows.base import Policy
from domreg.flows.session import hash_password, verify_password
from domreg.store import schema as t
from domreg.store.db import Database
from tests.support import assert_schema_valid

URI = loginsec.URI
N = {"epp": ns.EPP, "loginSec": URI}
NOW = datetime(2020, 3, 25, 22, 0, 0)
MAX_AGE = timedelta(days=365)

# ---------------------------------------------------------------- RFC 8807 examples, verbatim

LOGIN_LONG_PW = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <login>
      <clID>ClientX</clID>
      <pw>[LOGIN-SECURITY]</pw>
      <options>
        <version>1.0</version>
        <lang>en</lang>
      </options>
      <svcs>
        <objURI>urn:ietf:params:xml:ns:obj1</objURI>
        <objURI>urn:ietf:params:xml:ns:obj2</objURI>
        <objURI>urn:ietf:params:xml:ns:obj3</objURI>
        <svcExtension>
          <extURI>urn:ietf:params:xml:ns:epp:loginSec-1.0</extURI>
        </svcExtension>
      </svcs>
    </login>
    <extension>
      <loginSec:loginSec
        xmlns:loginSec=
          "urn:ietf:params:xml:ns:epp:loginSec-1.0">
        <loginSec:userAgent>
          <loginSec:app>EPP SDK 1.0.0</loginSec:app>
          <loginSec:tech>Vendor Java 11.0.6</loginSec:tech>
          <loginSec:os>x86_64 Mac OS X 10.15.2</loginSec:os>
        </loginSec:userAgent>
        <loginSec:pw>this is a long password</loginSec:pw>
      </loginSec:loginSec>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

LOGIN_LONG_PW_NEW_PW = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <login>
      <clID>ClientX</clID>
      <pw>[LOGIN-SECURITY]</pw>
      <newPW>[LOGIN-SECURITY]</newPW>
      <options>
        <version>1.0</version>
        <lang>en</lang>
      </options>
      <svcs>
        <objURI>urn:ietf:params:xml:ns:obj1</objURI>
        <objURI>urn:ietf:params:xml:ns:obj2</objURI>
        <objURI>urn:ietf:params:xml:ns:obj3</objURI>
        <svcExtension>
          <extURI>urn:ietf:params:xml:ns:epp:loginSec-1.0</extURI>
        </svcExtension>
      </svcs>
    </login>
    <extension>
      <loginSec:loginSec
        xmlns:loginSec=
          "urn:ietf:params:xml:ns:epp:loginSec-1.0">
        <loginSec:pw>this is a long password
        </loginSec:pw>
        <loginSec:newPW>new password that is still long
        </loginSec:newPW>
      </loginSec:loginSec>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

LOGIN_SHORT_PW_NEW_PW = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <login>
      <clID>ClientX</clID>
      <pw>shortpassword</pw>
      <newPW>[LOGIN-SECURITY]</newPW>
      <options>
        <version>1.0</version>
        <lang>en</lang>
      </options>
      <svcs>
        <objURI>urn:ietf:params:xml:ns:obj1</objURI>
        <objURI>urn:ietf:params:xml:ns:obj2</objURI>
        <objURI>urn:ietf:params:xml:ns:obj3</objURI>
        <svcExtension>
          <extURI>urn:ietf:params:xml:ns:epp:loginSec-1.0</extURI>
        </svcExtension>
      </svcs>
    </login>
    <extension>
      <loginSec:loginSec
        xmlns:loginSec=
          "urn:ietf:params:xml:ns:epp:loginSec-1.0">
        <loginSec:newPW>new password that is still long
        </loginSec:newPW>
      </loginSec:loginSec>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

RESPONSE_WARNING = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
    </result>
    <extension>
      <loginSec:loginSecData
        xmlns:loginSec=
          "urn:ietf:params:xml:ns:epp:loginSec-1.0">
        <loginSec:event
          type="password"
          level="warning"
          exDate="2020-04-01T22:00:00.0Z"
          lang="en">
          Password expiring in a week
        </loginSec:event>
      </loginSec:loginSecData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

RESPONSE_EXPIRED = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="2200">
      <msg>Authentication error</msg>
    </result>
    <extension>
      <loginSec:loginSecData
        xmlns:loginSec=
          "urn:ietf:params:xml:ns:epp:loginSec-1.0">
        <loginSec:event
          type="password"
          level="error"
          exDate="2020-03-24T22:00:00.0Z">
          Password has expired
        </loginSec:event>
        <loginSec:event
          type="newPW"
          level="error">
          New password does not meet complexity requirements
        </loginSec:event>
      </loginSec:loginSecData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

RESPONSE_EVENTS = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
    </result>
    <extension>
      <loginSec:loginSecData
        xmlns:loginSec=
          "urn:ietf:params:xml:ns:epp:loginSec-1.0">
        <loginSec:event
          type="password"
          level="warning"
          exDate="2020-04-01T22:00:00.0Z"
          lang="en">
          Password expiration soon
        </loginSec:event>
        <loginSec:event
          type="certificate"
          level="warning"
          exDate="2020-04-02T22:00:00.0Z"/>
        <loginSec:event
          type="cipher"
          level="warning"
          value="TLS_RSA_WITH_AES_128_CBC_SHA">
          Non-PFS Cipher negotiated
        </loginSec:event>
        <loginSec:event
          type="tlsProtocol"
          level="warning"
          value="TLSv1.0">
          Insecure TLS protocol negotiated
        </loginSec:event>
        <loginSec:event
          type="stat"
          name="failedLogins"
          level="warning"
          value="100"
          duration="P1D">
          Excessive invalid daily logins
        </loginSec:event>
        <loginSec:event
          type="custom"
          name="myCustomEvent"
          level="warning">
          A custom login security event occurred
        </loginSec:event>
      </loginSec:loginSecData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

# Section 3.1's two event examples (fragments, shown here in a loginSecData of a response).
EVENT_PASSWORD = """<loginSec:event
     type="password"
     level="warning"
     exDate="2020-04-01T22:00:00.0Z"
     lang="en">
     Password expiration soon
   </loginSec:event>"""
EVENT_STAT = """<loginSec:event
     type="stat"
     name="failedLogins"
     level="warning"
     value="100"
     duration="P1D">
     Excessive invalid daily logins
   </loginSec:event>"""

COMMANDS = {
    "login with loginSec:pw": LOGIN_LONG_PW,
    "login with loginSec:pw and loginSec:newPW": LOGIN_LONG_PW_NEW_PW,
    "login with pw and loginSec:newPW": LOGIN_SHORT_PW_NEW_PW,
}
RESPONSES = {
    "password expiring": RESPONSE_WARNING,
    "password expired": RESPONSE_EXPIRED,
    "every event type": RESPONSE_EVENTS,
}


def in_response(event: str) -> str:
    return RESPONSE_WARNING.replace(
        RESPONSE_WARNING[
            RESPONSE_WARNING.index("<loginSec:event") : RESPONSE_WARNING.index(
                "</loginSec:loginSecData>"
            )
        ],
        event,
    )


OBJECTS = {
    "urn:ietf:params:xml:ns:obj1": ns.DOMAIN,
    "urn:ietf:params:xml:ns:obj2": ns.HOST,
    "urn:ietf:params:xml:ns:obj3": ns.CONTACT,
}


def ours(xml: str) -> bytes:
    for old, new in OBJECTS.items():
        xml = xml.replace(old, new)
    return xml.encode()


def events(raw: bytes) -> list[tuple[str | None, str | None, str | None]]:
    tree = etree.fromstring(raw)
    return [
        (e.get("type"), e.get("level"), e.get("exDate"))
        for e in tree.iterfind(".//loginSec:loginSecData/loginSec:event", N)
    ]


# ---------------------------------------------------------------- a server at the RFC's date


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest_asyncio.fixture
async def epp_server(db: Database, tls_dir: Path, clock: FixedClock) -> AsyncIterator[EppServer]:
    """The conftest server, with passwords expiring after 365 days (30 days' warning)."""
    policy = Policy(password_max_age=MAX_AGE, password_warning=timedelta(days=30))
    server = EppServer(
        Registry(db=db, clock=clock, policy=policy),
        server_tls_context(
            str(tls_dir / "server.crt"), str(tls_dir / "server.key"), str(tls_dir / "ca.crt")
        ),
        Limits(max_frame=65536, idle_timeout=5.0, frame_timeout=2.0),
    )
    await server.start("127.0.0.1", 0)
    yield server
    await server.close()


def set_password(db: Database, password: str, changed_at: datetime, clid: str = "ClientX") -> None:
    with db.write() as conn:
        conn.execute(
            update(t.registrars)
            .where(t.registrars.c.clid == clid)
            .values(password_hash=hash_password(password), password_changed_at=changed_at)
        )


def stored(db: Database, clid: str = "ClientX"):
    with db.read() as conn:
        return conn.execute(select(t.registrars).where(t.registrars.c.clid == clid)).one()


async def send(client, data: bytes, code: int):
    raw = await client.send_raw(data)
    assert_schema_valid(raw)
    reply = parse_reply(raw)
    assert reply.code == code, raw.decode()
    return reply


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("name", sorted(COMMANDS) + sorted(RESPONSES))
def test_rfc8807_examples_are_valid_against_the_official_schemas(name):
    xml = {**COMMANDS, **RESPONSES}[name]
    assert_schema_valid(xml.encode())
    assert_schema_valid(ours(xml))


@pytest.mark.parametrize("event", [EVENT_PASSWORD, EVENT_STAT])
def test_rfc8807_event_examples_are_valid_in_a_response(event):
    assert_schema_valid(in_response(event).encode())


async def test_greeting_announces_loginsec(connect):
    client = await connect()
    assert URI in [e.text for e in parse_reply(client.greeting).findall(".//epp:extURI")]


def test_user_agent_and_long_password_are_read_from_the_extension():
    login = codec.parse_frame(ours(LOGIN_LONG_PW)).command
    assert isinstance(login, codec.LoginCmd)
    assert login.password == "this is a long password"
    assert login.user_agent == "EPP SDK 1.0.0; Vendor Java 11.0.6; x86_64 Mac OS X 10.15.2"
    # Whitespace inside the extension's passwords is collapsed like an XML Schema token.
    login = codec.parse_frame(ours(LOGIN_LONG_PW_NEW_PW)).command
    assert (login.password, login.new_password) == (
        "this is a long password",
        "new password that is still long",
    )


async def test_rfc8807_login_with_a_long_password_warns_of_its_expiry(connect, db):
    # Set 365 days before 2020-04-01T22:00Z (2020 is a leap year): it expires in a week.
    set_password(db, "this is a long password", datetime(2019, 4, 2, 22, 0, 0))
    client = await connect()
    await send(client, LOGIN_LONG_PW.encode(), 2307)  # the placeholder object services
    reply = await send(client, ours(LOGIN_LONG_PW), 1000)
    assert events(reply.raw) == events(RESPONSE_WARNING.encode())
    assert reply.findtext("epp:response/epp:trID/epp:clTRID") == "ABC-12345"
    assert (await client.domain_check("example.test")).code == 1000


async def test_rfc8807_login_setting_a_long_new_password(connect, db):
    set_password(db, "this is a long password", NOW - timedelta(days=10))
    client = await connect()
    reply = await send(client, ours(LOGIN_LONG_PW_NEW_PW), 1000)
    assert events(reply.raw) == []
    row = stored(db)
    assert verify_password(row.password_hash, "new password that is still long")
    assert row.password_changed_at == NOW
    again = await connect()
    renamed = LOGIN_LONG_PW.replace("this is a long password", "new password that is still long")
    await send(again, ours(renamed), 1000)
    old = await connect()
    await send(old, ours(LOGIN_LONG_PW), 2200)


async def test_rfc8807_login_with_a_short_password_setting_a_long_one(connect, db):
    set_password(db, "shortpassword", NOW - timedelta(days=10))
    client = await connect()
    await send(client, ours(LOGIN_SHORT_PW_NEW_PW), 1000)
    assert verify_password(stored(db).password_hash, "new password that is still long")


async def test_expired_password_is_refused_with_error_events_until_a_new_one_is_set(connect, db):
    # Set 365 days before 2020-03-24T22:00Z: it expired yesterday.
    set_password(db, "this is a long password", datetime(2019, 3, 25, 22, 0, 0))
    client = await connect()
    reply = await send(client, ours(LOGIN_LONG_PW), 2200)
    assert events(reply.raw) == [("password", "error", "2020-03-24T22:00:00.0Z")]
    assert "expired" in reply.msg
    # The RFC's failure: expired, and the new password is refused (here: it is the old one).
    same = LOGIN_LONG_PW_NEW_PW.replace(
        "new password that is still long", "this is a long password"
    )
    reply = await send(await connect(), ours(same), 2200)
    assert events(reply.raw) == events(RESPONSE_EXPIRED.encode())
    # A good new password lets the login through and restarts the password's age.
    reply = await send(await connect(), ours(LOGIN_LONG_PW_NEW_PW), 1000)
    assert events(reply.raw) == []
    assert stored(db).password_changed_at == NOW


async def test_events_for_a_client_without_loginsec_go_into_extvalue(connect, db):
    set_password(db, "foo-BAR2", datetime(2019, 4, 2, 22, 0, 0))
    client = await connect()
    reply = await client.login("ClientX", "foo-BAR2")
    assert_schema_valid(reply.raw)
    assert reply.code == 1000
    assert reply.find("epp:response/epp:extension") is None
    assert reply.findtext(".//epp:extValue/epp:reason") == f"{URI} not in login services"
    value = reply.tree.find(".//epp:extValue/epp:value/loginSec:loginSecData/loginSec:event", N)
    assert value is not None and value.get("exDate") == "2020-04-01T22:00:00.0Z"


async def test_passwords_that_can_never_be_set_are_refused_with_a_newpw_event(connect, db):
    set_password(db, "this is a long password", NOW - timedelta(days=10))
    for bad in ("[LOGIN-SECURITY]", "x" * 129):
        xml = LOGIN_LONG_PW_NEW_PW.replace("new password that is still long", bad)
        reply = await send(await connect(), ours(xml), 2200)
        assert [e[:2] for e in events(reply.raw)] == [("newPW", "error")]
    assert verify_password(stored(db).password_hash, "this is a long password")


async def test_placeholder_and_extension_must_go_together(connect, db):
    set_password(db, "this is a long password", NOW)
    # The placeholder without the extension's password: 2003 (it is never a password).
    client = await connect()
    reply = await client.login("ClientX", "[LOGIN-SECURITY]", extensions=(URI,))
    assert_schema_valid(reply.raw)
    assert reply.code == 2003
    no_pw = LOGIN_LONG_PW.replace("<loginSec:pw>this is a long password</loginSec:pw>", "")
    await send(client, ours(no_pw), 2003)
    # The extension's password without the placeholder: 2306.
    plain = LOGIN_LONG_PW.replace("<pw>[LOGIN-SECURITY]</pw>", "<pw>foo-BAR2</pw>")
    await send(client, ours(plain), 2306)
    # A password longer than 16 characters cannot be sent without the extension.
    long_core = LOGIN_LONG_PW.replace("[LOGIN-SECURITY]", "this is a long password")
    await send(client, ours(long_core), 2001)


def test_registrar_passwords_may_be_up_to_128_characters(db):
    with db.write() as conn:
        registry.add_registrar(conn, NOW, clid="LongPass", name="L", password="p" * 128)
        with pytest.raises(registry.RegistryError, match="6 to 128"):
            registry.add_registrar(conn, NOW, clid="TooLong", name="T", password="p" * 129)
    assert stored(db, "LongPass").password_changed_at == NOW
