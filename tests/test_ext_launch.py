"""launch-1.0 (RFC 8334) with signed marks (RFC 7848) over EPP: the RFC's examples, copied
verbatim, validated against the official schemas and sent to a running server: the claims,
availability and trademark check forms, the claims create (notice checks), the general create
(no launch applications: 2306), code marks and `<launch:update>`/`<launch:delete>` (2102),
and `<launch:info>` of a sunrise registration with its mark. Failures change nothing
(`dump`). test_launch_rules.py has the rules one by one.

Set-up: TLD "example" with sunrise from 2026-01-01, claims from 2026-04-01 and open from
2026-07-01; claims for the labels "domain2", "domain3" and "domain" (the RFC's claims check and
create examples). The TMCH is the test one of tests/launch_support.py (its own CA, signer,
revoked signer and CRL; signed marks signed with signxml), configured as the registry's
`tmch_ca_cert` and `tmch_crl`.

Substitutions: the RFC's claims create example carries placeholder notice ids whose checksum
is not the TMCH's (so it is refused, as ICANN's RST requires of an invalid notice id) and a
"custom-tmch" validator this registry does not know; it is then sent with one "tmch" notice
whose id is computed for its label and notAfter. The examples with "..." for marks are not
XML and are represented by test_launch_rules.py's sunrise tests with real signed marks.
"""

from __future__ import annotations

from sqlalchemy import select

from domreg.flows import launch
from domreg.store import schema as t
from tests import launch_support as ls
from tests.launch_support import (
    HOUR,
    IN_CLAIMS,
    KEY,
    NS,
    START,
    URI,
)
from tests.support import assert_schema_valid, dump

tmch = ls.tmch_fixture
policy = ls.policy_fixture
clock = ls.clock_fixture
db = ls.db_fixture

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


# ---------------------------------------------------------------- the RFC's examples


def test_the_rfc_examples_are_schema_valid():
    for example in EXAMPLES:
        assert_schema_valid(example.encode())


async def test_greeting_announces_launch(connect):
    client = await connect()
    assert URI.encode() in client.greeting


async def test_rfc_claims_and_trademark_check_examples(connect, db, clock):
    clock.set(IN_CLAIMS)
    x = await ls.client(connect)
    reply = await ls.request(x, CLAIMS_CHECK, 1000)
    assert reply.tree.find(".//domain:chkData", NS) is None  # no availability (3.1.1)
    assert reply.tree.findtext(".//launch:chkData/launch:phase", namespaces=NS) == "claims"
    # The RFC's answer, less the "custom-tmch" key (this registry knows the TMCH only).
    assert ls.claims_of(reply) == [
        ("domain1.example", "0", []),
        ("domain2.example", "1", [KEY]),
        ("domain3.example", "1", [KEY]),
    ]
    reply = await ls.request(x, TRADEMARK_CHECK, 1000)
    assert reply.tree.find(".//launch:chkData/launch:phase", NS) is None
    assert [c[:2] for c in ls.claims_of(reply)] == [
        ("domain1.example", "0"),
        ("domain2.example", "1"),
        ("domain3.example", "1"),
    ]


async def test_claims_check_in_sunrise_is_2306_and_trademark_check_answers(connect, db):
    x = await ls.client(connect)
    reply = await ls.request(x, CLAIMS_CHECK, 2306)
    assert "launch phase of .example is sunrise, not claims" in ls.msg(reply)
    reply = await ls.request(x, TRADEMARK_CHECK, 1000)  # independent of the phase (3.1.3)
    assert [c[1] for c in ls.claims_of(reply)] == ["0", "1", "1"]


async def test_rfc_avail_check_example_validates_the_custom_phase(connect, db, clock):
    x = await ls.client(connect)
    await ls.request(x, AVAIL_CHECK, 2306)
    with db.write() as conn:
        launch.add_phase(conn, "test", "custom", START - HOUR, sub_phase="idn-release")
        conn.execute(
            t.tld_phases.update()
            .where(t.tld_phases.c.name == "custom")
            .values(tld_id=select(t.tlds.c.id).where(t.tlds.c.name == "example").scalar_subquery())
        )
        conn.execute(t.tld_phases.delete().where(t.tld_phases.c.name == "sunrise"))
    reply = await ls.request(x, AVAIL_CHECK, 1000)
    names = reply.tree.findall(".//domain:cd/domain:name", NS)
    assert [(n.text, n.get("avail")) for n in names] == [
        ("domain1.example", "1"),
        ("domain2.example", "1"),
    ]


async def test_rfc_claims_create_example_placeholder_notices_are_refused(connect, db, clock):
    x = await ls.client(connect)
    for handle in ("jd1234", "sh8013"):
        await ls.send(x, ls.contact_cmd(handle), 1000)
    clock.set(IN_CLAIMS)
    before = dump(db)
    reply = await ls.request(x, CLAIMS_CREATE, 2306)
    assert "checksum does not match" in ls.msg(reply)
    assert dump(db) == before
    # The same create with one TMCH notice made for its label and notAfter.
    not_after = IN_CLAIMS + HOUR
    valid = ls.notice_id("domain", not_after)
    create = CLAIMS_CREATE.replace("370d0b7c9223372036854775807", valid)
    create = create.replace("2014-06-19T10:00:00.0Z", not_after.isoformat() + "Z")
    create = create.replace("2014-06-19T09:00:00.0Z", (IN_CLAIMS - HOUR).isoformat() + "Z")
    reply = await ls.request(x, create, 2306)  # the second notice: "custom-tmch"
    assert "validator 'custom-tmch'" in ls.msg(reply)
    start = create.index("<launch:notice>", create.index("</launch:notice>"))
    only_tmch = create[:start] + create[create.index("</launch:create>") :]
    await ls.request(x, only_tmch, 1000)
    row = ls.launch_row(db, "domain.example")
    assert (row.phase, row.notice_id, row.notice_not_after) == ("claims", valid, not_after)


async def test_rfc_landrush_application_create_is_2306(connect, db, clock):
    with db.write() as conn:
        conn.execute(t.tld_phases.delete())
        launch.add_phase(conn, "example", "landrush", START - HOUR)
    x = await ls.client(connect)
    for handle in ("jd1234", "sh8013"):
        await ls.send(x, ls.contact_cmd(handle), 1000)
    before = dump(db)
    reply = await ls.request(x, LANDRUSH_CREATE, 2306)
    assert "launch registrations, not applications" in ls.msg(reply)
    assert dump(db) == before
    ok = LANDRUSH_CREATE.replace('type="application"', 'type="registration"')
    await ls.request(x, ok, 1000)
    assert ls.launch_row(db, "domain.example").phase == "landrush"


async def test_rfc_code_mark_create_is_2102(connect, db):
    x = await ls.client(connect)
    for handle in ("jd1234", "sh8013"):
        await ls.send(x, ls.contact_cmd(handle), 1000)
    reply = await ls.request(x, CODE_CREATE, 2102)
    assert "signed marks only" in ls.msg(reply)


async def test_rfc_update_and_delete_examples_are_2102(connect, db):
    x = await ls.client(connect)
    for example in (UPDATE, DELETE):
        reply = await ls.request(x, example, 2102)
        assert "launch registrations only" in ls.msg(reply)


async def test_rfc_info_examples(connect, db, tmch):
    x = await ls.client(connect)
    smd = ls.smd_xml(tmch.signer, ["domain"])
    await ls.send(
        x, ls.create_cmd("domain.example"), 1000, ls.launch_ext("sunrise", ls.signed_mark(smd))
    )
    reply = await ls.request(x, INFO_APPLICATION, 2303)  # no launch applications here
    assert "no launch application abc123" in ls.msg(reply)
    reply = await ls.request(x, INFO_REGISTRATION, 1000)
    inf = reply.tree.find(".//launch:infData", NS)
    assert inf.findtext("launch:phase", namespaces=NS) == "sunrise"
    assert inf.find("launch:status", NS).get("s") == "allocated"
    assert inf.find("mark:mark", NS) is None  # includeMark defaults to false
    with_mark = INFO_APPLICATION.replace("<launch:applicationID>abc123</launch:applicationID>", "")
    reply = await ls.request(x, with_mark, 1000)
    labels = reply.tree.findall(".//launch:infData/mark:mark//mark:label", NS)
    assert [el.text for el in labels] == ["domain"]
    await ls.request(x, INFO_REGISTRATION.replace(">sunrise<", ">claims<"), 2306)


def test_phase_matching_sub_phases():
    claims_landrush = launch.Phase("claims", "landrush")
    assert claims_landrush.matches(launch.Phase("claims", "landrush"))
    assert claims_landrush.matches(launch.Phase("claims"))  # the sub-phase may be left out
    assert not claims_landrush.matches(launch.Phase("claims", "open"))
    assert not launch.Phase("claims").matches(launch.Phase("claims", "landrush"))
    idn = launch.Phase("custom", "idn-release")
    assert idn.matches(launch.Phase("custom", "idn-release"))
    assert not idn.matches(launch.Phase("custom"))  # a custom phase is its name
