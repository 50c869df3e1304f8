"""Registry administration over HTTP: registrars (create, credit, users, prices, RDAP base
URL, suspend),
TLDs (create, policy, phases, reserved and premium CSV), server statuses and registry lock,
the audit log, jobs and DNS publication; and the public search and lookup pages."""

from __future__ import annotations

import re

import pyotp
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


async def test_admin_creates_registrar_credits_it_and_adds_a_user_who_signs_in(
    users: Database,
) -> None:
    app = ws.app(users)
    a = await ws.browser(app, "admin")
    r = await a.post(
        "/admin/registrars",
        {
            "clid": "NewReg",
            "name": "New Registrar Ltd",
            "email": "ops@new.example",
            "password": "epp-Pass-1",
            "tld_test": "on",
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/registrars/NewReg")
    r = await a.post(
        "/admin/registrars/NewReg/credit", {"amount": "500.00", "reason": "opening deposit"}
    )
    assert r.status_code == 303
    r = await a.post(
        "/admin/registrars/NewReg/price", {"tld": "test", "operation": "create", "price": "7.50"}
    )
    assert r.status_code == 303
    r = await a.post(
        "/admin/registrars/NewReg/users", {"username": "new-ops", "password": "long-Pass-123"}
    )
    assert r.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', r.text).group(1)  # type: ignore[union-attr]
    assert 'id="balance">500.00 USD<' in r.text
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:  # type: ignore[arg-type]
        r = await ws.sign_in(c, "new-ops", password="long-Pass-123", code=pyotp.TOTP(secret).now())
        assert r.status_code == 303
        page = await c.get("/console/register", params={"name": "cheap.test"})
        assert 'id="price">7.50 USD<' in page.text  # the override applies
    with users.read() as conn:
        audit = [
            (r.username, r.action)
            for r in conn.execute(select(t.web_audit.c.username, t.web_audit.c.action))
        ]
    assert ("admin", "registrar.create") in audit and ("admin", "registrar.credit") in audit


async def test_admin_sets_and_clears_the_registrar_rdap_base_url(users: Database) -> None:
    def stored() -> str | None:
        with users.read() as conn:
            return conn.execute(
                select(t.registrars.c.rdap_base_url).where(t.registrars.c.clid == "ClientX")
            ).scalar_one()

    a = await ws.browser(ws.app(users), "admin")
    for bad in ("http://rdap.clientx.example/", "https://rdap.clientx.example/?q=1", "rdap"):
        r = await a.post("/admin/registrars/ClientX/rdap", {"rdap_base_url": bad})
        assert r.status_code == 400
        assert 'id="e-rdap_base_url">rdap base url must be an https URL' in r.text
        assert stored() is None
    r = await a.post(
        "/admin/registrars/ClientX/rdap", {"rdap_base_url": " https://rdap.clientx.example/v1 "}
    )
    assert r.status_code == 303
    assert stored() == "https://rdap.clientx.example/v1/"  # kept ending in "/"
    page = await a.get("/admin/registrars/ClientX")
    assert 'name="rdap_base_url" type="text" value="https://rdap.clientx.example/v1/"' in page.text
    r = await a.post("/admin/registrars/ClientX/rdap", {"rdap_base_url": ""})
    assert r.status_code == 303 and stored() is None
    with users.read() as conn:
        audit = [
            (r.action, r.outcome)
            for r in conn.execute(
                select(t.web_audit.c.action, t.web_audit.c.outcome).where(
                    t.web_audit.c.action == "registrar.rdap"
                )
            )
        ]
    assert sorted(audit) == [("registrar.rdap", "ok")] * 2 + [("registrar.rdap", "refused")] * 3


async def test_tld_policy_phase_and_lists(users: Database) -> None:
    app = ws.app(users)
    a = await ws.browser(app, "admin")
    r = await a.post("/admin/tlds", {"name": "example"})
    assert r.status_code == 303
    page = await a.get("/admin/tlds/example")
    form = {k: v for k, v in re.findall(r'name="([a-z_]+)" type="text" value="([^"]*)"', page.text)}
    form["redemption_days"] = "40"
    form["create_price"] = "12.00"
    r = await a.post("/admin/tlds/example/policy", form)
    assert r.status_code == 303, r.text
    r = await a.post(
        "/admin/tlds/example/phase",
        {"phase": "sunrise", "starts_at": "2027-01-01", "ends_at": "2027-02-01"},
    )
    assert r.status_code == 303
    files = {
        "file": ("reserved.csv", b"label,reason\nnic,registry use\nwww,registry use\n", "text/csv")
    }
    r = await a.client.post("/admin/tlds/test/reserved", data={"csrf": a.csrf}, files=files)
    assert r.status_code == 303, r.text
    files = {
        "file": (
            "premium.csv",
            b"label,class,create,renew,transfer,restore\ngold,gold,500.00,50.00,50.00,50.00\n",
            "text/csv",
        )
    }
    r = await a.client.post("/admin/tlds/test/premium", data={"csrf": a.csrf}, files=files)
    assert r.status_code == 303, r.text
    with users.read() as conn:
        tld = conn.execute(select(t.tlds).where(t.tlds.c.name == "example")).one()
        phases = list(conn.execute(select(t.tld_phases)))
    assert tld.redemption_days == 40 and tld.create_price == 1200 and phases[0].name == "sunrise"
    # the public search sees them
    r = await a.client.get("/", params={"q": "nic.test gold.test fresh.test"})
    assert "Reserved" in r.text and "Premium (gold)" in r.text and "500.00 USD" in r.text
    assert "Available" in r.text and "10.00 USD" in r.text


async def test_registry_lock_and_server_statuses_with_audit(users: Database) -> None:
    ws.create_domain(users, "ClientX", "locked.test")
    app = ws.app(users)
    a = await ws.browser(app, "admin")
    r = await a.post(
        "/admin/domains/locked.test/statuses", {"mode": "lock", "reason": "registrant request"}
    )
    assert r.status_code == 303, r.text
    page = await a.get("/admin/domains/locked.test")
    for s in ("serverUpdateProhibited", "serverDeleteProhibited", "serverTransferProhibited"):
        assert s in page.text
    x = await ws.browser(app, "x-user")
    r = await x.post("/console/domains/locked.test/delete", {"confirm": "locked.test"})
    assert r.status_code == 400 and "serverDeleteProhibited" in r.text
    r = await a.post(
        "/admin/domains/locked.test/statuses",
        {"mode": "statuses", "serverHold": "on", "reason": "abuse"},
    )
    assert r.status_code == 303
    audit = await a.get("/admin/audit", params={"q": "locked.test"})
    assert "domain.server.lock" in audit.text and "domain:update" in audit.text
    assert "web:admin" in audit.text  # the history row names the administrator
    assert "domain.delete" in audit.text and "refused" in audit.text  # x-user's refused delete
    jobs = await a.get("/admin/jobs")
    assert 'id="dns-publication"' in jobs.text
    assert "Changes pending" in jobs.text and ".test" in jobs.text  # per-TLD publication state
    r = await a.get("/admin/domains", params={"q": "locked.test"})
    assert r.status_code == 303


async def test_public_search_idn_list_and_lookup(users: Database) -> None:
    ws.create_domain(users, "ClientX", "taken.test")
    app = ws.app(users)
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:  # type: ignore[arg-type]
        r = await c.get("/", params={"q": "bücher.test, taken.test\nbad..name"})
        assert r.status_code == 200
        assert "bücher.test" in r.text and "xn--bcher-kva.test" in r.text
        assert "Registered" in r.text and "Not available" in r.text
        r = await c.get("/", params={"q": "solo"})  # tried under every TLD
        assert "solo.test" in r.text and "solo.com" in r.text and "solo.net" in r.text
        r = await c.get("/lookup", params={"q": "taken.test"})
        assert r.status_code == 200 and "ClientX" in r.text and "Expires" in r.text
        r = await c.get("/lookup", params={"q": "ClientY"})
        assert "ClientY Inc." in r.text
        r = await c.get("/lookup", params={"q": "nothing.test"})
        assert r.status_code == 404 and 'id="e-q"' in r.text
