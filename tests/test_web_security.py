"""Web console security over HTTP: sign-in needs password and TOTP code, rate limiting,
session cookie flags, CSRF on every POST, role separation (another registrar's objects
answer 404, /admin only for administrators), safe redirects, security headers."""

from __future__ import annotations

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from domreg.flows import webusers
from domreg.store import schema as t
from domreg.store.db import Database
from tests import web_support as ws

pytestmark = pytest.mark.asyncio


@pytest.fixture
def users(db: Database) -> Database:
    ws.add_users(db)
    return db


def _client(app: object, base: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)  # type: ignore[arg-type]


async def test_sign_in_needs_password_and_code(users: Database) -> None:
    app = ws.app(users)
    async with _client(app) as c:
        r = await ws.sign_in(c, "x-user", password="wrong-password-1")
        assert (
            r.status_code == 400 and "Wrong user name, password or authentication code." in r.text
        )
        r = await ws.sign_in(
            c,
            "x-user",
            code="000000" if pyotp.TOTP(ws.SECRETS["x-user"]).now() != "000000" else "111111",
        )
        assert r.status_code == 400
        r = await ws.sign_in(c, "nobody", code="123456")
        assert r.status_code == 400 and "Wrong user name" in r.text
        assert SESSION not in c.cookies
        r = await ws.sign_in(c, "x-user")
        assert r.status_code == 303 and r.headers["location"] == "/console"
    with users.read() as conn:
        failed = conn.execute(
            select(func.count())
            .select_from(t.web_audit)
            .where(t.web_audit.c.action == "login.failed")
        ).scalar_one()
        ok = conn.execute(select(t.web_audit).where(t.web_audit.c.action == "login")).one()
    assert failed == 3 and ok.username == "x-user"


SESSION = "domreg_session"


async def test_a_totp_code_is_accepted_once(users: Database) -> None:
    from datetime import UTC, timedelta

    from domreg.clock import Clock, FixedClock

    clock = FixedClock(Clock().now())
    app = ws.app(users, clock)
    totp = pyotp.TOTP(ws.SECRETS["x-user"])
    code = totp.at(clock.now().replace(tzinfo=UTC))
    async with _client(app) as c:
        assert (await ws.sign_in(c, "x-user", code=code)).status_code == 303
    async with _client(app) as c:
        r = await ws.sign_in(c, "x-user", code=code)
        assert r.status_code == 400 and "used already" in r.text
        clock.advance(timedelta(seconds=30))
        r = await ws.sign_in(c, "x-user", code=totp.at(clock.now().replace(tzinfo=UTC)))
        assert r.status_code == 303


async def test_login_rate_limit_refuses_even_the_right_password(users: Database) -> None:
    app = ws.app(users)
    async with _client(app) as c:
        for _ in range(webusers.MAX_FAILURES):
            r = await ws.sign_in(c, "x-user", password="wrong-password-1")
            assert r.status_code == 400
        r = await ws.sign_in(c, "x-user")
        assert r.status_code == 400 and "Too many failed sign-ins" in r.text
        assert SESSION not in c.cookies


async def test_session_cookie_flags_and_secure_over_tls(users: Database) -> None:
    app = ws.app(users)
    async with _client(app) as c:
        r = await ws.sign_in(c, "x-user")
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    async with _client(app, "https://testserver") as c:
        r = await ws.sign_in(c, "y-user")
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


async def test_every_post_needs_the_session_csrf_token(users: Database) -> None:
    ws.create_domain(users, "ClientX", "mine.test")
    ws.create_contact(users, "ClientX", "xc-1")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    before = ws.dump_without_audit(users)
    for path, data in [
        (
            "/console/contacts/xc-1/edit",
            {"int_name": "Z", "int_city": "Z", "int_cc": "DE", "email": "z@example.org"},
        ),
        ("/console/contacts/xc-1/statuses", {"clientDeleteProhibited": "on"}),
        ("/console/contacts/xc-1/delete", {"confirm": "xc-1"}),
        ("/console/domains/mine.test/renew", {"years": "1"}),
        ("/console/domains/mine.test/delete", {"confirm": "mine.test"}),
        ("/console/settings/password", {"password": "new-Pass-99", "password2": "new-Pass-99"}),
        ("/console/register", {"name": "new.test", "years": "1", "fee": "1000", "currency": "USD"}),
    ]:
        r = await x.post(path, data, csrf=False)
        assert r.status_code == 403 and "CSRF" in r.text
        r = await x.post(path, {**data, "csrf": "forged"}, csrf=False)
        assert r.status_code == 403
    assert ws.dump_without_audit(users) == before
    # the login form has its own (double-submit) token
    async with _client(app) as c:
        r = await c.post(
            "/login", data={"username": "x-user", "password": ws.PASSWORD, "code": "123456"}
        )
        assert r.status_code == 403


async def test_registrar_never_sees_another_registrars_objects(users: Database) -> None:
    ws.create_domain(users, "ClientY", "theirs.test")
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    before = ws.dump_without_audit(users)
    assert (await x.get("/console/domains/theirs.test")).status_code == 404
    for action, data in [
        ("renew", {"years": "1"}),
        ("delete", {"confirm": "theirs.test"}),
        ("nameservers", {"nameservers": "ns1.example.org"}),
        ("authcode", {}),
        ("statuses", {"clientHold": "on"}),
        ("transfer", {"op": "approve"}),
    ]:
        r = await x.post(f"/console/domains/theirs.test/{action}", data)
        assert r.status_code == 404, action
    listing = await x.get("/console/domains", params={"q": "theirs"})
    assert "theirs.test" not in listing.text
    assert ws.dump_without_audit(users) == before
    assert (await x.get("/admin")).status_code == 404
    assert (await x.get("/admin/registrars/ClientY")).status_code == 404
    r = await x.post("/admin/registrars/ClientY/credit", {"amount": "5.00"})
    assert r.status_code == 404
    a = await ws.browser(app, "admin")
    assert (await a.get("/console")).status_code == 404


async def test_signed_out_pages_redirect_and_next_is_local_only(users: Database) -> None:
    app = ws.app(users)
    async with _client(app) as c:
        r = await c.get("/console/domains")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/console/domains"
        r = await c.get("/admin/audit")
        assert r.status_code == 303
        page = await c.get("/login", params={"next": "//evil.example/x"})
        assert 'name="next" value=""' in page.text
        token = ws.csrf_of(page.text)
        r = await c.post(
            "/login",
            data={
                "csrf": token,
                "username": "x-user",
                "password": ws.PASSWORD,
                "code": pyotp.TOTP(ws.SECRETS["x-user"]).now(),
                "next": "https://evil.example/",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/console"


async def test_sign_out_ends_the_session_and_suspension_ends_sessions(users: Database) -> None:
    app = ws.app(users)
    x = await ws.browser(app, "x-user")
    r = await x.post("/logout", {})
    assert r.status_code == 303
    assert (await x.get("/console")).status_code == 303
    y = await ws.browser(app, "y-user")
    a = await ws.browser(app, "admin")
    r = await a.post("/admin/registrars/ClientY/status", {"status": "suspended"})
    assert r.status_code == 303
    assert (await y.get("/console")).status_code == 303  # signed out
    async with _client(app) as c:
        r = await ws.sign_in(c, "y-user")
        assert r.status_code == 400 and "suspended" in r.text


async def test_pages_send_security_headers_and_escape_hostile_text(users: Database) -> None:
    app = ws.app(users)
    async with _client(app) as c:
        r = await c.get("/", params={"q": "<script>alert(1)</script>.test"})
        assert "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
