"""rgp-1.0 (RFC 3915) over EPP: every example of the RFC, validated against the official
schemas, and sent to a running server: RGP statuses in domain info (only for clients that
announced rgp at login: the others did not ask for them, so they are not put into
`<extValue>` either), restore
request (`<rgp:upData>` pendingRestore, the restore price charged) and restore report (the
name leaves the RGP), with precise codes and nothing changed when refused.

RFC 3915 prints its info response with the full RFC 5731 `<domain:infData>` and shows the
pendingRestore and pendingDelete variants as `<extension>` fragments only; the fragments are
put into that response. Its report's delTime and resTime (2003) are in the past, as they
must be, so the report example is sent verbatim.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from domreg.clock import FixedClock
from domreg.epp.extensions import rgp
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid, dump

START = datetime(2026, 1, 15, 12, 0, 0)
DAY = timedelta(days=1)
RGP = {"rgp": rgp.URI, "epp": "urn:ietf:params:xml:ns:epp-1.0"}
D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'

# ---------------------------------------------------------------- RFC 3915 examples, verbatim

INFO_RESPONSE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:ietf:params:xml:ns:epp-1.0
     epp-1.0.xsd">
  <response>
    <result code="1000">
      <msg lang="en">Command completed successfully</msg>
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
    <extension>
      <rgp:infData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"
       xsi:schemaLocation="urn:ietf:params:xml:ns:rgp-1.0
       rgp-1.0.xsd">
        <rgp:rgpStatus s="redemptionPeriod"/>
      </rgp:infData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54322-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""

INFO_EXTENSION_PENDING_RESTORE = """<extension>
  <rgp:infData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"
   xsi:schemaLocation="urn:ietf:params:xml:ns:rgp-1.0
   rgp-1.0.xsd">
    <rgp:rgpStatus s="pendingRestore"/>
  </rgp:infData>
</extension>"""

INFO_EXTENSION_PENDING_DELETE = """<extension>
  <rgp:infData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"
   xsi:schemaLocation="urn:ietf:params:xml:ns:rgp-1.0
   rgp-1.0.xsd">
    <rgp:rgpStatus s="pendingDelete"/>
  </rgp:infData>
</extension>"""

RESTORE_REQUEST = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:ietf:params:xml:ns:epp-1.0
     epp-1.0.xsd">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"
       xsi:schemaLocation="urn:ietf:params:xml:ns:domain-1.0
       domain-1.0.xsd">
        <domain:name>example.com</domain:name>
        <domain:chg/>
      </domain:update>
    </update>
    <extension>
      <rgp:update xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"
       xsi:schemaLocation="urn:ietf:params:xml:ns:rgp-1.0
       rgp-1.0.xsd">
        <rgp:restore op="request"/>
      </rgp:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

RESTORE_REPORT = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:ietf:params:xml:ns:epp-1.0
     epp-1.0.xsd">
  <command>
    <update>
      <domain:update
       xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"
       xsi:schemaLocation="urn:ietf:params:xml:ns:domain-1.0
       domain-1.0.xsd">
        <domain:name>example.com</domain:name>
        <domain:chg/>
      </domain:update>
    </update>
    <extension>
      <rgp:update xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"
       xsi:schemaLocation="urn:ietf:params:xml:ns:rgp-1.0
       rgp-1.0.xsd">
        <rgp:restore op="report">
          <rgp:report>
            <rgp:preData>Pre-delete registration data goes here.
            Both XML and free text are allowed.</rgp:preData>
            <rgp:postData>Post-restore registration data goes here.
            Both XML and free text are allowed.</rgp:postData>
            <rgp:delTime>2003-07-10T22:00:00.0Z</rgp:delTime>
            <rgp:resTime>2003-07-20T22:00:00.0Z</rgp:resTime>
            <rgp:resReason>Registrant error.</rgp:resReason>
            <rgp:statement>This registrar has not restored the
            Registered Name in order to assume the rights to use
            or sell the Registered Name for itself or for any
            third party.</rgp:statement>
            <rgp:statement>The information in this report is
            true to best of this registrar's knowledge, and this
            registrar acknowledges that intentionally supplying
            false information in this report shall constitute an
            incurable material breach of the
            Registry-Registrar Agreement.</rgp:statement>
            <rgp:other>Supporting information goes
            here.</rgp:other>
          </rgp:report>
        </rgp:restore>
      </rgp:update>
    </extension>
    <clTRID>ABC-12345</clTRID>
  </command>
</epp>
"""

RESTORE_REQUEST_RESPONSE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:ietf:params:xml:ns:epp-1.0
     epp-1.0.xsd">
  <response>
    <result code="1000">
      <msg lang="en">Command completed successfully</msg>
    </result>
    <extension>
      <rgp:upData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"
       xsi:schemaLocation="urn:ietf:params:xml:ns:rgp-1.0
       rgp-1.0.xsd">
        <rgp:rgpStatus s="pendingRestore"/>
      </rgp:upData>
    </extension>
    <trID>
      <clTRID>ABC-12345</clTRID>
      <svTRID>54321-XYZ</svTRID>
    </trID>
  </response>
</epp>
"""


def _info_with(extension: str) -> str:
    start = INFO_RESPONSE.index("<extension>")
    end = INFO_RESPONSE.index("</extension>") + len("</extension>")
    return INFO_RESPONSE[:start] + extension + INFO_RESPONSE[end:]


EXAMPLES = {
    "info-redemptionPeriod": INFO_RESPONSE,
    "info-pendingRestore": _info_with(INFO_EXTENSION_PENDING_RESTORE),
    "info-pendingDelete": _info_with(INFO_EXTENSION_PENDING_DELETE),
    "update-restore-request": RESTORE_REQUEST,
    "update-restore-report": RESTORE_REPORT,
    "update-restore-request-response": RESTORE_REQUEST_RESPONSE,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_rfc3915_example_is_schema_valid(name: str) -> None:
    assert_schema_valid(EXAMPLES[name].encode())


# ---------------------------------------------------------------- over EPP


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db, START, tlds=("com", "test"))
    return shared_db


async def _client(connect: Any, clid: str = "ClientX", extensions: tuple[str, ...] = (rgp.URI,)):
    client = await connect()
    reply = await client.login(clid, support.PASSWORDS[clid], extensions=extensions)
    assert reply.code == 1000, reply.raw
    return client


async def _send(client: Any, xml: str, code: int) -> Any:
    reply = await client.request(xml)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


def _info(name: str = "example.com") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0">'
        f"<command><info><domain:info {D}><domain:name>{name}</domain:name></domain:info>"
        "</info><clTRID>ABC-1</clTRID></command></epp>"
    )


def _command(body: str, extension: str = "") -> str:
    ext = f"<extension>{extension}</extension>" if extension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0">'
        f"<command>{body}{ext}<clTRID>ABC-2</clTRID></command></epp>"
    )


def _rgp_statuses(reply: Any, where: str = "epp:response/epp:extension/rgp:infData") -> list[str]:
    return [e.get("s") for e in reply.tree.findall(f"{where}/rgp:rgpStatus", RGP)]


def _balance(db: Database, clid: str = "ClientX") -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(t.registrars.c.balance).where(t.registrars.c.clid == clid)
            ).scalar_one()
        )


def _price(db: Database, operation: str, tld: str = "com") -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(getattr(t.tlds.c, f"{operation}_price")).where(t.tlds.c.name == tld)
            ).scalar_one()
        )


async def _deleted(client: Any, clock: FixedClock, name: str = "example.com") -> None:
    """`name` created, then deleted after its add grace period: in redemption."""
    reply = await client.domain_create(name)
    assert reply.code == 1000, reply.raw
    clock.advance(10 * DAY)
    body = f"<delete><domain:delete {D}><domain:name>{name}</domain:name></domain:delete></delete>"
    await _send(client, _command(body), 1001)


async def test_info_shows_the_add_period_to_a_client_that_announced_rgp(connect, db, clock):
    x = await _client(connect)
    await _send(
        x,
        _command(
            f"<create><domain:create {D}><domain:name>example.com</domain:name>"
            "<domain:authInfo><domain:pw>2fooBAR</domain:pw></domain:authInfo>"
            "</domain:create></create>"
        ),
        1000,
    )
    info = await _send(x, _info(), 1000)
    assert _rgp_statuses(info) == ["addPeriod"]
    clock.advance(6 * DAY)
    info = await _send(x, _info(), 1000)
    assert info.tree.find("epp:response/epp:extension", RGP) is None  # no RGP status: no part


async def test_rgp_statuses_are_only_shown_to_a_client_that_announced_rgp(connect, db, clock):
    x = await _client(connect, extensions=())
    await x.domain_create("example.com")
    info = await _send(x, _info(), 1000)
    assert info.tree.find("epp:response/epp:extension", RGP) is None
    assert info.tree.find("epp:response/epp:result/epp:extValue", RGP) is None


async def test_the_rfc_restore_request_and_report_bring_a_deleted_name_back(connect, db, clock):
    x = await _client(connect)
    await _deleted(x, clock)
    info = await _send(x, _info(), 1000)
    assert _rgp_statuses(info) == ["redemptionPeriod"]
    before = _balance(db)

    reply = await _send(x, RESTORE_REQUEST, 1000)
    upd = reply.tree.find("epp:response/epp:extension/rgp:upData", RGP)
    assert upd is not None
    assert [e.get("s") for e in upd.findall("rgp:rgpStatus", RGP)] == ["pendingRestore"]
    assert _balance(db) == before - _price(db, "restore")
    info = await _send(x, _info(), 1000)
    assert _rgp_statuses(info) == ["pendingRestore"]
    assert "pendingDelete" in {e.get("s") for e in info.findall(".//domain:status")}

    clock.advance(DAY)
    reply = await _send(x, RESTORE_REPORT, 1000)
    assert reply.tree.find("epp:response/epp:extension", RGP) is None  # RFC 3915 4.2.5
    info = await _send(x, _info(), 1000)
    assert _rgp_statuses(info) == []
    assert "pendingDelete" not in {e.get("s") for e in info.findall(".//domain:status")}
    with db.read() as conn:
        kinds = [
            r.command
            for r in conn.execute(
                select(t.history.c.command)
                .where(t.history.c.object_name == "example.com")
                .order_by(t.history.c.id)
            )
        ]
    assert kinds[-2:] == ["domain:restore-request", "domain:restore-report"]


async def test_pending_delete_shows_after_the_redemption_period(connect, db, clock):
    from domreg.jobs import lifecycle as jobs

    x = await _client(connect)
    await _deleted(x, clock)
    clock.advance(31 * DAY)
    jobs.run_until(db, clock.now())
    info = await _send(x, _info(), 1000)
    assert _rgp_statuses(info) == ["pendingDelete"]
    reply = await _send(x, RESTORE_REQUEST, 2105)  # too late to restore
    assert "redemption" in reply.msg


async def test_restore_refusals_have_precise_codes_and_change_nothing(connect, db, clock):
    x = await _client(connect)
    y = await _client(connect, "ClientY")
    await x.domain_create("live.com")
    restore = '<rgp:update xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"><rgp:restore op="{op}">{r}'
    restore += "</rgp:restore></rgp:update>"
    report = RESTORE_REPORT[
        RESTORE_REPORT.index("<rgp:report>") : RESTORE_REPORT.index("</rgp:restore>")
    ]

    def update(name: str, inner: str = "<domain:chg/>") -> str:
        return (
            f"<update><domain:update {D}><domain:name>{name}</domain:name>{inner}"
            "</domain:update></update>"
        )

    await _deleted(x, clock)
    before = dump(db)
    cases = [
        # not in redemption
        (x, update("live.com"), restore.format(op="request", r=""), 2105),
        # not the sponsor
        (y, update("example.com"), restore.format(op="request", r=""), 2201),
        # a restore that also changes the domain
        (
            x,
            update(
                "example.com",
                "<domain:chg><domain:authInfo><domain:pw>new-Pw12"
                "</domain:pw></domain:authInfo></domain:chg>",
            ),
            restore.format(op="request", r=""),
            2306,
        ),
        # request with a report, report without one
        (x, update("example.com"), restore.format(op="request", r=report), 2306),
        (x, update("example.com"), restore.format(op="report", r=""), 2003),
        # a report with no request pending
        (x, update("example.com"), restore.format(op="report", r=report), 2304),
        # unknown name
        (x, update("nothing.com"), restore.format(op="request", r=""), 2303),
    ]
    for client, body, ext, code in cases:
        await _send(client, _command(body, ext), code)
    assert dump(db) == before
    # A pending restore cannot be requested again.
    await _send(x, _command(update("example.com"), restore.format(op="request", r="")), 1000)
    await _send(x, _command(update("example.com"), restore.format(op="request", r="")), 2304)
