"""HTTP Basic authentication of registrars for RDAP: their EPP client id and password.

Passwords are argon2 hashes, deliberately slow (about a fifth of a second), so a verified
(client id, password) pair is remembered in memory for `ttl` seconds, keyed by a SHA-256 of
the pair (the password itself is never kept). Verification runs in a thread so the event
loop keeps answering. Only registrars whose status is "ok" authenticate, as at EPP login.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections.abc import Awaitable, Callable

from domreg.flows.session import verify_password
from domreg.rdds import query
from domreg.rdds.policy import ANONYMOUS, Viewer
from domreg.store.db import Database


class AuthError(Exception):
    """Credentials were given but are malformed or wrong."""


def parse_basic(header: str) -> tuple[str, str]:
    """(client id, password) from an `Authorization: Basic ...` value; AuthError otherwise."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded or len(encoded) > 1024:
        raise AuthError("only HTTP Basic authentication is supported")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("malformed Basic credentials") from None
    clid, sep, password = decoded.partition(":")
    if not sep or not clid:
        raise AuthError("malformed Basic credentials")
    return clid, password


class Authenticator:
    """Turns an Authorization header into a `Viewer`, remembering verified pairs briefly."""

    def __init__(
        self,
        db: Database,
        ttl: float = 60.0,
        verify: Callable[[str, str], bool] = verify_password,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.verify = verify
        self._cache: dict[bytes, tuple[float, Viewer]] = {}
        self.verifications = 0  # argon2 verifications done (tests read it)

    async def viewer(self, header: str | None) -> Viewer:
        if header is None:
            return ANONYMOUS
        clid, password = parse_basic(header)
        key = hashlib.sha256(f"{clid}\0{password}".encode()).digest()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        viewer = await self._verify(clid, password)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + self.ttl, viewer)
        return viewer

    async def _verify(self, clid: str, password: str) -> Viewer:
        def load() -> tuple[int, str, str] | None:
            with self.db.read() as conn:
                return query.password_hash(conn, clid)

        stored = await self.db.run(load) if len(clid) <= 16 else None
        if stored is None or stored[2] != "ok":
            raise AuthError("unknown client id or wrong password")
        registrar_id, hashed, _ = stored
        self.verifications += 1
        ok: bool = await asyncio.to_thread(self.verify, hashed, password)
        if not ok:
            raise AuthError("unknown client id or wrong password")
        return Viewer(registrar_id=registrar_id, clid=clid)


Verifier = Callable[[str | None], Awaitable[Viewer]]
