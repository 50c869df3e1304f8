"""Web console test support: the ASGI application over httpx, users with TOTP, sign-in,
and reading CSRF tokens and field errors out of pages."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pyotp

from domreg.clock import Clock
from domreg.config import Config
from domreg.flows import webusers
from domreg.http.app import HttpContext, build_app
from domreg.store.db import Database

PASSWORD = "correct-horse-42"
ADMIN_SECRET = "JBSWY3DPEHPK3PXPADMINAAA"
SECRETS = {"admin": ADMIN_SECRET, "x-user": "JBSWY3DPEHPK3PXPXUSERAAA", "y-user": "JBSWY3DPEHPK3PXPYUSERAAA"}


def app(db: Database, clock: Clock | None = None) -> object:
    return build_app(HttpContext(db=db, clock=clock or Clock(), cfg=Config()))


def add_users(db: Database) -> None:
    """An administrator, a user of ClientX and a user of ClientY (fixed TOTP secrets)."""
    now = Clock().now()
    with db.write() as conn:
        webusers.add_user(conn, now, username="admin", password=PASSWORD, role="admin", totp_secret=ADMIN_SECRET)
        webusers.add_user(conn, now, username="x-user", password=PASSWORD, role="registrar",
                          registrar="ClientX", totp_secret=SECRETS["x-user"])
        webusers.add_user(conn, now, username="y-user", password=PASSWORD, role="registrar",
                          registrar="ClientY", totp_secret=SECRETS["y-user"])


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

    async def post(self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kw: object) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body["csrf"] = self.csrf
        return await self.client.post(path, data=body, **kw)  # type: ignore[arg-type]


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD, code: str | None = None) -> httpx.Response:
    page = await client.get("/login")
    token = csrf_of(page.text)
    code = code if code is not None else pyotp.TOTP(SECRETS[username]).now()
    return await client.post("/login", data={"csrf": token, "username": username, "password": password, "code": code, "next": ""})


async def browser(application: object, username: str) -> Browser:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")  # type: ignore[arg-type]
    r = await sign_in(client, username)
    assert r.status_code == 303, r.text
    home = await client.get(r.headers["location"])
    assert home.status_code == 200, home.text
    return Browser(client, csrf_of(home.text))
