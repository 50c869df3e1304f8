"""fee-1.0 (RFC 8748) section 5's examples, copied verbatim, validated against the official
schemas and sent to a running server (tests/test_ext_fee.py covers the rules).

Set-up (the values the examples imply): TLDs com, net and xyz at the registry's clock
2019-04-03T22:00:00Z (the create example's crDate); com creates at 2.50 a year, renews at 1.00,
transfers and restores at 5.00; net creates at 2.50, the rest 5.00; xyz registers for 1 year
only; ClientX's balance is 0.00 with a credit limit of 1000.00 (the create answer's balance
-5.00 and creditLimit 1000.00). The check example's example.com is premium ("Premium": 5.00 a
year to create, 10.00 renew and transfer, 15.00 restore); the transform examples use a
standard example.com.

Substitutions and differences: the renew example's curExpDate 2019-04-03 is the create
example's exDate 2021-04-03 (the two examples disagree); the transfer example's
`roid="JD1234-REP"` is the registrant jd1234's ROID here; answers carry no fee
`description`/`refundable`/`grace-period` attributes (optional) and a balance after every
charge. The update example states a fee for a plain update, which costs nothing here: fees on
update are for an RGP restore only, so it is refused (2306) and changes nothing. The delete and
transfer query answers' `<fee:delData>` / `<fee:trnData>` are optional (MAY) and not given;
their examples are validated only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from domreg.clock import FixedClock
from domreg.epp.extensions import fee
from domreg.flows import pricing
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid, dump

START = datetime(2019, 4, 3, 22, 0, 0)
N = {
    "fee": fee.URI,
    "epp": "urn:ietf:params:xml:ns:epp-1.0",
    "domain": "urn:ietf:params:xml:ns:domain-1.0",
}


def _s(example: str) -> str:
    """An RFC example without its "C: " / "S: " margin."""
    return "\n".join(
        line[6:] if line[:6].strip() in ("C:", "S:") else line
        for line in example.strip("\n").splitlines()
    )


CHECK = _s("""
   C: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   C: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   C:   <command>
   C:     <check>
   C:       <domain:check
   C:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   C:         <domain:name>example.com</domain:name>
   C:         <domain:name>example.net</domain:name>
   C:         <domain:name>example.xyz</domain:name>
   C:       </domain:check>
   C:     </check>
   C:     <extension>
   C:       <fee:check xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   C:         <fee:currency>USD</fee:currency>
   C:         <fee:command name="create">
   C:           <fee:period unit="y">2</fee:period>
   C:         </fee:command>
   C:         <fee:command name="renew"/>
   C:         <fee:command name="transfer"/>
   C:         <fee:command name="restore"/>
   C:       </fee:check>
   C:     </extension>
   C:     <clTRID>ABC-12345</clTRID>
   C:   </command>
   C: </epp>
""")

CHECK_RESPONSE = _s("""
   S: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   S: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   S:   <response>
   S:     <result code="1000">
   S:       <msg>Command completed successfully</msg>
   S:     </result>
   S:     <resData>
   S:       <domain:chkData
   S:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   S:         <domain:cd>
   S:           <domain:name avail="1">example.com</domain:name>
   S:         </domain:cd>
   S:         <domain:cd>
   S:           <domain:name avail="1">example.net</domain:name>
   S:         </domain:cd>
   S:         <domain:cd>
   S:           <domain:name avail="1">example.xyz</domain:name>
   S:         </domain:cd>
   S:       </domain:chkData>
   S:     </resData>
   S:     <extension>
   S:       <fee:chkData
   S:           xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   S:         <fee:currency>USD</fee:currency>
   S:         <fee:cd avail="1">
   S:           <fee:objID>example.com</fee:objID>
   S:           <fee:class>Premium</fee:class>
   S:           <fee:command name="create">
   S:             <fee:period unit="y">2</fee:period>
   S:             <fee:fee
   S:               description="Registration Fee"
   S:               refundable="1"
   S:               grace-period="P5D">10.00</fee:fee>
   S:           </fee:command>
   S:           <fee:command name="renew">
   S:             <fee:period unit="y">1</fee:period>
   S:             <fee:fee
   S:               description="Renewal Fee"
   S:               refundable="1"
   S:               grace-period="P5D">10.00</fee:fee>
   S:           </fee:command>
   S:           <fee:command name="transfer">
   S:             <fee:period unit="y">1</fee:period>
   S:             <fee:fee
   S:               description="Transfer Fee"
   S:               refundable="1"
   S:               grace-period="P5D">10.00</fee:fee>
   S:           </fee:command>
   S:           <fee:command name="restore">
   S:             <fee:fee
   S:               description="Redemption Fee">15.00</fee:fee>
   S:           </fee:command>
   S:         </fee:cd>
   S:         <fee:cd avail="1">
   S:           <fee:objID>example.net</fee:objID>
   S:           <fee:class>standard</fee:class>
   S:           <fee:command name="create" standard="1">
   S:             <fee:period unit="y">2</fee:period>
   S:             <fee:fee
   S:               description="Registration Fee"
   S:               refundable="1"
   S:               grace-period="P5D">5.00</fee:fee>
   S:           </fee:command>
   S:           <fee:command name="renew" standard="1">
   S:             <fee:period unit="y">1</fee:period>
   S:             <fee:fee
   S:               description="Renewal Fee"
   S:               refundable="1"
   S:               grace-period="P5D">5.00</fee:fee>
   S:           </fee:command>
   S:           <fee:command name="transfer" standard="1">
   S:             <fee:period unit="y">1</fee:period>
   S:             <fee:fee
   S:               description="Transfer Fee"
   S:               refundable="1"
   S:               grace-period="P5D">5.00</fee:fee>
   S:           </fee:command>
   S:           <fee:command name="restore" standard="1">
   S:             <fee:fee
   S:               description="Redemption Fee">5.00</fee:fee>
   S:           </fee:command>
   S:         </fee:cd>
   S:         <fee:cd avail="0">
   S:           <fee:objID>example.xyz</fee:objID>
   S:           <fee:command name="create">
   S:             <fee:period unit="y">2</fee:period>
   S:             <fee:reason>Only 1 year registration periods are
   S:               valid.</fee:reason>
   S:           </fee:command>
   S:         </fee:cd>
   S:       </fee:chkData>
   S:     </extension>
   S:     <trID>
   S:       <clTRID>ABC-12345</clTRID>
   S:       <svTRID>54322-XYZ</svTRID>
   S:     </trID>
   S:   </response>
   S: </epp>
""")

TRANSFER_QUERY_RESPONSE = _s("""
   S: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   S: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   S:   <response>
   S:     <result code="1001">
   S:       <msg>Command completed successfully; action pending</msg>
   S:     </result>
   S:     <resData>
   S:       <domain:trnData
   S:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   S:         <domain:name>example.com</domain:name>
   S:         <domain:trStatus>pending</domain:trStatus>
   S:         <domain:reID>ClientX</domain:reID>
   S:         <domain:reDate>2019-06-08T22:00:00.0Z</domain:reDate>
   S:         <domain:acID>ClientY</domain:acID>
   S:         <domain:acDate>2019-06-13T22:00:00.0Z</domain:acDate>
   S:         <domain:exDate>2021-09-08T22:00:00.0Z</domain:exDate>
   S:       </domain:trnData>
   S:     </resData>
   S:     <extension>
   S:       <fee:trnData xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   S:         <fee:currency>USD</fee:currency>
   S:         <fee:period unit="y">1</fee:period>
   S:         <fee:fee>5.00</fee:fee>
   S:       </fee:trnData>
   S:     </extension>
   S:     <trID>
   S:       <clTRID>ABC-12345</clTRID>
   S:       <svTRID>54322-XYZ</svTRID>
   S:     </trID>
   S:   </response>
   S: </epp>
""")

CREATE = _s("""
   C: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   C: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   C:   <command>
   C:     <create>
   C:       <domain:create
   C:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   C:         <domain:name>example.com</domain:name>
   C:         <domain:period unit="y">2</domain:period>
   C:         <domain:ns>
   C:           <domain:hostObj>ns1.example.net</domain:hostObj>
   C:           <domain:hostObj>ns2.example.net</domain:hostObj>
   C:         </domain:ns>
   C:         <domain:registrant>jd1234</domain:registrant>
   C:         <domain:contact type="admin">sh8013</domain:contact>
   C:         <domain:contact type="tech">sh8013</domain:contact>
   C:         <domain:authInfo>
   C:           <domain:pw>2fooBAR</domain:pw>
   C:         </domain:authInfo>
   C:       </domain:create>
   C:     </create>
   C:     <extension>
   C:       <fee:create xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   C:         <fee:currency>USD</fee:currency>
   C:         <fee:fee>5.00</fee:fee>
   C:       </fee:create>
   C:     </extension>
   C:     <clTRID>ABC-12345</clTRID>
   C:   </command>
   C: </epp>
""")

CREATE_RESPONSE = _s("""
   S: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   S: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   S:   <response>
   S:     <result code="1000">
   S:       <msg>Command completed successfully</msg>
   S:     </result>
   S:     <resData>
   S:       <domain:creData
   S:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   S:         <domain:name>example.com</domain:name>
   S:         <domain:crDate>2019-04-03T22:00:00.0Z</domain:crDate>
   S:         <domain:exDate>2021-04-03T22:00:00.0Z</domain:exDate>
   S:       </domain:creData>
   S:     </resData>
   S:     <extension>
   S:       <fee:creData xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   S:         <fee:currency>USD</fee:currency>
   S:         <fee:fee
   S:           description="Registration Fee"
   S:           lang="en"
   S:           refundable="1"
   S:           grace-period="P5D">5.00</fee:fee>
   S:         <fee:balance>-5.00</fee:balance>
   S:         <fee:creditLimit>1000.00</fee:creditLimit>
   S:       </fee:creData>
   S:     </extension>
   S:     <trID>
   S:       <clTRID>ABC-12345</clTRID>
   S:       <svTRID>54321-XYZ</svTRID>
   S:     </trID>
   S:   </response>
   S: </epp>
""")

DELETE_RESPONSE = _s("""
   S: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   S: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   S:   <response>
   S:     <result code="1000">
   S:       <msg>Command completed successfully</msg>
   S:     </result>
   S:     <extension>
   S:       <fee:delData
   S:         xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   S:         <fee:currency>USD</fee:currency>
   S:         <fee:credit
   S:           description="AGP Credit"
   S:           lang="en">-5.00</fee:credit>
   S:         <fee:balance>1005.00</fee:balance>
   S:       </fee:delData>
   S:     </extension>
   S:     <trID>
   S:       <clTRID>ABC-12345</clTRID>
   S:       <svTRID>54321-XYZ</svTRID>
   S:     </trID>
   S:   </response>
   S: </epp>
""")

RENEW = _s("""
   C: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   C: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   C:   <command>
   C:     <renew>
   C:       <domain:renew
   C:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   C:         <domain:name>example.com</domain:name>
   C:         <domain:curExpDate>2019-04-03</domain:curExpDate>
   C:         <domain:period unit="y">5</domain:period>
   C:       </domain:renew>
   C:     </renew>
   C:     <extension>
   C:       <fee:renew xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   C:         <fee:currency>USD</fee:currency>
   C:         <fee:fee>5.00</fee:fee>
   C:       </fee:renew>
   C:     </extension>
   C:     <clTRID>ABC-12345</clTRID>
   C:   </command>
   C: </epp>
""")

RENEW_RESPONSE = _s("""
   S: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   S: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   S:   <response>
   S:     <result code="1000">
   S:       <msg>Command completed successfully</msg>
   S:     </result>
   S:     <resData>
   S:       <domain:renData
   S:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   S:         <domain:name>example.com</domain:name>
   S:         <domain:exDate>2024-04-03T22:00:00.0Z</domain:exDate>
   S:       </domain:renData>
   S:     </resData>
   S:     <extension>
   S:       <fee:renData xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   S:         <fee:currency>USD</fee:currency>
   S:         <fee:fee
   S:           refundable="1"
   S:           grace-period="P5D">5.00</fee:fee>
   S:         <fee:balance>1000.00</fee:balance>
   S:       </fee:renData>
   S:     </extension>
   S:     <trID>
   S:       <clTRID>ABC-12345</clTRID>
   S:       <svTRID>54322-XYZ</svTRID>
   S:     </trID>
   S:   </response>
   S: </epp>
""")

TRANSFER = _s("""
   C: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   C: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   C:   <command>
   C:     <transfer op="request">
   C:       <domain:transfer
   C:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   C:         <domain:name>example.com</domain:name>
   C:         <domain:period unit="y">1</domain:period>
   C:         <domain:authInfo>
   C:           <domain:pw roid="JD1234-REP">2fooBAR</domain:pw>
   C:         </domain:authInfo>
   C:       </domain:transfer>
   C:     </transfer>
   C:     <extension>
   C:      <fee:transfer xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   C:        <fee:currency>USD</fee:currency>
   C:        <fee:fee>5.00</fee:fee>
   C:      </fee:transfer>
   C:     </extension>
   C:     <clTRID>ABC-12345</clTRID>
   C:   </command>
   C: </epp>
""")

TRANSFER_RESPONSE = _s("""
   S: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   S: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   S:   <response>
   S:     <result code="1001">
   S:       <msg>Command completed successfully; action pending</msg>
   S:     </result>
   S:     <resData>
   S:       <domain:trnData
   S:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   S:         <domain:name>example.com</domain:name>
   S:         <domain:trStatus>pending</domain:trStatus>
   S:         <domain:reID>ClientX</domain:reID>
   S:         <domain:reDate>2019-06-08T22:00:00.0Z</domain:reDate>
   S:         <domain:acID>ClientY</domain:acID>
   S:         <domain:acDate>2019-06-13T22:00:00.0Z</domain:acDate>
   S:         <domain:exDate>2021-09-08T22:00:00.0Z</domain:exDate>
   S:       </domain:trnData>
   S:     </resData>
   S:     <extension>
   S:       <fee:trnData xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   S:         <fee:currency>USD</fee:currency>
   S:         <fee:fee
   S:           refundable="1"
   S:           grace-period="P5D">5.00</fee:fee>
   S:       </fee:trnData>
   S:     </extension>
   S:     <trID>
   S:       <clTRID>ABC-12345</clTRID>
   S:       <svTRID>54322-XYZ</svTRID>
   S:     </trID>
   S:   </response>
   S: </epp>
""")

UPDATE = _s("""
   C: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   C: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   C:   <command>
   C:     <update>
   C:       <domain:update
   C:         xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
   C:         <domain:name>example.com</domain:name>
   C:         <domain:chg>
   C:           <domain:registrant>sh8013</domain:registrant>
   C:         </domain:chg>
   C:       </domain:update>
   C:     </update>
   C:     <extension>
   C:       <fee:update xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   C:         <fee:currency>USD</fee:currency>
   C:         <fee:fee>5.00</fee:fee>
   C:       </fee:update>
   C:     </extension>
   C:     <clTRID>ABC-12345</clTRID>
   C:   </command>
   C: </epp>
""")

UPDATE_RESPONSE = _s("""
   S: <?xml version="1.0" encoding="utf-8" standalone="no"?>
   S: <epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   S:   <response>
   S:     <result code="1000">
   S:       <msg>Command completed successfully</msg>
   S:     </result>
   S:     <extension>
   S:       <fee:updData xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">
   S:         <fee:currency>USD</fee:currency>
   S:         <fee:fee>5.00</fee:fee>
   S:       </fee:updData>
   S:     </extension>
   S:     <trID>
   S:       <clTRID>ABC-12345</clTRID>
   S:       <svTRID>54321-XYZ</svTRID>
   S:     </trID>
   S:   </response>
   S: </epp>
""")

EXAMPLES = [
    CHECK,
    CHECK_RESPONSE,
    TRANSFER_QUERY_RESPONSE,
    CREATE,
    CREATE_RESPONSE,
    DELETE_RESPONSE,
    RENEW,
    RENEW_RESPONSE,
    TRANSFER,
    TRANSFER_RESPONSE,
    UPDATE,
    UPDATE_RESPONSE,
]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db, START, tlds=("com", "net", "xyz"))
    with shared_db.write() as conn:
        for tld, operation, amount in [
            ("com", "create", 250),
            ("com", "renew", 100),
            ("com", "transfer", 500),
            ("com", "restore", 500),
            ("net", "create", 250),
            ("net", "renew", 500),
            ("net", "transfer", 500),
            ("net", "restore", 500),
        ]:
            pricing.set_tld_price(conn, tld, operation, amount)
        conn.execute(t.tlds.update().where(t.tlds.c.name == "xyz").values(max_period_years=1))
        pricing.adjust(conn, START, "ClientX", -support.FUNDS, "RFC 8748 examples start at 0")
        pricing.set_account(conn, START, "ClientX", credit_limit=100_000)
    return shared_db


async def _client(connect: Any, clid: str = "ClientX") -> Any:
    client = await connect()
    reply = await client.login(clid, support.PASSWORDS[clid], extensions=(fee.URI,))
    assert reply.code == 1000, reply.raw
    return client


async def _request(client: Any, xml: str, code: int) -> Any:
    reply = await client.request(xml)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


async def _send(client: Any, body: str, code: int = 1000) -> Any:
    reply = await client.command(body)
    assert reply.code == code, reply.raw.decode()
    return reply


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


def _host(name: str) -> str:
    h = 'xmlns:host="urn:ietf:params:xml:ns:host-1.0"'
    return (
        f"<create><host:create {h}><host:name>{name}</host:name>"
        '<host:addr ip="v4">192.0.2.2</host:addr></host:create></create>'
    )


async def _objects(connect: Any, client: Any) -> None:
    """What the create example refers to: contacts jd1234 and sh8013 (the client's), and
    ns1/ns2.example.net (ClientZ's, with its domain example.net)."""
    for handle in ("jd1234", "sh8013"):
        await _send(client, _contact(handle))
    z = await _client(connect, "ClientZ")
    d = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
    await _send(
        z, f"<create><domain:create {d}><domain:name>example.net</domain:name>"
        "<domain:authInfo><domain:pw>2fooBAR</domain:pw></domain:authInfo>"
        "</domain:create></create>",
    )  # fmt: skip
    for host in ("ns1.example.net", "ns2.example.net"):
        await _send(z, _host(host))


def _fees(xml: bytes | str) -> dict[str, Any]:
    """The values an answer's fee part states: per object, per command (period, fee)."""
    tree = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    out: dict[str, Any] = {}
    for cd in tree.iterfind(".//fee:cd", N):
        name = cd.findtext("fee:objID", namespaces=N)
        commands = {
            c.get("name"): (
                c.findtext("fee:period", namespaces=N),
                c.findtext("fee:fee", namespaces=N),
                " ".join((c.findtext("fee:reason", namespaces=N) or "").split()) or None,
            )
            for c in cd.iterfind("fee:command", N)
        }
        out[name] = (cd.get("avail"), cd.findtext("fee:class", namespaces=N), commands)
    return out


def _transform(xml: bytes | str) -> tuple[str | None, ...]:
    tree = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    part = tree.find(".//epp:extension/*", N)
    assert part is not None
    return tuple(part.findtext(f"fee:{tag}", namespaces=N) for tag in ("currency", "fee"))


def test_the_rfc_examples_are_schema_valid():
    for example in EXAMPLES:
        assert_schema_valid(example.encode())


async def test_rfc_check_example(connect, db):
    with db.write() as conn:
        premium = pricing.parse_premium("example,Premium,5.00,10.00,10.00,15.00\n")
        pricing.load_premium(conn, "com", premium)
    x = await _client(connect)
    reply = await _request(x, CHECK, 1000)
    got, expected = _fees(reply.raw), _fees(CHECK_RESPONSE)
    assert got["example.com"] == expected["example.com"]
    assert got["example.net"] == expected["example.net"]
    avail, _, commands = got["example.xyz"]
    assert (avail, commands["create"]) == ("0", expected["example.xyz"][2]["create"])


async def test_rfc_create_renew_examples(connect, db, clock):
    x = await _client(connect)
    await _objects(connect, x)
    reply = await _request(x, CREATE, 1000)
    for tag in ("crDate", "exDate"):
        path = f".//domain:creData/domain:{tag}"
        assert reply.tree.findtext(path, namespaces=N) == etree.fromstring(
            CREATE_RESPONSE.encode()
        ).findtext(path, namespaces=N)
    assert _transform(reply.raw) == _transform(CREATE_RESPONSE)
    part = reply.tree.find(".//fee:creData", N)
    assert (
        part.findtext("fee:balance", namespaces=N),
        part.findtext("fee:creditLimit", namespaces=N),
    ) == ("-5.00", "1000.00")
    renew = RENEW.replace("2019-04-03</domain:curExpDate>", "2021-04-03</domain:curExpDate>")
    reply = await _request(x, renew, 1000)
    assert reply.tree.findtext(".//domain:exDate", namespaces=N) == "2026-04-03T22:00:00.0Z"
    assert _transform(reply.raw) == _transform(RENEW_RESPONSE)
    assert reply.tree.findtext(".//fee:renData/fee:balance", namespaces=N) == "-10.00"


async def test_rfc_transfer_example(connect, db, clock):
    y = await _client(connect, "ClientY")
    await _objects(connect, y)
    await _request(y, CREATE, 1000)
    with db.read() as conn:
        roid = conn.execute(
            select(t.contacts.c.roid).where(t.contacts.c.handle == "jd1234")
        ).scalar_one()
    clock.set(datetime(2019, 6, 8, 22, 0, 0))
    x = await _client(connect)
    reply = await _request(x, TRANSFER.replace("JD1234-REP", roid), 1001)
    expected = etree.fromstring(TRANSFER_RESPONSE.encode())
    for tag in ("trStatus", "reID", "reDate", "acID", "acDate"):
        path = f".//domain:trnData/domain:{tag}"
        assert reply.tree.findtext(path, namespaces=N) == expected.findtext(path, namespaces=N)
    assert _transform(reply.raw) == _transform(TRANSFER_RESPONSE)


async def test_rfc_update_example_with_a_fee_is_refused_and_changes_nothing(connect, db):
    x = await _client(connect)
    await _objects(connect, x)
    await _request(x, CREATE, 1000)
    before = dump(db)
    reply = await _request(x, UPDATE, 2306)
    msg = reply.tree.findtext(".//epp:msg", namespaces=N) or ""
    assert "only accepted with an RGP restore" in msg
    assert dump(db) == before
