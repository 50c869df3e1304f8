"""Operator and registrar settings outside EPP objects: a registrar's EPP access (password,
IP allow-list, client certificate fingerprints), its status (active or suspended), a TLD's
lifecycle policy. Used by the web console and administration.

Each function validates everything before writing and raises `FieldError` (naming the
form field at fault) so that a refused request changes nothing.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

import orjson
from sqlalchemy import Connection, select, update

from domreg.flows.registry import RegistryError
from domreg.flows.session import hash_password, normalise_fingerprint
from domreg.flows.session import password_problem as epp_password_problem
from domreg.store import schema as t

MAX_LIST = 50
REGISTRAR_STATUSES = ("ok", "suspended")
#: TLD policy columns an operator may change, with their allowed range.
POLICY_FIELDS: dict[str, tuple[int, int]] = {
    "min_period_years": (1, 10),
    "max_period_years": (1, 10),
    "add_grace_days": (0, 60),
    "renew_grace_days": (0, 60),
    "autorenew_grace_days": (0, 60),
    "transfer_grace_days": (0, 60),
    "transfer_pending_days": (0, 30),
    "redemption_days": (0, 90),
    "pending_delete_days": (0, 30),
}


class FieldError(RegistryError):
    """A refused setting; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _registrar(conn: Connection, registrar_id: int) -> None:
    if (
        conn.execute(select(t.registrars.c.id).where(t.registrars.c.id == registrar_id)).first()
        is None
    ):
        raise FieldError("registrar", "no such registrar")


def set_epp_password(conn: Connection, now: datetime, registrar_id: int, password: str) -> None:
    problem = epp_password_problem(password)
    if problem is not None:
        raise FieldError("password", f"EPP password: {problem}")
    _registrar(conn, registrar_id)
    conn.execute(
        update(t.registrars)
        .where(t.registrars.c.id == registrar_id)
        .values(password_hash=hash_password(password), password_changed_at=now, updated_at=now)
    )


def parse_networks(text: str) -> list[str]:
    """An allow-list as typed: one address or network per line (or comma-separated)."""
    items = [i.strip() for i in text.replace(",", "\n").splitlines() if i.strip()]
    if len(items) > MAX_LIST:
        raise FieldError("allowed_ips", f"at most {MAX_LIST} entries")
    out = []
    for item in items:
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise FieldError(
                "allowed_ips", f"not an IP address or network: {item[:60]!r}"
            ) from None
    return sorted(set(out))


def parse_fingerprints(text: str) -> list[str]:
    """SHA-256 certificate fingerprints, one a line (hex, colons optional)."""
    items = [i.strip() for i in text.splitlines() if i.strip()]
    if len(items) > MAX_LIST:
        raise FieldError("fingerprints", f"at most {MAX_LIST} entries")
    out = []
    for item in items:
        fp = normalise_fingerprint(item)
        if len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
            raise FieldError(
                "fingerprints", f"not a SHA-256 fingerprint (64 hex digits): {item[:80]!r}"
            )
        out.append(fp)
    return sorted(set(out))


def set_allowed_ips(
    conn: Connection, now: datetime, registrar_id: int, networks: list[str]
) -> None:
    _registrar(conn, registrar_id)
    conn.execute(
        update(t.registrars)
        .where(t.registrars.c.id == registrar_id)
        .values(allowed_ips=orjson.dumps(networks).decode(), updated_at=now)
    )


def set_fingerprints(conn: Connection, now: datetime, registrar_id: int, fps: list[str]) -> None:
    _registrar(conn, registrar_id)
    conn.execute(
        update(t.registrars)
        .where(t.registrars.c.id == registrar_id)
        .values(cert_fingerprints=orjson.dumps(fps).decode(), updated_at=now)
    )


def set_registrar_status(conn: Connection, now: datetime, clid: str, status: str) -> None:
    """Suspend ("suspended": EPP and web sign-ins refused) or reactivate ("ok") a registrar."""
    if status not in REGISTRAR_STATUSES:
        raise FieldError("status", f"status is one of {', '.join(REGISTRAR_STATUSES)}")
    done = conn.execute(
        update(t.registrars)
        .where(t.registrars.c.clid == clid)
        .values(status=status, updated_at=now)
    )
    if done.rowcount != 1:
        raise FieldError("clid", f"registrar {clid} does not exist")
    if status != "ok":  # end its web sessions at once
        users = select(t.web_users.c.id).where(
            t.web_users.c.registrar_id
            == select(t.registrars.c.id).where(t.registrars.c.clid == clid).scalar_subquery()
        )
        conn.execute(t.web_sessions.delete().where(t.web_sessions.c.user_id.in_(users)))


def set_tld_policy(conn: Connection, tld: str, values: dict[str, int]) -> None:
    for name, value in values.items():
        if name not in POLICY_FIELDS:
            raise FieldError(name, "not a policy setting")
        low, high = POLICY_FIELDS[name]
        if not low <= value <= high:
            raise FieldError(name, f"between {low} and {high}")
    lo = values.get("min_period_years")
    hi = values.get("max_period_years")
    if lo is not None and hi is not None and lo > hi:
        raise FieldError("max_period_years", "must not be below the minimum period")
    done = conn.execute(update(t.tlds).where(t.tlds.c.name == tld).values(**values))
    if done.rowcount != 1:
        raise FieldError("tld", f"TLD {tld} does not exist")
