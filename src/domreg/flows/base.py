"""What every flow shares: the command context, object lookups, status sets, and the
writes every transform makes in its transaction (history row, poll message, outbox event)."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t


@dataclass(frozen=True, slots=True)
class Actor:
    """The logged-in registrar a command runs for."""

    id: int
    clid: str


@dataclass(slots=True)
class Context:
    """One command: its transaction, its single `now`, who sent it and its transaction ids."""

    conn: Connection
    now: datetime
    actor: Actor
    cltrid: str | None
    svtrid: str


class SvTrIds:
    """Server transaction ids: unique across processes and restarts, sortable by time.

    Format `DR-<epoch seconds hex>-<pid hex>-<counter>`: the process id and start time keep
    concurrent workers apart; the history table's unique constraint is the final guard.
    """

    def __init__(self) -> None:
        self._prefix = f"DR-{int(time.time()):x}-{os.getpid():x}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter)}"


def roid(object_id: int, repository: str) -> str:
    """Repository object id (RFC 5730 section 2.8): `<id>-<repository>`."""
    return f"{object_id:X}-{repository}"


def statuses_of(conn: Connection, roid_: str) -> dict[str, tuple[str | None, str | None]]:
    """Stored statuses of one object: status -> (lang, message)."""
    rows = conn.execute(
        select(t.statuses.c.status, t.statuses.c.lang, t.statuses.c.message).where(
            t.statuses.c.roid == roid_
        )
    )
    return {r.status: (r.lang, r.message) for r in rows}


def forbid(stored: set[str] | dict[str, Any], prohibited: frozenset[str], what: str) -> None:
    """Raise 2304 if any stored status is in `prohibited`."""
    blocking = sorted(set(stored) & prohibited)
    if blocking:
        raise EppError(
            Result.OBJECT_STATUS_PROHIBITS_OPERATION, f"{what} prohibited by status {blocking[0]}"
        )


#: Length of the statuses.lang column.
MAX_STATUS_LANG = 16


def check_status_update(
    stored: dict[str, Any],
    add: tuple[tuple[str, str | None, str | None], ...],
    rem: tuple[str, ...],
    settable: frozenset[str],
    other_changes: bool,
) -> None:
    """The status rules every object update shares (RFC 5731-5733).

    2304 when a stored status prohibits updates, except for an update that does nothing but
    remove clientUpdateProhibited (and other client statuses); 2306 for a status clients may
    not set, a status added twice or already set, or an over-long language tag. Removing a
    status that is not set is a no-op.
    """
    from domreg.model import statuses as st

    only_unlocking = not other_changes and not add and st.CLIENT_UPDATE_PROHIBITED in rem
    prohibited = (
        st.UPDATE_PROHIBITED - {st.CLIENT_UPDATE_PROHIBITED}
        if only_unlocking
        else st.UPDATE_PROHIBITED
    )
    forbid(stored, prohibited, "update")
    for s in [*(s for s, _, _ in add), *rem]:
        if s not in settable:
            raise EppError(
                Result.PARAMETER_VALUE_POLICY_ERROR, f"status {s} cannot be set by a registrar"
            )
    added: set[str] = set()
    for s, lang, _ in add:
        if lang is not None and len(lang) > MAX_STATUS_LANG:
            raise EppError(
                Result.PARAMETER_VALUE_POLICY_ERROR,
                f"language tag of status {s} is longer than {MAX_STATUS_LANG} characters",
            )
        if s in added:
            raise EppError(Result.PARAMETER_VALUE_POLICY_ERROR, f"status {s} is given twice")
        added.add(s)
        if s in stored and s not in rem:
            raise EppError(Result.PARAMETER_VALUE_POLICY_ERROR, f"status {s} is already set")


def record(
    ctx: Context,
    *,
    object_type: str,
    roid_: str,
    name: str,
    command: str,
    snapshot: dict[str, Any],
    tld: str | None = None,
    publish: bool = True,
) -> None:
    """Write the history row for a transform and, if `publish`, its outbox event."""
    ctx.conn.execute(
        insert(t.history).values(
            svtrid=ctx.svtrid,
            cltrid=ctx.cltrid,
            registrar_id=ctx.actor.id,
            object_type=object_type,
            roid=roid_,
            object_name=name,
            command=command,
            at=ctx.now,
            snapshot=orjson.dumps(snapshot, default=str).decode(),
        )
    )
    if publish:
        ctx.conn.execute(
            insert(t.outbox).values(
                created_at=ctx.now,
                topic=command,
                object_type=object_type,
                roid=roid_,
                name=name,
                tld=tld,
                svtrid=ctx.svtrid,
            )
        )


def enqueue_poll(
    ctx: Context, registrar_id: int, kind: str, message: str, payload: dict[str, Any]
) -> None:
    """Queue a poll message for `registrar_id` in the current transaction."""
    ctx.conn.execute(
        insert(t.poll_messages).values(
            registrar_id=registrar_id,
            created_at=ctx.now,
            kind=kind,
            message=message,
            payload=orjson.dumps(payload, default=str).decode(),
        )
    )


def registrar_clids(conn: Connection, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = conn.execute(
        select(t.registrars.c.id, t.registrars.c.clid).where(t.registrars.c.id.in_(wanted))
    )
    return {r.id: r.clid for r in rows}


def check_auth_info(stored: str | None, given: str | None) -> bool:
    """True if `given` authInfo matches the stored one (constant time)."""
    import hmac

    if given is None or stored is None:
        return False
    return hmac.compare_digest(stored.encode(), given.encode())
