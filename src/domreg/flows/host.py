"""Host flows (RFC 5732): check, info, create, update (including rename), delete.

A host under a TLD this registry serves is *subordinate*: its superordinate domain must be
live and sponsored by the same registrar, and it needs at least one address. Any other host
is *external* and must not have addresses. The sponsor of a subordinate host is always the
sponsor of its superordinate domain.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from domreg.dns import delegation
from domreg.flows.base import (
    Context,
    check_status_update,
    forbid,
    record,
    registrar_clids,
    statuses_of,
)
from domreg.flows.lookup import (
    Tld,
    live_domain,
    live_host,
    parse_or_raise,
    require_host,
    served_suffix,
    tld_for,
)
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.names import DomainName, NameError_, parse_name
from domreg.model.results import Result
from domreg.store import schema as t

#: The most addresses one host may have (the same bound as nameservers on a domain).
MAX_ADDRESSES = 13
#: Repository id in the ROIDs of external hosts (subordinate hosts use their TLD's).
EXTERNAL_REPOSITORY = "HOST"
#: Statuses of a superordinate domain that forbid creating or moving a host under it.
SUPERORDINATE_PROHIBITED = frozenset({st.PENDING_DELETE})
_VERSIONS = {"v4": 4, "v6": 6}


@dataclass(frozen=True, slots=True)
class CheckItem:
    name: str
    avail: bool
    reason: str | None = None


@dataclass(slots=True)
class HostInfo:
    name: str
    roid: str
    statuses: list[tuple[str, str | None, str | None]]  # (status, lang, message)
    addresses: list[tuple[str, str]]  # (address, "v4"|"v6")
    sponsor: str
    creator: str
    created_at: datetime
    updater: str | None = None
    updated_at: datetime | None = None
    transferred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HostCreate:
    name: str
    addresses: tuple[tuple[str, str], ...] = ()  # (address, "v4"|"v6") as given by the client


@dataclass(frozen=True, slots=True)
class HostCreated:
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HostUpdate:
    name: str
    add_addresses: tuple[tuple[str, str], ...] = ()
    rem_addresses: tuple[tuple[str, str], ...] = ()
    add_statuses: tuple[tuple[str, str | None, str | None], ...] = ()
    rem_statuses: tuple[str, ...] = ()
    new_name: str | None = None


# ---------------------------------------------------------------- rules shared by the flows


def _shallow_reason(conn: Connection, dn: DomainName) -> str | None:
    """Why `dn` cannot be a host name here, if it is a served TLD or a domain directly under one.

    Such a name would be its own superordinate domain (or a TLD): a host under a served TLD
    needs at least one label below the registered domain.
    """
    if tld_for(conn, dn) is not None:
        return f"{dn.name} is a domain-level name; a host needs a label below its domain"
    if conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == dn.name)).first() is not None:
        return f"{dn.name} is a top-level domain of this registry"
    return None


def _parse_host_name(conn: Connection, raw: str) -> DomainName:
    """A host name for create or rename: 2005 bad syntax; 2306 a TLD or domain-level name."""
    dn = parse_or_raise(raw, "host name")
    reason = _shallow_reason(conn, dn)
    if reason is not None:
        raise EppError(Result.PARAMETER_VALUE_POLICY_ERROR, reason)
    return dn


def _address(raw: str, version: str) -> tuple[str, str]:
    """One address in canonical (compressed) form with its version; 2005 if it is not valid."""
    family = _VERSIONS.get(version)
    if family is None:
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR,
            f"address version {version!r} is not v4 or v6",
        )
    shown = repr(raw[:64]) if isinstance(raw, str) else "value"
    try:
        if "%" in raw:  # a zone index (fe80::1%eth0) means nothing outside one machine
            raise ValueError(raw)
        ip = ipaddress.ip_address(raw.strip())
    except (TypeError, ValueError):
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR, f"{shown} is not an IP{version} address"
        ) from None
    if ip.version != family:
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR,
            f"{shown} is an IPv{ip.version} address but was given as {version}",
        )
    return ip.compressed, version


def _addresses(given: tuple[tuple[str, str], ...]) -> set[tuple[str, str]]:
    """Validated, canonical addresses; duplicates collapse into one."""
    return {_address(raw, version) for raw, version in given}


def _sorted_addresses(addresses: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """IPv4 first, then IPv6, each in numeric order."""
    return sorted(addresses, key=lambda a: (a[1], int(ipaddress.ip_address(a[0]))))


def _stored_addresses(conn: Connection, host_id: int) -> set[tuple[str, str]]:
    return {
        (r.address, r.version)
        for r in conn.execute(
            select(t.host_addresses.c.address, t.host_addresses.c.version).where(
                t.host_addresses.c.host_id == host_id
            )
        )
    }


def _linked_domain(conn: Connection, host_id: int) -> str | None:
    """The name of one live domain that uses the host as a nameserver, or None."""
    return conn.execute(
        select(t.domains.c.name)
        .join(t.domain_hosts, t.domain_hosts.c.domain_id == t.domains.c.id)
        .where(t.domain_hosts.c.host_id == host_id, t.domains.c.deleted_at.is_(None))
        .order_by(t.domains.c.name)
        .limit(1)
    ).scalar_one_or_none()


def _superordinate(ctx: Context, dn: DomainName, served: tuple[Tld, str]) -> Row:
    """The live superordinate domain of a subordinate host name, sponsored by the actor.

    2303 it does not exist; 2201 another registrar sponsors it; 2304 it is being deleted.
    """
    _, parent_name = served
    parent = live_domain(ctx.conn, parent_name, for_update=True)
    if parent is None:
        raise EppError(
            Result.OBJECT_DOES_NOT_EXIST,
            f"superordinate domain {parent_name} of host {dn.name} does not exist",
        )
    if parent.registrar_id != ctx.actor.id:
        raise EppError(
            Result.AUTHORIZATION_ERROR,
            f"superordinate domain {parent_name} is sponsored by another registrar",
        )
    forbid(
        statuses_of(ctx.conn, parent.roid),
        SUPERORDINATE_PROHIBITED,
        f"hosts under {parent_name} are",
    )
    return parent


def _tld_of_parent(conn: Connection, parent_domain_id: int | None) -> str | None:
    if parent_domain_id is None:
        return None
    return conn.execute(
        select(t.tlds.c.name)
        .join(t.domains, t.domains.c.tld_id == t.tlds.c.id)
        .where(t.domains.c.id == parent_domain_id)
    ).scalar_one()


# ---------------------------------------------------------------- queries


def check(ctx: Context, names: list[str]) -> list[CheckItem]:
    """Availability of each host name. Never fails for one bad name: it is reported unavailable."""
    items: list[CheckItem] = []
    parsed: dict[str, str] = {}
    for raw in names:
        try:
            dn = parse_name(raw)
        except NameError_ as exc:
            items.append(CheckItem(raw, False, f"Invalid host name: {exc}"))
            continue
        reason = _shallow_reason(ctx.conn, dn)
        if reason is not None:
            items.append(CheckItem(raw, False, f"Not a valid host name here: {reason}"))
            continue
        parsed[raw] = dn.name
        items.append(CheckItem(raw, True))
    if parsed:
        taken = {
            r.name
            for r in ctx.conn.execute(
                select(t.hosts.c.name).where(
                    t.hosts.c.name.in_(set(parsed.values())), t.hosts.c.deleted_at.is_(None)
                )
            )
        }
        items = [
            CheckItem(i.name, False, "In use") if i.avail and parsed[i.name] in taken else i
            for i in items
        ]
    return items


def info(ctx: Context, name: str) -> HostInfo:
    """Host info, for any logged-in registrar (hosts have no authInfo).

    2005 bad name syntax; 2303 unknown host.
    """
    row = require_host(ctx.conn, name)
    return render_info(ctx.conn, row)


def render_info(conn: Connection, row: Row) -> HostInfo:
    """The info view of a host row (also used for history snapshots)."""
    clids = registrar_clids(conn, {row.registrar_id, row.creator_id, row.updater_id})
    stored = statuses_of(conn, row.roid)
    linked = _linked_domain(conn, row.id) is not None
    shown = st.object_display(set(stored), linked)
    return HostInfo(
        name=row.name,
        roid=row.roid,
        statuses=[(s, *stored.get(s, (None, None))) for s in shown],
        addresses=_sorted_addresses(_stored_addresses(conn, row.id)),
        sponsor=clids[row.registrar_id],
        creator=clids[row.creator_id],
        created_at=row.created_at,
        updater=clids.get(row.updater_id) if row.updater_id else None,
        updated_at=row.updated_at,
        transferred_at=row.transferred_at,
    )


def snapshot(conn: Connection, host_id: int) -> dict[str, Any]:
    row = conn.execute(select(t.hosts).where(t.hosts.c.id == host_id)).one()
    view = render_info(conn, row)
    parent = None
    if row.parent_domain_id is not None:
        parent = conn.execute(
            select(t.domains.c.name).where(t.domains.c.id == row.parent_domain_id)
        ).scalar_one()
    return {
        "name": view.name,
        "roid": view.roid,
        "sponsor": view.sponsor,
        "statuses": [s for s, _, _ in view.statuses],
        "addresses": view.addresses,
        "superordinate": parent,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "transferred_at": view.transferred_at,
        "deleted_at": row.deleted_at,
    }


# ---------------------------------------------------------------- transforms


def create(ctx: Context, cmd: HostCreate) -> HostCreated:
    """Create a host.

    2005 bad host name or address syntax, or an address of the other family than its version;
    2306 the name is a TLD or directly under one, an external host given addresses, or more
    than 13 addresses; 2302 the name is in use; 2303 the superordinate domain does not exist;
    2201 another registrar sponsors the superordinate domain; 2304 the superordinate domain
    is pending deletion; 2003 a subordinate host given no address.
    """
    conn = ctx.conn
    dn = _parse_host_name(conn, cmd.name)
    addresses = _addresses(cmd.addresses)
    if live_host(conn, dn.name) is not None:
        raise EppError(Result.OBJECT_EXISTS, f"host {dn.name} already exists")
    served = served_suffix(conn, dn)
    parent_id: int | None = None
    tld_name: str | None = None
    repository = EXTERNAL_REPOSITORY
    if served is not None:
        parent = _superordinate(ctx, dn, served)
        if not addresses:
            raise EppError(
                Result.REQUIRED_PARAMETER_MISSING,
                f"subordinate host {dn.name} needs at least one address",
            )
        parent_id, tld_name, repository = parent.id, served[0].name, served[0].repository_id
    elif addresses:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"external host {dn.name} must not have addresses",
        )
    if len(addresses) > MAX_ADDRESSES:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"a host has at most {MAX_ADDRESSES} addresses"
        )

    host_roid = f"H{secrets.token_hex(6).upper()}-{repository}"
    try:
        with conn.begin_nested():
            host_id = conn.execute(
                insert(t.hosts)
                .values(
                    roid=host_roid,
                    name=dn.name,
                    registrar_id=ctx.actor.id,
                    creator_id=ctx.actor.id,
                    created_at=ctx.now,
                    parent_domain_id=parent_id,
                )
                .returning(t.hosts.c.id)
            ).scalar_one()
    except IntegrityError:
        # Another session created the name between our check and our insert.
        raise EppError(Result.OBJECT_EXISTS, f"host {dn.name} already exists") from None
    if addresses:
        conn.execute(
            insert(t.host_addresses),
            [{"host_id": host_id, "address": a, "version": v} for a, v in addresses],
        )
    record(
        ctx,
        object_type="host",
        roid_=host_roid,
        name=dn.name,
        command="host:create",
        snapshot=snapshot(conn, host_id),
        tld=tld_name,
    )
    return HostCreated(dn.name, ctx.now)


def _sponsored(ctx: Context, raw: str, what: str) -> Row:
    row = require_host(ctx.conn, raw, for_update=True)
    if row.registrar_id != ctx.actor.id:
        raise EppError(Result.AUTHORIZATION_ERROR, f"{what} is for the sponsoring registrar only")
    return row


def update(ctx: Context, cmd: HostUpdate) -> None:
    """Update a host's addresses and statuses, or rename it.

    2005 bad host name or address syntax; 2303 unknown host, or the new name's superordinate
    domain does not exist; 2201 not the sponsor, or another registrar sponsors the new name's
    superordinate domain; 2304 status prohibits update (removing only clientUpdateProhibited
    is allowed), or the new superordinate domain is pending deletion; 2302 the new name is in
    use; 2306 a status not settable by clients, an element added twice, an address removed but absent,
    a status language tag longer than 16 characters, the new name is a TLD or directly under
    one, an external host left with addresses, a subordinate host left without one, or more
    than 13 addresses.
    """
    conn = ctx.conn
    row = _sponsored(ctx, cmd.name, "update")
    stored = statuses_of(conn, row.roid)
    other = bool(cmd.add_addresses or cmd.rem_addresses) or cmd.new_name is not None
    check_status_update(stored, cmd.add_statuses, cmd.rem_statuses, st.HOST_CLIENT_SETTABLE, other)

    current = _stored_addresses(conn, row.id)
    rem = _addresses(cmd.rem_addresses)
    add = _addresses(cmd.add_addresses)
    for a, _ in _sorted_addresses(rem - current):
        raise EppError(Result.PARAMETER_VALUE_POLICY_ERROR, f"address {a} is not on the host")
    for a, _ in _sorted_addresses(add & (current - rem)):
        raise EppError(Result.PARAMETER_VALUE_POLICY_ERROR, f"address {a} is already on the host")
    final = (current - rem) | add

    values: dict[str, Any] = {"updater_id": ctx.actor.id, "updated_at": ctx.now}
    name = row.name
    parent_id = row.parent_domain_id
    if cmd.new_name is not None:
        dn = _parse_host_name(conn, cmd.new_name)
        if dn.name == row.name:
            raise EppError(Result.OBJECT_EXISTS, f"host {dn.name} already has that name")
        if live_host(conn, dn.name) is not None:
            raise EppError(Result.OBJECT_EXISTS, f"host {dn.name} already exists")
        served = served_suffix(conn, dn)
        parent_id = _superordinate(ctx, dn, served).id if served is not None else None
        name = dn.name
        values["name"] = name
        values["parent_domain_id"] = parent_id

    if parent_id is None and final:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"external host {name} must not have addresses"
            + ("; remove them in the same update" if name != row.name else ""),
        )
    if parent_id is not None and not final:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"subordinate host {name} must keep at least one address",
        )
    if len(final) > MAX_ADDRESSES:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"a host has at most {MAX_ADDRESSES} addresses"
        )

    try:
        with conn.begin_nested():
            conn.execute(sql_update(t.hosts).where(t.hosts.c.id == row.id).values(**values))
    except IntegrityError:
        # Another session took the new name between our check and our update.
        raise EppError(Result.OBJECT_EXISTS, f"host {name} already exists") from None
    if rem:
        conn.execute(
            delete(t.host_addresses).where(
                t.host_addresses.c.host_id == row.id,
                t.host_addresses.c.address.in_([a for a, _ in rem]),
            )
        )
    if add:
        conn.execute(
            insert(t.host_addresses),
            [{"host_id": row.id, "address": a, "version": v} for a, v in add],
        )
    if cmd.rem_statuses:
        conn.execute(
            delete(t.statuses).where(
                t.statuses.c.roid == row.roid, t.statuses.c.status.in_(cmd.rem_statuses)
            )
        )
    if cmd.add_statuses:
        conn.execute(
            insert(t.statuses),
            [
                {"roid": row.roid, "status": s, "lang": lang, "message": msg}
                for s, lang, msg in cmd.add_statuses
            ],
        )
    if name != row.name or rem or add:  # NS lines (a rename) and glue of the users
        delegation.refresh_linked(conn, row.id)
    snap = snapshot(conn, row.id)
    if name != row.name:
        snap["old_name"] = row.name
    record(
        ctx,
        object_type="host",
        roid_=row.roid,
        name=name,
        command="host:update",
        snapshot=snap,
        tld=_tld_of_parent(conn, parent_id) or _tld_of_parent(conn, row.parent_domain_id),
    )


def delete_(ctx: Context, name: str) -> None:
    """Delete a host (purged at once: its addresses and statuses go, its history stays).

    2005 bad name syntax; 2303 unknown; 2201 not the sponsor; 2304 status prohibits delete;
    2305 a domain still uses it as a nameserver.
    """
    conn = ctx.conn
    row = _sponsored(ctx, name, "delete")
    forbid(statuses_of(conn, row.roid), st.DELETE_PROHIBITED, "delete")
    linked = _linked_domain(conn, row.id)
    if linked is not None:
        raise EppError(
            Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION,
            f"host {row.name} is a nameserver of domain {linked}",
        )
    conn.execute(
        sql_update(t.hosts)
        .where(t.hosts.c.id == row.id)
        .values(deleted_at=ctx.now, updated_at=ctx.now, updater_id=ctx.actor.id)
    )
    snap = snapshot(conn, row.id)
    conn.execute(delete(t.host_addresses).where(t.host_addresses.c.host_id == row.id))
    conn.execute(delete(t.statuses).where(t.statuses.c.roid == row.roid))
    record(
        ctx,
        object_type="host",
        roid_=row.roid,
        name=row.name,
        command="host:delete",
        snapshot=snap,
        tld=_tld_of_parent(conn, row.parent_domain_id),
    )
