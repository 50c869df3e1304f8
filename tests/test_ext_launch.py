"""launch-1.0 (RFC 8334) with signed marks (RFC 7848) over EPP: the RFC's examples, copied
verbatim, validated against the official schemas and sent to a running server; sunrise
registrations with signed marks (XML and base64) verified against the registry's TMCH CA, and
every way a mark is refused (tampered, untrusted CA, certificate on the CRL, SMD id on the
revocation list, expired, not yet valid, another label, unreadable); the claims check and
claims creates with the notice checks (checksum, expiry, acceptance within 48 hours); phases
moving with the clock; the operators' CLI. Failures change nothing (`dump`).

Set-up: TLD "example" with sunrise from 2026-01-01, claims from 2026-04-01 and open from
2026-07-01; claims for the labels "domain2", "domain3" and "domain" (the RFC's claims check and
create examples). The TMCH is the test one of tests/launch_support.py (its own CA, signer,
revoked signer and CRL; signed marks signed with signxml), configured as the registry's
`tmch_ca_cert` and `tmch_crl`.

Substitutions: the RFC's claims create example carries placeholder notice ids whose checksum
is not the TMCH's (so it is refused, as ICANN's RST requires of an invalid notice id) and a
"custom-tmch" validator this registry does not know; it is then sent with one "tmch" notice
whose id is computed for its label and notAfter. The examples with "..." for marks are not
XML and are represented by the sunrise tests with real signed marks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from domreg.cli.main import main
from domreg.clock import FixedClock
from domreg.epp.extensions import launch as ext
from domreg.flows import launch
from domreg.flows.base import Policy
from domreg.flows.registry import RegistryError
from domreg.store import schema as t
from domreg.store.db import Database
from tests import launch_support as ls
from tests import support
from tests.support import assert_schema_valid, dump

URI = ext.URI
START = datetime(2026, 2, 1, 12, 0, 0)  # in sunrise
SUNRISE, CLAIMS, OPEN = datetime(2026, 1, 1), datetime(2026, 4, 1), datetime(2026, 7, 1)
IN_CLAIMS = datetime(2026, 5, 1, 12, 0, 0)
HOUR = timedelta(hours=1)
D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
LNS = f'xmlns:launch="{URI}"'
SMD_NS = f'xmlns:smd="{ls.SMD}"'
NS = {"launch": URI, "domain": "urn:ietf:params:xml:ns:domain-1.0", "mark": ls.MARK}

# ---------------------------------------------------------------- RFC 8334 examples, verbatim

CLAIMS_CHECK = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
   <check>
    <domain:check
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
      <domain:name>domain1.example</domain:name>
      <domain:name>domain2.example</domain:name>
      <domain:name>domain3.example</domain:name>
    </domain:check>
   </check>
   <extension>
    <launch:check
     xmlns:launch="urn:ietf:params:xml:ns:launch-1.0"
     type="claims">
      <launch:phase>claims</launch:phase>
    </launch:check>
   </extension>
   <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

CLAIMS_CHECK_RESPONSE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1000">
     <msg>Command completed successfully</msg>
    </result>
    <extension>
     <launch:chkData
      xmlns:launch="urn:ietf:params:xml:ns:launch-1.0">
      <launch:phase>claims</launch:phase>
      <launch:cd>
        <launch:name exists="0">domain1.example</launch:name>
      </launch:cd>
      <launch:cd>
        <launch:name exists="1">domain2.example</launch:name>
        <launch:claimKey validatorID="tmch">
        2013041500/2/6/9/rJ1NrDO92vDsAzf7EQzgjX4R0000000001
        </launch:claimKey>
      </launch:cd>
      <launch:cd>
        <launch:name exists="1">domain3.example</launch:name>
        <launch:claimKey validatorID="tmch">
        2013041500/2/6/9/rJ1NrDO92vDsAzf7EQzgjX4R0000000001
        </launch:claimKey>
        <launch:claimKey validatorID="custom-tmch">
        20140423200/1/2/3/rJ1Nr2vDsAzasdff7EasdfgjX4R000000002
        </launch:claimKey>
      </launch:cd>
     </launch:chkData>
    </extension>
    <trID>
     <clTRID>ABC-12345</clTRID>
     <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>"""

AVAIL_CHECK = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
   <check>
    <domain:check
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
      <domain:name>domain1.example</domain:name>
      <domain:name>domain2.example</domain:name>
    </domain:check>
   </check>
   <extension>
    <launch:check
     xmlns:launch="urn:ietf:params:xml:ns:launch-1.0"
     type="avail">
      <launch:phase name="idn-release">custom</launch:phase>
    </launch:check>
   </extension>
   <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

TRADEMARK_CHECK = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
   <check>
    <domain:check
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
      <domain:name>domain1.example</domain:name>
      <domain:name>domain2.example</domain:name>
      <domain:name>domain3.example</domain:name>
    </domain:check>
   </check>
   <extension>
    <launch:check
     xmlns:launch="urn:ietf:params:xml:ns:launch-1.0"
     type="trademark"/>
   </extension>
   <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

TRADEMARK_CHECK_RESPONSE = CLAIMS_CHECK_RESPONSE.replace(
    "      <launch:phase>claims</launch:phase>\n", ""
)

INFO_APPLICATION = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
   <info>
    <domain:info
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
      <domain:name>domain.example</domain:name>
    </domain:info>
   </info>
   <extension>
    <launch:info
     xmlns:launch="urn:ietf:params:xml:ns:launch-1.0"
       includeMark="true">
      <launch:phase>sunrise</launch:phase>
      <launch:applicationID>abc123</launch:applicationID>
    </launch:info>
   </extension>
   <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

INFO_REGISTRATION = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
   <info>
    <domain:info
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
      <domain:name>domain.example</domain:name>
    </domain:info>
   </info>
   <extension>
    <launch:info
     xmlns:launch="urn:ietf:params:xml:ns:launch-1.0">
      <launch:phase>sunrise</launch:phase>
    </launch:info>
   </extension>
   <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

CODE_CREATE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <create>
      <domain:create
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:create>
    </create>
    <extension>
      <launch:create
       xmlns:launch="urn:ietf:params:xml:ns:launch-1.0">
        <launch:phase>sunrise</launch:phase>
        <launch:codeMark>
          <launch:code validatorID="sample1">
            49FD46E6C4B45C55D4AC</launch:code>
        </launch:codeMark>
        <launch:codeMark>
          <launch:code>49FD46E6C4B45C55D4AD</launch:code>
        </launch:codeMark>
        <launch:codeMark>
          <launch:code validatorID="sample2">
            49FD46E6C4B45C55D4AE</launch:code>
        </launch:codeMark>
      </launch:create>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

CLAIMS_CREATE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <create>
      <domain:create
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:create>
    </create>
    <extension>
      <launch:create
       xmlns:launch="urn:ietf:params:xml:ns:launch-1.0">
        <launch:phase>claims</launch:phase>
        <launch:notice>
          <launch:noticeID validatorID="tmch">
          370d0b7c9223372036854775807</launch:noticeID>
          <launch:notAfter>2014-06-19T10:00:00.0Z
          </launch:notAfter>
          <launch:acceptedDate>2014-06-19T09:00:00.0Z
          </launch:acceptedDate>
        </launch:notice>
        <launch:notice>
          <launch:noticeID validatorID="custom-tmch">
          470d0b7c9223654313275808</launch:noticeID>
          <launch:notAfter>2014-06-19T10:00:00.0Z
          </launch:notAfter>
          <launch:acceptedDate>2014-06-19T09:00:30.0Z
          </launch:acceptedDate>
        </launch:notice>
      </launch:create>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

LANDRUSH_CREATE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <create>
      <domain:create
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:authInfo>
          <domain:pw>2fooBAR</domain:pw>
        </domain:authInfo>
      </domain:create>
    </create>
    <extension>
      <launch:create
       xmlns:launch="urn:ietf:params:xml:ns:launch-1.0"
       type="application">
        <launch:phase>landrush</launch:phase>
      </launch:create>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

CREATE_RESPONSE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1001">
      <msg>Command completed successfully; action pending</msg>
    </result>
    <resData>
      <domain:creData
         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
       <domain:name>domain.example</domain:name>
       <domain:crDate>2010-08-10T15:38:26.623854Z</domain:crDate>
      </domain:creData>
    </resData>
    <extension>
      <launch:creData
        xmlns:launch="urn:ietf:params:xml:ns:launch-1.0">
        <launch:phase>sunrise</launch:phase>
        <launch:applicationID>2393-9323-E08C-03B1
        </launch:applicationID>
      </launch:creData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>"""

UPDATE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:add>
            <domain:ns>
              <domain:hostObj>ns2.domain.example</domain:hostObj>
            </domain:ns>
          </domain:add>
          <domain:rem>
            <domain:ns>
              <domain:hostObj>ns1.domain.example</domain:hostObj>
            </domain:ns>
          </domain:rem>
      </domain:update>
    </update>
    <extension>
    <launch:update
     xmlns:launch="urn:ietf:params:xml:ns:launch-1.0">
      <launch:phase>sunrise</launch:phase>
      <launch:applicationID>abc123</launch:applicationID>
    </launch:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

DELETE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <command>
   <delete>
    <domain:delete
     xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
      <domain:name>domain.example</domain:name>
    </domain:delete>
   </delete>
   <extension>
    <launch:delete
     xmlns:launch="urn:ietf:params:xml:ns:launch-1.0">
      <launch:phase>sunrise</launch:phase>
      <launch:applicationID>abc123</launch:applicationID>
    </launch:delete>
   </extension>
   <clTRID>ABC-12345</clTRID>
  </command>
</epp>"""

EXAMPLES = [
    CLAIMS_CHECK,
    CLAIMS_CHECK_RESPONSE,
    AVAIL_CHECK,
    TRADEMARK_CHECK,
    TRADEMARK_CHECK_RESPONSE,
    INFO_APPLICATION,
    INFO_REGISTRATION,
    CODE_CREATE,
    CLAIMS_CREATE,
    LANDRUSH_CREATE,
    CREATE_RESPONSE,
    UPDATE,
    DELETE,
]
KEY = "2013041500/2/6/9/rJ1NrDO92vDsAzf7EQzgjX4R0000000001"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tmch(tmp_path_factory: pytest.TempPathFactory) -> ls.Tmch:
    return ls.make_tmch(tmp_path_factory.mktemp("tmch"))


@pytest.fixture
def policy(tmch: ls.Tmch) -> Policy:
    return Policy(tmch_ca=str(tmch.ca_file), tmch_crl=str(tmch.crl_file))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def db(shared_db: Database) -> Iterator[Database]:
    support.empty(shared_db)
    support.setup_registry(shared_db, START, tlds=("example", "test"))
    with shared_db.write() as conn:
        launch.add_phase(conn, "example", "sunrise", SUNRISE, CLAIMS)
        launch.add_phase(conn, "example", "claims", CLAIMS, OPEN)
        launch.add_phase(conn, "example", "open", OPEN)
        launch.load_claims(conn, "example", [("domain2", KEY), ("domain3", KEY), ("domain", KEY)])
    yield shared_db


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
        "<domain:authInfo><domain:pw>2fooBAR</domain:pw></domain:authInfo>"
        "</domain:create></create>"
    )


def _check(*names: str) -> str:
    inner = "".join(f"<domain:name>{n}</domain:name>" for n in names)
    return f"<check><domain:check {D}>{inner}</domain:check></check>"


def _info(name: str) -> str:
    return f"<info><domain:info {D}><domain:name>{name}</domain:name></domain:info></info>"


def _phase(phase: str, name: str | None = None) -> str:
    attr = f' name="{name}"' if name else ""
    return f"<launch:phase{attr}>{phase}</launch:phase>"


def _launch(phase: str, inner: str = "", attrs: str = "") -> str:
    return f"<launch:create {LNS}{attrs}>{_phase(phase)}{inner}</launch:create>"


def _signed(smd: bytes) -> str:
    """The signed mark inline: the `<smd:signedMark>` element as signed (no XML declaration)."""
    return smd.decode()


def _encoded(smd: bytes) -> str:
    return f"<smd:encodedSignedMark {SMD_NS}>{ls.encoded(smd)}</smd:encodedSignedMark>"


def _notice(notice_id: str, not_after: datetime, accepted: datetime, validator: str = "") -> str:
    v = f' validatorID="{validator}"' if validator else ""
    return (
        f"<launch:notice><launch:noticeID{v}>{notice_id}</launch:noticeID>"
        f"<launch:notAfter>{not_after.isoformat()}Z</launch:notAfter>"
        f"<launch:acceptedDate>{accepted.isoformat()}Z</launch:acceptedDate></launch:notice>"
    )


def _claims(reply: Any) -> list[tuple[str, str, list[str]]]:
    return [
        (
            (cd.findtext("launch:name", namespaces=NS) or "").strip(),
            cd.find("launch:name", NS).get("exists"),
            [(k.text or "").strip() for k in cd.findall("launch:claimKey", NS)],
        )
        for cd in reply.tree.findall(".//launch:cd", NS)
    ]


def _msg(reply: Any) -> str:
    """The result's message (unescaped)."""
    return reply.tree.findtext(".//{urn:ietf:params:xml:ns:epp-1.0}msg") or ""


def _launch_row(db: Database, name: str) -> Any:
    with db.read() as conn:
        return conn.execute(
            select(t.domain_launch)
            .join(t.domains, t.domains.c.id == t.domain_launch.c.domain_id)
            .where(t.domains.c.name == name, t.domains.c.deleted_at.is_(None))
        ).first()


# ---------------------------------------------------------------- the RFC's examples


def test_the_rfc_examples_are_schema_valid():
    for example in EXAMPLES:
        assert_schema_valid(example.encode())


async def test_greeting_announces_launch(connect):
    client = await connect()
    assert URI.encode() in client.greeting


async def test_rfc_claims_and_trademark_check_examples(connect, db, clock):
    clock.set(IN_CLAIMS)
    x = await _client(connect)
    reply = await _request(x, CLAIMS_CHECK, 1000)
    assert reply.tree.find(".//domain:chkData", NS) is None  # no availability (3.1.1)
    assert reply.tree.findtext(".//launch:chkData/launch:phase", namespaces=NS) == "claims"
    # The RFC's answer, less the "custom-tmch" key (this registry knows the TMCH only).
    assert _claims(reply) == [
        ("domain1.example", "0", []),
        ("domain2.example", "1", [KEY]),
        ("domain3.example", "1", [KEY]),
    ]
    reply = await _request(x, TRADEMARK_CHECK, 1000)
    assert reply.tree.find(".//launch:chkData/launch:phase", NS) is None
    assert [c[:2] for c in _claims(reply)] == [
        ("domain1.example", "0"),
        ("domain2.example", "1"),
        ("domain3.example", "1"),
    ]


async def test_claims_check_in_sunrise_is_2306_and_trademark_check_answers(connect, db):
    x = await _client(connect)
    reply = await _request(x, CLAIMS_CHECK, 2306)
    assert "launch phase of .example is sunrise, not claims" in _msg(reply)
    reply = await _request(x, TRADEMARK_CHECK, 1000)  # independent of the phase (3.1.3)
    assert [c[1] for c in _claims(reply)] == ["0", "1", "1"]


async def test_rfc_avail_check_example_validates_the_custom_phase(connect, db, clock):
    x = await _client(connect)
    await _request(x, AVAIL_CHECK, 2306)
    with db.write() as conn:
        launch.add_phase(conn, "test", "custom", START - HOUR, sub_phase="idn-release")
        conn.execute(
            t.tld_phases.update()
            .where(t.tld_phases.c.name == "custom")
            .values(tld_id=select(t.tlds.c.id).where(t.tlds.c.name == "example").scalar_subquery())
        )
        conn.execute(t.tld_phases.delete().where(t.tld_phases.c.name == "sunrise"))
    reply = await _request(x, AVAIL_CHECK, 1000)
    names = reply.tree.findall(".//domain:cd/domain:name", NS)
    assert [(n.text, n.get("avail")) for n in names] == [
        ("domain1.example", "1"),
        ("domain2.example", "1"),
    ]


async def test_rfc_claims_create_example_placeholder_notices_are_refused(connect, db, clock):
    x = await _client(connect)
    for handle in ("jd1234", "sh8013"):
        await _send(x, _contact(handle), 1000)
    clock.set(IN_CLAIMS)
    before = dump(db)
    reply = await _request(x, CLAIMS_CREATE, 2306)
    assert "checksum does not match" in _msg(reply)
    assert dump(db) == before
    # The same create with one TMCH notice made for its label and notAfter.
    not_after = IN_CLAIMS + HOUR
    valid = ls.notice_id("domain", not_after)
    create = CLAIMS_CREATE.replace("370d0b7c9223372036854775807", valid)
    create = create.replace("2014-06-19T10:00:00.0Z", not_after.isoformat() + "Z")
    create = create.replace("2014-06-19T09:00:00.0Z", (IN_CLAIMS - HOUR).isoformat() + "Z")
    reply = await _request(x, create, 2306)  # the second notice: "custom-tmch"
    assert "validator 'custom-tmch'" in _msg(reply)
    start = create.index("<launch:notice>", create.index("</launch:notice>"))
    only_tmch = create[:start] + create[create.index("</launch:create>") :]
    await _request(x, only_tmch, 1000)
    row = _launch_row(db, "domain.example")
    assert (row.phase, row.notice_id, row.notice_not_after) == ("claims", valid, not_after)


async def test_rfc_landrush_application_create_is_2306(connect, db, clock):
    with db.write() as conn:
        conn.execute(t.tld_phases.delete())
        launch.add_phase(conn, "example", "landrush", START - HOUR)
    x = await _client(connect)
    for handle in ("jd1234", "sh8013"):
        await _send(x, _contact(handle), 1000)
    before = dump(db)
    reply = await _request(x, LANDRUSH_CREATE, 2306)
    assert "launch registrations, not applications" in _msg(reply)
    assert dump(db) == before
    ok = LANDRUSH_CREATE.replace('type="application"', 'type="registration"')
    await _request(x, ok, 1000)
    assert _launch_row(db, "domain.example").phase == "landrush"


async def test_rfc_code_mark_create_is_2102(connect, db):
    x = await _client(connect)
    for handle in ("jd1234", "sh8013"):
        await _send(x, _contact(handle), 1000)
    reply = await _request(x, CODE_CREATE, 2102)
    assert "signed marks only" in _msg(reply)


async def test_rfc_update_and_delete_examples_are_2102(connect, db):
    x = await _client(connect)
    for example in (UPDATE, DELETE):
        reply = await _request(x, example, 2102)
        assert "launch registrations only" in _msg(reply)


async def test_rfc_info_examples(connect, db, tmch):
    x = await _client(connect)
    smd = ls.smd_xml(tmch.signer, ["domain"])
    await _send(x, _create("domain.example"), 1000, _launch("sunrise", _signed(smd)))
    reply = await _request(x, INFO_APPLICATION, 2303)  # no launch applications here
    assert "no launch application abc123" in _msg(reply)
    reply = await _request(x, INFO_REGISTRATION, 1000)
    inf = reply.tree.find(".//launch:infData", NS)
    assert inf.findtext("launch:phase", namespaces=NS) == "sunrise"
    assert inf.find("launch:status", NS).get("s") == "allocated"
    assert inf.find("mark:mark", NS) is None  # includeMark defaults to false
    with_mark = INFO_APPLICATION.replace("<launch:applicationID>abc123</launch:applicationID>", "")
    reply = await _request(x, with_mark, 1000)
    labels = reply.tree.findall(".//launch:infData/mark:mark//mark:label", NS)
    assert [el.text for el in labels] == ["domain"]
    await _request(x, INFO_REGISTRATION.replace(">sunrise<", ">claims<"), 2306)


def test_phase_matching_sub_phases():
    claims_landrush = launch.Phase("claims", "landrush")
    assert claims_landrush.matches(launch.Phase("claims", "landrush"))
    assert claims_landrush.matches(launch.Phase("claims"))  # the sub-phase may be left out
    assert not claims_landrush.matches(launch.Phase("claims", "open"))
    assert not launch.Phase("claims").matches(launch.Phase("claims", "landrush"))
    idn = launch.Phase("custom", "idn-release")
    assert idn.matches(launch.Phase("custom", "idn-release"))
    assert not idn.matches(launch.Phase("custom"))  # a custom phase is its name


# ---------------------------------------------------------------- sunrise


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


async def test_sunrise_create_with_a_valid_signed_mark_registers_at_once(connect, db, tmch):
    x = await _client(connect)
    smd = ls.smd_xml(tmch.signer, ["test-validate", "testvalidate"])
    reply = await _send(x, _create("test-validate.example"), 1000, _launch("sunrise", _signed(smd)))
    assert reply.tree.find(".//launch:creData", NS) is None  # a registration (3.3.5)
    await _send(x, _create("testvalidate.example"), 1000, _launch("sunrise", _encoded(smd)))
    reply = await _send(x, _info("test-validate.example"), 1000)
    assert reply.tree.findtext(".//domain:name", namespaces=NS) == "test-validate.example"
    row = _launch_row(db, "testvalidate.example")
    assert (row.phase, row.smd_id) == ("sunrise", "0000001761376042759136-65535")
    assert "Test &amp; Validate" in row.mark_xml


async def test_sunrise_needs_the_extension_and_a_mark(connect, db):
    x = await _client(connect)
    before = dump(db)
    reply = await _send(x, _create("plain.example"), 2306)
    assert "sunrise phase: a create needs <launch:create>" in _msg(reply)
    reply = await _send(x, _create("plain.example"), 2306, _launch("sunrise"))
    assert "needs a signed mark" in _msg(reply)
    reply = await _send(x, _create("plain.example"), 2306, _launch("open"))
    assert "is sunrise, not open" in _msg(reply)
    assert dump(db) == before


@pytest.mark.parametrize(
    "case, why",
    [
        ("tampered", "Digest mismatch"),
        ("impostor", "signature does not verify"),
        ("revoked certificate", "signed with a revoked certificate"),
        ("expired", "expired at 2026-02-01T00:00:00Z"),
        ("not yet valid", "not valid before 2026-03-01T00:00:00Z"),
        ("other label", "no signed mark covers the label 'mine'"),
    ],
)
async def test_sunrise_refuses_a_mark_that_proves_nothing_with_2202(connect, db, tmch, case, why):
    make = {
        "tampered": lambda: ls.tampered(
            ls.smd_xml(tmch.signer, ["other"]), "<mark:label>other", "<mark:label>mine"
        ),
        "impostor": lambda: ls.smd_xml(tmch.impostor, ["mine"]),
        "revoked certificate": lambda: ls.smd_xml(tmch.revoked_signer, ["mine"]),
        "expired": lambda: ls.smd_xml(tmch.signer, ["mine"], not_after=datetime(2026, 2, 1)),
        "not yet valid": lambda: ls.smd_xml(tmch.signer, ["mine"], not_before=datetime(2026, 3, 1)),
        "other label": lambda: ls.smd_xml(tmch.signer, ["other", "another"]),
    }
    x = await _client(connect)
    before = dump(db)
    reply = await _send(
        x, _create("mine.example"), 2202, _launch("sunrise", _encoded(make[case]()))
    )
    assert why in _msg(reply), reply.raw.decode()
    assert dump(db) == before


async def test_revoked_smd_id_is_refused_after_loading_the_revocation_list(
    connect, db, tmch, cli, tmp_path
):
    smd = ls.smd_xml(tmch.signer, ["mine", "yours"], smd_id="0000001681375789102250-65535")
    smdrl = tmp_path / "smdrl.csv"
    smdrl.write_text(
        "1,2026-01-24T23:00:00.0Z\nsmd-id,insertion-datetime\n"
        "0000001681375789102250-65535,2026-01-24T12:00:00.0Z\n"
        "0000001691375789102250-65535,2026-01-24T12:00:00.0Z\n"
    )
    x = await _client(connect)
    await _send(x, _create("mine.example"), 1000, _launch("sunrise", _encoded(smd)))
    code, out, err = cli("tmch", "smdrl", "--file", str(smdrl))
    assert (code, out) == (0, "2 signed marks newly revoked (2 listed)\n"), err
    before = dump(db)
    reply = await _send(x, _create("yours.example"), 2202, _launch("sunrise", _encoded(smd)))
    assert "signed mark 0000001681375789102250-65535 is revoked" in _msg(reply)
    assert dump(db) == before
    assert (
        cli("tmch", "smdrl", "--file", str(smdrl))[1] == "0 signed marks newly revoked (2 listed)\n"
    )


async def test_unreadable_marks_are_2005(connect, db):
    x = await _client(connect)
    bad = f"<smd:encodedSignedMark {SMD_NS}>not*base64</smd:encodedSignedMark>"
    reply = await _send(x, _create("mine.example"), 2005, _launch("sunrise", bad))
    assert "not valid base64" in _msg(reply)
    import base64

    text = base64.b64encode(b"<x>not a mark</x>").decode()
    junk = f"<smd:encodedSignedMark {SMD_NS}>{text}</smd:encodedSignedMark>"
    reply = await _send(x, _create("mine.example"), 2005, _launch("sunrise", junk))
    assert "root element is x" in _msg(reply)


def test_without_a_tmch_ca_configured_sunrise_creates_are_2306(tmch):
    from domreg import tmch as tmch_mod

    with pytest.raises(tmch_mod.MarkError) as err:
        tmch_mod.verify(ls.smd_xml(tmch.signer, ["a"]), START, tmch_mod.Trust(None))
    assert int(err.value.code) == 2306 and "tmch_ca_cert" in err.value.reason


def test_unusable_tmch_files_fail_the_command_with_the_reason(tmch, tmp_path):
    from domreg import tmch as tmch_mod

    smd = ls.smd_xml(tmch.signer, ["a"])
    bad_crl = tmp_path / "bad.crl"
    bad_crl.write_bytes(b"not a CRL")
    for trust, key in [
        (tmch_mod.Trust(str(tmp_path / "missing.pem")), "tmch_ca_cert"),
        (tmch_mod.Trust(str(tmch.ca_file), str(bad_crl)), "tmch_crl"),
    ]:
        with pytest.raises(tmch_mod.MarkError) as err:
            tmch_mod.verify(smd, START, trust)
        assert int(err.value.code) == 2400 and key in err.value.reason


# ---------------------------------------------------------------- claims


async def test_claims_create_needs_a_valid_notice_for_a_claimed_name(connect, db, clock):
    clock.set(IN_CLAIMS)
    x = await _client(connect)
    not_after = IN_CLAIMS + HOUR
    good = ls.notice_id("domain2", not_after)
    before = dump(db)
    cases = [
        ("", 2306, "domain2.example has a trademark claim"),
        (_launch("claims"), 2306, "needs the claims notice"),
        (
            _launch("claims", _notice(good, not_after + HOUR, IN_CLAIMS)),
            2306,
            "checksum does not match",
        ),
        (_launch("claims", _notice("12345", not_after, IN_CLAIMS)), 2005, "not 8 hex digits"),
        (
            _launch("claims", _notice(good, not_after, IN_CLAIMS - timedelta(hours=49))),
            2306,
            "accepted more than 48 hours ago",
        ),
        (
            _launch("claims", _notice(good, not_after, IN_CLAIMS - timedelta(days=366))),
            2306,
            "accepted more than 48 hours ago",
        ),
        (_launch("claims", _notice(good, not_after, IN_CLAIMS + HOUR)), 2306, "in the future"),
        (_launch("sunrise", _notice(good, not_after, IN_CLAIMS)), 2306, "is claims, not sunrise"),
    ]
    for extension, code, why in cases:
        reply = await _send(x, _create("domain2.example"), code, extension)
        assert why in _msg(reply), (why, reply.raw.decode())
    assert dump(db) == before
    await _send(
        x,
        _create("domain2.example"),
        1000,
        _launch("claims", _notice(good, not_after, IN_CLAIMS - HOUR)),
    )
    assert _launch_row(db, "domain2.example").notice_id == good


async def test_expired_notice_is_2306(connect, db, clock):
    not_after = IN_CLAIMS + HOUR
    notice = _notice(ls.notice_id("domain3", not_after), not_after, IN_CLAIMS)
    clock.set(not_after)
    x = await _client(connect)
    reply = await _send(x, _create("domain3.example"), 2306, _launch("claims", notice))
    assert "expired at" in _msg(reply)


async def test_unclaimed_names_are_created_in_claims_without_a_notice(connect, db, clock):
    clock.set(IN_CLAIMS)
    x = await _client(connect)
    await _send(x, _create("free.example"), 1000)
    assert _launch_row(db, "free.example").phase == "claims"
    not_after = IN_CLAIMS + HOUR
    notice = _notice(ls.notice_id("other", not_after), not_after, IN_CLAIMS)
    reply = await _send(x, _create("other.example"), 2306, _launch("claims", notice))
    assert "no trademark claim" in _msg(reply)


# ---------------------------------------------------------------- phases over time


async def test_phases_follow_the_clock(connect, db, clock, tmch):
    x = await _client(connect)
    with db.write() as conn:
        launch.add_phase(conn, "test", "sunrise", OPEN, OPEN + timedelta(days=30))
    await _send(x, _create("early.test"), 2306)  # .test has phases, none active yet
    clock.set(OPEN + timedelta(days=1))
    await _send(x, _create("early.test"), 2306)  # .test in sunrise now
    await _send(x, _create("domain2.example"), 1000)  # .example open: claims over
    assert _launch_row(db, "domain2.example").phase == "open"
    clock.set(OPEN + timedelta(days=31))
    reply = await _send(x, _create("early.test"), 2306)
    assert "no launch phase of .test is active" in _msg(reply)


def test_phases_may_not_overlap_and_are_listed(db):
    with db.write() as conn:
        for args, why in [
            (("example", "open", OPEN + HOUR), "overlaps .example's open phase"),
            (("example", "landrush", CLAIMS - HOUR, CLAIMS + HOUR), "overlaps"),
            (("example", "bogus", START), "is not one of"),
            (("example", "custom", datetime(2030, 1, 1), None), "needs its name"),
            (("nope", "open", START), "TLD nope does not exist"),
            (("test", "open", START, START), "must end after it starts"),
        ]:
            with pytest.raises(RegistryError, match=why):
                launch.add_phase(conn, *args)
        assert [p.name for p in launch.list_phases(conn, "example")] == [
            "sunrise",
            "claims",
            "open",
        ]


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


def test_cli_phase_add_list_and_claims(cli, db, tmp_path):
    code, out, err = cli(
        "tld", "phase", "add", "test", "custom", "--sub-phase", "idn-release",
        "--start", "2026-01-01", "--end", "2026-02-01T00:00:00Z",
    )  # fmt: skip
    assert (code, out) == (
        0,
        "phase added: test: custom (idn-release) from 2026-01-01T00:00:00Z "
        "to 2026-02-01T00:00:00Z\n",
    ), err
    code, out, err = cli("tld", "phase", "add", "test", "open", "--start", "2026-01-15")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "overlaps" in err
    code, out, err = cli("tld", "phase", "list", "example")
    assert out.splitlines()[-1] == "example: open from 2026-07-01T00:00:00Z to open-ended"
    dnl = tmp_path / "dnl.csv"
    dnl.write_text(
        "1,2026-01-22T12:00:00.0Z\nDNL,lookup-key,insertion-datetime\n"
        "test---validate,2013112500/5/4/2/wxKLsyXs5KcQTfqGtFRrCOlN0000000001,"
        "2013-11-25T14:42:46.3Z\n"
    )
    code, out, err = cli("tld", "claims", "test", "--file", str(dnl), "--replace")
    assert (code, out) == (0, "1 claimed labels loaded for .test\n"), err
    with db.read() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar_one()
        assert launch.claim_keys(conn, tld_id, "test---validate") == (
            "2013112500/5/4/2/wxKLsyXs5KcQTfqGtFRrCOlN0000000001",
        )
    code, out, err = cli("tld", "claims", "test", "--file", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err


def test_notice_checksum_is_the_tmch_crc32():
    # CRC-32 of "domain" + 1403172000 (2014-06-19T10:00:00Z) + the id's digits.
    import zlib

    digits = "9223372036854775807"
    expected = f"{zlib.crc32(b'domain1403172000' + digits.encode()):08x}"
    assert launch.notice_checksum("domain", datetime(2014, 6, 19, 10), digits) == expected


def test_launch_parts_are_rendered_only_for_launch_results():
    assert ext.RESPONSES[("domain", "check")](object()) is None
    assert etree.QName(ext.L + "x").namespace == URI
