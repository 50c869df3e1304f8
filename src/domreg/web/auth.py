"""Sign-in, sessions, CSRF and role separation.

- Sign-in: user name, argon2 password and a TOTP code (`flows/webusers.sign_in`), rate
  limited per address and per user name; the login form itself carries a double-submit CSRF
  token (cookie and hidden field) since there is no session yet.
- Session cookie: random token, HttpOnly, SameSite=Strict, Secure when served over TLS.
- CSRF: every form of a signed-in page carries the session's token; every POST is refused
  (403, nothing done) unless it matches.
- Roles: `/console` pages need a registrar user and only ever show that registrar's
  objects (another registrar's object answers 404); `/admin` pages answer 404 to anyone who
  is not an administrator.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from domreg.flows import webusers
from domreg.web.core import Form, Web, client_ip, not_found

SESSION_COOKIE = "domreg_session"
LOGIN_CSRF_COOKIE = "domreg_login_csrf"

Handler = Callable[[Request, webusers.WebUser], Awaitable[Response]]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


async def current_user(web: Web, request: Request) -> webusers.WebUser | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    now = web.now()
    return await web.read(lambda conn: webusers.session_user(conn, now, token))


async def csrf_ok(request: Request, expected: str) -> bool:
    try:
        form = await request.form()
    except Exception:
        return False
    given = form.get("csrf")
    return isinstance(given, str) and bool(expected) and hmac.compare_digest(given, expected)


def page(web: Web, role: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: signed in, of `role` ("registrar" or "admin"), CSRF-checked on POST."""

    async def endpoint(request: Request) -> Response:
        user = await current_user(web, request)
        if user is None:
            if request.method == "GET":
                return RedirectResponse(f"/login?next={quote(request.url.path)}", 303)
            return web.render(
                request, "error.html", 403, title="Signed out", message="Sign in again."
            )
        request.scope["web_user"] = user
        if (role == "admin") != user.is_admin:
            return not_found(web, request)
        if request.method == "POST" and not await csrf_ok(request, user.csrf):
            return web.render(
                request,
                "error.html",
                403,
                title="Form expired",
                message="The form was not sent from this session (CSRF check failed). "
                "Reload the page and try again.",
            )
        return await handler(request, user)

    return endpoint


def routes(web: Web) -> list[BaseRoute]:
    async def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = web.render(
            request,
            "login.html",
            login_csrf=token,
            next=_safe_next(request.query_params.get("next", "")),
        )
        _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
        return response

    async def login(request: Request) -> Response:
        form = Form(await request.form())
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        given = form.data.get("csrf")
        if not cookie or not isinstance(given, str) or not hmac.compare_digest(given, cookie):
            return web.render(
                request,
                "error.html",
                403,
                title="Form expired",
                message="The sign-in form expired (CSRF check failed). Reload it and try again.",
            )
        username = form.text("username", label="User name", max_len=64)
        password = form.text("password", label="Password", max_len=128)
        code = form.text("code", label="Authentication code", max_len=10)
        nxt = _safe_next(form.text("next", label="Next", required=False, max_len=200))
        values = {"username": username}
        if form.errors:
            return web.render(
                request,
                "login.html",
                400,
                errors=form.errors,
                form=values,
                login_csrf=cookie,
                next=nxt,
            )
        now = web.now()
        ip = client_ip(request)
        try:
            user, token = await web.write(
                lambda conn: webusers.sign_in(conn, now, username, password, code, ip)
            )
        except webusers.LoginFailed as exc:
            detail = exc.detail
            await web.write(lambda conn: webusers.record_failure(conn, now, username, detail, ip))
            return web.render(
                request,
                "login.html",
                400,
                errors={"": str(exc)},
                form=values,
                login_csrf=cookie,
                next=nxt,
            )
        target = nxt or ("/admin" if user.is_admin else "/console")
        if user.is_admin != target.startswith("/admin"):
            target = "/admin" if user.is_admin else "/console"
        response = RedirectResponse(target, 303)
        _set_cookie(
            request, response, SESSION_COOKIE, token, int(webusers.SESSION_LIFETIME.total_seconds())
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    async def logout(request: Request, user: webusers.WebUser) -> Response:
        token = request.cookies.get(SESSION_COOKIE, "")
        now = web.now()
        ip = client_ip(request)

        def out(conn: object) -> None:
            webusers.sign_out(conn, token)  # type: ignore[arg-type]
            webusers.audit(conn, now, user, "logout", target=user.username, ip=ip)  # type: ignore[arg-type]

        await web.write(out)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def logout_any(request: Request) -> Response:
        user = await current_user(web, request)
        if user is None:
            return RedirectResponse("/login", 303)
        request.scope["web_user"] = user
        if not await csrf_ok(request, user.csrf):
            return web.render(
                request, "error.html", 403, title="Form expired", message="Reload and try again."
            )
        return await logout(request, user)

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout_any, methods=["POST"]),
    ]


def _safe_next(path: str) -> str:
    """Only a local path (no scheme, no host, no `//`) may follow sign-in."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path[:200]
    return ""
