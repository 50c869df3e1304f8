"""Web console accounts: users (argon2 password and TOTP second factor), browser sessions
shared by every worker, sign-in with rate limiting, and the web audit rows.

An administrator has no registrar; a registrar user belongs to exactly one registrar and
only ever acts as it. A session is a random token in an HttpOnly cookie; the database keeps
its SHA-256 (a stolen database does not yield live cookies) and the session's CSRF token.
Failed sign-ins are `web_audit` rows ("login.failed"), so the rate limit holds across
workers and restarts. A TOTP code is accepted once (RFC 6238 section 5.2): the user's row
keeps the time step of the last code accepted.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import Connection, delete, func, insert, select, update

from domreg.flows.registry import RegistryError
from domreg.flows.session import hash_password, verify_password
from domreg.store import schema as t

ROLES = ("admin", "registrar")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 128
SESSION_LIFETIME = timedelta(hours=8)
#: Sign-in attempts: at most this many failures per address (or per user name) per window.
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the user does not exist, so a miss costs as much as a hit.
    Made on first use, not at import: an argon2 hash costs about 0.4 s of CPU, which every
    `domreg` command (the CLI imports this module to build its parser) would pay."""
    return hash_password("not-a-real-password-0")


class UserError(RegistryError):
    """A refused user request; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class LoginFailed(Exception):
    """Sign-in refused; the message is safe to show (it never says which factor failed),
    `detail` is for the audit row (`record_failure`, in its own transaction)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class WebUser:
    id: int
    username: str
    role: str
    registrar_id: int | None
    clid: str | None
    csrf: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    totp_secret: str

    def provisioning_uri(self, issuer: str = "domreg") -> str:
        return pyotp.TOTP(self.totp_secret).provisioning_uri(name=self.username, issuer_name=issuer)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return "no control characters"
    return None


def add_user(
    conn: Connection,
    now: datetime,
    *,
    username: str,
    password: str,
    role: str,
    registrar: str | None = None,
    totp_secret: str | None = None,
) -> NewUser:
    """Create a user; returns its TOTP secret (shown once, for the authenticator app)."""
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise UserError(
            "username",
            "user name: 3-64 characters, lower-case letters, digits, '.', '_', '@' or '-'",
        )
    if role not in ROLES:
        raise UserError("role", f"role is one of {', '.join(ROLES)}")
    problem = password_problem(password)
    if problem is not None:
        raise UserError("password", f"password: {problem}")
    registrar_id = None
    if role == "registrar":
        if not registrar:
            raise UserError("registrar", "a registrar user needs a registrar")
        registrar_id = conn.execute(
            select(t.registrars.c.id).where(t.registrars.c.clid == registrar)
        ).scalar_one_or_none()
        if registrar_id is None:
            raise UserError("registrar", f"registrar {registrar} does not exist")
    elif registrar:
        raise UserError("registrar", "an administrator belongs to no registrar")
    secret = totp_secret or pyotp.random_base32()
    exists = conn.execute(
        select(t.web_users.c.id).where(t.web_users.c.username == username)
    ).first()
    if exists is not None:
        raise UserError("username", f"user {username} already exists")
    conn.execute(
        insert(t.web_users).values(
            username=username,
            registrar_id=registrar_id,
            role=role,
            password_hash=hash_password(password),
            totp_secret=secret,
            created_at=now,
        )
    )
    return NewUser(username, secret)


def list_users(conn: Connection, registrar_id: int | None = None) -> list[WebUser]:
    q = (
        select(t.web_users, t.registrars.c.clid)
        .outerjoin(t.registrars, t.registrars.c.id == t.web_users.c.registrar_id)
        .order_by(t.web_users.c.username)
    )
    if registrar_id is not None:
        q = q.where(t.web_users.c.registrar_id == registrar_id)
    return [WebUser(r.id, r.username, r.role, r.registrar_id, r.clid) for r in conn.execute(q)]


def _failures(conn: Connection, now: datetime, ip: str | None, username: str) -> int:
    since = now - FAILURE_WINDOW
    by_ip = conn.execute(
        select(func.count())
        .select_from(t.web_audit)
        .where(
            t.web_audit.c.action == "login.failed",
            t.web_audit.c.ip == ip,
            t.web_audit.c.at > since,
        )
    ).scalar_one()
    by_user = conn.execute(
        select(func.count())
        .select_from(t.web_audit)
        .where(
            t.web_audit.c.action == "login.failed",
            t.web_audit.c.at > since,
            t.web_audit.c.username == username,
        )
    ).scalar_one()
    return int(max(by_ip, by_user))


def sign_in(
    conn: Connection, now: datetime, username: str, password: str, code: str, ip: str | None
) -> tuple[WebUser, str]:
    """Check password and TOTP code; returns the user and a new session token.

    LoginFailed (the caller then writes `record_failure` in a transaction of its own) for a wrong user, password or code, a disabled user or suspended registrar, and
    when the address or user name has failed too often lately (rate limit).
    """
    username = username.strip().lower()[:64]
    if _failures(conn, now, ip, username) >= MAX_FAILURES:
        raise LoginFailed(
            "Too many failed sign-ins; wait 15 minutes and try again.", "rate limited"
        )
    row = conn.execute(
        select(t.web_users, t.registrars.c.clid, t.registrars.c.status.label("registrar_status"))
        .outerjoin(t.registrars, t.registrars.c.id == t.web_users.c.registrar_id)
        .where(t.web_users.c.username == username)
    ).first()
    ok = verify_password(row.password_hash if row else _dummy_hash(), password)
    code = code.strip().replace(" ", "")
    ok = ok and code.isdigit() and len(code) == 6
    step = _totp_step(row.totp_secret, code, now) if row is not None and ok else None
    if step is None or row is None:
        raise LoginFailed(
            "Wrong user name, password or authentication code.", "wrong user, password or code"
        )
    if row.disabled or (row.registrar_id is not None and row.registrar_status != "ok"):
        raise LoginFailed(
            "This account is disabled or its registrar is suspended.", "disabled or suspended"
        )
    if step <= row.totp_step:
        raise LoginFailed(
            "This authentication code was used already; wait for the next one.", "code reused"
        )
    user = WebUser(row.id, row.username, row.role, row.registrar_id, row.clid)
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(t.web_sessions).values(
            token_hash=_digest(token),
            user_id=row.id,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    conn.execute(
        update(t.web_users)
        .where(t.web_users.c.id == row.id)
        .values(last_login_at=now, totp_step=step)
    )
    conn.execute(delete(t.web_sessions).where(t.web_sessions.c.expires_at < now))
    audit(conn, now, user, "login", target=username, ip=ip)
    return user, token


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step whose code `code` is: this one, or the one before or after (clock
    drift); None if none matches."""
    totp = pyotp.TOTP(secret)
    when = now.replace(tzinfo=UTC)
    for drift in (0, -1, 1):
        moment = when + timedelta(seconds=30 * drift)
        if hmac.compare_digest(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None


def record_failure(
    conn: Connection, now: datetime, username: str, detail: str, ip: str | None
) -> None:
    """The audit row of a refused sign-in: what the rate limit counts."""
    username = username.strip().lower()[:64]
    audit(
        conn,
        now,
        None,
        "login.failed",
        username=username,
        target=username,
        outcome="refused",
        detail=detail,
        ip=ip,
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_user(conn: Connection, now: datetime, token: str) -> WebUser | None:
    """The user of a live session, with its CSRF token; None for unknown or expired ones."""
    if not token or len(token) > 100:
        return None
    row = conn.execute(
        select(
            t.web_users,
            t.web_sessions.c.csrf,
            t.registrars.c.clid,
            t.registrars.c.status.label("registrar_status"),
        )
        .join(t.web_users, t.web_users.c.id == t.web_sessions.c.user_id)
        .outerjoin(t.registrars, t.registrars.c.id == t.web_users.c.registrar_id)
        .where(t.web_sessions.c.token_hash == _digest(token), t.web_sessions.c.expires_at > now)
    ).first()
    if row is None or row.disabled:
        return None
    if row.registrar_id is not None and row.registrar_status != "ok":
        return None
    return WebUser(row.id, row.username, row.role, row.registrar_id, row.clid, row.csrf)


def sign_out(conn: Connection, token: str) -> None:
    conn.execute(delete(t.web_sessions).where(t.web_sessions.c.token_hash == _digest(token)))


def audit(
    conn: Connection,
    now: datetime,
    user: WebUser | None,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
    ip: str | None = None,
    svtrid: str | None = None,
    username: str | None = None,
) -> None:
    """One web audit row: who did what to which object, and how it ended."""
    conn.execute(
        insert(t.web_audit).values(
            at=now,
            user_id=user.id if user else None,
            username=(user.username if user else username or "-")[:64],
            registrar_id=user.registrar_id if user else None,
            action=action[:64],
            target=target[:255] if target else None,
            outcome=outcome,
            detail=detail[:2000] if detail else None,
            ip=ip[:45] if ip else None,
            svtrid=svtrid,
        )
    )
