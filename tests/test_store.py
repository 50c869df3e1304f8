"""The store: migrations produce exactly the declared schema, and the database itself keeps
live names unique (a purged name may be registered again); PostgreSQL autocommit between
transactions."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from domreg.clock import Clock
from domreg.store import migrate
from domreg.store import schema as t
from domreg.store.db import autocommit
from tests import support


def test_migrations_match_the_declared_schema(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert diff == []
    assert migrate.current_revision(db.engine) == migrate.head_revision()


def _domain(conn, name: str, deleted: bool = False) -> None:
    import secrets

    now = Clock().now()
    tld = conn.execute(t.tlds.select().where(t.tlds.c.name == "test")).one()
    reg = conn.execute(t.registrars.select().limit(1)).one()
    conn.execute(
        insert(t.domains).values(
            roid=f"D{secrets.token_hex(4)}-TEST",
            name=name,
            tld_id=tld.id,
            registrar_id=reg.id,
            creator_id=reg.id,
            created_at=now,
            expires_at=now,
            deleted_at=now if deleted else None,
        )
    )


def test_database_refuses_two_live_domains_with_one_name(db):
    with db.write() as conn:
        _domain(conn, "unique.test")
    with pytest.raises(IntegrityError), db.write() as conn:
        conn.execute(
            insert(t.domains).values(
                roid="Dsecond-TEST",
                name="unique.test",
                tld_id=conn.execute(t.tlds.select()).first().id,
                registrar_id=conn.execute(t.registrars.select()).first().id,
                creator_id=conn.execute(t.registrars.select()).first().id,
                created_at=Clock().now(),
                expires_at=Clock().now(),
            )
        )


def test_database_allows_a_live_name_beside_purged_ones(db):
    with db.write() as conn:
        _domain(conn, "reused.test", deleted=True)
        _domain(conn, "reused.test", deleted=True)
        _domain(conn, "reused.test")


def _names(db) -> list[str]:
    with db.read() as conn:
        return sorted(r.name for r in conn.execute(t.domains.select()))


@support.POSTGRESQL_ONLY  # SQLite runs a create in its transaction
def test_autocommit_commits_each_statement_and_a_write_block_after_it_is_one_transaction(db):
    """PostgreSQL: `autocommit` between transactions (each statement commits alone), not
    inside one; a write block that hands its connection back with it on leaves the next
    block one transaction, which an exception rolls back whole."""

    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.write() as conn:
        assert autocommit(conn)
        _domain(conn, "alone.test")  # committed as it ran
        raise Boom
    with pytest.raises(Boom), db.write() as conn:
        _domain(conn, "first.test")
        assert not autocommit(conn)  # a transaction is open: statements join it
        _domain(conn, "second.test")
        raise Boom
    with db.write() as conn:
        assert autocommit(conn)  # left on
    with pytest.raises(Boom), db.write() as conn:
        _domain(conn, "third.test")
        _domain(conn, "fourth.test")
        raise Boom
    assert _names(db) == ["alone.test"]
