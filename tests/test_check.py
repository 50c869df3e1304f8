"""`domreg check`, the consistency checker: a registry that went through every kind of command
is consistent; each rule, broken on purpose in the database, is reported precisely and makes
`domreg check` exit 1. Also `domreg backup` / `domreg restore` of the SQLite database."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select, text, update

from domreg.cli.main import main
from domreg.clock import FixedClock
from domreg.store import schema as t
from domreg.store.check import check
from tests import support
from tests.registry_data import login, populate


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2027, 4, 1, 8, 0, 0))


@pytest.fixture
async def populated(db, connect, clock):
    x = await connect()
    await login(x, "ClientX", support.PASSWORDS["ClientX"])
    y = await connect()
    await login(y, "ClientY", support.PASSWORDS["ClientY"])
    return await populate(x, y, clock)


def _rules(db) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for finding in check(db):
        out.setdefault(finding.rule, []).append(finding.message)
    return out


def _id(db, table, **where):
    with db.read() as conn:
        q = select(table.c.id)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return conn.execute(q).scalar_one()


async def test_a_registry_after_every_kind_of_command_is_consistent(
    db, populated, monkeypatch, capsys
):
    assert check(db) == []
    monkeypatch.setenv("DOMREG_DATABASE_URL", db.url)
    assert main(["check"]) == 0
    assert "consistent" in capsys.readouterr().out


async def test_two_live_domains_with_one_name_are_found(db, populated, monkeypatch, capsys):
    with db.write() as conn:
        conn.execute(text("DROP INDEX uq_domains_live_name"))
        row = conn.execute(select(t.domains).where(t.domains.c.name == "alpha.test")).one()
        values = {k: v for k, v in row._mapping.items() if k != "id"}
        # The copy has no nameserver links, so no delegation text.
        conn.execute(insert(t.domains).values({**values, "roid": "DUP-TEST", "delegation": None}))
        conn.execute(
            insert(t.history).values(
                svtrid="DUP",
                object_type="domain",
                roid="DUP-TEST",
                object_name="alpha.test",
                command="x",
                at=row.updated_at or row.created_at,
                snapshot="{}",
            )
        )
    try:
        assert _rules(db) == {"live-names-unique": ["2 live domain objects named alpha.test"]}
        monkeypatch.setenv("DOMREG_DATABASE_URL", db.url)
        assert main(["check"]) == 1
        out = capsys.readouterr()
        assert "live-names-unique: 2 live domain objects named alpha.test" in out.out
        assert "1 problem(s) found" in out.err
    finally:
        with db.write() as conn:
            conn.execute(delete(t.domains).where(t.domains.c.roid == "DUP-TEST"))
            index = next(i for i in t.domains.indexes if i.name == "uq_domains_live_name")
            index.create(conn)


async def test_links_to_deleted_objects_are_found(db, populated, clock):
    host = _id(db, t.hosts, name="ns1.example.org")
    contact = _id(db, t.contacts, handle="cx2")
    with db.write() as conn:
        conn.execute(update(t.hosts).where(t.hosts.c.id == host).values(deleted_at=clock.now()))
        conn.execute(
            update(t.contacts).where(t.contacts.c.id == contact).values(deleted_at=clock.now())
        )
        conn.execute(insert(t.statuses).values(roid="NOPE-TEST", status="clientHold"))
    found = _rules(db)
    assert sorted(found["links-live"]) == sorted(
        [
            "alpha.test has name server ns1.example.org, which is deleted",
            "alpha.test has contact admin cx2, which is deleted",
            "alpha.test has contact tech cx2, which is deleted",
            "beta.test has registrant cx2, which is deleted",
            "status clientHold belongs to NOPE-TEST, no live object",
        ]
    )


async def test_statuses_not_allowed_together_are_found(db, populated):
    with db.read() as conn:
        roid = conn.execute(
            select(t.domains.c.roid).where(t.domains.c.name == "alpha.test")
        ).scalar_one()
        host_roid = conn.execute(
            select(t.hosts.c.roid).where(t.hosts.c.name == "ns1.example.org")
        ).scalar_one()
    with db.write() as conn:
        for s in ("pendingDelete", "clientDeleteProhibited", "pendingRenew", "ok"):
            conn.execute(insert(t.statuses).values(roid=roid, status=s))
        conn.execute(insert(t.statuses).values(roid=host_roid, status="clientHold"))
    assert sorted(_rules(db)["statuses-allowed"]) == sorted(
        [
            "alpha.test has status ok stored; it is derived",
            "alpha.test has pendingDelete and pendingRenew together",
            "alpha.test has pendingDelete together with clientDeleteProhibited",
            "ns1.example.org has status clientHold, not a status of its kind",
        ]
    )


async def test_a_balance_that_is_not_its_ledger_sum_is_found(db, populated):
    with db.write() as conn:
        conn.execute(
            update(t.registrars)
            .where(t.registrars.c.clid == "ClientY")
            .values(balance=t.registrars.c.balance + 1)
        )
    [message] = _rules(db)["ledger-balances"]
    assert message.startswith("registrar ClientY has balance ") and "its ledger sums to" in message


async def test_a_stale_delegation_text_is_found(db, populated):
    """The zone lines kept with a domain (`domains.delegation`) that its rows do not give:
    changed, and missing."""
    with db.write() as conn:
        with_ns = conn.execute(
            select(t.domains.c.name)
            .where(t.domains.c.delegation.is_not(None))
            .order_by(t.domains.c.name)
            .limit(2)
        ).all()
        (one, two) = [r.name for r in with_ns]
        conn.execute(
            update(t.domains).where(t.domains.c.name == one).values(delegation="x. IN NS y.")
        )
        conn.execute(update(t.domains).where(t.domains.c.name == two).values(delegation=None))
    found = _rules(db)["delegation-current"]
    assert sorted(found) == sorted(
        f"domain {n}: its stored zone lines are not its rows'" for n in (one, two)
    )


async def test_a_change_without_its_history_row_is_found(db, populated, clock):
    with db.write() as conn:
        conn.execute(
            update(t.domains)
            .where(t.domains.c.name == "beta.test")
            .values(updated_at=clock.now() + timedelta(hours=1))
        )
        roid = conn.execute(
            select(t.contacts.c.roid).where(t.contacts.c.handle == "cy1")
        ).scalar_one()
        conn.execute(delete(t.history).where(t.history.c.roid == roid))
    found = _rules(db)["history-complete"]
    assert "contact cy1 has no history row" in found
    assert any(m.startswith("domain beta.test changed at ") for m in found)
    assert len(found) == 2


async def test_backup_while_serving_and_restore(
    db, populated, tmp_path, monkeypatch, capsys, database_url
):
    if not database_url.startswith("sqlite"):
        monkeypatch.setenv("DOMREG_DATABASE_URL", database_url)
        assert main(["backup", str(tmp_path / "b.db")]) == 1
        assert "pg_dump" in capsys.readouterr().err
        return
    monkeypatch.setenv("DOMREG_DATABASE_URL", database_url)
    # A reader holds a transaction open (as a serving registry does) while the backup runs.
    with db.read() as conn:
        conn.execute(select(t.domains.c.id)).all()
        assert main(["backup", str(tmp_path / "b.db")]) == 0
    assert main(["backup", str(tmp_path / "b.db")]) == 1  # never overwrites
    before = support.dump(db)
    with db.write() as conn:
        conn.execute(delete(t.history))
    assert support.dump(db) != before
    db.close()  # the server is stopped for a restore
    target = tmp_path / "restored.db"
    monkeypatch.setenv("DOMREG_DATABASE_URL", f"sqlite:///{target}")
    assert main(["restore", str(tmp_path / "b.db")]) == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM domains").fetchone()[0] == len(before["domains"])
        assert conn.execute("SELECT count(*) FROM history").fetchone()[0] == len(before["history"])
    (tmp_path / "junk").write_text("not a database")
    assert main(["restore", str(tmp_path / "junk")]) == 1
