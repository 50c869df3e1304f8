"""The zone lines kept in `domains.delegation` (dns/delegation.py) against independent
computations. After every EPP change of nameservers, DS data, host names (including a rename
from inside the zone to outside and back, and IDN names) and host addresses, statuses,
deletes and restores: every domain's stored text is what its rows give (`delegation.stale`
finds none), and the full build, which reads only that column, holds exactly the records
that `node_records` computes from the tables themselves for every name of the TLD. The
migration that added the column fills it for rows that were there before it."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from sqlalchemy import insert, select, update

from domreg.dns import delegation
from domreg.dns import zone as zb
from domreg.store import migrate
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.dnssupport import zone_lines
from tests.test_dns import (
    DIGEST,
    DIGEST2,
    REPORT,
    RGP,
    H,
    create,
    delete,
    host,
    ok,
    registrar,
    rename_host,
    update_ns,
    update_status,
    world,
)
from tests.test_ext_secdns import ds, secdns_update


def from_scratch(db: Database, tld: str = "test") -> set[str]:
    """The zone of `tld` from the tables, not from the column: the apex, and `node_records`
    of every domain and host name of the TLD."""
    with db.read() as conn:
        zs = zb.settings(conn, tld)
        names = [r.name for r in conn.execute(select(t.domains.c.name))]
        names += [r.name for r in conn.execute(select(t.hosts.c.name))]
        nodes = zb.node_records(conn, zs, names)
    text = f"$TTL {zs.ttl}\n" + "".join(zb.line(o, r) for o, r in zs.apex_records(7))
    text += "".join(zb.line(owner, rec) for owner, recs in nodes.items() for rec in recs)
    return zone_lines(text, tld)


def built(db: Database, tld: str = "test", **kwargs: int) -> set[str]:
    out = io.BytesIO()
    zb.write_zone(db, tld, out, serial=7, **kwargs)
    return zone_lines(out.getvalue().decode(), tld)


def check(db: Database) -> set[str]:
    """The stored texts are current, and the build from them is the zone from scratch (also
    over small ranges read by several connections)."""
    with db.read() as conn:
        assert delegation.stale(conn) == []
    zone = built(db)
    assert zone == from_scratch(db)
    assert built(db, workers=3, range_size=2) == zone
    return zone


def rename_with_addresses(name: str, new: str, add: str = "", rem: str = "") -> str:
    a = f'<host:add><host:addr ip="v4">{add}</host:addr></host:add>' if add else ""
    r = f'<host:rem><host:addr ip="v4">{rem}</host:addr></host:rem>' if rem else ""
    chg = f"<host:chg><host:name>{new}</host:name></host:chg>" if new else ""
    return (
        f"<update><host:update {H}><host:name>{name}</host:name>{a}{r}{chg}</host:update></update>"
    )


async def test_epp_changes_keep_the_column_equal_to_the_zone_from_scratch(connect, db):
    with db.write() as conn:  # deletes go into redemption, so they can be restored
        conn.execute(update(t.tlds).values(add_grace_days=0))
    client = await registrar(connect)
    await world(client)
    check(db)
    # IDN: bücher.test with its own in-bailiwick nameserver and an external one.
    await ok(client, create("xn--bcher-kva.test"))
    await ok(client, host("ns1.xn--bcher-kva.test", "192.0.2.20"))
    await ok(client, update_ns("xn--bcher-kva.test", add=("ns1.xn--bcher-kva.test",)))
    await ok(client, update_ns("xn--bcher-kva.test", add=("ns.example.org",)))
    for i in range(5):
        await ok(client, create(f"d{i}.test", "ns.example.org", "ns1.alpha.test"))
    zone = check(db)
    assert "ns1.xn--bcher-kva.test. 3600 IN A 192.0.2.20" in zone
    assert "d3.test. 3600 IN NS ns1.alpha.test." in zone
    # A shared external host renamed: the NS records of all its domains follow.
    await ok(client, rename_host("ns.example.org", "ns.example.info"))
    zone = check(db)
    assert "d3.test. 3600 IN NS ns.example.info." in zone
    assert not any("ns.example.org" in line for line in zone)
    # An in-bailiwick host renamed inside its domain, then out of the zone, then under
    # another domain that does not use it (no glue), which then uses it (glue).
    await ok(client, rename_host("ns1.alpha.test", "ns2.alpha.test"))
    zone = check(db)
    assert "ns2.alpha.test. 3600 IN AAAA 2001:db8::1" in zone
    await ok(
        client,
        f"<update><host:update {H}><host:name>ns2.alpha.test</host:name><host:rem>"
        '<host:addr ip="v4">192.0.2.1</host:addr><host:addr ip="v6">2001:db8::1</host:addr>'
        "</host:rem><host:chg><host:name>dns.example.edu</host:name></host:chg>"
        "</host:update></update>",
    )
    zone = check(db)
    assert "alpha.test. 3600 IN NS dns.example.edu." in zone
    assert not any(line.startswith("ns2.alpha.test.") for line in zone)
    await ok(client, rename_with_addresses("dns.example.edu", "ns.beta.test", add="192.0.2.30"))
    zone = check(db)
    assert "d1.test. 3600 IN NS ns.beta.test." in zone
    assert not any(line.startswith("ns.beta.test.") for line in zone)  # beta does not use it
    await ok(client, update_ns("beta.test", add=("ns.beta.test",)))
    assert "ns.beta.test. 3600 IN A 192.0.2.30" in check(db)
    # Addresses: added and removed on a glue host.
    await ok(client, rename_with_addresses("ns1.xn--bcher-kva.test", "", add="192.0.2.21"))
    await ok(client, rename_with_addresses("ns1.xn--bcher-kva.test", "", rem="192.0.2.20"))
    zone = check(db)
    assert "ns1.xn--bcher-kva.test. 3600 IN A 192.0.2.21" in zone
    assert "ns1.xn--bcher-kva.test. 3600 IN A 192.0.2.20" not in zone
    # DS: added, replaced; all nameservers removed from a domain with DS: nothing published.
    await ok(
        client,
        update_ns("alpha.test"),
        secdns_update(f"<secDNS:add>{ds(key_tag=1111, alg=13, digest=DIGEST2)}</secDNS:add>"),
    )
    await ok(
        client,
        update_ns("beta.test"),
        secdns_update(
            f"<secDNS:rem>{ds(key_tag=12345, alg=13, digest=DIGEST)}</secDNS:rem>"
            f"<secDNS:add>{ds(key_tag=54321, alg=13, digest=DIGEST2)}</secDNS:add>"
        ),
    )
    zone = check(db)
    assert f"alpha.test. 3600 IN DS 1111 13 2 {DIGEST2}" in zone
    assert f"beta.test. 3600 IN DS 54321 13 2 {DIGEST2}" in zone
    await ok(client, update_ns("d4.test", rem=("ns.example.info", "ns.beta.test")))
    await ok(
        client,
        update_ns("d4.test"),
        secdns_update(f"<secDNS:add>{ds(key_tag=4444, alg=13, digest=DIGEST)}</secDNS:add>"),
    )
    zone = check(db)
    assert not any(line.startswith("d4.test.") for line in zone)
    with db.read() as conn:
        stored = conn.execute(select(t.domains.c.delegation).where(t.domains.c.name == "d4.test"))
        assert stored.scalar_one() is None
    # Statuses and the lifecycle: held, deleted into redemption, restored.
    await ok(client, update_status("d1.test", add="clientHold"))
    await ok(client, delete("d2.test"), code=1001)
    zone = check(db)
    assert not any(line.startswith(("d1.test.", "d2.test.")) for line in zone)
    await ok(client, update_ns("d2.test"), RGP.format('<rgp:restore op="request"/>'))
    await ok(client, update_ns("d2.test"), RGP.format(REPORT))
    await ok(client, update_status("d1.test", rem="clientHold"))
    zone = check(db)
    assert {"d1.test. 3600 IN NS ns.example.info.", "d2.test. 3600 IN NS ns.example.info."} <= zone


def test_purge_takes_the_purged_domains_hosts_out_of_other_delegations(db):
    """A purge (end of redemption) purges the domain's subordinate hosts and their links:
    the domains that used them lose those NS records, in the column as in the tables."""
    from domreg.clock import Clock
    from domreg.flows import lifecycle
    from domreg.flows.base import Context, SvTrIds, registry_actor

    with db.write() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar_one()
        rar = conn.execute(select(t.registrars.c.id).limit(1)).scalar_one()
        now = Clock().now()
        ids = {}
        for name in ("p.test", "user.test"):
            ids[name] = conn.execute(
                insert(t.domains)
                .values(
                    roid=f"{name}-R",
                    name=name,
                    tld_id=tld_id,
                    registrar_id=rar,
                    creator_id=rar,
                    created_at=now,
                    expires_at=now,
                )
                .returning(t.domains.c.id)
            ).scalar_one()
        hid = conn.execute(
            insert(t.hosts)
            .values(
                roid="H-P",
                name="ns.p.test",
                registrar_id=rar,
                creator_id=rar,
                created_at=now,
                parent_domain_id=ids["p.test"],
            )
            .returning(t.hosts.c.id)
        ).scalar_one()
        conn.execute(
            insert(t.host_addresses).values(host_id=hid, address="192.0.2.9", version="v4")
        )
        conn.execute(
            insert(t.domain_hosts),
            [
                {"domain_id": ids["p.test"], "host_id": hid},
                {"domain_id": ids["user.test"], "host_id": hid},
            ],
        )
        delegation.refresh_all(conn)
    assert "user.test. 3600 IN NS ns.p.test." in check(db)
    with db.write() as conn:
        row = conn.execute(select(t.domains).where(t.domains.c.id == ids["p.test"])).one()
        ctx = Context(conn, Clock().now(), registry_actor("test"), None, SvTrIds("DRT").next())
        lifecycle.purge(ctx, row, "domain:purge")
    zone = check(db)
    assert not any("p.test" in line.split()[0] or "ns.p.test" in line for line in zone)
    with db.read() as conn:
        stored = conn.execute(
            select(t.domains.c.delegation).where(t.domains.c.id.in_(ids.values()))
        )
        assert [r.delegation for r in stored] == [None, None]


def test_migration_fills_the_column_for_existing_rows(database_url: str, tmp_path: Path):
    """Rows written at revision 0010 (no column) get their text at 0011: NS sorted, DS, and
    glue only for the domain's own subordinate nameservers (not a sibling's, not one it
    does not use); none for a domain without nameservers."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with support.fresh_database(backend, tmp_path) as url:
        db = Database(url, pool_size=1)
        try:
            cfg = migrate._config()
            with db.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "0010")
            support.setup_registry(db, tlds=("test",))
            with db.engine.begin() as conn:
                rar = "(SELECT min(id) FROM registrars)"
                for i, name in ((1, "a.test"), (2, "xn--bcher-kva.test"), (3, "b.test")):
                    conn.exec_driver_sql(
                        "INSERT INTO domains (id, roid, name, tld_id, registrar_id, creator_id, "
                        f"created_at, expires_at) SELECT {i}, 'R{i}', '{name}', id, {rar}, "
                        f"{rar}, '2026-01-01', '2027-01-01' FROM tlds WHERE name = 'test'"
                    )
                for i, name, parent in (
                    (1, "ns.example.org", "NULL"),
                    (2, "ns1.a.test", "1"),
                    (3, "ns2.a.test", "1"),
                ):
                    conn.exec_driver_sql(
                        "INSERT INTO hosts (id, roid, name, registrar_id, creator_id, "
                        f"created_at, parent_domain_id) VALUES ({i}, 'H{i}', '{name}', {rar}, "
                        f"{rar}, '2026-01-01', {parent})"
                    )
                conn.exec_driver_sql(
                    "INSERT INTO host_addresses (host_id, address, version) VALUES "
                    "(2, '2001:db8::1', 'v6'), (2, '192.0.2.1', 'v4'), (3, '192.0.2.2', 'v4')"
                )
                conn.exec_driver_sql(
                    "INSERT INTO domain_hosts (domain_id, host_id) VALUES (1, 2), (1, 1), "
                    "(2, 3), (2, 1)"
                )
                conn.exec_driver_sql(
                    "INSERT INTO domain_ds (domain_id, key_tag, alg, digest_type, digest) "
                    f"VALUES (1, 12345, 13, 2, '{DIGEST.lower()}'), (3, 1, 13, 2, '{DIGEST}')"
                )
            migrate.upgrade(db.engine)
            with db.read() as conn:
                rows = conn.execute(
                    select(t.domains.c.name, t.domains.c.delegation).order_by(t.domains.c.id)
                ).all()
                assert delegation.stale(conn) == []
        finally:
            db.close()
    assert [tuple(r) for r in rows] == [
        (
            "a.test",
            "a.test. IN NS ns.example.org.\na.test. IN NS ns1.a.test.\n"
            f"a.test. IN DS 12345 13 2 {DIGEST}\n"
            "ns1.a.test. IN A 192.0.2.1\nns1.a.test. IN AAAA 2001:db8::1",
        ),
        (
            "xn--bcher-kva.test",
            "xn--bcher-kva.test. IN NS ns.example.org.\nxn--bcher-kva.test. IN NS ns2.a.test.",
        ),
        ("b.test", None),
    ]
