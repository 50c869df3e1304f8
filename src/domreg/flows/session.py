"""Session flows: registrar login (RFC 5730 section 2.9.1.1) with password, source IP and
client certificate checks, password change through `<newPW>`, and password expiry with the
security events of RFC 8807 (loginSec)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, select, update

from domreg.flows.base import Actor, Policy
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t

_hasher = PasswordHasher()

#: Registrar passwords: RFC 5730 allows 6 to 16 characters; longer ones (up to this) need the
#: loginSec extension (RFC 8807) to be sent.
MIN_PASSWORD = 6
MAX_PASSWORD = 128
#: RFC 8807 section 3.2: this value in `<pw>` or `<newPW>` means "see the extension"; it can
#: never be a password.
LOGIN_SECURITY = "[LOGIN-SECURITY]"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class Login:
    clid: str
    password: str
    new_password: str | None
    peer_ip: str | None
    cert_fingerprint: str | None  # SHA-256 of the client certificate (DER), hex, or None


def ip_allowed(peer_ip: str | None, allowed: list[str]) -> bool:
    """An empty allow-list admits every address; otherwise the peer must be inside one CIDR."""
    if not allowed:
        return True
    if peer_ip is None:
        return False
    try:
        addr = ipaddress.ip_address(peer_ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in ipaddress.ip_network(cidr, strict=False) for cidr in allowed)


def normalise_fingerprint(fp: str) -> str:
    return fp.replace(":", "").strip().lower()


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """A login security event (RFC 8807 section 3.1): `type` password, newPW, ...;
    `level` warning or error; `ex_date` when a warning becomes (or became) an error."""

    type: str
    level: str
    message: str
    ex_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoginResult:
    actor: Actor
    events: list[SecurityEvent] = field(default_factory=list)


@dataclass
class LoginRefused(EppError):
    """A login refused for a reason the registrar can act on, with its security events."""

    events: list[SecurityEvent] = field(default_factory=list)


def password_problem(password: str) -> str | None:
    """Why `password` cannot be a registrar password, or None."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"passwords are {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    if password == LOGIN_SECURITY:
        return f"{LOGIN_SECURITY} cannot be a password (RFC 8807)"
    return None


def password_expiry(row: Any, policy: Policy) -> datetime | None:
    """When the registrar's password expires under `policy` (None: never)."""
    if policy.password_max_age is None:
        return None
    changed: datetime = row.password_changed_at or row.created_at
    return changed + policy.password_max_age


def login(conn: Connection, now: datetime, cmd: Login, policy: Policy | None = None) -> LoginResult:
    """Authenticate a registrar.

    2200 for an unknown clID, a wrong password, a suspended registrar, a source address
    outside the allow-list or a missing or unlisted client certificate. The reason text is
    deliberately the same for unknown clID and wrong password. Once the password is proven:
    2200 (`LoginRefused`, with an error event) for an expired password without a new one, or
    an unacceptable new password; a password within `policy.password_warning` of expiry logs
    in with a warning event. A new password restarts the password's age.
    """
    policy = policy or Policy()
    row = conn.execute(select(t.registrars).where(t.registrars.c.clid == cmd.clid)).first()
    if row is None or not verify_password(row.password_hash, cmd.password):
        raise EppError(Result.AUTHENTICATION_ERROR, "invalid client id or password")
    if row.status != "ok":
        raise EppError(Result.AUTHENTICATION_ERROR, f"registrar is {row.status}")
    if not ip_allowed(cmd.peer_ip, orjson.loads(row.allowed_ips)):
        raise EppError(Result.AUTHENTICATION_ERROR, f"source address {cmd.peer_ip} is not allowed")
    fingerprints = [normalise_fingerprint(f) for f in orjson.loads(row.cert_fingerprints)]
    if fingerprints:
        if cmd.cert_fingerprint is None:
            raise EppError(Result.AUTHENTICATION_ERROR, "a client certificate is required")
        if normalise_fingerprint(cmd.cert_fingerprint) not in fingerprints:
            raise EppError(Result.AUTHENTICATION_ERROR, "client certificate is not registered")
    events: list[SecurityEvent] = []
    expires = password_expiry(row, policy)
    expired = expires is not None and now >= expires
    if expired:
        events.append(SecurityEvent("password", "error", "Password has expired", expires))
    if cmd.new_password is not None:
        problem = password_problem(cmd.new_password)
        if problem is None and cmd.new_password == cmd.password:
            problem = "the new password must differ from the current one"
        if problem is not None:
            events.append(SecurityEvent("newPW", "error", f"New password refused: {problem}"))
            raise LoginRefused(Result.AUTHENTICATION_ERROR, f"new password: {problem}", [], events)
        conn.execute(
            update(t.registrars)
            .where(t.registrars.c.id == row.id)
            .values(
                password_hash=hash_password(cmd.new_password),
                password_changed_at=now,
                updated_at=now,
            )
        )
        events.clear()  # the new password starts a new age: nothing to warn about
    elif expired:
        raise LoginRefused(
            Result.AUTHENTICATION_ERROR,
            "password expired; log in with a new password (<newPW>)",
            [],
            events,
        )
    else:
        if expires is not None and now >= expires - policy.password_warning:
            events.append(SecurityEvent("password", "warning", "Password expiring soon", expires))
        if _hasher.check_needs_rehash(row.password_hash):
            conn.execute(
                update(t.registrars)
                .where(t.registrars.c.id == row.id)
                .values(password_hash=hash_password(cmd.password))
            )
    return LoginResult(Actor(row.id, row.clid), events)
