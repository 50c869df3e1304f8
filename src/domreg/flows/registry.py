"""Operator flows: TLDs and registrars (create, accredit, credit, list). Used by the CLI
and, later, by the administration console."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from domreg.flows.session import hash_password, normalise_fingerprint, password_problem
from domreg.model.names import NameError_, check_label
from domreg.store import schema as t

_CLID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,15}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


class RegistryError(ValueError):
    """An operator request was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class TldView:
    name: str
    repository_id: str
    domains: int
    registrars: int


@dataclass(frozen=True, slots=True)
class RegistrarView:
    clid: str
    name: str
    status: str
    balance: int
    currency: str
    tlds: list[str]
    allowed_ips: list[str]
    cert_fingerprints: list[str]


def add_tld(conn: Connection, now: datetime, name: str) -> None:
    name = name.strip().lower().strip(".")
    try:
        for label in name.split("."):
            check_label(label)
    except NameError_ as exc:
        raise RegistryError(f"invalid TLD {name!r}: {exc}") from None
    repository = re.sub(r"[^A-Z0-9]", "", name.upper())[:8] or "TLD"
    try:
        with conn.begin_nested():
            conn.execute(insert(t.tlds).values(name=name, repository_id=repository, created_at=now))
    except IntegrityError:
        raise RegistryError(f"TLD {name} already exists") from None


def list_tlds(conn: Connection) -> list[TldView]:
    live = (
        select(t.domains.c.tld_id, func.count().label("n"))
        .where(t.domains.c.deleted_at.is_(None))
        .group_by(t.domains.c.tld_id)
        .subquery()
    )
    accredited = (
        select(t.registrar_tlds.c.tld_id, func.count().label("n"))
        .group_by(t.registrar_tlds.c.tld_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            t.tlds.c.name, t.tlds.c.repository_id, live.c.n.label("d"), accredited.c.n.label("r")
        )
        .outerjoin(live, live.c.tld_id == t.tlds.c.id)
        .outerjoin(accredited, accredited.c.tld_id == t.tlds.c.id)
        .order_by(t.tlds.c.name)
    )
    return [TldView(r.name, r.repository_id, r.d or 0, r.r or 0) for r in rows]


def add_registrar(
    conn: Connection,
    now: datetime,
    *,
    clid: str,
    name: str,
    password: str,
    cert_fingerprints: list[str] = (),  # type: ignore[assignment]
    allowed_ips: list[str] = (),  # type: ignore[assignment]
    tlds: list[str] = (),  # type: ignore[assignment]
    email: str | None = None,
) -> None:
    if not _CLID.match(clid):
        raise RegistryError(f"invalid registrar id {clid!r}: 3-16 letters, digits, '.', '_' or '-'")
    problem = password_problem(password)
    if problem is not None:
        # Over 16 characters, a password can only be sent with loginSec (RFC 8807).
        raise RegistryError(f"invalid EPP password: {problem}")
    fps = [normalise_fingerprint(f) for f in cert_fingerprints]
    for fp in fps:
        if not _FINGERPRINT.match(fp):
            raise RegistryError(f"invalid SHA-256 certificate fingerprint {fp!r}")
    for cidr in allowed_ips:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise RegistryError(f"invalid address or network {cidr!r}") from None
    tld_ids = _tld_ids(conn, tlds)
    try:
        with conn.begin_nested():
            registrar_id = conn.execute(
                insert(t.registrars)
                .values(
                    clid=clid,
                    name=name,
                    email=email,
                    password_hash=hash_password(password),
                    password_changed_at=now,
                    cert_fingerprints=orjson.dumps(fps).decode(),
                    allowed_ips=orjson.dumps(list(allowed_ips)).decode(),
                    created_at=now,
                )
                .returning(t.registrars.c.id)
            ).scalar_one()
    except IntegrityError:
        raise RegistryError(f"registrar {clid} already exists") from None
    if tld_ids:
        conn.execute(
            insert(t.registrar_tlds), [{"registrar_id": registrar_id, "tld_id": i} for i in tld_ids]
        )


def _tld_ids(conn: Connection, names: list[str]) -> list[int]:
    ids = []
    for n in names:
        row = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == n.lower().strip("."))).first()
        if row is None:
            raise RegistryError(f"TLD {n} does not exist")
        ids.append(row.id)
    return ids


def accredit(conn: Connection, clid: str, tlds: list[str]) -> None:
    registrar_id = _registrar_id(conn, clid)
    for tld_id in _tld_ids(conn, tlds):
        exists = conn.execute(
            select(t.registrar_tlds).where(
                t.registrar_tlds.c.registrar_id == registrar_id, t.registrar_tlds.c.tld_id == tld_id
            )
        ).first()
        if exists is None:
            conn.execute(insert(t.registrar_tlds).values(registrar_id=registrar_id, tld_id=tld_id))


def _registrar_id(conn: Connection, clid: str) -> int:
    row = conn.execute(select(t.registrars.c.id).where(t.registrars.c.clid == clid)).first()
    if row is None:
        raise RegistryError(f"registrar {clid} does not exist")
    return int(row.id)


def credit(conn: Connection, now: datetime, clid: str, amount: int) -> int:
    """Add `amount` minor units to a registrar's balance (a ledger row); returns the new balance."""
    from domreg.flows.billing import top_up

    registrar_id = _registrar_id(conn, clid)
    top_up(conn, now, registrar_id, amount)
    return int(
        conn.execute(
            select(t.registrars.c.balance).where(t.registrars.c.id == registrar_id)
        ).scalar_one()
    )


def list_registrars(conn: Connection) -> list[RegistrarView]:
    tlds_by_registrar: dict[int, list[str]] = {}
    for r in conn.execute(
        select(t.registrar_tlds.c.registrar_id, t.tlds.c.name)
        .join(t.tlds, t.tlds.c.id == t.registrar_tlds.c.tld_id)
        .order_by(t.tlds.c.name)
    ):
        tlds_by_registrar.setdefault(r.registrar_id, []).append(r.name)
    return [
        RegistrarView(
            clid=r.clid,
            name=r.name,
            status=r.status,
            balance=r.balance,
            currency=r.currency,
            tlds=tlds_by_registrar.get(r.id, []),
            allowed_ips=orjson.loads(r.allowed_ips),
            cert_fingerprints=orjson.loads(r.cert_fingerprints),
        )
        for r in conn.execute(select(t.registrars).order_by(t.registrars.c.clid))
    ]
