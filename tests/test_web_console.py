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
