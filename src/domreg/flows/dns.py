"""DNS publication writes: per-TLD DNS settings (an operator command) and the publisher's
bookkeeping (serials, cursor, last error).

`set_settings` is a flow: one transaction with a history row and an outbox event (topic
`tld:dns`), so the publisher rebuilds the TLD's zone. The other functions record what the
publisher did; they write only the `tld_dns` state columns and the `cursors` row `dns`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Connection, insert, select, update

from domreg.flows.base import Context, record
from domreg.flows.registry import RegistryError
from domreg.model.names import NameError_, parse_name
from domreg.store import schema as t

#: The outbox cursor of the DNS publisher: the id of the last outbox row it has published.
CURSOR = "dns"
MAX_NAMESERVERS = 13
TTL_RANGE = (60, 604_800)


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """What to change (None: unchanged). `nameservers`: (name, addresses) pairs."""

    nameservers: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    hostmaster: str | None = None
    ttl: int | None = None


def _tld_id(conn: Connection, tld: str) -> int:
    row = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == tld)).first()
    if row is None:
        raise RegistryError(f"TLD {tld} does not exist")
    return int(row.id)


def ensure_row(conn: Connection, tld_id: int) -> None:
    if conn.execute(select(t.tld_dns.c.tld_id).where(t.tld_dns.c.tld_id == tld_id)).first():
        return
    conn.execute(insert(t.tld_dns).values(tld_id=tld_id))


def _check_nameservers(
    tld: str, servers: tuple[tuple[str, tuple[str, ...]], ...]
) -> list[dict[str, object]]:
    if not servers:
        raise RegistryError("a TLD needs at least one nameserver")
    if len(servers) > MAX_NAMESERVERS:
        raise RegistryError(f"at most {MAX_NAMESERVERS} apex nameservers")
    out: list[dict[str, object]] = []
    seen: set[str] = set()
    for raw, addresses in servers:
        try:
            name = parse_name(raw).name
        except NameError_ as exc:
            raise RegistryError(f"invalid nameserver name {raw!r}: {exc}") from None
        if name in seen:
            raise RegistryError(f"nameserver {name} is given twice")
        seen.add(name)
        checked = []
        for a in addresses:
            try:
                checked.append(str(ipaddress.ip_address(a)))
            except ValueError:
                raise RegistryError(f"{a!r} is not an IPv4 or IPv6 address") from None
        inside = name == tld or name.endswith("." + tld)
        if inside and not checked:
            raise RegistryError(
                f"nameserver {name} is inside .{tld}: give its addresses (they are its glue)"
            )
        if not inside and checked:
            raise RegistryError(
                f"nameserver {name} is outside .{tld}: its addresses do not belong in the zone"
            )
        out.append({"name": name, "addresses": checked})
    return out


def set_settings(ctx: Context, tld: str, change: DnsSettings) -> dict[str, object]:
    """Change a TLD's DNS settings; returns them. RegistryError (nothing written) for an
    unknown TLD, a bad nameserver name or address, glue missing for an in-zone nameserver or
    given for an outside one, a bad hostmaster mailbox, or a TTL out of range."""
    conn = ctx.conn
    tld = tld.lower().strip(".")
    tld_id = _tld_id(conn, tld)
    values: dict[str, object] = {}
    if change.nameservers is not None:
        values["nameservers"] = orjson.dumps(_check_nameservers(tld, change.nameservers)).decode()
    if change.hostmaster is not None:
        local, at, domain = change.hostmaster.partition("@")
        try:
            ok = bool(at and local and parse_name(domain)) and " " not in local
        except NameError_:
            ok = False
        if not ok or len(change.hostmaster) > 253:
            raise RegistryError(f"hostmaster {change.hostmaster!r} is not a mailbox like a@b.c")
        values["hostmaster"] = change.hostmaster.lower()
    if change.ttl is not None:
        if not TTL_RANGE[0] <= change.ttl <= TTL_RANGE[1]:
            raise RegistryError(f"TTL must be between {TTL_RANGE[0]} and {TTL_RANGE[1]} seconds")
        values["ttl"] = change.ttl
    if not values:
        raise RegistryError("nothing to change")
    ensure_row(conn, tld_id)
    conn.execute(update(t.tld_dns).where(t.tld_dns.c.tld_id == tld_id).values(**values))
    row = conn.execute(select(t.tld_dns).where(t.tld_dns.c.tld_id == tld_id)).one()
    snapshot = {
        "nameservers": orjson.loads(row.nameservers),
        "hostmaster": row.hostmaster,
        "ttl": row.ttl,
    }
    record(
        ctx,
        object_type="tld",
        roid_=f"tld:{tld}",
        name=tld,
        command="tld:dns",
        snapshot=snapshot,
        tld=tld,
    )
    return snapshot


# ---------------------------------------------------------------- publisher bookkeeping


def set_serial(conn: Connection, tld_id: int, serial: int) -> None:
    ensure_row(conn, tld_id)
    conn.execute(update(t.tld_dns).where(t.tld_dns.c.tld_id == tld_id).values(serial=serial))


def note_published(
    conn: Connection, tld_id: int, now: datetime, served_serial: int | None, full: bool = False
) -> None:
    ensure_row(conn, tld_id)
    values: dict[str, object] = {
        "published_at": now,
        "served_serial": served_serial,
        "last_error": None,
        "error_at": None,
    }
    if full:
        values["full_published_at"] = now
    conn.execute(update(t.tld_dns).where(t.tld_dns.c.tld_id == tld_id).values(**values))


def note_error(conn: Connection, tld_id: int, now: datetime, error: str) -> None:
    ensure_row(conn, tld_id)
    conn.execute(
        update(t.tld_dns)
        .where(t.tld_dns.c.tld_id == tld_id)
        .values(last_error=error[:2000], error_at=now)
    )


def cursor(conn: Connection) -> int:
    row = conn.execute(select(t.cursors.c.position).where(t.cursors.c.name == CURSOR)).first()
    return int(row.position) if row else 0


def set_cursor(conn: Connection, position: int, now: datetime) -> None:
    c = t.cursors
    if conn.execute(select(c.c.name).where(c.c.name == CURSOR)).first() is None:
        conn.execute(insert(c).values(name=CURSOR, position=position, updated_at=now))
    else:
        conn.execute(
            update(c)
            .where(c.c.name == CURSOR, c.c.position < position)
            .values(position=position, updated_at=now)
        )
