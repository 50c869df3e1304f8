"""Operator flows on registered domains: server statuses (serverHold, server*Prohibited).

Each change is one transaction that writes the statuses, the domain's update time (with no
registrar as updater), a history row recorded as the registry's (no registrar), an outbox
event, and a change poll message for the sponsoring registrar (RFC 8590) saying who changed
what and why. Used by `domreg domain status` (cli/domain_admin.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy import update as sql_update

from domreg.flows.base import Context, record, statuses_of
from domreg.flows.domain import snapshot
from domreg.flows.lookup import live_domain
from domreg.flows.poll import enqueue_change_poll
from domreg.flows.registry import RegistryError
from domreg.model import statuses as st
from domreg.model.names import NameError_, parse_name
from domreg.store import schema as t

#: changePoll carries the reason as an eppcom:reasonType: at most 32 characters.
MAX_REASON = 32


@dataclass(frozen=True, slots=True)
class StatusChange:
    """Server statuses to add to and remove from the domain `name`, and why."""

    name: str
    reason: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


def set_server_statuses(ctx: Context, cmd: StatusChange) -> list[str]:
    """Add and remove server statuses of a live domain; returns its stored statuses after.

    Refused (RegistryError, nothing written): an unknown domain, a status that is not a
    server status, adding one already set or removing one not set, no change at all, or a
    missing or over-long reason. `ctx.actor` should be `registry_actor(who)`.
    """
    conn = ctx.conn
    try:
        name = parse_name(cmd.name).name
    except NameError_ as exc:
        raise RegistryError(f"invalid domain name {cmd.name!r}: {exc}") from None
    row = live_domain(conn, name, for_update=True)
    if row is None:
        raise RegistryError(f"domain {name} does not exist")
    reason = " ".join(cmd.reason.split())
    if not reason:
        raise RegistryError("a reason is required: the sponsor is told why")
    if len(reason) > MAX_REASON:
        raise RegistryError(f"the reason is at most {MAX_REASON} characters (changePoll)")
    if not cmd.add and not cmd.remove:
        raise RegistryError("nothing to change: give statuses to add or remove")
    for s in (*cmd.add, *cmd.remove):
        if s not in st.DOMAIN_SERVER_SETTABLE:
            allowed = ", ".join(sorted(st.DOMAIN_SERVER_SETTABLE))
            raise RegistryError(f"{s} is not a server status ({allowed})")
    if set(cmd.add) & set(cmd.remove):
        raise RegistryError("a status cannot be added and removed at once")
    stored = statuses_of(conn, row.roid)
    for s in cmd.add:
        if s in stored:
            raise RegistryError(f"{name} already has {s}")
    for s in cmd.remove:
        if s not in stored:
            raise RegistryError(f"{name} does not have {s}")

    if cmd.remove:
        conn.execute(
            delete(t.statuses).where(
                t.statuses.c.roid == row.roid, t.statuses.c.status.in_(cmd.remove)
            )
        )
    if cmd.add:
        conn.execute(
            insert(t.statuses), [{"roid": row.roid, "status": s} for s in sorted(set(cmd.add))]
        )
    conn.execute(
        sql_update(t.domains)
        .where(t.domains.c.id == row.id)
        .values(updated_at=ctx.now, updater_id=None)
    )
    tld = conn.execute(select(t.tlds.c.name).where(t.tlds.c.id == row.tld_id)).scalar_one()
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:update",
        snapshot=snapshot(conn, row.id),
        tld=tld,
    )
    enqueue_change_poll(ctx, row.registrar_id, row.id, "update", reason)
    return sorted(statuses_of(conn, row.roid))
