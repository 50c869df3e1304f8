"""secDNS-1.1 (RFC 5910) over EPP: every example of the RFC, validated against the official
schemas and sent to a running server; DS data on create and update stored, shown in info to
clients that announced secDNS, with a history row; the registry's DS policy with precise codes.

The RFC's examples predate RFC 8624 and abbreviate values: they use DSA (algorithm 3) and
RSA/MD5 (1) keys, SHA-1 digests (type 1) and 10-byte "digests". Sent verbatim they get this
registry's precise refusals; `modern()` then makes the documented substitutions (algorithm 8,
digest type 2, each digest padded to SHA-256's 32 bytes) and the same examples succeed. Their
in-bailiwick hosts ns1/ns2.example.com are replaced by ns1/ns2.example.net, which can exist
before example.com does (only .com and .test are served, as in test_rfc_examples.py).
"""

from __future__ import annotations

import orjson
import pytest
from lxml import etree
from sqlalchemy import select
from sqlalchemy import update as sql_update

from domreg.epp.client import parse_reply
from domreg.epp.extensions import secdns
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid, dump, official_schema

SECDNS = secdns.URI
S = {
    "secDNS": SECDNS,
    "domain": "urn:ietf:params:xml:ns:domain-1.0",
    "epp": "urn:ietf:params:xml:ns:epp-1.0",
}


@pytest.fixture
def db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db, tlds=("com", "test"))
    return shared_db


# ---------------------------------------------------------------- RFC 5910 examples, verbatim

CREATE_DS = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <create>
      <domain:create
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:period unit="y">2</domain:period>
        <domain:ns>
          <domain:hostObj>ns1.example.com</domain:hostObj>
          <domain:hostObj>ns2.example.com</domain:hostObj>
        </domain:ns>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:create>
    </create>
    <extension>
      <secDNS:create
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:maxSigLife>604800</secDNS:maxSigLife>
        <secDNS:dsData>
          <secDNS:keyTag>12345</secDNS:keyTag>
          <secDNS:alg>3</secDNS:alg>
          <secDNS:digestType>1</secDNS:digestType>
          <secDNS:digest>49FD46E6C4B45C55D4AC</secDNS:digest>
        </secDNS:dsData>
      </secDNS:create>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

CREATE_DS_KEY = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <create>
      <domain:create
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:period unit="y">2</domain:period>
        <domain:ns>
          <domain:hostObj>ns1.example.com</domain:hostObj>
          <domain:hostObj>ns2.example.com</domain:hostObj>
        </domain:ns>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:create>
    </create>
    <extension>
      <secDNS:create
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:maxSigLife>604800</secDNS:maxSigLife>
        <secDNS:dsData>
          <secDNS:keyTag>12345</secDNS:keyTag>
          <secDNS:alg>3</secDNS:alg>
          <secDNS:digestType>1</secDNS:digestType>
          <secDNS:digest>49FD46E6C4B45C55D4AC</secDNS:digest>
          <secDNS:keyData>
            <secDNS:flags>257</secDNS:flags>
            <secDNS:protocol>3</secDNS:protocol>
            <secDNS:alg>1</secDNS:alg>
            <secDNS:pubKey>AQPJ////4Q==</secDNS:pubKey>
          </secDNS:keyData>
        </secDNS:dsData>
      </secDNS:create>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

CREATE_KEY = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <create>
      <domain:create
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
        <domain:period unit="y">2</domain:period>
        <domain:ns>
          <domain:hostObj>ns1.example.com</domain:hostObj>
          <domain:hostObj>ns2.example.com</domain:hostObj>
        </domain:ns>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:create>
    </create>
    <extension>
      <secDNS:create
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:keyData>
          <secDNS:flags>257</secDNS:flags>
          <secDNS:protocol>3</secDNS:protocol>
          <secDNS:alg>1</secDNS:alg>
          <secDNS:pubKey>AQPJ////4Q==</secDNS:pubKey>
        </secDNS:keyData>
      </secDNS:create>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

UPDATE_REM_ADD_DS = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
      </domain:update>
    </update>
    <extension>
      <secDNS:update
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:rem>
          <secDNS:dsData>
            <secDNS:keyTag>12345</secDNS:keyTag>
            <secDNS:alg>3</secDNS:alg>
            <secDNS:digestType>1</secDNS:digestType>
            <secDNS:digest>38EC35D5B3A34B33C99B</secDNS:digest>
          </secDNS:dsData>
        </secDNS:rem>
        <secDNS:add>
          <secDNS:dsData>
            <secDNS:keyTag>12346</secDNS:keyTag>
            <secDNS:alg>3</secDNS:alg>
            <secDNS:digestType>1</secDNS:digestType>
            <secDNS:digest>38EC35D5B3A34B44C39B</secDNS:digest>
          </secDNS:dsData>
        </secDNS:add>
      </secDNS:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

UPDATE_MAX_SIG_LIFE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
      </domain:update>
    </update>
    <extension>
      <secDNS:update
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:chg>
          <secDNS:maxSigLife>605900</secDNS:maxSigLife>
        </secDNS:chg>
      </secDNS:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

UPDATE_KEYS = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
      </domain:update>
    </update>
    <extension>
      <secDNS:update
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:rem>
          <secDNS:keyData>
            <secDNS:flags>257</secDNS:flags>
            <secDNS:protocol>3</secDNS:protocol>
            <secDNS:alg>1</secDNS:alg>
            <secDNS:pubKey>AQPJ////4QQQ</secDNS:pubKey>
          </secDNS:keyData>
        </secDNS:rem>
        <secDNS:add>
          <secDNS:keyData>
            <secDNS:flags>257</secDNS:flags>
            <secDNS:protocol>3</secDNS:protocol>
            <secDNS:alg>1</secDNS:alg>
            <secDNS:pubKey>AQPJ////4Q==</secDNS:pubKey>
          </secDNS:keyData>
        </secDNS:add>
        <secDNS:chg>
          <secDNS:maxSigLife>605900</secDNS:maxSigLife>
        </secDNS:chg>
      </secDNS:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

UPDATE_REM_DS = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
      </domain:update>
    </update>
    <extension>
      <secDNS:update
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:rem>
          <secDNS:dsData>
            <secDNS:keyTag>12346</secDNS:keyTag>
            <secDNS:alg>3</secDNS:alg>
            <secDNS:digestType>1</secDNS:digestType>
            <secDNS:digest>38EC35D5B3A34B44C39B</secDNS:digest>
          </secDNS:dsData>
        </secDNS:rem>
      </secDNS:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

# The RFC prints this example with the secDNS-1.0 namespace, an error in the RFC (everything
# around it is secDNS-1.1; the schema it illustrates is 1.1's).
UPDATE_REM_ALL = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
      </domain:update>
    </update>
    <extension>
      <secDNS:update urgent="true"
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.0">
        <secDNS:rem>
          <secDNS:all>true</secDNS:all>
        </secDNS:rem>
      </secDNS:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

UPDATE_REPLACE_URGENT = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>example.com</domain:name>
      </domain:update>
    </update>
    <extension>
      <secDNS:update urgent="true"
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:rem>
          <secDNS:all>true</secDNS:all>
        </secDNS:rem>
        <secDNS:add>
          <secDNS:dsData>
            <secDNS:keyTag>12346</secDNS:keyTag>
            <secDNS:alg>3</secDNS:alg>
            <secDNS:digestType>1</secDNS:digestType>
            <secDNS:digest>38EC35D5B3A34B44C39B</secDNS:digest>
          </secDNS:dsData>
        </secDNS:add>
      </secDNS:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

_INFO_HEAD = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
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
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:ns>
          <domain:hostObj>ns1.example.com</domain:hostObj>
          <domain:hostObj>ns2.example.com</domain:hostObj>
        </domain:ns>
        <domain:host>ns1.example.com</domain:host>
        <domain:host>ns2.example.com</domain:host>
        <domain:clID>ClientX</domain:clID>
        <domain:crID>ClientY</domain:crID>
        <domain:crDate>1999-04-03T22:00:00.0Z</domain:crDate>
        <domain:upID>ClientX</domain:upID>
        <domain:upDate>1999-12-03T09:00:00.0Z</domain:upDate>
        <domain:exDate>2005-04-03T22:00:00.0Z</domain:exDate>
        <domain:trDate>2000-04-08T09:00:00.0Z</domain:trDate>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:infData>
    </resData>
    <extension>
"""
_INFO_TAIL = """    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

INFO_DS = (
    _INFO_HEAD
    + """      <secDNS:infData
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:dsData>
          <secDNS:keyTag>12345</secDNS:keyTag>
          <secDNS:alg>3</secDNS:alg>
          <secDNS:digestType>1</secDNS:digestType>
          <secDNS:digest>49FD46E6C4B45C55D4AC</secDNS:digest>
        </secDNS:dsData>
      </secDNS:infData>
"""
    + _INFO_TAIL
)

INFO_DS_KEY = (
    _INFO_HEAD
    + """      <secDNS:infData
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:maxSigLife>604800</secDNS:maxSigLife>
        <secDNS:dsData>
          <secDNS:keyTag>12345</secDNS:keyTag>
          <secDNS:alg>3</secDNS:alg>
          <secDNS:digestType>1</secDNS:digestType>
          <secDNS:digest>49FD46E6C4B45C55D4AC</secDNS:digest>
          <secDNS:keyData>
            <secDNS:flags>257</secDNS:flags>
            <secDNS:protocol>3</secDNS:protocol>
            <secDNS:alg>1</secDNS:alg>
            <secDNS:pubKey>AQPJ////4Q==</secDNS:pubKey>
          </secDNS:keyData>
        </secDNS:dsData>
      </secDNS:infData>
"""
    + _INFO_TAIL
)

INFO_KEY = (
    _INFO_HEAD
    + """      <secDNS:infData
       xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
        <secDNS:keyData>
          <secDNS:flags>257</secDNS:flags>
          <secDNS:protocol>3</secDNS:protocol>
          <secDNS:alg>1</secDNS:alg>
          <secDNS:pubKey>AQPJ////4Q==</secDNS:pubKey>
        </secDNS:keyData>
      </secDNS:infData>
"""
    + _INFO_TAIL
)

COMMANDS = {
    "create DS": CREATE_DS,
    "create DS with key data": CREATE_DS_KEY,
    "create key data": CREATE_KEY,
    "update rem and add DS": UPDATE_REM_ADD_DS,
    "update maxSigLife": UPDATE_MAX_SIG_LIFE,
    "update key data and maxSigLife": UPDATE_KEYS,
    "update rem DS": UPDATE_REM_DS,
    "update urgent replace all": UPDATE_REPLACE_URGENT,
}
RESPONSES = {"info DS": INFO_DS, "info DS with key data": INFO_DS_KEY, "info key data": INFO_KEY}

# ---------------------------------------------------------------- substitutions

HOSTS = {"ns1.example.com": "ns1.example.net", "ns2.example.com": "ns2.example.net"}
NO_MAX_SIG_LIFE = {
    "<secDNS:maxSigLife>604800</secDNS:maxSigLife>": "",
    "<secDNS:maxSigLife>605900</secDNS:maxSigLife>": "",
}
ALGORITHM_8 = {  # DSA (3) and RSA/MD5 (1), forbidden by RFC 8624, become RSA/SHA-256 (8)
    "<secDNS:alg>3</secDNS:alg>": "<secDNS:alg>8</secDNS:alg>",
    "<secDNS:alg>1</secDNS:alg>": "<secDNS:alg>8</secDNS:alg>",
}
SHA256 = {"<secDNS:digestType>1</secDNS:digestType>": "<secDNS:digestType>2</secDNS:digestType>"}
FULL_DIGESTS = {  # the RFC's 10-byte digests, padded to SHA-256's 32 bytes
    d: d + "0" * 44
    for d in ("49FD46E6C4B45C55D4AC", "38EC35D5B3A34B33C99B", "38EC35D5B3A34B44C39B")
}
NOT_URGENT = {' urgent="true"': ""}


def sub(xml: str, *tables: dict[str, str]) -> bytes:
    for table in tables:
        for old, new in table.items():
            xml = xml.replace(old, new)
    return xml.encode()


def modern(xml: str) -> bytes:
    return sub(xml, HOSTS, NO_MAX_SIG_LIFE, ALGORITHM_8, SHA256, FULL_DIGESTS)


# ---------------------------------------------------------------- helpers

CONTACT = """<create><contact:create xmlns:contact="urn:ietf:params:xml:ns:contact-1.0">
<contact:id>{id}</contact:id><contact:postalInfo type="int"><contact:name>{id}</contact:name>
<contact:addr><contact:city>Dulles</contact:city><contact:cc>US</contact:cc></contact:addr>
</contact:postalInfo><contact:email>{id}@example.com</contact:email>
<contact:authInfo><contact:pw>2fooBAR</contact:pw></contact:authInfo></contact:create></create>"""
HOST = """<create><host:create xmlns:host="urn:ietf:params:xml:ns:host-1.0">
<host:name>{name}</host:name></host:create></create>"""
D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
X = f'xmlns:secDNS="{SECDNS}"'


async def login(connect, clid: str, *extensions: str):
    client = await connect()
    reply = await client.login(clid, support.PASSWORDS[clid], extensions=extensions)
    assert reply.code == 1000, reply.raw
    return client


async def send(client, data: bytes, code: int):
    raw = await client.send_raw(data)
    assert_schema_valid(raw)
    reply = parse_reply(raw)
    assert reply.code == code, raw.decode()
    return reply


async def ok(client, body: str, extension: str = ""):
    reply = await client.command(body, extension=extension)
    assert_schema_valid(reply.raw)
    assert reply.code == 1000, reply.raw.decode()
    return reply


async def world(client) -> None:
    """The objects the examples refer to: contacts jd1234, sh8013 and two external hosts."""
    for handle in ("jd1234", "sh8013"):
        await ok(client, CONTACT.format(id=handle))
    for name in HOSTS.values():
        await ok(client, HOST.format(name=name))


def ds_records(reply) -> list[tuple[str | None, ...]]:
    return [
        tuple(
            e.findtext(f"secDNS:{f}", namespaces=S)
            for f in ("keyTag", "alg", "digestType", "digest")
        )
        for e in reply.tree.findall(".//secDNS:infData/secDNS:dsData", S)
    ]


def info(name: str = "example.com") -> str:
    return f"<info><domain:info {D}><domain:name>{name}</domain:name></domain:info></info>"


def ds(
    key_tag: int = 1, alg: int = 8, digest_type: int = 2, digest: str = "AB" * 32, key: str = ""
) -> str:
    return (
        f"<secDNS:dsData><secDNS:keyTag>{key_tag}</secDNS:keyTag><secDNS:alg>{alg}</secDNS:alg>"
        f"<secDNS:digestType>{digest_type}</secDNS:digestType><secDNS:digest>{digest}</secDNS:digest>"
        f"{key}</secDNS:dsData>"
    )


def key(flags: int = 257, protocol: int = 3, alg: int = 8) -> str:
    return (
        f"<secDNS:keyData><secDNS:flags>{flags}</secDNS:flags><secDNS:protocol>{protocol}"
        f"</secDNS:protocol><secDNS:alg>{alg}</secDNS:alg><secDNS:pubKey>AwEAAQ==</secDNS:pubKey>"
        "</secDNS:keyData>"
    )


def create(name: str) -> str:
    return (
        f"<create><domain:create {D}><domain:name>{name}</domain:name>"
        "<domain:authInfo><domain:pw>auth-INFO1</domain:pw></domain:authInfo></domain:create></create>"
    )


def domain_update(name: str, inner: str = "") -> str:
    return f"<update><domain:update {D}><domain:name>{name}</domain:name>{inner}</domain:update></update>"


def secdns_update(inner: str, attrs: str = "") -> str:
    return f"<secDNS:update {X}{attrs}>{inner}</secDNS:update>"


def secdns_create(inner: str) -> str:
    return f"<secDNS:create {X}>{inner}</secDNS:create>"


def info_frame(name: str = "example.com") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0">'
        f"<command>{info(name)}<clTRID>ABC-12345</clTRID></command></epp>"
    ).encode()


def set_interface(db: Database, tld: str, interface: str) -> None:
    with db.write() as conn:
        conn.execute(
            sql_update(t.tlds).where(t.tlds.c.name == tld).values(dnssec_interface=interface)
        )


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("name", sorted(COMMANDS) + sorted(RESPONSES))
def test_rfc5910_examples_are_valid_against_the_official_schemas(name):
    xml = {**COMMANDS, **RESPONSES}[name]
    assert_schema_valid(xml.encode())
    assert_schema_valid(modern(xml))  # the substitutions keep them valid


def test_rfc5910_remove_all_example_uses_the_secdns_1_0_namespace_by_mistake():
    schema = official_schema()
    assert not schema.validate(etree.fromstring(UPDATE_REM_ALL.encode()))
    fixed = UPDATE_REM_ALL.replace("secDNS-1.0", "secDNS-1.1")
    assert schema.validate(etree.fromstring(fixed.encode())), schema.error_log


async def test_greeting_announces_secdns(connect):
    client = await connect()
    greeting = parse_reply(client.greeting)
    assert SECDNS in [e.text for e in greeting.findall(".//epp:extURI")]


async def test_rfc5910_create_examples_get_the_registry_policy_then_succeed(connect, db):
    x = await login(connect, "ClientX", SECDNS)
    await world(x)
    before = dump(db)
    # Verbatim (hosts aside), each example meets one policy rule after the other.
    steps = [
        (sub(CREATE_DS, HOSTS), 2102, "maxSigLife"),
        (sub(CREATE_DS, HOSTS, NO_MAX_SIG_LIFE), 2306, "DS algorithm 3"),
        (sub(CREATE_DS, HOSTS, NO_MAX_SIG_LIFE, ALGORITHM_8), 2306, "digest type 1"),
        (sub(CREATE_DS, HOSTS, NO_MAX_SIG_LIFE, ALGORITHM_8, SHA256), 2005, "32 bytes"),
        (sub(CREATE_DS_KEY, HOSTS, NO_MAX_SIG_LIFE, ALGORITHM_8, SHA256), 2005, "32 bytes"),
        (sub(CREATE_KEY, HOSTS), 2306, "DS data interface"),
    ]
    for data, code, reason in steps:
        reply = await send(x, data, code)
        assert reason in reply.msg, reply.msg
        assert reply.findtext("epp:response/epp:trID/epp:clTRID") == "ABC-12345"
    assert dump(db) == before
    # With a TLD that would take key data, the key data interface is still not implemented.
    set_interface(db, "com", "any")
    before = dump(db)
    reply = await send(x, sub(CREATE_KEY, HOSTS), 2102)
    assert "key data interface" in reply.msg
    assert dump(db) == before

    reply = await send(x, modern(CREATE_DS), 1000)
    reply = await send(x, info_frame(), 1000)
    assert ds_records(reply) == ds_records(parse_reply(modern(INFO_DS)))
    assert reply.tree.find(".//secDNS:infData/secDNS:maxSigLife", S) is None  # not supported

    # The example with key data, on another name: the key is kept and shown.
    second = modern(CREATE_DS_KEY).replace(b"example.com", b"example2.com")
    await send(x, second, 1000)
    reply = await send(x, info_frame("example2.com"), 1000)
    expected = parse_reply(modern(INFO_DS_KEY))
    assert ds_records(reply) == ds_records(expected)
    got_key = reply.tree.find(".//secDNS:dsData/secDNS:keyData", S)
    want_key = expected.tree.find(".//secDNS:dsData/secDNS:keyData", S)
    assert got_key is not None and want_key is not None
    assert [c.text for c in got_key] == [c.text for c in want_key]


async def test_rfc5910_update_examples_against_the_server(connect, db):
    x = await login(connect, "ClientX", SECDNS)
    await world(x)
    await send(x, modern(CREATE_DS), 1000)
    # The RFC's rem-and-add example removes a record (digest 38EC..33C99B) the RFC's create
    # never added: that is refused; once the record is there, the example succeeds.
    reply = await send(x, modern(UPDATE_REM_ADD_DS), 2306)
    assert "not on the domain" in reply.msg
    rfc_record = ds(12345, 8, 2, FULL_DIGESTS["38EC35D5B3A34B33C99B"])
    await ok(
        x, domain_update("example.com"), secdns_update(f"<secDNS:add>{rfc_record}</secDNS:add>")
    )
    await send(x, modern(UPDATE_REM_ADD_DS), 1000)
    reply = await send(x, info_frame(), 1000)
    assert [r[:3] for r in ds_records(reply)] == [("12345", "8", "2"), ("12346", "8", "2")]
    assert ds_records(reply)[1][3] == FULL_DIGESTS["38EC35D5B3A34B44C39B"]

    # History: the update is recorded with the DS records after it.
    with db.read() as conn:
        row = conn.execute(
            select(t.history.c.command, t.history.c.snapshot)
            .where(t.history.c.object_name == "example.com")
            .order_by(t.history.c.id.desc())
            .limit(1)
        ).one()
    assert row.command == "domain:update"
    assert f"12346 8 2 {FULL_DIGESTS['38EC35D5B3A34B44C39B']}" in orjson.loads(row.snapshot)["ds"]

    # maxSigLife is not supported (RFC 5910: 2102); key data is not this TLD's interface.
    reply = await send(x, sub(UPDATE_MAX_SIG_LIFE), 2102)
    assert "maxSigLife" in reply.msg
    await send(x, sub(UPDATE_KEYS), 2102)
    reply = await send(x, sub(UPDATE_KEYS, NO_MAX_SIG_LIFE), 2306)
    assert "DS data interface" in reply.msg

    await send(x, modern(UPDATE_REM_DS), 1000)
    reply = await send(x, info_frame(), 1000)
    assert [r[0] for r in ds_records(reply)] == ["12345"]

    # Urgent updates are not supported (2102); without urgent the replacement works.
    await send(x, modern(UPDATE_REPLACE_URGENT), 2102)
    await send(x, sub(modern(UPDATE_REPLACE_URGENT).decode(), NOT_URGENT), 1000)
    reply = await send(x, info_frame(), 1000)
    assert [r[0] for r in ds_records(reply)] == ["12346"]

    # The remove-all example, verbatim, names secDNS-1.0: an unknown extension (2103).
    await send(x, UPDATE_REM_ALL.encode(), 2103)
    fixed = UPDATE_REM_ALL.replace("secDNS-1.0", "secDNS-1.1")
    await send(x, fixed.encode(), 2102)  # urgent
    await send(x, sub(fixed, NOT_URGENT), 1000)
    reply = await send(x, info_frame(), 1000)
    assert reply.tree.find(".//secDNS:infData", S) is None  # no DS left: no infData
    with db.read() as conn:
        assert conn.execute(select(t.domain_ds)).all() == []


async def test_info_shows_secdns_only_to_clients_that_announced_it(connect):
    x = await login(connect, "ClientX", SECDNS)
    await ok(x, create("signed.test"), secdns_create(ds()))
    reply = await ok(x, info("signed.test"))
    assert ds_records(reply) == [("1", "8", "2", "AB" * 32)]
    assert reply.tree.find(".//epp:extValue", S) is None
    plain = await login(connect, "ClientX")
    reply = await ok(plain, info("signed.test"))
    assert reply.tree.find(".//epp:extension", S) is None
    # RFC 9038: not dropped, but moved into <extValue> with its reason.
    reason = reply.tree.findtext(".//epp:extValue/epp:reason", namespaces=S)
    assert reason == f"{SECDNS} not in login services"


async def test_sha384_digest_and_key_data_are_accepted(connect):
    x = await login(connect, "ClientX", SECDNS)
    record = ds(7, 14, 4, "CD" * 48, key(257, 3, 14))
    await ok(x, create("sha384.test"), secdns_create(record))
    reply = await ok(x, info("sha384.test"))
    assert ds_records(reply) == [("7", "14", "4", "CD" * 48)]
    assert reply.tree.findtext(".//secDNS:keyData/secDNS:pubKey", namespaces=S) == "AwEAAQ=="


POLICY = {
    "RSA/MD5 algorithm": (ds(alg=1), 2306, "forbidden by RFC 8624"),
    "DSA algorithm": (ds(alg=3), 2306, "DSA"),
    "unassigned algorithm": (ds(alg=200), 2306, "not an assigned"),
    "private algorithm": (ds(alg=253), 2306, "private"),
    "SHA-1 digest": (ds(digest_type=1, digest="AB" * 20), 2306, "SHA-1"),
    "GOST digest": (ds(digest_type=3), 2306, "GOST"),
    "unknown digest type": (ds(digest_type=9), 2306, "not an assigned digest type"),
    "short SHA-256 digest": (ds(digest="AB" * 20), 2005, "32 bytes"),
    "long SHA-384 digest": (ds(digest_type=4, digest="AB" * 49), 2005, "48 bytes"),
    "key protocol not 3": (ds(key=key(protocol=4)), 2005, "protocol must be 3"),
    "key without zone flag": (ds(key=key(flags=1)), 2306, "zone key"),
    "key algorithm differs": (ds(key=key(alg=13)), 2306, "differs"),
    "record twice": (ds() + ds(), 2306, "twice"),
    "too many records": ("".join(ds(key_tag=i) for i in range(9)), 2306, "at most 8"),
    "maxSigLife": ("<secDNS:maxSigLife>3600</secDNS:maxSigLife>" + ds(), 2102, "maxSigLife"),
    "key data interface": (key(), 2306, "DS data interface"),
}


@pytest.mark.parametrize("case", sorted(POLICY))
async def test_ds_policy_is_enforced_with_precise_codes_and_nothing_changes(connect, db, case):
    inner, code, reason = POLICY[case]
    x = await login(connect, "ClientX", SECDNS)
    await ok(x, create("kept.test"))
    before = dump(db)
    reply = await x.command(create("refused.test"), extension=secdns_create(inner))
    assert_schema_valid(reply.raw)
    assert reply.code == code and reason in reply.msg, reply.raw.decode()
    reply = await x.command(
        domain_update("kept.test"), extension=secdns_update(f"<secDNS:add>{inner}</secDNS:add>")
    )
    assert reply.code == code and reason in reply.msg, reply.raw.decode()
    assert dump(db) == before


@pytest.mark.parametrize(
    ("body", "extension", "code"),
    [
        (info("x.test"), secdns_create(ds()), 2002),  # secDNS does not extend info
        (create("x.test"), secdns_update(f"<secDNS:add>{ds()}</secDNS:add>"), 2002),
        (domain_update("kept.test"), secdns_create(ds()), 2002),
        (domain_update("kept.test"), secdns_update(""), 2003),  # rem, add or chg needed
        (create("x.test"), secdns_create(ds()) + secdns_create(ds()), 2002),  # twice
        (create("x.test"), secdns_create(ds(digest="XYZ")), 2001),  # not hexBinary
        (create("x.test"), '<x:y xmlns:x="urn:example:ext"/>', 2103),
    ],
)
async def test_extension_used_where_it_does_not_belong_is_refused(
    connect, db, body, extension, code
):
    x = await login(connect, "ClientX", SECDNS)
    await ok(x, create("kept.test"))
    before = dump(db)
    reply = await x.command(body, extension=extension)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    assert reply.tree.findtext(".//epp:extValue/epp:reason", namespaces=S)
    assert dump(db) == before


async def test_only_the_sponsor_changes_ds_and_statuses_protect_them(connect, db):
    x = await login(connect, "ClientX", SECDNS)
    y = await login(connect, "ClientY", SECDNS)
    await ok(x, create("mine.test"), secdns_create(ds()))
    change = secdns_update("<secDNS:rem><secDNS:all>true</secDNS:all></secDNS:rem>")
    assert (await y.command(domain_update("mine.test"), extension=change)).code == 2201
    lock = '<domain:add><domain:status s="clientUpdateProhibited"/></domain:add>'
    await ok(x, domain_update("mine.test", lock))
    reply = await x.command(domain_update("mine.test"), extension=change)
    assert reply.code == 2304
    with db.read() as conn:
        assert len(conn.execute(select(t.domain_ds)).all()) == 1


async def test_remove_all_false_changes_nothing(connect, db):
    x = await login(connect, "ClientX", SECDNS)
    await ok(x, create("keep.test"), secdns_create(ds()))
    await ok(
        x,
        domain_update("keep.test"),
        secdns_update("<secDNS:rem><secDNS:all>false</secDNS:all></secDNS:rem>"),
    )
    assert ds_records(await ok(x, info("keep.test"))) == [("1", "8", "2", "AB" * 32)]
