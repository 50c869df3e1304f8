"""Web console test support: the ASGI application over httpx, users with TOTP, sign-in,
and reading CSRF tokens and field errors out of pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pyotp

from domreg.clock import Clock
from domreg.config import Config
from domreg.flows import webusers
from domreg.http.app import HttpContext, build_app
from domreg.store.db import Database

PASSWORD = "correct-horse-42"
ADMIN_SECRET = "JBSWY3DPEHPK3PXPADMINAAA"
SECRETS = {
    "admin": ADMIN_SECRET,
    "x-user": "JBSWY3DPEHPK3PXPXUSERAAA",
    "y-user": "JBSWY3DPEHPK3PXPYUSERAAA",
}


def app(db: Database, clock: Clock | None = None) -> object:
    return build_app(HttpContext(db=db, clock=clock or Clock(), cfg=Config()))


_HASHES: dict[str, str] = {}


def _cached_hash(password: str) -> str:
    """Real argon2 hashes, computed once per password per test process (keeps tests fast)."""
    from domreg.flows.session import hash_password

    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


def add_users(db: Database) -> None:
    """An administrator, a user of ClientX and a user of ClientY (fixed TOTP secrets)."""
    from unittest import mock

    now = Clock().now()
    with db.write() as conn, mock.patch.object(webusers, "hash_password", _cached_hash):
        webusers.add_user(
            conn, now, username="admin", password=PASSWORD, role="admin", totp_secret=ADMIN_SECRET
        )
        webusers.add_user(
            conn,
            now,
            username="x-user",
            password=PASSWORD,
            role="registrar",
            registrar="ClientX",
            totp_secret=SECRETS["x-user"],
        )
        webusers.add_user(
            conn,
            now,
            username="y-user",
            password=PASSWORD,
            role="registrar",
            registrar="ClientY",
            totp_secret=SECRETS["y-user"],
        )


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def field_error(html: str, field: str) -> str | None:
    m = re.search(rf'<p class="field-error" id="e-{re.escape(field)}">([^<]*)</p>', html)
    return m.group(1) if m else None


@dataclass
class Browser:
    """An httpx client signed in as one user, with its CSRF token."""

    client: httpx.AsyncClient
    csrf: str = ""

    async def get(self, path: str, **kw: object) -> httpx.Response:
        return await self.client.get(path, **kw)  # type: ignore[arg-type]

    async def post(
        self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kw: object
    ) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body["csrf"] = self.csrf
        return await self.client.post(path, data=body, **kw)  # type: ignore[arg-type]


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, code: str | None = None
) -> httpx.Response:
    page = await client.get("/login")
    token = csrf_of(page.text)
    code = code if code is not None else pyotp.TOTP(SECRETS[username]).now()
    return await client.post(
        "/login",
        data={"csrf": token, "username": username, "password": password, "code": code, "next": ""},
    )


async def browser(application: object, username: str, at: datetime | None = None) -> Browser:
    """Signed in as `username`; `at`: the registry clock's time (for the TOTP code)."""
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver"
    )  # type: ignore[arg-type]
    code = pyotp.TOTP(SECRETS[username]).at(at.replace(tzinfo=UTC)) if at else None
    r = await sign_in(client, username, code=code)
    assert r.status_code == 303, r.text
    home = await client.get(r.headers["location"])
    assert home.status_code == 200, home.text
    return Browser(client, csrf_of(home.text))


def registrar_id(db: Database, clid: str) -> int:
    from sqlalchemy import select

    from domreg.store import schema as t

    with db.read() as conn:
        return int(
            conn.execute(select(t.registrars.c.id).where(t.registrars.c.clid == clid)).scalar_one()
        )


def create_domain(db: Database, clid: str, name: str, auth: str = "auth-Code-123") -> None:
    """A domain registered directly through the domain flow (as EPP would)."""
    from domreg.flows import domain, domain_create
    from domreg.flows.base import Actor, Context

    with db.write() as conn:
        ctx = Context(conn, Clock().now(), Actor(registrar_id(db, clid), clid), None, f"T-{name}")
        domain_create.create(ctx, domain.DomainCreate(name, auth))


def dump_without_audit(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every table but the web's own audit and session rows: what a refused action must leave."""
    from tests.support import dump

    d = dump(db)
    for name in ("web_audit", "web_sessions", "web_users"):
        d.pop(name, None)
    return d


def create_contact(db: Database, clid: str, handle: str) -> None:
    """A contact created directly through the contact flow (as EPP would)."""
    from domreg.flows import contact
    from domreg.flows.base import Actor, Context

    cmd = contact.ContactCreate(
        id=handle,
        postal=(
            contact.PostalInfo(
                "int", "Ann Example", None, ("Main St 1",), "Berlin", None, "10115", "DE"
            ),
        ),
        email="ann@example.org",
        auth_info="auth-Code-123",
        voice="+49.301234567",
    )
    with db.write() as conn:
        ctx = Context(conn, Clock().now(), Actor(registrar_id(db, clid), clid), None, f"T-{handle}")
        contact.create(ctx, cmd)


def link_domain(db: Database, clid: str, name: str, registrant: str, tech: str) -> None:
    """A domain with `registrant` and a tech contact, created through the domain flow."""
    from domreg.flows import domain, domain_create
    from domreg.flows.base import Actor, Context

    cmd = domain.DomainCreate(
        name, "auth-Code-123", registrant=registrant, contacts=(("tech", tech),)
    )
    with db.write() as conn:
        ctx = Context(conn, Clock().now(), Actor(registrar_id(db, clid), clid), None, f"T-{name}")
        domain_create.create(ctx, cmd)
