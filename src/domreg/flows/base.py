"""What every flow shares: the command context, object lookups, status sets, and the
writes every transform makes in its transaction (history row, poll message, outbox event)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Insert, bindparam, insert, select

from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query


@dataclass(frozen=True, slots=True)
class Actor:
    """The logged-in registrar a command runs for.

    Id 0 is the registry itself (an operator or a job, `clid` names who): history rows
    record it as no registrar.
    """

    id: int
    clid: str


def registry_actor(who: str) -> Actor:
    """The registry acting on its own behalf (operators, jobs); `who` is kept for audit."""
    return Actor(0, who)


@dataclass(frozen=True, slots=True)
class Policy:
    """Registry-wide settings the flows apply (`domreg serve` builds it from the configuration).

    `auth_info_ttl`: how long an authInfo set by a domain update stays valid (RFC 9154
    section 4.2). `password_max_age`: registrar passwords expire this long after they were
    set (None: never); `password_warning`: how long before expiry logins warn (RFC 8807).
    The defaults here never expire passwords, so embedded registries and time-travelling
    tests are not locked out; the configuration's default is 365 days.
    """

    auth_info_ttl: timedelta = timedelta(days=14)
    password_max_age: timedelta | None = None
    password_warning: timedelta = timedelta(days=30)
    # RFC 7848 signed marks: the TMCH CA certificate (PEM file) they must chain to, and the
    # TMCH CRL (PEM or DER file) of revoked signing certificates; None: not configured.
    tmch_ca: str | None = None
    tmch_crl: str | None = None


@dataclass(slots=True)
class Context:
    """One command: its transaction, its single `now`, who sent it and its transaction ids."""

    conn: Connection
    now: datetime
    actor: Actor
    cltrid: str | None
    svtrid: str
    policy: Policy = field(default_factory=Policy)


class SvTrIds:
    """Server transaction ids: unique across processes and restarts, sortable by time.

    Format `DR-<epoch seconds hex>-<pid hex>-<counter>`: the process id and start time keep
    concurrent workers apart; the history table's unique constraint is the final guard.
    """

    def __init__(self, prefix: str = "DR") -> None:
        # Another prefix (the jobs use "DRJ") keeps a second generator in one process apart.
        self._prefix = f"{prefix}-{int(time.time()):x}-{os.getpid():x}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter)}"


def roid(object_id: int, repository: str) -> str:
    """Repository object id (RFC 5730 section 2.8): `<id>-<repository>`."""
    return f"{object_id:X}-{repository}"


STATUSES = Query(
    select(t.statuses.c.status, t.statuses.c.lang, t.statuses.c.message).where(
        t.statuses.c.roid == bindparam("roid")
    )
)


def statuses_of(conn: Connection, roid_: str) -> dict[str, tuple[str | None, str | None]]:
    """Stored statuses of one object: status -> (lang, message)."""
    return {r.status: (r.lang, r.message) for r in STATUSES.all(conn, roid=roid_)}


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
    history, outbox = record_params(
        ctx, object_type=object_type, roid_=roid_, name=name, command=command, snapshot=snapshot
    )
    _HISTORY.execute(ctx.conn, **history)
    if publish:
        _OUTBOX.execute(ctx.conn, **outbox, tld=tld)


def record_params(
    ctx: Context,
    *,
    object_type: str,
    roid_: str,
    name: str,
    command: str,
    snapshot: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The binds of `record`'s history row and of its outbox row (without `tld`), for a
    caller that writes them in a statement of its own (`domain_create.create` on PostgreSQL)."""
    history = {
        "svtrid": ctx.svtrid,
        "cltrid": ctx.cltrid,
        "registrar_id": ctx.actor.id or None,  # id 0: the registry itself
        "object_type": object_type,
        "roid": roid_,
        "object_name": name,
        "command": command,
        "at": ctx.now,
        "snapshot": orjson.dumps(snapshot, default=str).decode(),
    }
    outbox = {
        "created_at": ctx.now,
        "topic": command,
        "object_type": object_type,
        "roid": roid_,
        "name": name,
        "svtrid": ctx.svtrid,
    }
    return history, outbox


def _insert_all(table: Any, *columns: str) -> Query:
    """INSERT of `columns` into `table`, each bound by its own name."""
    return Query(insert(table).values({c: bindparam(c) for c in columns}))


# Every transform writes these two rows.
_HISTORY = _insert_all(
    t.history,
    "svtrid",
    "cltrid",
    "registrar_id",
    "object_type",
    "roid",
    "object_name",
    "command",
    "at",
    "snapshot",
)
_OUTBOX = _insert_all(
    t.outbox, "created_at", "topic", "object_type", "roid", "name", "tld", "svtrid"
)
#: `record`'s two statements, for a caller that composes them into one (`domain_create.create`).
HISTORY_INSERT = cast(Insert, _HISTORY.statement)
OUTBOX_INSERT = cast(Insert, _OUTBOX.statement)


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


CLIDS = Query(
    select(t.registrars.c.id, t.registrars.c.clid).where(
        t.registrars.c.id.in_([bindparam("a"), bindparam("b"), bindparam("c")])
    )
)


def registrar_clids(conn: Connection, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    if len(wanted) <= 3:  # an object's sponsor, creator and updater: a fixed statement
        a, b, c = (*wanted, *[next(iter(wanted))] * (3 - len(wanted)))
        return {r.id: r.clid for r in CLIDS.all(conn, a=a, b=b, c=c)}
    rows = conn.execute(
        select(t.registrars.c.id, t.registrars.c.clid).where(t.registrars.c.id.in_(wanted))
    )
    return {r.id: r.clid for r in rows}


#: Stored authInfo hashes: `pbkdf2-sha256$<iterations>$<salt hex>$<digest hex>`.
AUTH_INFO_SCHEME = "pbkdf2-sha256"
AUTH_INFO_ITERATIONS = 32
AUTH_INFO_SALT_BYTES = 16


def hash_auth_info(value: str) -> str | None:
    """authInfo as stored (RFC 9154 section 4.3): None for an empty value ("unset"), else a
    salted one-way hash.

    PBKDF2-HMAC-SHA-256 with a 128-bit random salt per value: what section 4.3 requires (a
    strong one-way hash of at least 256 bits, a per-value random salt of at least 128 bits).
    The salt makes every stored value a separate target: no precomputed tables, no finding
    equal authInfos across objects, no guessing all stored values at once.

    Why 32 iterations, not the 2,000 used before (about 7 us instead of 0.4 ms, which was
    half of a create's CPU on SQLite): key stretching does not carry the security here.
    - Section 4.1 requires an authInfo to carry at least 128 bits of entropy. Guessing such
      a value from its hash takes about 2^127 tries; 2,000 iterations add 11 bits to that,
      32 add 5: both are beyond reach by the same margin.
    - A weak value (a legacy 8-character password, 40 bits or so) is not protected by 2,000
      iterations either: that is 1/300 of the 600,000 that password storage guidance asks of
      PBKDF2-SHA-256, and a GPU tries such a value space in hours at 2,000 iterations. The
      protection that works for registrant passwords (argon2, ~200 ms, as registrar passwords
      use) cannot run on every create and update of a registry at thousands per second.
    - An authInfo also lives only as long as it is needed: one set by update expires after
      `Policy.auth_info_ttl` (section 4.2), and a completed transfer unsets it (section 5.4).
    The format names its parameters: values stored with 2,000 iterations still verify, and
    the count can change again without a migration.
    """
    if not value:
        return None
    salt = os.urandom(AUTH_INFO_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", value.encode(), salt, AUTH_INFO_ITERATIONS)
    return f"{AUTH_INFO_SCHEME}${AUTH_INFO_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_auth_info(
    stored: str | None,
    given: str | None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """True if `given` authInfo matches the stored one (RFC 9154 section 4.4).

    Nothing matches an unset (NULL or empty) authInfo, an empty `given` matches nothing, and
    an authInfo past `expires_at` (its time to live) no longer matches. `stored` is a hash
    from `hash_auth_info`, or a plain value kept from before hashing (contacts, and domains
    created before it): both compare in constant time.
    """
    if not given or not stored:
        return False
    if expires_at is not None and now is not None and now >= expires_at:
        return False
    parts = stored.split("$")
    if len(parts) == 4 and parts[0] == AUTH_INFO_SCHEME and parts[1].isdigit():
        try:
            salt = bytes.fromhex(parts[2])
        except ValueError:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", given.encode(), salt, int(parts[1]))
        return hmac.compare_digest(digest.hex(), parts[3])
    return hmac.compare_digest(stored.encode(), given.encode())
