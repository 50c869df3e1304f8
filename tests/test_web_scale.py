"""The console's domain list at 100,000 domains: pages render (first, deep keyset cursor,
filters) and the query plan walks the ix_domains_registrar_name index (no timing
assertions: speed is measured in bench/, plans are checked here)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from domreg.clock import Clock
from domreg.store import schema as t
from domreg.store.db import Database
from domreg.web.console import queries
from tests import web_support as ws

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
N = 100_000


def bulk_domains(db: Database, clid: str, n: int) -> None:
    """`n` domains, every tenth of them ClientY's and the rest `clid`'s."""
    rid = ws.registrar_id(db, clid)
    other = ws.registrar_id(db, "ClientY")
    now = Clock().now()
    with db.write() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar_one()
        rows = [
            {
                "roid": f"B{i:X}-TEST",
                "name": f"n{i:06d}.test",
                "tld_id": tld_id,
                "registrar_id": other if i % 10 == 9 else rid,
                "creator_id": rid,
                "created_at": now,
                "expires_at": now + timedelta(days=1 + i % 700),
            }
            for i in range(n)
        ]
        for start in range(0, n, 20_000):
            conn.execute(insert(t.domains), rows[start : start + 20_000])
    with db.engine.connect() as conn:  # fresh statistics for the planner
        conn.execute(text("ANALYZE"))
        conn.commit()


def plan(db: Database, stmt: object) -> str:
    with db.engine.connect() as conn:
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
        prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        return "\n".join(" ".join(str(c) for c in r) for r in conn.execute(text(prefix + sql)))


async def test_domain_list_at_100k_uses_the_index(db: Database) -> None:
    ws.add_users(db)
    bulk_domains(db, "ClientX", N)
    rid = ws.registrar_id(db, "ClientX")
    for f in [
        queries.DomainFilter(),
        queries.DomainFilter(after="n050000.test"),
        queries.DomainFilter(q="n0999", after="n099900.test"),
        queries.DomainFilter(status="ok", after="n070000.test"),
    ]:
        p = plan(db, queries.domains_statement(rid, f))
        # walked in name order on an index (the registrar's, or the live-name one where the
        # planner finds the registrar filter too unselective): no table scan, no sort
        assert "ix_domains_registrar_name" in p or "uq_domains_live_name" in p, f"{f}: {p}"
        assert "Seq Scan on domains" not in p and "SCAN domains\n" not in p + "\n", p
        assert "Sort" not in p and "TEMP B-TREE" not in p, p
    x = await ws.browser(ws.app(db), "x-user")
    first = await x.get("/console/domains")
    assert (
        first.status_code == 200
        and "n000000.test" in first.text
        and "after=n000054.test" in first.text
    )
    deep = await x.get("/console/domains", params={"after": "n099949.test"})
    assert "n099998.test" in deep.text and "n099999.test" not in deep.text  # ClientY's
    assert "Next page" not in deep.text
    filtered = await x.get(
        "/console/domains",
        params={"tld": "test", "status": "ok", "before": "2100-01-01", "after": "n060000.test"},
    )
    assert "n060001.test" in filtered.text
    dash = await x.get("/console")
    assert f'id="domain-count">{N - N // 10}<' in dash.text
    y = await ws.browser(ws.app(db), "y-user")
    theirs = await y.get("/console/domains")
    assert "n000009.test" in theirs.text and "n000000.test" not in theirs.text
