"""Allocation tokens (RFC 8495): credentials the registry hands out of band that let a
registrar create a name, XML-free.

A token (one `allocation_tokens` row) may be bound to a TLD, a registrar, one domain name, an
expiry time (`expires_at`: valid strictly before it) and a number of uses (`max_uses`, at
least 1; `uses` counts redemptions). It allows a reserved name (`allows_reserved`) and/or
takes `discount_percent` off the create price (the discount is rounded down to the minor
unit, so the registry never charges less than the exact percentage allows).

Codes (RFC 8495 section 3.2.4): an unknown, expired, used-up, or not-valid-for-this
registrar/TLD/name token is 2201 "Authorization error" with a precise reason. `redeem`
counts a use with one conditional UPDATE (`uses < max_uses`) in the create's transaction, so
of two concurrent redemptions of a single-use token only one succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, insert, select, update

from domreg.flows.billing import Price
from domreg.flows.registry import RegistryError
from domreg.model.errors import EppError
from domreg.model.names import NameError_, parse_name
from domreg.model.results import Result
from domreg.store import schema as t

#: A token's length limit (the column's).
MAX_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Token:
    """One allocation token as the flows use it."""

    token: str
    tld_id: int | None
    registrar_id: int | None
    domain_name: str | None
    allows_reserved: bool
    discount_percent: int
    max_uses: int
    uses: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenView:
    """One token for operators (`domreg token list`): TLD and registrar by name."""

    token: str
    tld: str | None
    registrar: str | None
    domain_name: str | None
    allows_reserved: bool
    discount_percent: int
    max_uses: int
    uses: int
    expires_at: datetime | None
    created_at: datetime


def _token(row: Row) -> Token:
    return Token(
        token=row.token,
        tld_id=row.tld_id,
        registrar_id=row.registrar_id,
        domain_name=row.domain_name,
        allows_reserved=bool(row.allows_reserved),
        discount_percent=int(row.discount_percent),
        max_uses=int(row.max_uses),
        uses=int(row.uses),
        expires_at=row.expires_at,
    )


def find(conn: Connection, token: str) -> Token | None:
    row = conn.execute(
        select(t.allocation_tokens).where(t.allocation_tokens.c.token == token)
    ).first()
    return None if row is None else _token(row)


def problem(
    token: Token | None, now: datetime, registrar_id: int, tld_id: int, name: str, given: str
) -> str | None:
    """Why `token` cannot be used by this registrar to create `name` (an A-label name under
    the TLD `tld_id`) at `now`; None if it can."""
    if token is None:
        return f"unknown allocation token {given!r}"
    if token.expires_at is not None and now >= token.expires_at:
        return f"allocation token {given!r} expired at {token.expires_at.isoformat()}Z"
    if token.uses >= token.max_uses:
        return f"allocation token {given!r} has been used up ({token.uses} of {token.max_uses})"
    if token.registrar_id is not None and token.registrar_id != registrar_id:
        return f"allocation token {given!r} is not valid for this registrar"
    if token.tld_id is not None and token.tld_id != tld_id:
        return f"allocation token {given!r} is not valid for this TLD"
    if token.domain_name is not None and token.domain_name != name:
        return f"allocation token {given!r} is not valid for {name}"
    return None


def validate(
    conn: Connection, now: datetime, registrar_id: int, tld_id: int, name: str, given: str
) -> Token:
    """The token, if this registrar may use it to create `name` now; 2201 with the reason."""
    token = find(conn, given)
    why = problem(token, now, registrar_id, tld_id, name, given)
    if why is not None or token is None:
        raise EppError(Result.AUTHORIZATION_ERROR, why or f"unknown allocation token {given!r}")
    return token


def discounted(price: Price, token: Token) -> Price:
    """The price with the token's discount taken off (the discount rounded down)."""
    if token.discount_percent <= 0:
        return price
    off = price.amount * token.discount_percent // 100
    return Price(price.operation, price.amount - off, price.currency, price.price_class)


def redeem(conn: Connection, now: datetime, token: Token) -> None:
    """Count one use, in the caller's transaction; 2201 if it has just been used up (or
    expired) by a concurrent command: the conditional UPDATE is the arbiter."""
    at = t.allocation_tokens
    moved = conn.execute(
        update(at)
        .where(
            at.c.token == token.token,
            at.c.uses < at.c.max_uses,
            (at.c.expires_at.is_(None)) | (at.c.expires_at > now),
        )
        .values(uses=at.c.uses + 1)
    ).rowcount
    if moved != 1:
        raise EppError(
            Result.AUTHORIZATION_ERROR, f"allocation token {token.token!r} has been used up"
        )


# ---------------------------------------------------------------- operators


def add(
    conn: Connection,
    now: datetime,
    token: str,
    *,
    tld: str | None = None,
    registrar: str | None = None,
    domain_name: str | None = None,
    allows_reserved: bool = False,
    discount_percent: int = 0,
    max_uses: int = 1,
    expires_at: datetime | None = None,
) -> TokenView:
    """Add a token; RegistryError (one line) for a bad value or a token that exists."""
    token = token.strip()
    if not token or len(token) > MAX_LENGTH or any(c.isspace() for c in token):
        raise RegistryError(f"a token is 1 to {MAX_LENGTH} characters without whitespace")
    if not 0 <= discount_percent <= 100:
        raise RegistryError(f"discount {discount_percent} is not a percentage from 0 to 100")
    if max_uses < 1:
        raise RegistryError(f"max uses {max_uses} must be at least 1")
    tld_id = None
    if tld is not None:
        row = conn.execute(
            select(t.tlds.c.id).where(t.tlds.c.name == tld.lower().strip("."))
        ).first()
        if row is None:
            raise RegistryError(f"TLD {tld} does not exist")
        tld_id = int(row.id)
    registrar_id = None
    if registrar is not None:
        row = conn.execute(
            select(t.registrars.c.id).where(t.registrars.c.clid == registrar)
        ).first()
        if row is None:
            raise RegistryError(f"registrar {registrar} does not exist")
        registrar_id = int(row.id)
    name = None
    if domain_name is not None:
        try:
            dn = parse_name(domain_name)
        except NameError_ as exc:
            raise RegistryError(f"domain name {domain_name!r}: {exc}") from None
        name = dn.name
        parent = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == dn.parent())).first()
        if parent is None:
            raise RegistryError(f"{name} is not directly under a TLD of this registry")
        if tld_id is not None and int(parent.id) != tld_id:
            raise RegistryError(f"{name} is not under TLD {tld}")
    if find(conn, token) is not None:
        raise RegistryError(f"allocation token {token} already exists")
    conn.execute(
        insert(t.allocation_tokens).values(
            token=token,
            tld_id=tld_id,
            registrar_id=registrar_id,
            domain_name=name,
            allows_reserved=int(allows_reserved),
            discount_percent=discount_percent,
            max_uses=max_uses,
            uses=0,
            expires_at=expires_at,
            created_at=now,
        )
    )
    return next(v for v in list_tokens(conn) if v.token == token)


def list_tokens(conn: Connection) -> list[TokenView]:
    """Every token, in code point order of the token (not the database's collation)."""
    at = t.allocation_tokens
    rows = conn.execute(
        select(at, t.tlds.c.name.label("tld_name"), t.registrars.c.clid).select_from(
            at.outerjoin(t.tlds, t.tlds.c.id == at.c.tld_id).outerjoin(
                t.registrars, t.registrars.c.id == at.c.registrar_id
            )
        )
    ).all()
    return [
        TokenView(
            token=r.token,
            tld=r.tld_name,
            registrar=r.clid,
            domain_name=r.domain_name,
            allows_reserved=bool(r.allows_reserved),
            discount_percent=int(r.discount_percent),
            max_uses=int(r.max_uses),
            uses=int(r.uses),
            expires_at=r.expires_at,
            created_at=r.created_at,
        )
        for r in sorted(rows, key=lambda r: str(r.token))
    ]
