"""Session flows: registrar login (RFC 5730 section 2.9.1.1) with password, source IP and
client certificate checks, and password change through `<newPW>`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, select, update

from domreg.flows.base import Actor
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t

_hasher = PasswordHasher()


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


def login(conn: Connection, now: datetime, cmd: Login) -> Actor:
    """Authenticate a registrar.

    2200 for an unknown clID, a wrong password, a suspended registrar, a source address
    outside the allow-list or a missing or unlisted client certificate. The reason text is
    deliberately the same for unknown clID and wrong password.
    """
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
    if cmd.new_password is not None:
        conn.execute(
            update(t.registrars)
            .where(t.registrars.c.id == row.id)
            .values(password_hash=hash_password(cmd.new_password), updated_at=now)
        )
    elif _hasher.check_needs_rehash(row.password_hash):
        conn.execute(
            update(t.registrars)
            .where(t.registrars.c.id == row.id)
            .values(password_hash=hash_password(cmd.password))
        )
    return Actor(row.id, row.clid)
