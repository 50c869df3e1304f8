"""The registry as of a watermark, read in one snapshot, as the deposit's objects.

`snapshot(db)` opens one read transaction (SQLite: a deferred transaction, whose snapshot is
fixed by its first read; PostgreSQL: REPEATABLE READ), so the whole deposit sees one state of
the database while the registry goes on taking commands. `Source` then selects what was live
at the watermark: rows created at or before it and not deleted by then, streamed in id order
(server-side cursors on PostgreSQL, `yield_per` batches) and merged with their statuses,
contacts, name servers, DS records and grace periods streamed in the same order. An object
changed after the watermark (it has a history row later than it) is taken instead from its
last history snapshot at or before the watermark, so a deposit made at 00:05 describes
00:00 exactly; one created after the watermark is left out.

Objects are plain dicts (the deposit model, rendered by `writer`):

- domain: name, roid, sponsor, statuses [(s, lang, msg)], registrant, contacts [(type,
  handle)], ns [host names], creator, created_at, updater, updated_at, expires_at,
  transferred_at, ds [(key_tag, alg, digest_type, digest, flags, protocol, key_alg, pubkey)],
  rgp [RGP statuses], trn (transfer data or None)
- host: name, roid, statuses, addresses [(address, "v4"|"v6")], sponsor, creator, created_at,
  updater, updated_at, transferred_at
- contact: id, roid, statuses, postal [dicts of PostalInfo], voice, voice_ext, fax, fax_ext,
  email, disclose ({flag, fields} or None), sponsor, creator, created_at, updater,
  updated_at, transferred_at, trn
- registrar: clid, name, iana_id, status, email, created_at, updated_at, and what RDAP and
  WHOIS publish of it that RFC 9022 carries: url, whois_server, phone, fax, street (a list),
  city, sp, pc, cc
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, exists, or_, select

from domreg.flows import lifecycle
from domreg.model import statuses as st
from domreg.store import schema as t
from domreg.store.db import Database, Query

#: Rows fetched per round trip from each stream.
BATCH = 5000


@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """One read-only transaction over which every query sees the same committed state."""
    with db.engine.connect() as conn:
        if not db.is_sqlite:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin() as tx:
            if not db.is_sqlite:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                yield conn
            finally:
                tx.rollback()


class _Side:
    """A stream of rows ordered by their first column, consumed alongside a main stream."""

    def __init__(self, rows: Any) -> None:
        self._it = iter(rows)
        self._row = next(self._it, None)

    def take(self, key: int) -> list[Any]:
        out = []
        row = self._row
        while row is not None and row[0] < key:
            row = next(self._it, None)
        while row is not None and row[0] == key:
            out.append(row)
            row = next(self._it, None)
        self._row = row
        return out


def _iso(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class Source:
    """The registry at `watermark`, read on `conn` (a `snapshot`)."""

    def __init__(self, conn: Connection, tld: str, watermark: datetime) -> None:
        self.conn = conn
        self.watermark = watermark
        row = conn.execute(select(t.tlds).where(t.tlds.c.name == tld)).first()
        if row is None:
            from domreg.escrow.model import DepositError

            raise DepositError(f"no TLD {tld!r}")
        self.tld = row
        self.clids: dict[int, str] = {
            r.id: r.clid for r in conn.execute(select(t.registrars.c.id, t.registrars.c.clid))
        }
        self._changed: set[str] | None = None

    # ------------------------------------------------------------ history

    @property
    def changed(self) -> set[str]:
        """ROIDs with a history row after the watermark (their current row is too new)."""
        if self._changed is None:
            h = t.history
            rows = self.conn.execute(select(h.c.roid).where(h.c.at > self.watermark).distinct())
            self._changed = {r.roid for r in rows}
        return self._changed

    def as_of(self, roid: str, at: datetime | None = None) -> tuple[dict[str, Any], str] | None:
        """The object's last history snapshot at or before `at` (default: the watermark) and
        the clid of who made that change, or None if it had none."""
        h = t.history
        row = self.conn.execute(
            select(h.c.snapshot, h.c.registrar_id, h.c.command)
            .where(h.c.roid == roid, h.c.at <= (at or self.watermark))
            .order_by(h.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        who = self.clids.get(row.registrar_id) if row.registrar_id else None
        return orjson.loads(row.snapshot), who or ""

    def changed_between(self, start: datetime) -> list[tuple[str, str]]:
        """(object type, roid) of every object with a history row in (start, watermark]."""
        h = t.history
        rows = self.conn.execute(
            select(h.c.object_type, h.c.roid)
            .where(h.c.at > start, h.c.at <= self.watermark)
            .distinct()
            .order_by(h.c.object_type, h.c.roid)
        )
        return [(r.object_type, r.roid) for r in rows]

    def _stream(self, q: Any, raw: bool = True) -> Any:
        """Rows of `q`, streamed; `raw` (the default): times as the driver gives them (ISO
        strings on SQLite), which the writer formats without parsing them first."""
        return Query(q).stream(self.conn, BATCH, raw=raw)

    def _live(self, table: Any) -> Any:
        w = self.watermark
        return and_(
            table.c.created_at <= w, or_(table.c.deleted_at.is_(None), table.c.deleted_at > w)
        )

    # ------------------------------------------------------------ registrars

    def registrars(self) -> Iterator[dict[str, Any]]:
        r = t.registrars
        q = select(r).where(r.c.created_at <= self.watermark).order_by(r.c.id)
        for row in self.conn.execute(q):
            yield {
                "clid": row.clid,
                "name": row.name,
                "iana_id": row.iana_id,
                "status": row.status,
                "email": row.email,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "url": row.url,
                "whois_server": row.whois_server,
                "phone": row.phone,
                "fax": row.fax,
                "street": orjson.loads(row.street) if row.street else [],
                "city": row.city,
                "sp": row.sp,
                "pc": row.pc,
                "cc": row.cc,
            }

    # ------------------------------------------------------------ domains

    def domains(self, thin: bool = False) -> Iterator[dict[str, Any]]:
        d, c = t.domains, t.contacts
        tld_id = self.tld.id
        mine = and_(d.c.tld_id == tld_id, self._live(d))
        q = (
            select(d, c.c.handle.label("registrant_handle"))
            .outerjoin(c, c.c.id == d.c.registrant_id)
            .where(mine)
            .order_by(d.c.id)
        )
        stat = _Side(
            self._stream(
                select(d.c.id, t.statuses.c.status, t.statuses.c.lang, t.statuses.c.message)
                .join(t.statuses, t.statuses.c.roid == d.c.roid)
                .where(mine)
                .order_by(d.c.id, t.statuses.c.status)
            )
        )
        ns = _Side(
            self._stream(
                select(t.domain_hosts.c.domain_id, t.hosts.c.name)
                .join(t.hosts, t.hosts.c.id == t.domain_hosts.c.host_id)
                .order_by(t.domain_hosts.c.domain_id, t.domain_hosts.c.host_id)
            )
        )
        if not thin:
            dc = t.domain_contacts
            contacts = _Side(
                self._stream(
                    select(dc.c.domain_id, dc.c.type, c.c.handle)
                    .join(c, c.c.id == dc.c.contact_id)
                    .order_by(dc.c.domain_id, dc.c.type, dc.c.contact_id)
                )
            )
            ds = _Side(
                self._stream(
                    select(d.c.id, t.domain_ds)
                    .join(t.domain_ds, t.domain_ds.c.domain_id == d.c.id)
                    .where(mine)
                    .order_by(d.c.id, t.domain_ds.c.key_tag, t.domain_ds.c.alg)
                )
            )
        g = t.grace_periods
        grace = _Side(
            self._stream(
                select(g.c.domain_id, g.c.kind, g.c.starts_at, g.c.ends_at).order_by(
                    g.c.domain_id, g.c.id
                ),
                raw=False,
            )
        )
        changed = self.changed
        clids = self.clids
        w = self.watermark
        for row in self._stream(q):
            stored = stat.take(row.id)
            names = sorted([r.name for r in ns.take(row.id)])
            periods = grace.take(row.id)
            if not thin:
                roles = sorted([(r.type, r.handle) for r in contacts.take(row.id)])
                records = [tuple(r)[2:] for r in ds.take(row.id)]
            if row.roid in changed:
                obj = self._domain_as_of(row, periods, stored)
                if obj is not None:
                    yield obj
                continue
            shown = st.domain_display({r.status for r in stored}, bool(names))
            extra = {r.status: (r.lang, r.message) for r in stored}
            obj = {
                "name": row.name,
                "roid": row.roid,
                "sponsor": clids[row.registrar_id],
                "statuses": [(s, *extra.get(s, (None, None))) for s in shown],
                "registrant": None if thin else row.registrant_handle,
                "contacts": [] if thin else roles,
                "ns": [] if thin else names,
                "creator": clids[row.creator_id],
                "created_at": row.created_at,
                "updater": clids.get(row.updater_id) if row.updater_id else None,
                "updated_at": row.updated_at,
                "expires_at": row.expires_at,
                "transferred_at": row.transferred_at,
                "ds": [] if thin else records,
                "rgp": _rgp(periods, w),
                "trn": self._trn(row),
            }
            yield obj

    def _trn(self, row: Any) -> dict[str, Any] | None:
        if not row.trn_status or row.trn_gaining_id is None:
            return None
        return {
            "status": row.trn_status,
            "gaining": self.clids.get(row.trn_gaining_id),
            "requested_at": row.trn_requested_at,
            "losing": self.clids.get(row.trn_losing_id),
            "action_at": row.trn_action_at,
            "expires_at": getattr(row, "trn_expires_at", None),
        }

    def _domain_as_of(
        self, row: Any, periods: list[Any], stored: list[Any] | None = None
    ) -> dict[str, Any] | None:
        found = self.as_of(row.roid)
        if found is None:
            return None  # created after the watermark
        snap, who = found
        if snap.get("deleted_at"):
            return None
        return {
            "name": snap["name"],
            "roid": snap["roid"],
            "sponsor": snap["sponsor"],
            "statuses": _with_text(snap["statuses"], stored),
            "registrant": snap.get("registrant"),
            "contacts": [tuple(c) for c in snap.get("contacts") or []],
            "ns": snap.get("ns") or [],
            "creator": self.clids[row.creator_id],
            "created_at": _iso(snap["created_at"]),
            "updater": (who or None) if snap.get("updated_at") else None,
            "updated_at": _iso(snap.get("updated_at")),
            "expires_at": _iso(snap["expires_at"]),
            "transferred_at": _iso(snap.get("transferred_at")),
            "ds": [_ds_from_text(x) for x in snap.get("ds") or []],
            "rgp": _rgp(periods, self.watermark),
            "trn": None,
        }

    # ------------------------------------------------------------ hosts

    def hosts(self, only: str | None = None) -> Iterator[dict[str, Any]]:
        """Hosts live at the watermark (`only`: just the one with this ROID)."""
        h = t.hosts
        mine = self._live(h) if only is None else and_(self._live(h), h.c.roid == only)
        linked = exists(
            select(t.domain_hosts.c.host_id)
            .join(t.domains, t.domains.c.id == t.domain_hosts.c.domain_id)
            .where(t.domain_hosts.c.host_id == h.c.id, t.domains.c.deleted_at.is_(None))
        )
        q = select(h, linked.label("linked")).where(mine).order_by(h.c.id)
        stat = _Side(
            self._stream(
                select(h.c.id, t.statuses.c.status, t.statuses.c.lang, t.statuses.c.message)
                .join(t.statuses, t.statuses.c.roid == h.c.roid)
                .where(mine)
                .order_by(h.c.id, t.statuses.c.status)
            )
        )
        a = t.host_addresses
        addrs = _Side(
            self._stream(
                select(a.c.host_id, a.c.address, a.c.version).order_by(a.c.host_id, a.c.address)
            )
        )
        clids, changed = self.clids, self.changed
        for row in self._stream(q):
            stored = stat.take(row.id)
            addresses = [(r.address, r.version) for r in addrs.take(row.id)]
            if row.roid in changed:
                found = self.as_of(row.roid)
                if found is None or found[0].get("deleted_at"):
                    continue
                snap, who = found
                yield {
                    "name": snap["name"],
                    "roid": snap["roid"],
                    "statuses": _with_text(snap["statuses"], stored),
                    "addresses": [tuple(x) for x in snap.get("addresses") or []],
                    "sponsor": snap["sponsor"],
                    "creator": clids[row.creator_id],
                    "created_at": _iso(snap["created_at"]),
                    "updater": (who or None) if snap.get("updated_at") else None,
                    "updated_at": _iso(snap.get("updated_at")),
                    "transferred_at": _iso(snap.get("transferred_at")),
                }
                continue
            shown = st.object_display({r.status for r in stored}, bool(row.linked))
            extra = {r.status: (r.lang, r.message) for r in stored}
            yield {
                "name": row.name,
                "roid": row.roid,
                "statuses": [(s, *extra.get(s, (None, None))) for s in shown],
                "addresses": _sorted_addresses(addresses),
                "sponsor": clids[row.registrar_id],
                "creator": clids[row.creator_id],
                "created_at": row.created_at,
                "updater": clids.get(row.updater_id) if row.updater_id else None,
                "updated_at": row.updated_at,
                "transferred_at": row.transferred_at,
            }

    # ------------------------------------------------------------ contacts

    def contacts(self, only: str | None = None) -> Iterator[dict[str, Any]]:
        """Contacts live at the watermark (`only`: just the one with this ROID)."""
        c = t.contacts
        mine = self._live(c) if only is None else and_(self._live(c), c.c.roid == only)
        d, dc = t.domains, t.domain_contacts
        linked = or_(
            exists(select(d.c.id).where(d.c.registrant_id == c.c.id, d.c.deleted_at.is_(None))),
            exists(
                select(dc.c.domain_id)
                .join(d, d.c.id == dc.c.domain_id)
                .where(dc.c.contact_id == c.c.id, d.c.deleted_at.is_(None))
            ),
        )
        q = select(c, linked.label("linked")).where(mine).order_by(c.c.id)
        stat = _Side(
            self._stream(
                select(c.c.id, t.statuses.c.status, t.statuses.c.lang, t.statuses.c.message)
                .join(t.statuses, t.statuses.c.roid == c.c.roid)
                .where(mine)
                .order_by(c.c.id, t.statuses.c.status)
            )
        )
        p = t.contact_postal
        postal = _Side(
            self._stream(
                select(c.c.id, p)
                .join(p, p.c.contact_id == c.c.id)
                .where(mine)
                .order_by(c.c.id, p.c.type)
            )
        )
        clids, changed = self.clids, self.changed
        for row in self._stream(q):
            stored = stat.take(row.id)
            infos = [_postal(r) for r in postal.take(row.id)]
            if row.roid in changed:
                found = self.as_of(row.roid)
                if found is None or found[0].get("deleted_at"):
                    continue
                snap, who = found
                yield {
                    "id": snap["id"],
                    "roid": snap["roid"],
                    "statuses": _with_text(snap["statuses"], stored),
                    "postal": snap.get("postal") or [],
                    "voice": snap.get("voice"),
                    "voice_ext": snap.get("voice_ext"),
                    "fax": snap.get("fax"),
                    "fax_ext": snap.get("fax_ext"),
                    "email": snap.get("email"),
                    "disclose": snap.get("disclose"),
                    "sponsor": snap["sponsor"],
                    "creator": clids[row.creator_id],
                    "created_at": _iso(snap["created_at"]),
                    "updater": (who or None) if snap.get("updated_at") else None,
                    "updated_at": _iso(snap.get("updated_at")),
                    "transferred_at": _iso(snap.get("transferred_at")),
                    "trn": None,
                }
                continue
            shown = st.object_display({r.status for r in stored}, bool(row.linked))
            extra = {r.status: (r.lang, r.message) for r in stored}
            yield {
                "id": row.handle,
                "roid": row.roid,
                "statuses": [(s, *extra.get(s, (None, None))) for s in shown],
                "postal": infos,
                "voice": row.voice,
                "voice_ext": row.voice_ext,
                "fax": row.fax,
                "fax_ext": row.fax_ext,
                "email": row.email,
                "disclose": orjson.loads(row.disclose) if row.disclose else None,
                "sponsor": clids[row.registrar_id],
                "creator": clids[row.creator_id],
                "created_at": row.created_at,
                "updater": clids.get(row.updater_id) if row.updater_id else None,
                "updated_at": row.updated_at,
                "transferred_at": row.transferred_at,
                "trn": self._trn(row),
            }


def _with_text(statuses: list[str], stored: list[Any] | None) -> list[tuple[str, Any, Any]]:
    """History snapshots keep status values only: their language and message come from the
    stored rows where the status is still set (the message of a status rarely changes)."""
    extra = {r.status: (r.lang, r.message) for r in stored or []}
    return [(s, *extra.get(s, (None, None))) for s in statuses]


def _rgp(periods: list[Any], at: datetime) -> list[str]:
    kinds = set()
    for p in periods:
        if p.kind in lifecycle.RGP_KINDS:
            if p.starts_at <= at:
                kinds.add(p.kind)
        elif p.starts_at <= at < p.ends_at:
            kinds.add(p.kind)
    if lifecycle.PENDING_RESTORE in kinds:
        kinds.discard(lifecycle.REDEMPTION)
    return [lifecycle.RGP_STATUS[k] for k in lifecycle.RGP_STATUS if k in kinds]


def _ds_from_text(text: str) -> tuple[Any, ...]:
    key_tag, alg, digest_type, digest = text.split()
    return (int(key_tag), int(alg), int(digest_type), digest, None, None, None, None)


def _postal(r: Any) -> dict[str, Any]:
    return {
        "type": r.type,
        "name": r.name,
        "org": r.org,
        "street": [s for s in (r.street1, r.street2, r.street3) if s is not None],
        "city": r.city,
        "sp": r.sp,
        "pc": r.pc,
        "cc": r.cc,
    }


def _sorted_addresses(addresses: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from domreg.flows.host import _sorted_addresses as order

    return list(order(set(addresses)))
