"""domain:check and domain:info on PostgreSQL from the event loop, in batches (`store/loop.py`).

The plain check (names only, no extension) and the info without authInfo or launch part are
most of a registry's EPP traffic, and read only. On PostgreSQL, `LoopReads` answers them
without the thread pool: all checks (and all infos) that the worker's sessions ask for in
one iteration of the event loop go to the database as one execution of one prepared
statement, sent and read with libpq's non-blocking calls. Each command is answered from a
statement that started after it was asked (nothing is cached), so the answers are those of
`domain.check` and `domain.info` run on their own:

- check: one row per valid name that is under a served TLD (`_CHECK_SQL`: the TLD, a live
  holder, the label's reserved reason, as `domain.CHECK_QUERY`), made into `CheckItem`s by the
  same `domain.checked`; names `parse_name` refuses never reach the database;
- info: one row per live domain (`_INFO_SQL`: the domain row, the client ids of sponsor,
  creator and updater, and for the sponsor (the full view) the nameservers, statuses,
  contacts, registrant handle, subordinate hosts, DS records and grace periods as arrays),
  made into a `DomainInfo` by the same `domain.info_view` (authInfo shown as set to the
  sponsor only while it lives, RGP statuses at the command's `now`); an unknown name is the
  2303 of `lookup.no_such_domain`.

A failed execution (a broken connection) fails the batch's commands (the session answers
2400); the next command opens a new connection. `tests/test_loopreads.py` holds both paths
to the same answers.
"""

from __future__ import annotations

import asyncio
import functools
from collections import namedtuple
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from domreg.flows import dnssec as dnssec_flow
from domreg.flows import domain
from domreg.flows.base import Actor
from domreg.flows.lookup import no_such_domain, parse_or_raise
from domreg.model.names import NameError_, parse_name
from domreg.store.db import Database
from domreg.store.loop import LoopBatches, settle, text_array

_CHECK_SQL = """
SELECT q.i,
       (SELECT d.id FROM domains d WHERE d.name = q.name AND d.deleted_at IS NULL) AS taken,
       (SELECT r.reason FROM reserved_names r WHERE r.tld_id = t.id AND r.label = q.label)
           AS reserved
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS q(name, tld, label, i)
JOIN tlds t ON t.name = q.tld
"""

_CheckRow = namedtuple("_CheckRow", "taken reserved")


class _CheckSpec:
    """A batch of checks: each request is one command's names, each with its parsed form
    (None: `parse_name` refused it, and it is not sent); its answer the `CheckItem`s."""

    name = b"domreg_loop_check"
    sql = _CHECK_SQL

    def params(self, items: Sequence[list[tuple[str, Any]]]) -> list[bytes | None]:
        names = [dn for item in items for _, dn in item if dn is not None]
        return [
            text_array([dn.name for dn in names]),
            text_array([dn.parent() for dn in names]),
            text_array([dn.labels[0] for dn in names]),
        ]

    def answers(
        self, items: Sequence[list[tuple[str, Any]]], rows: list[tuple[Any, ...]]
    ) -> list[list[domain.CheckItem]]:
        found = {i: _CheckRow(taken, reserved) for i, taken, reserved in rows}
        out, n = [], 0
        for item in items:
            out.append(_checked(item, found, n))
            n += sum(dn is not None for _, dn in item)
        return out


def _checked(
    item: list[tuple[str, Any]], found: dict[int, _CheckRow], n: int
) -> list[domain.CheckItem]:
    """The answers to one check whose valid names are rows `n + 1`... of the statement."""
    items = []
    for raw, dn in item:
        if dn is None:
            items.append(domain.CheckItem(raw, False, domain.INVALID_NAME))
        else:
            n += 1
            items.append(domain.checked(raw, found.get(n)))
    return items


_INFO_SQL = """
SELECT q.i, d.id, d.name, d.roid, d.registrar_id, d.creator_id, d.updater_id, d.registrant_id,
       d.created_at, d.updated_at, d.expires_at, d.transferred_at,
       d.auth_info, d.auth_info_expires_at,
       sp.clid, cr.clid, up.clid, f.full,
       CASE WHEN f.full THEN ARRAY(
           SELECT h.name FROM domain_hosts dh JOIN hosts h ON h.id = dh.host_id
           WHERE dh.domain_id = d.id ORDER BY h.name) END,
       CASE WHEN f.full AND q.hosts IN ('all', 'sub') THEN ARRAY(
           SELECT h.name FROM hosts h
           WHERE h.parent_domain_id = d.id AND h.deleted_at IS NULL ORDER BY h.name) END,
       CASE WHEN f.full THEN (SELECT c.handle FROM contacts c WHERE c.id = d.registrant_id) END,
       s.status, s.lang, s.message,
       c.type, c.handle,
       ds.key_tag, ds.alg, ds.digest_type, ds.digest,
       ds.key_flags, ds.key_protocol, ds.key_alg, ds.public_key,
       g.kind, g.starts_at, g.ends_at
FROM unnest($1::text[], $2::int8[], $3::text[]) WITH ORDINALITY AS q(name, rid, hosts, i)
CROSS JOIN LATERAL (
    SELECT * FROM domains d WHERE d.name = q.name AND d.deleted_at IS NULL LIMIT 1) d
CROSS JOIN LATERAL (SELECT d.registrar_id = q.rid AS full) f
JOIN registrars sp ON sp.id = d.registrar_id
LEFT JOIN registrars cr ON cr.id = d.creator_id
LEFT JOIN registrars up ON up.id = d.updater_id
LEFT JOIN LATERAL (
    SELECT array_agg(x.status) AS status, array_agg(x.lang) AS lang,
           array_agg(x.message) AS message
    FROM statuses x WHERE x.roid = d.roid AND f.full) s ON true
LEFT JOIN LATERAL (
    SELECT array_agg(dc.type ORDER BY dc.type, k.handle, k.id) AS type,
           array_agg(k.handle ORDER BY dc.type, k.handle, k.id) AS handle
    FROM domain_contacts dc JOIN contacts k ON k.id = dc.contact_id
    WHERE dc.domain_id = d.id AND f.full) c ON true
LEFT JOIN LATERAL (
    SELECT array_agg(r.key_tag ORDER BY r.key_tag, r.alg, r.digest_type, r.digest) AS key_tag,
           array_agg(r.alg ORDER BY r.key_tag, r.alg, r.digest_type, r.digest) AS alg,
           array_agg(r.digest_type ORDER BY r.key_tag, r.alg, r.digest_type, r.digest)
               AS digest_type,
           array_agg(r.digest ORDER BY r.key_tag, r.alg, r.digest_type, r.digest) AS digest,
           array_agg(r.key_flags ORDER BY r.key_tag, r.alg, r.digest_type, r.digest)
               AS key_flags,
           array_agg(r.key_protocol ORDER BY r.key_tag, r.alg, r.digest_type, r.digest)
               AS key_protocol,
           array_agg(r.key_alg ORDER BY r.key_tag, r.alg, r.digest_type, r.digest) AS key_alg,
           array_agg(r.public_key ORDER BY r.key_tag, r.alg, r.digest_type, r.digest)
               AS public_key
    FROM domain_ds r WHERE r.domain_id = d.id AND f.full) ds ON true
LEFT JOIN LATERAL (
    SELECT array_agg(p.kind ORDER BY p.id) AS kind,
           array_agg(p.starts_at ORDER BY p.id) AS starts_at,
           array_agg(p.ends_at ORDER BY p.id) AS ends_at
    FROM grace_periods p WHERE p.domain_id = d.id AND f.full) g ON true
"""

#: The domain row's columns `domain.info_view` and `domain.check_auth_live` read.
_InfoRow = namedtuple(
    "_InfoRow",
    "id name roid registrar_id creator_id updater_id registrant_id created_at updated_at"
    " expires_at transferred_at auth_info auth_info_expires_at",
)
_Ds = namedtuple("_Ds", "key_tag alg digest_type digest key_flags key_protocol key_alg public_key")
_Period = namedtuple("_Period", "kind starts_at ends_at")


def _zip(*arrays: list[Any] | None) -> list[tuple[Any, ...]]:
    """Rows from the parallel arrays of one aggregate (NULL when there were none)."""
    return list(zip(*arrays, strict=True)) if arrays[0] is not None else []


class _InfoSpec:
    """A batch of infos: each request is (name, the asking registrar's id, hosts, now); its
    answer the `DomainInfo`, or the 2303 of an unknown name."""

    name = b"domreg_loop_info"
    sql = _INFO_SQL

    def params(self, items: Sequence[tuple[str, int, str, datetime]]) -> list[bytes | None]:
        return [
            text_array([name for name, _, _, _ in items]),
            text_array([rid for _, rid, _, _ in items]),
            text_array([hosts for _, _, hosts, _ in items]),
        ]

    def answers(
        self, items: Sequence[tuple[str, int, str, datetime]], rows: list[tuple[Any, ...]]
    ) -> list[domain.DomainInfo | BaseException]:
        found = {r[0]: r for r in rows}
        out: list[domain.DomainInfo | BaseException] = []
        for i, (name, _, hosts, now) in enumerate(items, 1):
            r = found.get(i)
            try:  # one domain's fault (a bug) fails its own command only
                out.append(no_such_domain(name) if r is None else self._view(r, hosts, now))
            except Exception as exc:
                out.append(exc)
        return out

    @staticmethod
    def _view(r: tuple[Any, ...], hosts: str, now: datetime) -> domain.DomainInfo:
        row = _InfoRow._make(r[1:14])
        sponsor, creator, updater, full, ns, subordinates, registrant = r[14:21]
        clids = {row.registrar_id: sponsor}
        if row.creator_id is not None and creator is not None:
            clids[row.creator_id] = creator
        if row.updater_id is not None and updater is not None:
            clids[row.updater_id] = updater
        parts = None
        if full:
            status, lang, message, ctype, handle = r[21:26]
            parts = domain.InfoParts(
                ns=ns,
                stored={s: (la, m) for s, la, m in _zip(status, lang, message)},
                contacts=_zip(ctype, handle),
                ds=dnssec_flow.records_of([_Ds._make(x) for x in _zip(*r[26:34])]),
                registrant=registrant,
                subordinates=subordinates,
                periods=[_Period._make(x) for x in _zip(*r[34:37])],
            )
        # No authInfo in the command: the sponsor has the full view, and learns (only)
        # whether an authInfo is set (RFC 9154), as `domain.info`.
        show_auth = bool(full) and domain.check_auth_live(row, now)
        return domain.info_view(row, clids, hosts, show_auth, parts, now if full else None)


class LoopReads:
    """The event-loop path of the plain domain:check and domain:info (PostgreSQL only)."""

    def __init__(self, db: Database) -> None:
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._check: LoopBatches[list[tuple[str, Any]], list[domain.CheckItem]] = LoopBatches(
            url, _CheckSpec()
        )
        self._info: LoopBatches[tuple[str, int, str, datetime], domain.DomainInfo] = LoopBatches(
            url, _InfoSpec()
        )

    def submit(
        self, verb: str, data: Any, actor: Actor, now: datetime
    ) -> asyncio.Future[Any] | None:
        """The answer of a domain command this path takes (a future of the typed result of
        `domain.check` or `domain.info`), or None: run the command through its flow. An info
        is answered as at `now` (authInfo expiry, RGP statuses), the command's one clock read.

        Taken: a check of plain names (a list, no extension) and an info without authInfo
        or `<launch:info>`. A bad info name raises the flow's 2005 here.
        """
        if verb == "check" and type(data) is list:
            fut: asyncio.Future[list[domain.CheckItem]] = asyncio.get_running_loop().create_future()
            self.check(data, functools.partial(settle, fut))
            return fut
        if (
            verb == "info"
            and type(data) is dict
            and data.get("auth_info") is None
            and data.get("launch_info") is None
        ):
            name = parse_or_raise(data["name"], "domain name").name
            return self._info.submit((name, actor.id, data["hosts"], now))
        return None

    def check(
        self, names: list[str], answered: Callable[[list[domain.CheckItem] | BaseException], None]
    ) -> None:
        """Have `answered` called with the `CheckItem`s of a plain check of `names` (or the
        exception it failed with), from the loop's callback that read them: no future, no
        task (`LoopBatches.call`). A check without a valid name is answered at the loop's
        next iteration, never from inside this call."""
        item: list[tuple[str, Any]] = []
        for raw in names:
            try:
                item.append((raw, parse_name(raw)))
            except NameError_:
                item.append((raw, None))
        try:
            if any(dn is not None for _, dn in item):
                self._check.call(item, answered)
                return
            answer: list[domain.CheckItem] | BaseException = _checked(item, {}, 0)
        except Exception as exc:  # closed
            answer = exc
        asyncio.get_running_loop().call_soon(answered, answer)

    async def aclose(self) -> None:
        await self._check.aclose()
        await self._info.aclose()
