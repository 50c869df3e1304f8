"""Poll flows (RFC 5730 section 2.9.2.3): read the oldest queued message, acknowledge it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select, update

from domreg.flows.base import Context
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
