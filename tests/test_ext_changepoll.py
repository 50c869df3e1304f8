"""changePoll-1.0 (RFC 8590): when the registry changes a domain itself (an operator's
`domreg domain status`), the sponsor gets a poll message with the domain's info and
`<changePoll:changeData>`: operation, date, svTRID, who and why.

Every example of the RFC (all server responses) is validated against the official schemas;
the "after" URS lock example is reproduced by an operator and compared with the answer.
"""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select

from domreg.cli.main import main
from domreg.epp import namespaces as ns
from domreg.epp.client import parse_reply
from domreg.epp.extensions import changepoll
from domreg.store import schema as t
from tests import support
from tests.support import assert_schema_valid

URI = changepoll.URI
N = {"epp": ns.EPP, "domain": ns.DOMAIN, "changePoll": URI}

# ---------------------------------------------------------------- RFC 8590 examples, verbatim

URS_BEFORE = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   <response>
      <result code="1301">
         <msg lang="en-US">
       Command completed successfully; ack to dequeue</msg>
      </result>
      <msgQ id="201" count="1">
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
    <extension>
      <changePoll:changeData
        xmlns:changePoll="urn:ietf:params:xml:ns:changePoll-1.0"
        state="before">
        <changePoll:operation>update</changePoll:operation>
        <changePoll:date>2013-10-22T14:25:57.0Z</changePoll:date>
        <changePoll:svTRID>12345-XYZ</changePoll:svTRID>
        <changePoll:who>URS Admin</changePoll:who>
        <changePoll:caseId type="urs">urs123</changePoll:caseId>
        <changePoll:reason>URS Lock</changePoll:reason>
      </changePoll:changeData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
   </response>
</epp>
"""

URS_AFTER = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   <response>
      <result code="1301">
         <msg lang="en-US">
       Command completed successfully; ack to dequeue</msg>
      </result>
      <msgQ id="202" count="1">
         <qDate>2013-10-22T14:25:57.0Z</qDate>
         <msg>Registry initiated update of domain.</msg>
      </msgQ>
    <resData>
      <domain:infData
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:status s="serverUpdateProhibited"/>
        <domain:status s="serverDeleteProhibited"/>
        <domain:status s="serverTransferProhibited"/>
        <domain:registrant>jd1234</domain:registrant>
        <domain:contact type="admin">sh8013</domain:contact>
        <domain:contact type="tech">sh8013</domain:contact>
        <domain:clID>ClientX</domain:clID>
        <domain:crID>ClientY</domain:crID>
        <domain:crDate>2012-04-03T22:00:00.0Z</domain:crDate>
        <domain:upID>ClientZ</domain:upID>
        <domain:upDate>2013-10-22T14:25:57.0Z</domain:upDate>
        <domain:exDate>2014-04-03T22:00:00.0Z</domain:exDate>
      </domain:infData>
    </resData>
    <extension>
      <changePoll:changeData
        xmlns:changePoll="urn:ietf:params:xml:ns:changePoll-1.0"
        state="after">
        <changePoll:operation>update</changePoll:operation>
        <changePoll:date>2013-10-22T14:25:57.0Z</changePoll:date>
        <changePoll:svTRID>12345-XYZ</changePoll:svTRID>
        <changePoll:who>URS Admin</changePoll:who>
        <changePoll:caseId type="urs">urs123</changePoll:caseId>
        <changePoll:reason>URS Lock</changePoll:reason>
      </changePoll:changeData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
   </response>
</epp>
"""

CUSTOM_SYNC = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   <response>
      <result code="1301">
         <msg>Command completed successfully; ack to dequeue</msg>
      </result>
      <msgQ id="201" count="1">
         <qDate>2013-10-22T14:25:57.0Z</qDate>
    <msg>Registry initiated Sync of Domain Expiration Date</msg>
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
        <domain:upID>ClientZ</domain:upID>
        <domain:upDate>2013-10-22T14:25:57.0Z</domain:upDate>
        <domain:exDate>2014-04-03T22:00:00.0Z</domain:exDate>
      </domain:infData>
    </resData>
    <extension>
      <changePoll:changeData
        xmlns:changePoll="urn:ietf:params:xml:ns:changePoll-1.0">
        <changePoll:operation op="sync">custom
        </changePoll:operation>
        <changePoll:date>2013-10-22T14:25:57.0Z</changePoll:date>
        <changePoll:svTRID>12345-XYZ</changePoll:svTRID>
        <changePoll:who>CSR</changePoll:who>
        <changePoll:reason lang="en">Customer sync request
        </changePoll:reason>
      </changePoll:changeData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
   </response>
</epp>
"""

DELETE_PURGE = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1301">
      <msg>Command completed successfully; ack to dequeue</msg>
    </result>
    <msgQ id="200" count="1">
      <qDate>2013-10-22T14:25:57.0Z</qDate>
      <msg>Registry initiated delete of
         domain resulting in immediate purge.</msg>
    </msgQ>
    <resData>
      <domain:infData
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:clID>ClientX</domain:clID>
      </domain:infData>
    </resData>
    <extension>
      <changePoll:changeData
        xmlns:changePoll="urn:ietf:params:xml:ns:changePoll-1.0"
        state="before">
        <changePoll:operation op="purge">delete
        </changePoll:operation>
        <changePoll:date>2013-10-22T14:25:57.0Z
        </changePoll:date>
        <changePoll:svTRID>12345-XYZ
        </changePoll:svTRID>
        <changePoll:who>ClientZ
        </changePoll:who>
        <changePoll:reason>Court order
        </changePoll:reason>
      </changePoll:changeData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

AUTO_PURGE = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="1301">
      <msg>Command completed successfully; ack to dequeue
      </msg>
    </result>
    <msgQ id="200" count="1">
      <qDate>2013-10-22T14:25:57.0Z</qDate>
      <msg>Registry purged domain with pendingDelete status.
      </msg>
    </msgQ>
    <resData>
      <domain:infData
        xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">
        <domain:name>domain.example</domain:name>
        <domain:roid>EXAMPLE1-REP</domain:roid>
        <domain:status s="pendingDelete"/>
        <domain:clID>ClientX</domain:clID>
      </domain:infData>
    </resData>
    <extension>
      <changePoll:changeData
        xmlns:changePoll="urn:ietf:params:xml:ns:changePoll-1.0"
        state="before">
        <changePoll:operation>autoPurge
        </changePoll:operation>
        <changePoll:date>2013-10-22T14:25:57.0Z
        </changePoll:date>
        <changePoll:svTRID>12345-XYZ
        </changePoll:svTRID>
        <changePoll:who>Batch
        </changePoll:who>
        <changePoll:reason>Past pendingDelete 5 day period
        </changePoll:reason>
      </changePoll:changeData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

HOST_UPDATE = """<?xml version="1.0" encoding="UTF-8"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
   <response>
      <result code="1301">
         <msg>Command completed successfully; ack to dequeue</msg>
      </result>
      <msgQ id="201" count="1">
         <qDate>2013-10-22T14:25:57.0Z</qDate>
         <msg>Registry initiated update of host.</msg>
      </msgQ>
    <resData>
      <host:infData
       xmlns:host="urn:ietf:params:xml:ns:host-1.0">
        <host:name>ns1.domain.example</host:name>
        <host:roid>NS1_EXAMPLE1-REP</host:roid>
        <host:status s="linked"/>
        <host:status s="serverUpdateProhibited"/>
        <host:status s="serverDeleteProhibited"/>
        <host:addr ip="v4">192.0.2.2</host:addr>
        <host:addr ip="v6">2001:db8:0:0:1:0:0:1</host:addr>
        <host:clID>ClientX</host:clID>
        <host:crID>ClientY</host:crID>
        <host:crDate>2012-04-03T22:00:00.0Z</host:crDate>
        <host:upID>ClientY</host:upID>
        <host:upDate>2013-10-22T14:25:57.0Z</host:upDate>
      </host:infData>
    </resData>
    <extension>
      <changePoll:changeData
        xmlns:changePoll="urn:ietf:params:xml:ns:changePoll-1.0">
        <changePoll:operation>update</changePoll:operation>
        <changePoll:date>2013-10-22T14:25:57.0Z</changePoll:date>
        <changePoll:svTRID>12345-XYZ</changePoll:svTRID>
        <changePoll:who>ClientZ</changePoll:who>
        <changePoll:reason>Host Lock</changePoll:reason>
      </changePoll:changeData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
   </response>
</epp>
"""

EXAMPLES = {
    "URS lock, before": URS_BEFORE,
    "URS lock, after": URS_AFTER,
    "custom sync": CUSTOM_SYNC,
    "delete with purge": DELETE_PURGE,
    "autoPurge": AUTO_PURGE,
    "host update": HOST_UPDATE,
}

LOCKS = ("serverUpdateProhibited", "serverDeleteProhibited", "serverTransferProhibited")
D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rfc8590_examples_are_valid_against_the_official_schemas(name):
    assert_schema_valid(EXAMPLES[name].encode())


async def test_greeting_announces_changepoll(connect):
    client = await connect()
    assert URI in [e.text for e in parse_reply(client.greeting).findall(".//epp:extURI")]


def domreg(monkeypatch, tmp_path, database_url: str, *args: str) -> int:
    """Run `domreg ARGS` in-process against the test database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMREG_DATABASE_URL", database_url)
    monkeypatch.setenv("DOMREG_DATA_DIR", str(tmp_path))
    return main(list(args))


def change(data: etree._Element | None) -> dict[str, str | None]:
    assert data is not None
    out: dict[str, str | None] = {"state": data.get("state", "after")}
    for child in data:
        out[etree.QName(child).localname] = " ".join((child.text or "").split())
    return out


async def login(connect, clid: str, *extensions: str):
    client = await connect()
    reply = await client.login(clid, support.PASSWORDS[clid], extensions=extensions)
    assert reply.code == 1000
    return client


async def test_operator_lock_reaches_the_sponsor_as_the_rfc_urs_example(
    connect, db, database_url, monkeypatch, tmp_path, capsys
):
    x = await login(connect, "ClientX", URI)
    assert (await x.domain_create("domain.test")).code == 1000
    args = ["domain", "status", "domain.test", "--reason", "URS Lock", "--who", "URS Admin"]
    for status in LOCKS:
        args += ["--add", status]
    assert domreg(monkeypatch, tmp_path, database_url, *args) == 0
    assert "serverTransferProhibited" in capsys.readouterr().out

    reply = await x.command('<poll op="req"/>')
    assert_schema_valid(reply.raw)
    assert reply.code == 1301
    example = etree.fromstring(URS_AFTER.encode())
    assert reply.findtext(".//epp:msgQ/epp:msg") == example.findtext(
        ".//epp:msgQ/epp:msg", namespaces=N
    )
    statuses = {e.get("s") for e in reply.findall(".//domain:infData/domain:status")}
    assert statuses == {e.get("s") for e in example.iterfind(".//domain:status", N)} | {"inactive"}
    assert reply.find(".//domain:infData/domain:authInfo") is None
    got = change(reply.tree.find(".//epp:extension/changePoll:changeData", N))
    want = change(example.find(".//changePoll:changeData", N))
    assert set(got) == set(want) - {"caseId"}  # no UDRP/URS case id given
    assert {k: got[k] for k in ("state", "operation", "who", "reason")} == {
        k: want[k] for k in ("state", "operation", "who", "reason")
    }
    # The change's svTRID is the history row's; the registry, not a registrar, made it.
    with db.read() as conn:
        row = conn.execute(
            select(t.history)
            .where(t.history.c.object_name == "domain.test")
            .order_by(t.history.c.id.desc())
            .limit(1)
        ).one()
        outbox = conn.execute(select(t.outbox.c.topic).where(t.outbox.c.svtrid == row.svtrid)).all()
    assert (row.command, row.registrar_id, row.svtrid) == ("domain:update", None, got["svTRID"])
    assert [o.topic for o in outbox] == ["domain:update"]
    assert got["date"] == reply.findtext(".//epp:msgQ/epp:qDate")

    # The lock works: the sponsor can no longer update or delete.
    update = f'<update><domain:update {D}><domain:name>domain.test</domain:name><domain:add><domain:status s="clientHold"/></domain:add></domain:update></update>'
    assert (await x.command(update)).code == 2304
    # Lifting it is a second notice.
    args = [
        "domain",
        "status",
        "domain.test",
        "--reason",
        "URS lifted",
        "--remove",
        "serverUpdateProhibited",
    ]
    assert domreg(monkeypatch, tmp_path, database_url, *args) == 0
    msg_id = reply.find(".//epp:msgQ").get("id")
    await x.command(f'<poll op="ack" msgID="{msg_id}"/>')
    reply = await x.command('<poll op="req"/>')
    assert_schema_valid(reply.raw)
    assert change(reply.tree.find(".//changePoll:changeData", N))["reason"] == "URS lifted"
    assert (await x.command(update)).code == 1000


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("nosuch.test", "--add", "serverHold"), "does not exist"),
        (("domain.test", "--add", "clientHold"), "not a server status"),
        (("domain.test", "--remove", "serverHold"), "does not have serverHold"),
        (("domain.test", "--add", "serverHold", "--reason-too-long"), ""),
        (("domain.test",), "nothing to change"),
    ],
)
async def test_operator_status_change_refusals_change_nothing(
    connect, db, database_url, monkeypatch, tmp_path, capsys, args, needle
):
    x = await login(connect, "ClientX")
    assert (await x.domain_create("domain.test")).code == 1000
    before = support.dump(db)
    extra = ["--reason", "why"] if "--reason-too-long" not in args else ["--reason", "x" * 33]
    argv = ["domain", "status", *[a for a in args if a != "--reason-too-long"], *extra]
    assert domreg(monkeypatch, tmp_path, database_url, *argv) == 2
    err = capsys.readouterr().err
    assert (needle or "at most 32") in err
    assert support.dump(db) == before
