"""A domain's delegation text, kept in `domains.delegation`: the zone lines that go with it.

The text holds, one per line and joined by newlines (no newline at the end): the domain's NS
records (sorted by host name), its DS records from secDNS data (sorted), and its glue (A/AAAA
records of the hosts subordinate to it that are among its nameservers and live, sorted by
host name and address). Each line is `owner. IN TYPE rdata` without a TTL: the zone's `$TTL`
(the TLD's TTL, `dns/zone.py` writes it first) gives it, so the text does not depend on the
TLD's settings. A domain without nameservers has none (NULL): no delegation, no DS, no glue.

Whether a domain is published (live, not held or being deleted) is not part of the text: the
full build decides that from `deleted_at` and `statuses`, as before. So the column follows
only the tables it is made from (`domain_hosts`, `hosts` names, `host_addresses`,
`domain_ds`), and every writer of those tables refreshes it in its own transaction:

- domain create (rendered from what the create wrote), domain update of nameservers or DS
  data (`compute` before its UPDATE of the row);
- host update: a rename changes the NS lines of every domain linked to the host, and the
  glue; an address change the glue of its superordinate domain (`refresh_linked`);
- purge: the purged domain loses its links, and the domains that used its subordinate hosts
  lose those nameservers;
- escrow restore: each domain is inserted with its text, `render`ed from the deposit's
  name servers, DS data and host addresses (`escrow/restore.py`);
- the migration that added the column, and bulk loads (`refresh_all`).

Host create and delete change nothing here (a new host has no links; a linked host cannot be
deleted); nor do statuses, restores (redemption keeps the links) or transfers. `domreg
check` finds any domain whose text differs from what its rows give.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, text, update

from domreg.store import schema as t
from domreg.store.db import Query, fetch_all

#: Domain ids per statement when refreshing many.
BATCH = 10_000


def ds_rdata(key_tag: int, alg: int, digest_type: int, digest: str) -> str:
    return f"{key_tag} {alg} {digest_type} {digest.upper()}"


def render(
    name: str,
    hosts: Iterable[str],
    ds: Iterable[tuple[int, int, int, str]] = (),
    glue: Iterable[tuple[str, str, str]] = (),
) -> str | None:
    """The delegation text of domain `name`: nameserver host names, DS rows (key tag,
    algorithm, digest type, digest) and glue (host name, address, version "v4"/"v6")."""
    ns = sorted(set(hosts))
    if not ns:
        return None
    lines = [f"{name}. IN NS {h}." for h in ns]
    lines += [f"{name}. IN DS {ds_rdata(*r)}" for r in sorted(set(ds))]
    lines += [f"{h}. IN {'AAAA' if v == 'v6' else 'A'} {a}" for h, a, v in sorted(set(glue))]
    return "\n".join(lines)


def _rows(conn: Connection, where: Any) -> dict[int, tuple[str, str | None]]:
    d = t.domains
    q = select(d.c.id, d.c.name, d.c.delegation).where(where(d.c.id))
    return {r.id: (r.name, r.delegation) for r in conn.execute(q)}


def _ns(where: Any) -> Any:
    dh, h = t.domain_hosts, t.hosts
    return (
        select(dh.c.domain_id, h.c.name)
        .join(h, h.c.id == dh.c.host_id)
        .where(where(dh.c.domain_id))
    )


def _ds(where: Any) -> Any:
    ds = t.domain_ds
    return select(ds.c.domain_id, ds.c.key_tag, ds.c.alg, ds.c.digest_type, ds.c.digest).where(
        where(ds.c.domain_id)
    )


def _glue(where: Any) -> Any:
    """Addresses of live hosts subordinate to the domain that are among its nameservers."""
    dh, h, a = t.domain_hosts, t.hosts, t.host_addresses
    return (
        select(h.c.parent_domain_id.label("domain_id"), h.c.name, a.c.address, a.c.version)
        .select_from(
            h.join(dh, and_(dh.c.domain_id == h.c.parent_domain_id, dh.c.host_id == h.c.id)).join(
                a, a.c.host_id == h.c.id
            )
        )
        .where(h.c.deleted_at.is_(None), where(h.c.parent_domain_id))
    )


#: One domain's rows (`compute`, in domain updates): statements compiled once.
_ONE = tuple(Query(part(lambda c: c == bindparam("domain_id"))) for part in (_ns, _ds, _glue))


def _texts(
    names: dict[int, str], ns: Iterable[Any], ds: Iterable[Any], glue: Iterable[Any]
) -> dict[int, str | None]:
    hosts: dict[int, list[str]] = {}
    for r in ns:
        hosts.setdefault(r.domain_id, []).append(r.name)
    dsr: dict[int, list[tuple[int, int, int, str]]] = {}
    for d in ds:
        dsr.setdefault(d.domain_id, []).append((d.key_tag, d.alg, d.digest_type, d.digest))
    addresses: dict[int, list[tuple[str, str, str]]] = {}
    for g in glue:
        addresses.setdefault(g.domain_id, []).append((g.name, g.address, g.version))
    return {
        i: render(name, hosts.get(i, ()), dsr.get(i, ()), addresses.get(i, ()))
        for i, name in names.items()
    }


def _compute(conn: Connection, where: Any) -> dict[int, tuple[str, str | None, str | None]]:
    """(name, text from its rows, stored text) of each domain whose id satisfies
    `where(id column)`."""
    rows = _rows(conn, where)
    if not rows:
        return {}
    texts = _texts(
        {i: name for i, (name, _) in rows.items()},
        *(conn.execute(part(where)) for part in (_ns, _ds, _glue)),
    )
    return {i: (name, texts[i], stored) for i, (name, stored) in rows.items()}


def compute(conn: Connection, domain_id: int, name: str) -> str | None:
    """The delegation text of domain `name` (id `domain_id`) from its rows as they are now
    in `conn`."""
    # On PostgreSQL the three reads go out together (one round trip).
    parts = fetch_all(conn, [(q, {"domain_id": domain_id}) for q in _ONE])
    return _texts({domain_id: name}, *parts)[domain_id]


def _write(conn: Connection, changed: dict[int, str | None]) -> None:
    if not changed:
        return
    if conn.dialect.name == "postgresql":  # one statement per batch, not one per row
        conn.execute(
            text(
                "UPDATE domains SET delegation = v.t FROM (SELECT unnest(CAST(:ids AS bigint[]))"
                " AS id, unnest(CAST(:texts AS text[])) AS t) v WHERE domains.id = v.id"
            ),
            {"ids": list(changed), "texts": list(changed.values())},
        )
        return
    conn.execute(
        update(t.domains)
        .where(t.domains.c.id == bindparam("did"))
        .values(delegation=bindparam("text_")),
        [{"did": i, "text_": v} for i, v in changed.items()],
    )


def _refresh_where(conn: Connection, where: Any) -> int:
    found = _compute(conn, where)
    new = {k: v for k, (_, v, stored) in found.items() if v != stored}
    _write(conn, new)
    return len(new)


def refresh(conn: Connection, domain_ids: Iterable[int]) -> int:
    """Compute and store the text of these domains; returns how many changed."""
    ids = sorted(set(domain_ids))
    return sum(
        _refresh_where(conn, lambda c, chunk=ids[i : i + BATCH]: c.in_(chunk))
        for i in range(0, len(ids), BATCH)
    )


def linked_domain_ids(conn: Connection, host_id: int) -> list[int]:
    """Ids of the domains that have the host as a nameserver."""
    dh = t.domain_hosts
    return [
        r.domain_id for r in conn.execute(select(dh.c.domain_id).where(dh.c.host_id == host_id))
    ]


def refresh_linked(conn: Connection, host_id: int) -> int:
    """After a host's name or addresses changed: refresh every domain that uses it."""
    return refresh(conn, linked_domain_ids(conn, host_id))


def _id_ranges(conn: Connection, batch: int) -> list[tuple[int, int]]:
    d = t.domains
    low = conn.execute(select(d.c.id).order_by(d.c.id).limit(1)).scalar()
    high = conn.execute(select(d.c.id).order_by(d.c.id.desc()).limit(1)).scalar()
    if low is None or high is None:
        return []
    return [(a, a + batch - 1) for a in range(low, high + 1, batch)]


def refresh_all(conn: Connection, batch: int = BATCH) -> int:
    """Compute and store the text of every domain (by ranges of ids); returns how many
    changed. For the migration that added the column, escrow restore and bulk loads."""
    return sum(
        _refresh_where(conn, lambda c, a=a, b=b: c.between(a, b))
        for a, b in _id_ranges(conn, batch)
    )


def stale(conn: Connection, batch: int = BATCH) -> list[str]:
    """Names of domains whose stored text differs from what their rows give (`domreg
    check`)."""
    out: list[str] = []
    for a, b in _id_ranges(conn, batch):
        found = _compute(conn, lambda c, a=a, b=b: c.between(a, b))
        out += [name for name, v, stored in found.values() if v != stored]
    return sorted(out)
