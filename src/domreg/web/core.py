"""What every web page shares: the `Web` object (database, clock, templates, flow runner),
form reading with field errors, and page rendering.

Writes go through flows only: `Web.act` runs one flow in one transaction as the signed-in
registrar (or as the registry for administrators), with clTRID `web:<username>` so the
history row names the person, and writes the web audit row in the same transaction; a
refused action writes its audit row in a transaction of its own and changes nothing else.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import jinja2
from sqlalchemy import Connection
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from domreg.flows import webusers
from domreg.flows.base import Actor, Context, SvTrIds, registry_actor
from domreg.flows.registry import RegistryError
from domreg.http.app import HttpContext
from domreg.model.errors import EppError
from domreg.model.names import to_unicode

T = TypeVar("T")


class Problem(Exception):
    """A refused web action: `errors` maps form fields ("" for the whole form) to messages."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


def money(minor: int | None, currency: str = "") -> str:
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{whole:,}.{cents:02d}" + (f" {currency}" if currency else "")


def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.strftime(fmt) if value else ""


def unicode_name(name: str | None) -> str:
    if not name:
        return ""
    try:
        return to_unicode(name)
    except Exception:
        return name


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("domreg.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["when"] = when
    env.filters["day"] = lambda v: when(v, "%Y-%m-%d")
    env.filters["uname"] = unicode_name
    return env


@dataclass
class Form:
    """A submitted form: typed reads that collect one error per field."""

    data: FormData
    errors: dict[str, str] = field(default_factory=dict)

    def text(
        self,
        name: str,
        *,
        label: str,
        required: bool = True,
        max_len: int = 255,
        multiline: bool = False,
    ) -> str:
        raw = self.data.get(name)
        value = raw if isinstance(raw, str) else ""
        value = unicodedata.normalize("NFC", value).strip()
        if not value:
            if required:
                self.errors.setdefault(name, f"{label} is required.")
            return ""
        if len(value) > max_len:
            self.errors.setdefault(name, f"{label} is at most {max_len} characters.")
            return ""
        allowed = "\r\n\t" if multiline else ""
        if any((ord(c) < 32 and c not in allowed) or 127 <= ord(c) < 160 for c in value):
            self.errors.setdefault(name, f"{label} contains control characters.")
            return ""
        return value

    def integer(
        self, name: str, *, label: str, low: int, high: int, default: int | None = None
    ) -> int:
        value = self.text(name, label=label, required=default is None, max_len=12)
        if not value:
            return default if default is not None else low
        try:
            number = int(value)
        except ValueError:
            self.errors.setdefault(name, f"{label} must be a whole number.")
            return low
        if not low <= number <= high:
            self.errors.setdefault(name, f"{label} must be between {low} and {high}.")
        return number

    def choice(self, name: str, *, label: str, options: tuple[str, ...] | list[str]) -> str:
        value = self.text(name, label=label, max_len=64)
        if value and value not in options:
            self.errors.setdefault(name, f"{label}: choose one of the listed values.")
        return value

    def upload(self, name: str, *, label: str, max_bytes: int = 1_000_000) -> bytes:
        raw = self.data.get(name)
        if not isinstance(raw, UploadFile):
            self.errors.setdefault(name, f"{label}: choose a file.")
            return b""
        body = raw.file.read(max_bytes + 1)
        if not body:
            self.errors.setdefault(name, f"{label}: the file is empty.")
        elif len(body) > max_bytes:
            self.errors.setdefault(name, f"{label}: at most {max_bytes} bytes.")
            return b""
        return body

    def check(self) -> None:
        if self.errors:
            raise Problem(self.errors)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class Web:
    """The web surface's shared state: one per application."""

    def __init__(self, ctx: HttpContext) -> None:
        from domreg.serve import policy

        self.ctx = ctx
        self.db = ctx.db
        self.clock = ctx.clock
        self.policy = policy(ctx.cfg)
        self.svtrids = SvTrIds("DRW")
        self.env = _environment()

    def now(self) -> datetime:
        return self.clock.now()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        def work() -> T:
            with self.db.read() as conn:
                return fn(conn)

        return await self.db.run(work)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        def work() -> T:
            with self.db.write() as conn:
                return fn(conn)

        return await self.db.run(work)

    async def act(
        self,
        request: Request,
        user: webusers.WebUser,
        action: str,
        target: str,
        fn: Callable[[Context], T],
        field: str = "",
    ) -> T:
        """Run flow `fn` in one transaction as `user`, audited. A refusal (EppError,
        RegistryError, Problem) raises `Problem` with the message on `field`, after writing a
        "refused" audit row in its own transaction."""
        svtrid = self.svtrids.next()
        now = self.now()
        actor: Actor = (
            Actor(user.registrar_id, user.clid or "")
            if user.registrar_id is not None
            else registry_actor(f"web:{user.username}")
        )
        ip = client_ip(request)

        def work() -> T:
            with self.db.write() as conn:
                ctx = Context(conn, now, actor, f"web:{user.username}", svtrid, self.policy)
                result = fn(ctx)
                webusers.audit(conn, now, user, action, target=target, ip=ip, svtrid=svtrid)
                return result

        try:
            return await self.db.run(work)
        except Problem as exc:
            errors = exc.errors
        except EppError as exc:
            errors = {field: f"{exc.text} (EPP {int(exc.code)})"}
        except RegistryError as exc:
            errors = {getattr(exc, "field", field): str(exc)}

        def refused(conn: Connection) -> None:
            webusers.audit(
                conn,
                now,
                user,
                action,
                target=target,
                outcome="refused",
                detail="; ".join(errors.values()),
                ip=ip,
                svtrid=svtrid,
            )

        await self.write(refused)
        raise Problem(errors)

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        user = request.scope.get("web_user")
        values.setdefault("errors", {})
        values.setdefault("form", {})
        values.setdefault("notice", NOTICES.get(request.query_params.get("done", ""), ""))
        html = self.env.get_template(template).render(
            request=request, user=user, csrf=user.csrf if user else "", **values
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


#: What a redirect after a successful action says (`?done=<key>`: fixed texts only).
NOTICES = {
    "registered": "The domain is registered.",
    "renewed": "The domain is renewed.",
    "nameservers": "Nameservers updated.",
    "ds": "DS records updated.",
    "statuses": "Statuses updated.",
    "deleted": "The domain is deleted (in redemption unless it was in its add grace period).",
    "restore-requested": "Restore requested: now send the restore report.",
    "restored": "The domain is restored.",
    "transfer-requested": "Transfer requested.",
    "transfer-approved": "Transfer approved.",
    "transfer-rejected": "Transfer rejected.",
    "transfer-cancelled": "Transfer cancelled.",
    "contact": "Contact created.",
    "contact-updated": "Contact updated.",
    "contact-deleted": "Contact deleted.",
    "host": "Host created.",
    "host-deleted": "Host deleted.",
    "acked": "Message acknowledged.",
    "password": "EPP password changed.",
    "ips": "IP allow-list saved.",
    "certs": "Certificate fingerprints saved.",
    "saved": "Saved.",
    "credited": "Account credited.",
    "tld": "TLD created.",
    "registrar": "Registrar created.",
    "list": "List loaded.",
}

#: Sent with every page: no framing, no sniffing, scripts only from here (and the inline
#: SVG chart needs none).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def redirect(path: str, done: str) -> Response:
    from starlette.responses import RedirectResponse

    return RedirectResponse(f"{path}?done={done}", 303)


def not_found(web: Web, request: Request, what: str = "page") -> Response:
    return web.render(
        request, "error.html", status=404, title="Not found", message=f"No such {what}."
    )
