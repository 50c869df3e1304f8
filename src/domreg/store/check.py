"""The consistency checker (`domreg check`): what must always hold in the database, checked
with one query per rule, each finding saying what is wrong and where.

Rules: live names are unique (domains, hosts, contact handles); links point at live objects
(name servers, contacts, registrants, superordinate domains, statuses, grace periods, DS
data); stored statuses are allowed and allowed together (RFC 5731-5733: never the derived
ok/linked/inactive, at most one pending* status, no pending* beside the prohibition of the
same operation); every registrar's balance is the sum of its ledger; every object's latest
change has its history row (no object changed later than its last history row); every
domain's delegation text (`domains.delegation`, the zone lines the full build reads) is what
its nameserver links, hosts, addresses and DS data give (dns/delegation.py: a few queries
per range of domain ids, not one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from domreg.model import statuses as st
from domreg.store import schema as t
from domreg.store.db import Database

#: Listed per rule at most this many times (the count of the rest is given).
LIMIT = 20


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


Rule = Callable[[Connection], Iterator[Finding]]


def _unique_live_names(conn: Connection) -> Iterator[Finding]:
    for table, column, what in (
        (t.domains, t.domains.c.name, "domain"),
        (t.hosts, t.hosts.c.name, "host"),
        (t.contacts, t.contacts.c.handle, "contact"),
    ):
        rows = conn.execute(
            select(column, func.count())
            .where(table.c.deleted_at.is_(None))
            .group_by(column)
            .having(func.count() > 1)
        )
        for name, n in rows:
            yield Finding("live-names-unique", f"{n} live {what} objects named {name}")


def _links(conn: Connection) -> Iterator[Finding]:
    d, h, c = t.domains, t.hosts, t.contacts
    dh, dc = t.domain_hosts, t.domain_contacts
    live_d = d.c.deleted_at.is_(None)
    checks = [
        (
            "name server",
            select(d.c.name, h.c.name)
            .join(dh, dh.c.domain_id == d.c.id)
            .join(h, h.c.id == dh.c.host_id)
            .where(live_d, h.c.deleted_at.is_not(None)),
        ),
        (
            "contact",
            select(d.c.name, dc.c.type + " " + c.c.handle)
            .join(dc, dc.c.domain_id == d.c.id)
            .join(c, c.c.id == dc.c.contact_id)
            .where(live_d, c.c.deleted_at.is_not(None)),
        ),
        (
            "registrant",
            select(d.c.name, c.c.handle)
            .join(c, c.c.id == d.c.registrant_id)
            .where(live_d, c.c.deleted_at.is_not(None)),
        ),
        (
            "superordinate domain",
            select(h.c.name, d.c.name)
            .join(d, d.c.id == h.c.parent_domain_id)
            .where(h.c.deleted_at.is_(None), d.c.deleted_at.is_not(None)),
        ),
    ]
    for what, q in checks:
        for owner, target in conn.execute(q):
            yield Finding("links-live", f"{owner} has {what} {target}, which is deleted")
    for what, q in (
        (
            "a name server link of",
            select(dh.c.domain_id, dh.c.host_id)
            .outerjoin(h, h.c.id == dh.c.host_id)
            .where(h.c.id.is_(None)),
        ),
        (
            "a contact link of",
            select(dc.c.domain_id, dc.c.contact_id)
            .outerjoin(c, c.c.id == dc.c.contact_id)
            .where(c.c.id.is_(None)),
        ),
    ):
        for owner, target in conn.execute(q):
            yield Finding(
                "links-live", f"{what} domain id {owner} points at missing object {target}"
            )
    roids = (
        select(d.c.roid.label("roid"))
        .where(live_d)
        .union_all(
            select(h.c.roid).where(h.c.deleted_at.is_(None)),
            select(c.c.roid).where(c.c.deleted_at.is_(None)),
        )
        .subquery()
    )
    orphans = conn.execute(
        select(t.statuses.c.roid, t.statuses.c.status)
        .outerjoin(roids, roids.c.roid == t.statuses.c.roid)
        .where(roids.c.roid.is_(None))
    )
    for roid, status in orphans:
        yield Finding("links-live", f"status {status} belongs to {roid}, no live object")


#: Statuses derived when shown, never stored.
DERIVED = frozenset({st.OK, st.LINKED, st.INACTIVE})
PENDING = frozenset(
    {st.PENDING_CREATE, st.PENDING_DELETE, st.PENDING_RENEW, st.PENDING_TRANSFER, st.PENDING_UPDATE}
)
#: RFC 5731 section 2.3: a pending operation never beside the prohibition of that operation.
EXCLUSIVE = {
    st.PENDING_DELETE: {st.CLIENT_DELETE_PROHIBITED, st.SERVER_DELETE_PROHIBITED},
    st.PENDING_RENEW: {st.CLIENT_RENEW_PROHIBITED, st.SERVER_RENEW_PROHIBITED},
    st.PENDING_TRANSFER: {st.CLIENT_TRANSFER_PROHIBITED, st.SERVER_TRANSFER_PROHIBITED},
    st.PENDING_UPDATE: {st.CLIENT_UPDATE_PROHIBITED, st.SERVER_UPDATE_PROHIBITED},
}


def _statuses(conn: Connection) -> Iterator[Finding]:
    objects: dict[str, tuple[str, frozenset[str], set[str]]] = {}
    for table, allowed, name in (
        (t.domains, st.ALL_DOMAIN, t.domains.c.name),
        (t.hosts, st.ALL_HOST, t.hosts.c.name),
        (t.contacts, st.ALL_CONTACT, t.contacts.c.handle),
    ):
        rows = conn.execute(
            select(table.c.roid, name, t.statuses.c.status)
            .join(t.statuses, t.statuses.c.roid == table.c.roid)
            .where(table.c.deleted_at.is_(None))
        )
        for roid, label, status in rows:
            objects.setdefault(roid, (label, allowed, set()))[2].add(status)
    for label, allowed, stored in objects.values():
        for s in sorted(stored - allowed):
            yield Finding("statuses-allowed", f"{label} has status {s}, not a status of its kind")
        for s in sorted(stored & DERIVED):
            yield Finding("statuses-allowed", f"{label} has status {s} stored; it is derived")
        pending = stored & PENDING
        if len(pending) > 1:
            yield Finding(
                "statuses-allowed", f"{label} has {' and '.join(sorted(pending))} together"
            )
        for p in sorted(pending):
            clash = stored & EXCLUSIVE.get(p, set())
            if clash:
                yield Finding(
                    "statuses-allowed", f"{label} has {p} together with {', '.join(sorted(clash))}"
                )


def _ledger(conn: Connection) -> Iterator[Finding]:
    sums = (
        select(t.ledger.c.registrar_id, func.sum(t.ledger.c.amount).label("total"))
        .group_by(t.ledger.c.registrar_id)
        .subquery()
    )
    rows = conn.execute(
        select(t.registrars.c.clid, t.registrars.c.balance, sums.c.total).outerjoin(
            sums, sums.c.registrar_id == t.registrars.c.id
        )
    )
    for clid, balance, total in rows:
        if balance != (total or 0):
            yield Finding(
                "ledger-balances",
                f"registrar {clid} has balance {balance}, its ledger sums to {total or 0}",
            )


def _history(conn: Connection) -> Iterator[Finding]:
    last = (
        select(t.history.c.roid, func.max(t.history.c.at).label("at"))
        .group_by(t.history.c.roid)
        .subquery()
    )
    for table, label, what in (
        (t.domains, t.domains.c.name, "domain"),
        (t.hosts, t.hosts.c.name, "host"),
        (t.contacts, t.contacts.c.handle, "contact"),
    ):
        changed = func.coalesce(table.c.deleted_at, table.c.updated_at, table.c.created_at)
        stamps = [
            table.c.created_at,
            table.c.updated_at,
            table.c.transferred_at,
            table.c.deleted_at,
        ]
        rows = conn.execute(
            select(label, last.c.at, *stamps)
            .outerjoin(last, last.c.roid == table.c.roid)
            .where(or_(last.c.at.is_(None), last.c.at < changed))
        )
        for row in rows:
            name, at = row[0], row[1]
            if at is None:
                yield Finding("history-complete", f"{what} {name} has no history row")
                continue
            latest = max(s for s in row[2:] if s is not None)
            yield Finding(
                "history-complete",
                f"{what} {name} changed at {latest:%Y-%m-%d %H:%M:%S}, its last history row is at {at:%Y-%m-%d %H:%M:%S}",
            )


def _delegations(conn: Connection) -> Iterator[Finding]:
    from domreg.dns import delegation

    for name in delegation.stale(conn):
        yield Finding(
            "delegation-current", f"domain {name}: its stored zone lines are not its rows'"
        )


RULES: dict[str, Rule] = {
    "live-names-unique": _unique_live_names,
    "links-live": _links,
    "statuses-allowed": _statuses,
    "ledger-balances": _ledger,
    "history-complete": _history,
    "delegation-current": _delegations,
}


def check(db: Database) -> list[Finding]:
    """Every finding of every rule, read in one snapshot."""
    from domreg.escrow.source import snapshot

    findings: list[Finding] = []
    with snapshot(db) as conn:
        for rule in RULES.values():
            per: dict[str, int] = defaultdict(int)
            for finding in rule(conn):
                per[finding.rule] += 1
                if per[finding.rule] <= LIMIT:
                    findings.append(finding)
            for name, n in per.items():
                if n > LIMIT:
                    findings.append(Finding(name, f"... and {n - LIMIT} more"))
    return findings
