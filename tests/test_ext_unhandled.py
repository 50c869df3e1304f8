"""Unhandled namespaces (RFC 9038): response data in a namespace the client did not announce
at login is moved into `<result><extValue>` with the reason "<URI> not in login services",
never dropped: extension parts of any response, and the object data of poll messages.

The RFC's examples (server responses only; the practice adds no command) are validated
against the official schemas and compared with what this server answers.
"""

from __future__ import annotations

import pytest
from lxml import etree

from domreg.epp import namespaces as ns
from domreg.epp.client import parse_reply
from domreg.epp.extensions import changepoll, secdns, unhandled
from domreg.flows import admin
from domreg.flows.base import Context, SvTrIds, registry_actor
from tests import support
from tests.support import assert_schema_valid

URI = unhandled.URI
N = {
    "epp": ns.EPP,
    "domain": ns.DOMAIN,
    "contact": ns.CONTACT,
    "secDNS": secdns.URI,
    "changePoll": changepoll.URI,
}

# ---------------------------------------------------------------- RFC 9038 examples, verbatim

TRANSFER_QUERY = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
      <extValue>
        <value>
          <domain:trnData
            xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
            <domain:name>example.com</domain:name>
            <domain:trStatus>pending</domain:trStatus>
            <domain:reID>ClientX</domain:reID>
            <domain:reDate>2000-06-06T22:00:00.0Z</domain:reDate>
            <domain:acID>ClientY</domain:acID>
            <domain:acDate>2000-06-11T22:00:00.0Z</domain:acDate>
            <domain:exDate>2002-09-08T22:00:00.0Z</domain:exDate>
          </domain:trnData>
        </value>
        <reason>
          urn:ietf:params:xml:ns:domain-1.0 not in login services
        </reason>
      </extValue>
    </result>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

SECDNS_INFO = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
      <extValue>
        <value>
          <secDNS:infData
            xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">
            <secDNS:dsData>
              <secDNS:keyTag>12345</secDNS:keyTag>
              <secDNS:alg>3</secDNS:alg>
              <secDNS:digestType>1</secDNS:digestType>
              <secDNS:digest>49FD46E6C4B45C55D4AC</secDNS:digest>
            </secDNS:dsData>
          </secDNS:infData>
        </value>
        <reason>
          urn:ietf:params:xml:ns:secDNS-1.1 not in login services
        </reason>
      </extValue>
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
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

RGP_INFO = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:ietf:params:xml:ns:epp-1.0
     epp-1.0.xsd">
  <response>
    <result code="1000">
      <msg>Command completed successfully</msg>
      <extValue>
        <value>
          <rgp:infData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"
           xsi:schemaLocation="urn:ietf:params:xml:ns:rgp-1.0
           rgp-1.0.xsd">
            <rgp:rgpStatus s="redemptionPeriod"/>
          </rgp:infData>
        </value>
        <reason>
          urn:ietf:params:xml:ns:rgp-1.0 not in login services
        </reason>
      </extValue>
    </result>
    <resData>
      <domain:infData
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"
        xsi:schemaLocation="urn:ietf:params:xml:ns:domain-1.0
        domain-1.0.xsd">
        <domain:name>example.com</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:status s="pendingDelete"/>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:ns>
          <domain:hostObj>ns1.example.com</domain:hostObj>
          <domain:hostObj>ns1.example.net</domain:hostObj>
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
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

POLL_CHANGE_UNHANDLED = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1301">
      <msg lang="en-US">
        Command completed successfully; ack to dequeue</msg>
      <extValue>
        <value>
          <changePoll:changeData
           xmlns:changePoll="urn:ietf:params:xml:ns:changePoll-1.0"
           state="after">
            <changePoll:operation>update</changePoll:operation>
            <changePoll:date>
              2013-10-22T14:25:57.0Z</changePoll:date>
            <changePoll:svTRID>12345-XYZ</changePoll:svTRID>
            <changePoll:who>URS Admin</changePoll:who>
            <changePoll:caseId type="urs">urs123
            </changePoll:caseId>
            <changePoll:reason>URS Lock</changePoll:reason>
          </changePoll:changeData>
        </value>
        <reason>
        urn:ietf:params:xml:ns:changePoll-1.0 not in login services
        </reason>
      </extValue>
    </result>
    <msgQ count="201" id="1">
      <qDate>2013-10-22T14:25:57.0Z</qDate>
      <msg>Registry initiated update of domain.</msg>
    </msgQ>
    <resData>
      <domain:infData
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:status s="ok"/>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:clID>ClientX</domain:clID>
        <domain:crID>ClientY</domain:crID>
        <domain:crDate>2012-04-03T22:00:00.0Z</domain:crDate>
        <domain:exDate>2014-04-03T22:00:00.0Z</domain:exDate>
      </domain:infData>
    </resData>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

POLL_ALL_UNHANDLED = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1301">
      <msg>Command completed successfully; ack to dequeue</msg>
      <extValue>
        <value>
          <domain:infData
            xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
            <domain:name>domain.example</domain:name>
            <domain:roid>EXAMPLE1-REP</domain:roid>
            <domain:status s="ok"/>
            <domain:registrant>jd1234</domain:registrant>
            <domain:contact type="admin">sh8013</domain:contact>
            <domain:contact type="tech">sh8013</domain:contact>
            <domain:clID>ClientX</domain:clID>
            <domain:crID>ClientY</domain:crID>
            <domain:crDate>2012-04-03T22:00:00.0Z</domain:crDate>
            <domain:exDate>2014-04-03T22:00:00.0Z</domain:exDate>
          </domain:infData>
        </value>
        <reason>
          urn:ietf:params:xml:ns:domain-1.0 not in login services
        </reason>
      </extValue>
      <extValue>
        <value>
          <changePoll:changeData
            xmlns:changePoll=
              "urn:ietf:params:xml:ns:changePoll-1.0"
            state="after">
            <changePoll:operation>update</changePoll:operation>
            <changePoll:date>
              2013-10-22T14:25:57.0Z</changePoll:date>
            <changePoll:svTRID>12345-XYZ</changePoll:svTRID>
            <changePoll:who>URS Admin</changePoll:who>
            <changePoll:caseId type="urs">urs123
            </changePoll:caseId>
            <changePoll:reason>URS Lock</changePoll:reason>
          </changePoll:changeData>
        </value>
        <reason>
        urn:ietf:params:xml:ns:changePoll-1.0 not in login services
        </reason>
      </extValue>
    </result>
    <msgQ count="201" id="1">
      <qDate>2013-10-22T14:25:57.0Z</qDate>
      <msg>Registry initiated update of domain.</msg>
    </msgQ>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

EXAMPLES = {
    "transfer query": TRANSFER_QUERY,
    "secDNS info": SECDNS_INFO,
    "rgp info": RGP_INFO,
    "change poll, changePoll unhandled": POLL_CHANGE_UNHANDLED,
    "change poll, domain and changePoll unhandled": POLL_ALL_UNHANDLED,
}


def shape(raw: bytes) -> list[tuple[str, str | None]]:
    """The response's structure: (element path, extValue reason) of result, msgQ, resData,
    extValue values and extension children, without the values that differ between runs."""
    tree = etree.fromstring(raw)
    out: list[tuple[str, str | None]] = []
    response = tree.find("epp:response", N)
    assert response is not None
    for child in response:
        name = etree.QName(child).localname
        if name == "result":
            for ev in child.findall("epp:extValue", N):
                value = ev.find("epp:value", N)
                assert value is not None
                inner = etree.QName(value[0]).text
                reason = " ".join((ev.findtext("epp:reason", namespaces=N) or "").split())
                out.append((f"extValue/{inner}", reason))
        elif name in ("resData", "extension"):
            out.extend((f"{name}/{etree.QName(c).text}", None) for c in child)
        elif name == "msgQ":
            out.append(("msgQ", None))
    return out


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rfc9038_examples_are_valid_against_the_official_schemas(name):
    assert_schema_valid(EXAMPLES[name].encode())


async def test_greeting_announces_unhandled_namespaces(connect):
    client = await connect()
    uris = [e.text for e in parse_reply(client.greeting).findall(".//epp:extURI")]
    assert URI in uris


async def login(connect, clid: str, objects=ns.OBJECTS, extensions=()):
    client = await connect()
    reply = await client.login(
        clid, support.PASSWORDS[clid], objects=objects, extensions=extensions
    )
    assert reply.code == 1000, reply.raw
    return client


D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
ADD_DS = (
    f'<secDNS:update xmlns:secDNS="{secdns.URI}"><secDNS:add><secDNS:dsData>'
    "<secDNS:keyTag>12345</secDNS:keyTag><secDNS:alg>8</secDNS:alg>"
    "<secDNS:digestType>2</secDNS:digestType>"
    f"<secDNS:digest>{'49FD46E6C4B45C55D4AC' + '0' * 44}</secDNS:digest>"
    "</secDNS:dsData></secDNS:add></secDNS:update>"
)


async def test_secdns_info_for_a_client_without_secdns_is_moved_into_extvalue(connect):
    x = await login(connect, "ClientX", extensions=(secdns.URI,))
    reply = await x.domain_create("example.test")
    assert reply.code == 1000
    reply = await x.command(
        f"<update><domain:update {D}><domain:name>example.test</domain:name></domain:update>"
        "</update>",
        extension=ADD_DS,
    )
    assert reply.code == 1000, reply.raw
    plain = await login(connect, "ClientX")
    reply = await plain.domain_info("example.test")
    assert_schema_valid(reply.raw)
    assert reply.code == 1000
    assert shape(reply.raw) == shape(SECDNS_INFO.encode())
    value = reply.tree.find(".//epp:extValue/epp:value/secDNS:infData/secDNS:dsData", N)
    assert value is not None and value.findtext("secDNS:keyTag", namespaces=N) == "12345"
    # A client that announced secDNS gets it in <extension>, and nothing in <extValue>.
    reply = await x.domain_info("example.test")
    assert shape(reply.raw) == [
        ("resData/{urn:ietf:params:xml:ns:domain-1.0}infData", None),
        ("extension/{urn:ietf:params:xml:ns:secDNS-1.1}infData", None),
    ]


async def test_poll_object_data_of_an_unannounced_object_is_moved_into_extvalue(connect):
    owner = await login(connect, "ClientX")
    assert (await owner.domain_create("moving.test", auth_info="move-AUTH1")).code == 1000
    y = await login(connect, "ClientY")
    reply = await y.command(
        f'<transfer op="request"><domain:transfer {D}><domain:name>moving.test</domain:name>'
        "<domain:authInfo><domain:pw>move-AUTH1</domain:pw></domain:authInfo>"
        "</domain:transfer></transfer>"
    )
    assert reply.code == 1001, reply.raw
    # ClientX now logs in for contacts only: its transfer notice is domain data.
    x = await login(connect, "ClientX", objects=(ns.CONTACT,))
    reply = await x.command('<poll op="req"/>')
    assert_schema_valid(reply.raw)
    assert reply.code == 1301
    assert shape(reply.raw) == [
        (
            "extValue/{urn:ietf:params:xml:ns:domain-1.0}trnData",
            f"{ns.DOMAIN} not in login services",
        ),
        ("msgQ", None),
    ]
    moved = reply.tree.find(".//epp:extValue/epp:value/domain:trnData", N)
    assert moved is not None and moved.findtext("domain:trStatus", namespaces=N) == "pending"
    # The shape is the RFC's transfer example's, plus the poll queue.
    assert shape(reply.raw)[0] == shape(TRANSFER_QUERY.encode())[0]


SVTRIDS = SvTrIds("DRT")  # apart from the test server's own ids


def change_status(db, clock, name: str) -> None:
    with db.write() as conn:
        ctx = Context(conn, clock.now(), registry_actor("URS Admin"), None, SVTRIDS.next())
        admin.set_server_statuses(
            ctx, admin.StatusChange(name=name, reason="URS Lock", add=("serverHold",))
        )


@pytest.mark.parametrize(
    ("objects", "extensions", "example"),
    [
        (ns.OBJECTS, (), POLL_CHANGE_UNHANDLED),
        ((ns.CONTACT,), (), POLL_ALL_UNHANDLED),
    ],
)
async def test_change_poll_parts_the_client_cannot_handle_are_moved_into_extvalue(
    connect, db, clock, objects, extensions, example
):
    owner = await login(connect, "ClientX")
    assert (await owner.domain_create("domain.test")).code == 1000
    change_status(db, clock, "domain.test")
    x = await login(connect, "ClientX", objects=objects, extensions=extensions)
    reply = await x.command('<poll op="req"/>')
    assert_schema_valid(reply.raw)
    assert reply.code == 1301
    assert shape(reply.raw) == shape(example.encode())
    who = reply.tree.findtext(".//changePoll:changeData/changePoll:who", namespaces=N)
    assert who == "URS Admin"


async def test_a_client_announcing_everything_gets_no_extvalue(connect, db, clock):
    owner = await login(connect, "ClientX")
    assert (await owner.domain_create("domain.test")).code == 1000
    change_status(db, clock, "domain.test")
    x = await login(connect, "ClientX", extensions=(changepoll.URI, URI))
    reply = await x.command('<poll op="req"/>')
    assert_schema_valid(reply.raw)
    assert shape(reply.raw) == [
        ("msgQ", None),
        ("resData/{urn:ietf:params:xml:ns:domain-1.0}infData", None),
        ("extension/{urn:ietf:params:xml:ns:changePoll-1.0}changeData", None),
    ]
