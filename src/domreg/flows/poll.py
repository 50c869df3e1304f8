"""Poll flows (RFC 5730 section 2.9.2.3): read the oldest queued message, acknowledge it;
and the change notices the registry queues when it changes an object itself (RFC 8590)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select, update

from domreg.flows.base import Context, enqueue_poll
from domreg.flows.domain import DomainInfo, render_info
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t


@dataclass(frozen=True, slots=True)
class PollMessage:
    id: int
    created_at: datetime
    kind: str
    message: str
    payload: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Queue:
    count: int
    head: PollMessage | None  # the oldest unacknowledged message


#: Poll message kind of change notices.
CHANGE = "change"


@dataclass(frozen=True, slots=True)
class ChangeData:
    """What the registry did to an object (RFC 8590 section 3.1.2 `<changePoll:changeData>`).

    `operation`: create, delete, renew, transfer, update, restore, autoRenew, autoDelete,
    autoPurge or custom (then `op` names it); `state`: whether the object data is from
    "before" or "after" the change; `who`: the operator or job, for audit.
    """

    operation: str
    date: datetime
    svtrid: str
    who: str
    reason: str | None = None
    op: str | None = None
    state: str = "after"
    case_id: str | None = None
    case_type: str | None = None  # udrp, urs or custom


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """A queued change notice: the domain as it was ("before") or is ("after"), and the change."""

    info: DomainInfo
    change: ChangeData


_DATES = ("created_at", "updated_at", "expires_at", "transferred_at")


def enqueue_change_poll(
    ctx: Context,
    registrar_id: int,
    domain_id: int,
    operation: str,
    reason: str | None,
    *,
    op: str | None = None,
    state: str = "after",
    message: str | None = None,
) -> None:
    """Queue a change notice for `registrar_id` about a domain the registry changed.

    Call it in the transaction of the change, after the change ("after" state) or before it
    ("before"); `ctx.actor.clid` is recorded as who changed it and `ctx.svtrid` as the
    change's transaction. The domain's info is kept as it is now (never its authInfo).
    """
    row = ctx.conn.execute(select(t.domains).where(t.domains.c.id == domain_id)).one()
    info = render_info(ctx.conn, row, "all", full=True, show_auth=False)
    view = asdict(info)
    view.pop("ds", None)
    change = ChangeData(operation, ctx.now, ctx.svtrid, ctx.actor.clid, reason, op, state)
    enqueue_poll(
        ctx,
        registrar_id,
        CHANGE,
        message or f"Registry initiated {op or operation} of domain.",
        {"object_type": "domain", "info": view, "change": asdict(change)},
    )


def change_notice(message: PollMessage) -> ChangeNotice | None:
    """The change notice a poll message carries, or None for other kinds."""
    p = message.payload
    if message.kind != CHANGE or not p:
        return None
    view = dict(p["info"])
    for key in _DATES:
        if view.get(key):
            view[key] = datetime.fromisoformat(view[key])
    change = dict(p["change"])
    change["date"] = datetime.fromisoformat(change["date"])
    return ChangeNotice(DomainInfo(**view), ChangeData(**change))


def _queue(ctx: Context) -> Any:
    return (t.poll_messages.c.registrar_id == ctx.actor.id) & t.poll_messages.c.acked_at.is_(None)


def request(ctx: Context) -> Queue:
    """The queue's length and its oldest message (1301), or an empty queue (1300)."""
    where = _queue(ctx)
    count = ctx.conn.execute(
        select(func.count()).select_from(t.poll_messages).where(where)
    ).scalar_one()
    if not count:
        return Queue(0, None)
    row = ctx.conn.execute(
        select(t.poll_messages).where(where).order_by(t.poll_messages.c.id).limit(1)
    ).one()
    payload = orjson.loads(row.payload) if row.payload else None
    return Queue(count, PollMessage(row.id, row.created_at, row.kind, row.message, payload))


def ack(ctx: Context, msg_id: str) -> Queue:
    """Acknowledge message `msg_id`. 2303 if it is not an unacknowledged message of this registrar."""
    try:
        numeric = int(msg_id)
    except ValueError:
        raise EppError(Result.OBJECT_DOES_NOT_EXIST, f"message {msg_id} does not exist") from None
    done = ctx.conn.execute(
        update(t.poll_messages)
        .where(_queue(ctx), t.poll_messages.c.id == numeric)
        .values(acked_at=ctx.now)
    )
    if done.rowcount != 1:
        raise EppError(Result.OBJECT_DOES_NOT_EXIST, f"message {msg_id} does not exist")
    return request(ctx)
