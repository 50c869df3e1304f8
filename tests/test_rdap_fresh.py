"""What EPP and the flows change is in the very next RDAP answer (the answer cache never
serves what the database no longer holds), on each backend."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, select, text

from domreg import metrics
from domreg.clock import Clock
from domreg.flows import domain, host
from domreg.rdds import query
from domreg.store import schema as t
from domreg.store.db import Database
from tests import rdds_data
from tests.test_rdap import client_for


@pytest_asyncio.fixture
async def http(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    rdds_data.populate(db)
    async with client_for(db) as client:
        yield client


async def test_epp_changes_are_in_the_next_answer(
    http: httpx.AsyncClient, connect: Any, db: Database
) -> None:
    before = (await http.get("/rdap/domain/exam1.test")).json()
    assert [n["ldhName"] for n in before["nameservers"]] == ["ns2.dns.net"]
    client = await connect("ClientY")
    reply = await client.command(
        '<update><domain:update xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">'
        "<domain:name>exam1.test</domain:name><domain:add><domain:ns>"
        "<domain:hostObj>ns1.dns.net</domain:hostObj></domain:ns>"
        '<domain:status s="clientHold"/></domain:add></domain:update></update>'
    )
    assert reply.code == 1000, reply.raw
    after = (await http.get("/rdap/domain/exam1.test")).json()
    assert [n["ldhName"] for n in after["nameservers"]] == ["ns1.dns.net", "ns2.dns.net"]
    assert "client hold" in after["status"]
    # A host's new address shows in the domains that use it at once.
    reply = await client.command(
        '<update><host:update xmlns:host="urn:ietf:params:xml:ns:host-1.0">'
        "<host:name>ns2.dns.net</host:name><host:add>"
        '<host:addr ip="v4">192.0.2.99</host:addr></host:add></host:update></update>'
    )
    assert reply.code == 1000, reply.raw
    again = (await http.get("/rdap/domain/exam1.test")).json()
    assert "192.0.2.99" in again["nameservers"][1]["ipAddresses"]["v4"]


async def test_flow_deletes_are_in_the_next_answer(http: httpx.AsyncClient, db: Database) -> None:
    assert (await http.get("/rdap/domain/other.test")).status_code == 200
    y = rdds_data.actor(db, "ClientY")
    rdds_data.run(db, y, Clock().now(), domain.delete_, "other.test")
    r = await http.get("/rdap/domain/other.test")
    # Deleted inside its add grace period: purged at once, so no longer registered.
    assert r.status_code == 404
    rdds_data.run(
        db, y, Clock().now(), host.create, host.HostCreate("ns3.dns.net", (("192.0.2.3", "v4"),))
    )
    assert (await http.get("/rdap/nameserver/ns3.dns.net")).status_code == 200


def _add_address(conn: Any, host_name: str, address: str) -> None:
    host_id = conn.execute(select(t.hosts.c.id).where(t.hosts.c.name == host_name)).scalar_one()
    conn.execute(t.host_addresses.insert().values(host_id=host_id, address=address, version="v4"))


async def test_an_answer_read_while_a_write_is_uncommitted_is_not_served_after_it_commits(
    http: httpx.AsyncClient, db: Database
) -> None:
    """A writer changes the version before it commits (PostgreSQL's sequence is not
    transactional): an answer built in between, from the old rows, must not outlive the
    commit."""
    await http.get("/rdap/domain/exam1.test")
    writing = db.write()
    conn = writing.__enter__()
    try:
        _add_address(conn, "ns2.dns.net", "192.0.2.98")
        during = (await http.get("/rdap/domain/exam1.test")).json()
        assert "192.0.2.98" not in during["nameservers"][0]["ipAddresses"]["v4"]
        again = (await http.get("/rdap/domain/exam1.test")).json()  # from the cache
        assert again["nameservers"] == during["nameservers"]
    except BaseException as exc:
        writing.__exit__(type(exc), exc, exc.__traceback__)
        raise
    writing.__exit__(None, None, None)
    after = (await http.get("/rdap/domain/exam1.test")).json()
    assert "192.0.2.98" in after["nameservers"][0]["ipAddresses"]["v4"]


def test_the_version_changes_with_registration_data_only(db: Database) -> None:
    """PostgreSQL: writes to tables RDAP and WHOIS do not read (the query counters) leave the
    version as it was, so cached answers stay; SQLite's version is the whole file's."""
    rdds_data.populate(db)
    with db.read() as conn:
        first = query.version(conn)
    metrics.count(metrics.RDAP, "domain")
    metrics.flush(db)
    with db.read() as conn:
        unrelated = query.version(conn)
    assert unrelated.covers(first) is (not db.is_sqlite)
    with db.write() as conn:
        _add_address(conn, "ns1.dns.net", "192.0.2.97")
    with db.read() as conn:
        changed = query.version(conn)
    assert not changed.covers(first)
    assert not changed.covers(unrelated)


def test_a_writer_in_progress_is_in_the_version_until_it_ends(db: Database) -> None:
    rdds_data.populate(db)
    writing = db.write()
    conn = writing.__enter__()
    try:
        _add_address(conn, "ns1.dns.net", "192.0.2.96")
        with db.read() as reader:
            during = query.version(reader)
        with db.read() as reader:
            still = query.version(reader)
        assert still.covers(during)
    except BaseException as exc:
        writing.__exit__(type(exc), exc, exc.__traceback__)
        raise
    writing.__exit__(None, None, None)
    with db.read() as reader:
        after = query.version(reader)
    assert not after.covers(during)


def test_the_shared_version_reader_reads_under_each_event_loop_it_is_used_from(
    db: Database,
) -> None:
    """A reader used from one `asyncio.run` and then another (a closed loop behind it) reads
    again on a connection of the new loop, instead of waiting for ever on the old one."""
    versions = query.DataVersion(db)
    first = asyncio.run(versions.acurrent())
    second = asyncio.run(versions.acurrent())
    assert second.covers(first)
    asyncio.run(versions.aclose())


async def test_a_version_reader_dropped_without_closing_closes_its_connection(
    db: Database,
) -> None:
    """The event loop does not keep a dropped reader's connection open (it watches the
    socket through a weak reference): collected, the connection is closed."""
    versions = query.DataVersion(db)
    await versions.acurrent()
    conn = versions._conn
    if conn is None:  # SQLite: no connection of its own to close
        versions.close()
        return
    pid = conn.pgconn.backend_pid
    del versions, conn
    gc.collect()
    for _ in range(100):
        with db.read() as reader:
            alive = reader.execute(
                select(func.count())
                .select_from(text("pg_stat_activity"))
                .where(text("pid = :pid")),
                {"pid": pid},
            ).scalar()
        if not alive:
            break
        await asyncio.sleep(0.02)
    assert not alive


async def test_the_shared_version_reader_sees_a_writer_until_it_ends(db: Database) -> None:
    """`DataVersion.acurrent`, which RDAP and WHOIS ask before every answer, reads less when
    nothing changed; it still follows a writer from before its commit to after it."""
    rdds_data.populate(db)
    versions = query.DataVersion(db)
    try:
        quiet = await versions.acurrent()
        assert (await versions.acurrent()).covers(quiet)
        writing = db.write()
        conn = writing.__enter__()
        try:
            _add_address(conn, "ns1.dns.net", "192.0.2.95")
            during = await versions.acurrent()
            # SQLite's version changes at the commit; PostgreSQL's before it (the sequence),
            # with the writer then running.
            assert during.covers(quiet) is db.is_sqlite
            assert (await versions.acurrent()).covers(during)
        except BaseException as exc:
            writing.__exit__(type(exc), exc, exc.__traceback__)
            raise
        writing.__exit__(None, None, None)
        after = await versions.acurrent()
        assert not after.covers(during)
        assert (await versions.acurrent()).covers(after)
    finally:
        await versions.aclose()
