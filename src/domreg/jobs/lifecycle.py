"""Lifecycle jobs: every server-side event due by a given time, run in time order, each in its
own transaction whose `now` is the moment the event fell due.

| event | due at | transition (`flows/lifecycle.py`) |
|---|---|---|
| `transfer` | a pending domain transfer's `trn_action_at` | `approve_transfer` (serverApproved) |
| `contact-transfer` | a pending contact transfer's `trn_action_at` | `approve_contact_transfer` |
| `autorenew` | `expires_at` of a domain outside the RGP | `auto_renew` |
| `redemption-end` | a redemption period's end (no restore pending) | `end_redemption` |
| `restore-lapse` | a pendingRestore's end (no report came) | `lapse_restore` |
| `purge` | a pendingDelete's end | `purge_deleted` |

The database rows are the to-do list: processing an event changes the row that made it due,
and each transition re-checks under a row lock that it is still due, so running the jobs twice,
or from two processes, changes nothing the second time. `run_until` always takes the earliest
due event of all, so catching up after days of downtime replays them in the order and at the
times they should have happened (history, ledger and poll rows carry those times), events
created on the way (next year's expiry, a purge five days after pendingDelete) included. The
`cursors` row "lifecycle" records the time everything has been processed up to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from domreg.flows import lifecycle
from domreg.flows import transfer as trn
from domreg.flows.base import Context, SvTrIds, registry_actor
from domreg.model import statuses as st
from domreg.store import schema as t
from domreg.store.db import Database

log = logging.getLogger("domreg.jobs")

#: The cursor recording the time the lifecycle jobs have processed everything up to.
CURSOR = "lifecycle"
#: Who server-side lifecycle events are recorded as (history rows name no registrar).
ACTOR = registry_actor("lifecycle")


@dataclass(frozen=True, slots=True, order=True)
class Event:
    """One due transition: ordered by due time, then kind (`EVENTS` order), then object id."""

    due: datetime
    rank: int
    object_id: int
    kind: str


Found = tuple[datetime, int] | None
Finder = Callable[[Connection, datetime, frozenset[int]], Found]
Handler = Callable[[Context, int], bool]


def _first(conn: Connection, q: Any) -> Found:
    row = conn.execute(q.limit(1)).first()
    return None if row is None else (row[0], row[1])


def _domain_transfers(conn: Connection, until: datetime, skip: frozenset[int]) -> Found:
    d = t.domains
    q = select(d.c.trn_action_at, d.c.id).where(
        d.c.trn_status == trn.PENDING, d.c.deleted_at.is_(None), d.c.trn_action_at <= until
    )
    if skip:
        q = q.where(d.c.id.notin_(skip))
    return _first(conn, q.order_by(d.c.trn_action_at, d.c.id))


def _contact_transfers(conn: Connection, until: datetime, skip: frozenset[int]) -> Found:
    c = t.contacts
    q = select(c.c.trn_action_at, c.c.id).where(
        c.c.trn_status == trn.PENDING, c.c.deleted_at.is_(None), c.c.trn_action_at <= until
    )
    if skip:
        q = q.where(c.c.id.notin_(skip))
    return _first(conn, q.order_by(c.c.trn_action_at, c.c.id))


def _expiries(conn: Connection, until: datetime, skip: frozenset[int]) -> Found:
    d = t.domains
    in_rgp = (
        select(t.statuses.c.roid)
        .where(t.statuses.c.roid == d.c.roid, t.statuses.c.status == st.PENDING_DELETE)
        .exists()
    )
    q = select(d.c.expires_at, d.c.id).where(
        d.c.deleted_at.is_(None), d.c.expires_at <= until, ~in_rgp
    )
    if skip:
        q = q.where(d.c.id.notin_(skip))
    return _first(conn, q.order_by(d.c.expires_at, d.c.id))


def _period_ends(kind: str) -> Finder:
    def find(conn: Connection, until: datetime, skip: frozenset[int]) -> Found:
        g = t.grace_periods
        q = select(g.c.ends_at, g.c.domain_id).where(g.c.kind == kind, g.c.ends_at <= until)
        if kind == lifecycle.REDEMPTION:  # suspended while a restore waits for its report
            r = t.grace_periods.alias("restoring")
            q = q.where(
                ~select(r.c.id)
                .where(r.c.domain_id == g.c.domain_id, r.c.kind == lifecycle.PENDING_RESTORE)
                .exists()
            )
        if skip:
            q = q.where(g.c.domain_id.notin_(skip))
        return _first(conn, q.order_by(g.c.ends_at, g.c.domain_id))

    return find


#: Every kind of event: how to find the earliest due one, and the transition that runs it.
#: At equal due times the order here decides (RGP steps, then transfers, then expiries).
EVENTS: tuple[tuple[str, Finder, Handler], ...] = (
    ("restore-lapse", _period_ends(lifecycle.PENDING_RESTORE), lifecycle.lapse_restore),
    ("redemption-end", _period_ends(lifecycle.REDEMPTION), lifecycle.end_redemption),
    ("purge", _period_ends(lifecycle.PENDING_DELETE), lifecycle.purge_deleted),
    ("transfer", _domain_transfers, lifecycle.approve_transfer),
    ("contact-transfer", _contact_transfers, lifecycle.approve_contact_transfer),
    ("autorenew", _expiries, lifecycle.auto_renew),
)
HANDLERS: dict[str, Handler] = {kind: handler for kind, _, handler in EVENTS}


def next_event(
    conn: Connection, until: datetime, skip: dict[str, set[int]] | None = None
) -> Event | None:
    """The earliest event due at or before `until` (objects in `skip` left out), or None."""
    best: Event | None = None
    for rank, (kind, find, _) in enumerate(EVENTS):
        found = find(conn, until, frozenset((skip or {}).get(kind, ())))
        if found is not None:
            event = Event(found[0], rank, found[1], kind)
            if best is None or event < best:
                best = event
    return best


_svtrids: tuple[int, SvTrIds] | None = None


def _next_svtrid() -> str:
    """Job transaction ids ("DRJ-..."), one generator per process (forks included)."""
    global _svtrids
    if _svtrids is None or _svtrids[0] != os.getpid():
        _svtrids = (os.getpid(), SvTrIds("DRJ"))
    return _svtrids[1].next()


def run_until(db: Database, until: datetime, *, limit: int | None = None) -> int:
    """Run every lifecycle event due at or before `until`, earliest first, each in its own
    transaction at its due time; returns how many ran.

    With `limit`, stops after that many (call again to go on). When nothing due is left, the
    "lifecycle" cursor moves to `until`. An event whose transition fails is logged and left
    for the next run; the others go on.
    """
    done = 0
    skip: dict[str, set[int]] = {}
    last: Event | None = None
    while limit is None or done < limit:
        event: Event | None = None
        changed = False
        try:
            with db.write() as conn:
                event = next_event(conn, until, skip)
                if event is None:
                    _advance_cursor(conn, until)
                    return done
                if event != last:  # the same event again right after running it: never loop
                    ctx = Context(conn, event.due, ACTOR, None, _next_svtrid())
                    changed = HANDLERS[event.kind](ctx, event.object_id)
        except Exception:
            if event is None:
                raise
            log.exception(
                "lifecycle event %s of object %d due %s failed; left for the next run",
                event.kind,
                event.object_id,
                event.due,
            )
            changed = False
        if changed:
            done += 1
            last = event
        else:
            skip.setdefault(event.kind, set()).add(event.object_id)
    return done


def _position(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp())


def _advance_cursor(conn: Connection, until: datetime) -> None:
    c = t.cursors
    row = conn.execute(select(c.c.position).where(c.c.name == CURSOR)).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(c).values(name=CURSOR, position=_position(until), updated_at=until)
                )
            return
        except IntegrityError:  # another process wrote it first
            pass
    conn.execute(
        update(c)
        .where(c.c.name == CURSOR, c.c.position < _position(until))
        .values(position=_position(until), updated_at=until)
    )


def processed_until(conn: Connection) -> datetime | None:
    """The time the lifecycle jobs have processed every event up to (the cursor), or None."""
    return conn.execute(
        select(t.cursors.c.updated_at).where(t.cursors.c.name == CURSOR)
    ).scalar_one_or_none()
