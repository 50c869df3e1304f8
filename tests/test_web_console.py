"""The registrar console over HTTP (httpx against the ASGI application, both backends):
register with the price shown first, nameservers, DS, locks, renew, transfer, delete and
restore, contacts and hosts, the poll queue, the ledger and its CSV, EPP access settings,
the dashboard; every web action recorded with its user in history and the web audit."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from domreg.store import schema as t
from domreg.store.db import Database
from tests import web_support as ws

pytestmark = pytest.mark.asyncio


@pytest.fixture
def users(db: Database) -> Database:
    ws.add_users(db)
    return db


async def test_register_shows_price_then_registers_and_records_the_user(users: Database) -> None:
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    page = await x.get("/console/register", params={"name": "bücher.test", "years": "2"})
    assert page.status_code == 200
    assert 'id="price">20.00 USD<' in page.text  # 2 years at the default 10.00
    assert 'name="fee" value="2000"' in page.text
    r = await x.post(
        "/console/register",
        {
            "name": "xn--bcher-kva.test",
            "years": "2",
            "fee": "2000",
            "currency": "USD",
            "registrant": "",
            "nameservers": "",
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith(
        "/console/domains/xn--bcher-kva.test"
    )
    with users.read() as conn:
        d = conn.execute(select(t.domains).where(t.domains.c.name == "xn--bcher-kva.test")).one()
        h = conn.execute(select(t.history).where(t.history.c.roid == d.roid)).one()
        a = conn.execute(select(t.web_audit).where(t.web_audit.c.action == "domain.create")).one()
        charge = conn.execute(select(t.ledger).where(t.ledger.c.kind == "create")).one()
    assert h.cltrid == "web:x-user" and h.command == "domain:create"
    assert a.username == "x-user" and a.outcome == "ok" and a.svtrid == h.svtrid
    assert charge.amount == -2000
    detail = await x.get("/console/domains/xn--bcher-kva.test")
    assert "bücher.test" in detail.text and "web:x-user" not in detail.text
    assert "x-user on the web" in detail.text  # the history timeline names the person


async def test_price_changed_between_quote_and_confirm_is_refused(users: Database) -> None:
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    r = await x.post(
        "/console/register", {"name": "cheap.test", "years": "1", "fee": "1", "currency": "USD"}
    )
    assert r.status_code == 400
    assert ws.field_error(r.text, "name") is not None
    with users.read() as conn:
        assert (
            conn.execute(select(t.domains).where(t.domains.c.name == "cheap.test")).first() is None
        )


async def test_nameservers_ds_locks_renew_on_the_domain_page(users: Database) -> None:
    ws.create_domain(users, "ClientX", "mine.test")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    base = "/console/domains/mine.test"
    r = await x.post(f"{base}/nameservers", {"nameservers": "ns1.example.org\nns2.example.info"})
    assert r.status_code == 303, r.text
    digest = "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE23BF5E07C4CF0DE8B8F8FA3D"
    r = await x.post(
        f"{base}/ds/add", {"key_tag": "12345", "alg": "13", "digest_type": "2", "digest": digest}
    )
    assert r.status_code == 303, r.text
    r = await x.post(
        f"{base}/statuses", {"clientTransferProhibited": "on", "clientDeleteProhibited": "on"}
    )
    assert r.status_code == 303, r.text
    r = await x.post(f"{base}/renew", {"years": "1"})
    assert r.status_code == 303, r.text
    page = await x.get(base)
    assert "ns1.example.org" in page.text and "ns2.example.info" in page.text
    assert f"12345 13 2 {digest}" in page.text
    assert "clientTransferProhibited" in page.text
    lookup = await x.client.get("/lookup", params={"q": "mine.test"})
    assert "ns1.example.org" in lookup.text and f"12345 13 2 {digest}" in lookup.text
    # the lock holds: delete is refused with the reason next to the field
    r = await x.post(f"{base}/delete", {"confirm": "mine.test"})
    assert r.status_code == 400 and "clientDeleteProhibited" in (
        ws.field_error(r.text, "confirm") or ""
    )
    # unlocking everything at once
    r = await x.post(f"{base}/statuses", {})
    assert r.status_code == 303
    r = await x.post(f"{base}/ds/remove", {"record": f"12345 13 2 {digest}"})
    assert r.status_code == 303
    with users.read() as conn:
        cmds = [
            r.cltrid
            for r in conn.execute(
                select(t.history.c.cltrid).where(t.history.c.object_type == "domain")
            )
        ]
    assert cmds.count("web:x-user") >= 6


async def test_transfer_request_and_approve_between_registrars(users: Database) -> None:
    ws.create_domain(users, "ClientY", "theirs.test")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    y = await ws.browser(app, "y-user")
    r = await y.post("/console/domains/theirs.test/authcode", {})
    assert r.status_code == 200
    code = r.text.split('id="auth-code">', 1)[1].split("<", 1)[0]
    wrong = await x.post(
        "/console/transfers",
        {"op": "request", "name": "theirs.test", "auth_code": "nope-Nope-1", "years": "1"},
    )
    assert wrong.status_code == 400 and ws.field_error(wrong.text, "auth_code")
    r = await x.post(
        "/console/transfers",
        {"op": "request", "name": "theirs.test", "auth_code": code, "years": "1"},
    )
    assert r.status_code == 303, r.text
    incoming = await y.get("/console/transfers")
    assert "theirs.test" in incoming.text
    r = await y.post("/console/domains/theirs.test/transfer", {"op": "approve"})
    assert r.status_code == 303
    with users.read() as conn:
        d = conn.execute(select(t.domains).where(t.domains.c.name == "theirs.test")).one()
    assert d.registrar_id == ws.registrar_id(users, "ClientX")
    assert (await x.get("/console/domains/theirs.test")).status_code == 200
    assert (await y.get("/console/domains/theirs.test")).status_code == 404


async def test_delete_then_restore_with_report(users: Database) -> None:
    from datetime import timedelta

    from domreg.clock import Clock, FixedClock

    start = Clock().now()
    clock = FixedClock(start)
    ws.create_domain(users, "ClientX", "gone.test")
    app = ws.app(users, clock)
    clock.set(start + timedelta(days=10))  # past the add grace period: delete → redemption
    x = await ws.browser(app, "x-user", at=clock.now())
    r = await x.post("/console/domains/gone.test/delete", {"confirm": "gone.test"})
    assert r.status_code == 303, r.text
    page = await x.get("/console/domains/gone.test")
    assert "redemptionPeriod" in page.text
    r = await x.post("/console/domains/gone.test/restore", {})
    assert r.status_code == 303, r.text
    r = await x.post("/console/domains/gone.test/restore/report", {"reason": "deleted by mistake"})
    assert r.status_code == 400 and ws.field_error(r.text, "statements")
    assert "Both statements" in r.text
    r = await x.post(
        "/console/domains/gone.test/restore/report",
        {"reason": "deleted by mistake", "statements": "on"},
    )
    assert r.status_code == 303, r.text
    page = await x.get("/console/domains/gone.test")
    assert "pendingDelete" not in page.text


async def test_contacts_hosts_poll_ledger_csv_and_settings(users: Database) -> None:
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    r = await x.post(
        "/console/contacts",
        {
            "handle": "xc-1",
            "name": "Ann Example",
            "city": "Berlin",
            "cc": "DE",
            "email": "ann@example.org",
        },
    )
    assert r.status_code == 303, r.text
    assert "xc-1" in (await x.get("/console/contacts")).text
    ws.create_domain(users, "ClientX", "zone.test")
    r = await x.post(
        "/console/hosts", {"name": "ns1.zone.test", "addresses": "192.0.2.1 2001:db8::1"}
    )
    assert r.status_code == 303, r.text
    hosts = await x.get("/console/hosts")
    assert "ns1.zone.test" in hosts.text and "2001:db8::1" in hosts.text
    # poll: ClientY's transfer request puts a message in ClientX's queue
    with users.write() as conn:
        from domreg.clock import Clock
        from domreg.flows.base import Actor, Context, enqueue_poll

        ctx = Context(
            conn, Clock().now(), Actor(ws.registrar_id(users, "ClientX"), "ClientX"), None, "T-poll"
        )
        enqueue_poll(ctx, ctx.actor.id, "test", "Hello from the registry.", {})
    poll = await x.get("/console/poll")
    assert "Hello from the registry." in poll.text
    msg_id = poll.text.split('name="id" value="', 1)[1].split('"', 1)[0]
    r = await x.post("/console/poll/ack", {"id": msg_id})
    assert r.status_code == 303
    assert "Hello from the registry." not in (await x.get("/console/poll")).text
    # ledger and CSV
    ws.create_domain(users, "ClientX", "paid.test")
    billing = await x.get("/console/billing")
    assert "paid.test" in billing.text
    r = await x.get("/console/billing.csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="ledger-ClientX.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert any(
        row["kind"] == "create" and row["domain"] == "paid.test" and row["amount"] == "-10.00"
        for row in rows
    )
    assert any(row["kind"] == "topup" for row in rows)
    # EPP access settings
    r = await x.post("/console/settings/ips", {"allowed_ips": "192.0.2.0/24\n2001:db8::/32"})
    assert r.status_code == 303
    fp = "AB:" * 31 + "CD"
    r = await x.post("/console/settings/certs", {"fingerprints": fp})
    assert r.status_code == 303
    r = await x.post(
        "/console/settings/password", {"password": "new-Pass-99", "password2": "new-Pass-99"}
    )
    assert r.status_code == 303
    with users.read() as conn:
        reg = conn.execute(select(t.registrars).where(t.registrars.c.clid == "ClientX")).one()
    assert "192.0.2.0/24" in reg.allowed_ips and "ab" * 31 + "cd" in reg.cert_fingerprints
    from domreg.flows.session import verify_password

    assert verify_password(reg.password_hash, "new-Pass-99")


async def test_dashboard_balance_counts_and_chart(users: Database) -> None:
    ws.create_domain(users, "ClientX", "one.test")
    ws.create_domain(users, "ClientX", "two.test")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    page = await x.get("/console")
    assert 'id="domain-count">2<' in page.text
    assert 'id="balance">999,980.00 USD<' in page.text
    assert "<svg" in page.text and "2 create" in page.text  # the chart's description
    assert "create: 2" in page.text


async def test_domain_list_filters_and_keyset_paging(users: Database) -> None:
    from domreg.web.console import queries

    for i in range(queries.PAGE + 5):
        ws.create_domain(users, "ClientX", f"d{i:03d}.test")
    ws.create_domain(users, "ClientX", "other.com")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    first = await x.get("/console/domains", params={"tld": "test"})
    assert "d000.test" in first.text and "other.com" not in first.text
    assert "after=d049.test" in first.text
    second = await x.get("/console/domains", params={"tld": "test", "after": "d049.test"})
    assert "d050.test" in second.text and "d049.test<" not in second.text
    assert "Next page" not in second.text
    only = await x.get("/console/domains", params={"q": "d01"})
    assert "d010.test" in only.text and "d020.test" not in only.text
    ok = await x.get("/console/domains", params={"status": "ok", "before": "2100-01-01"})
    assert "d000.test" in ok.text
    none = await x.get("/console/domains", params={"status": "clientHold"})
    assert "No domains match." in none.text


async def test_contact_page_shows_data_links_and_history(users: Database) -> None:
    ws.create_contact(users, "ClientX", "xc-page")
    ws.link_domain(users, "ClientX", "linked.test", "xc-page", "xc-page")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    listing = await x.get("/console/contacts")
    assert 'href="/console/contacts/xc-page"' in listing.text
    page = await x.get("/console/contacts/xc-page")
    assert page.status_code == 200
    assert "Ann Example" in page.text and "Main St 1" in page.text and "10115" in page.text
    assert "+49.301234567" in page.text and "ann@example.org" in page.text
    assert "linked" in page.text.split('id="statuses">', 1)[1].split("</dd>", 1)[0]
    links = page.text.split('id="links">', 1)[1].split("</ul>", 1)[0]
    assert "linked.test</a> — registrant" in links and "linked.test</a> — tech" in links
    assert "contact:create" in page.text  # the history timeline
    assert "nothing (the default)" in page.text  # disclose flags


async def test_contact_edit_records_the_user_and_changes_the_data(users: Database) -> None:
    ws.create_contact(users, "ClientX", "xc-edit")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    base = "/console/contacts/xc-edit"
    r = await x.post(
        f"{base}/edit",
        {
            "int_name": "Bob Example",
            "int_org": "Example GmbH",
            "int_street": "Hauptstr. 2\n2nd floor",
            "int_city": "Hamburg",
            "int_pc": "20095",
            "int_cc": "de",
            "loc_name": "Bob Müller",
            "loc_street": "Hauptstraße 2",
            "loc_city": "Hamburg",
            "loc_cc": "DE",
            "voice": "+49.4012345",
            "fax": "+49.4054321",
            "email": "bob@example.org",
            "disclose_email": "on",
            "disclose_voice": "on",
        },
    )
    assert r.status_code == 303, r.text
    page = await x.get(base)
    assert "Bob Example" in page.text and "Example GmbH" in page.text and "2nd floor" in page.text
    assert "Bob Müller" in page.text and "Hauptstraße 2" in page.text
    assert "+49.4054321" in page.text and "bob@example.org" in page.text
    assert "x-user on the web" in page.text and "contact:update" in page.text
    with users.read() as conn:
        c = conn.execute(select(t.contacts).where(t.contacts.c.handle == "xc-edit")).one()
        postal = {
            p.type: p
            for p in conn.execute(
                select(t.contact_postal).where(t.contact_postal.c.contact_id == c.id)
            )
        }
        h = conn.execute(
            select(t.history).where(
                t.history.c.roid == c.roid, t.history.c.command == "contact:update"
            )
        ).one()
        a = conn.execute(select(t.web_audit).where(t.web_audit.c.action == "contact.update")).one()
    assert c.email == "bob@example.org" and c.voice == "+49.4012345" and c.fax == "+49.4054321"
    assert '"flag":1' in c.disclose and "email" in c.disclose and "voice" in c.disclose
    assert postal["int"].city == "Hamburg" and postal["int"].street2 == "2nd floor"
    assert postal["loc"].name == "Bob Müller"
    assert h.cltrid == "web:x-user" and a.username == "x-user" and a.svtrid == h.svtrid
    # the fax is removed by leaving it empty; disclosing nothing again
    r = await x.post(
        f"{base}/edit",
        {
            "int_name": "Bob Example",
            "int_city": "Hamburg",
            "int_cc": "DE",
            "voice": "+49.4012345",
            "fax": "",
            "email": "bob@example.org",
        },
    )
    assert r.status_code == 303, r.text
    with users.read() as conn:
        c = conn.execute(select(t.contacts).where(t.contacts.c.handle == "xc-edit")).one()
    assert c.fax is None and '"flag":0' in c.disclose


async def test_contact_locks_hold_and_toggle(users: Database) -> None:
    ws.create_contact(users, "ClientX", "xc-lock")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    base = "/console/contacts/xc-lock"
    r = await x.post(
        f"{base}/statuses", {"clientUpdateProhibited": "on", "clientDeleteProhibited": "on"}
    )
    assert r.status_code == 303, r.text
    page = await x.get(base)
    assert 'id="s-clientUpdateProhibited" name="clientUpdateProhibited" checked' in page.text
    # the locks hold: edit and delete are refused with the flow's reason
    r = await x.post(
        f"{base}/edit",
        {"int_name": "Z", "int_city": "Berlin", "int_cc": "DE", "email": "z@example.org"},
    )
    assert r.status_code == 400 and "clientUpdateProhibited" in r.text
    r = await x.post(f"{base}/delete", {"confirm": "xc-lock"})
    assert r.status_code == 400 and "clientDeleteProhibited" in (
        ws.field_error(r.text, "confirm") or ""
    )
    # swapping locks while unlocking update; then unlocking everything
    r = await x.post(f"{base}/statuses", {"clientTransferProhibited": "on"})
    assert r.status_code == 303, r.text
    with users.read() as conn:
        roid = conn.execute(
            select(t.contacts.c.roid).where(t.contacts.c.handle == "xc-lock")
        ).scalar_one()
        stored = set(
            conn.execute(select(t.statuses.c.status).where(t.statuses.c.roid == roid)).scalars()
        )
    assert stored == {"clientTransferProhibited"}
    r = await x.post(f"{base}/statuses", {})
    assert r.status_code == 303
    r = await x.post(f"{base}/statuses", {})
    assert r.status_code == 400  # nothing to change


async def test_contact_delete_refused_when_linked_allowed_when_not(users: Database) -> None:
    ws.create_contact(users, "ClientX", "xc-used")
    ws.create_contact(users, "ClientX", "xc-free")
    ws.link_domain(users, "ClientX", "uses.test", "xc-used", "xc-used")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    r = await x.post("/console/contacts/xc-used/delete", {"confirm": "xc-used"})
    assert r.status_code == 400
    assert "used by domain uses.test" in (ws.field_error(r.text, "confirm") or "")
    r = await x.post("/console/contacts/xc-free/delete", {"confirm": "xc-free"})
    assert r.status_code == 303 and r.headers["location"].startswith("/console/contacts?")
    assert (await x.get("/console/contacts/xc-free")).status_code == 404
    assert (await x.get("/console/contacts/xc-used")).status_code == 200
    with users.read() as conn:
        gone = conn.execute(select(t.contacts).where(t.contacts.c.handle == "xc-free")).one()
        h = conn.execute(
            select(t.history).where(
                t.history.c.roid == gone.roid, t.history.c.command == "contact:delete"
            )
        ).one()
    assert gone.deleted_at is not None and h.cltrid == "web:x-user"


async def test_another_registrars_contact_answers_404(users: Database) -> None:
    ws.create_contact(users, "ClientY", "yc-1")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    assert (await x.get("/console/contacts/yc-1")).status_code == 404
    assert (await x.get("/console/contacts/no-such")).status_code == 404
    assert (await x.get("/console/contacts/" + "x" * 40)).status_code == 404
    before = ws.dump_without_audit(users)
    for action, data in [
        ("edit", {"int_name": "Evil", "int_city": "X", "int_cc": "DE", "email": "e@example.org"}),
        ("statuses", {"clientDeleteProhibited": "on"}),
        ("delete", {"confirm": "yc-1"}),
    ]:
        r = await x.post(f"/console/contacts/yc-1/{action}", data)
        assert r.status_code == 404, action
    assert ws.dump_without_audit(users) == before
    y = await ws.browser(app, "y-user")
    assert (await y.get("/console/contacts/yc-1")).status_code == 200
