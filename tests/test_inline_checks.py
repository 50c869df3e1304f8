"""SQLite: the plain domain:check run on the driver connection of `InlineChecks`
(`flows/inlinechecks.py`) gives the answers of the flow in a `Database.read` transaction.

A session whose registry has `inline_checks` and one without answer the same frames
byte-identically (apart from the svTRID), on the registry of `test_loopreads.populated`
(every kind of domain state), for the sponsor and other registrars, with and without the
extensions announced, one name or many, registered, deleted, purged, IDN, reserved, foreign
and invalid names. A check sees a create committed just before it; a check with an
extension takes the flow; a broken connection answers 2400 and the next check reconnects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from domreg.clock import FixedClock
from domreg.epp import namespaces as ns
from domreg.epp.session import Registry, Session
from domreg.flows.inlinechecks import InlineChecks
from domreg.store.db import Database
from tests import registry_data as rd
from tests import support
from tests.test_epp_fastpath import check_frame, info_frame
from tests.test_epp_fastpath_create import create_frame
from tests.test_loopreads import (
    INVALID,
    NAMES,
    START,
    InProcess,
    Pair,
    check_frames,
    populated,
)

pytestmark = pytest.mark.skipif(
    "sqlite" not in support.backends(), reason="inline checks are SQLite's"
)


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with support.fresh_database("sqlite", tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest_asyncio.fixture
async def world(sqlite_url: str) -> AsyncIterator[dict[str, Any]]:
    """The populated registry, a registry with inline checks and one without."""
    db = Database(sqlite_url, pool_size=4)
    clock = FixedClock(START)
    general = Registry(db, clock=clock)
    await populated(general, clock)
    checks = InlineChecks(db)
    try:
        yield {
            "checks": checks,
            # one svTRID generator: the two registries write history rows to one table
            "inline": Registry(db, clock=clock, inline_checks=checks, svtrids=general.svtrids),
            "general": general,
        }
    finally:
        checks.close()
        db.close()


@pytest.mark.parametrize("extensions", [(), tuple(ns.EXTENSIONS)], ids=["bare", "extensions"])
async def test_answers_are_the_flows_for_every_registrar_and_name(
    world: dict[str, Any], extensions: tuple[str, ...]
) -> None:
    checks: InlineChecks = world["checks"]
    for clid in ("ClientX", "ClientY", "ClientZ"):
        pair = Pair(world["inline"], world["general"])
        await pair.login(clid, extensions)
        for data in check_frames():
            assert b'code="1000"' in await pair.send(data)
        every = await pair.send(check_frame(NAMES + INVALID))
        assert b'<domain:name avail="0">alpha.test</domain:name>' in every
        assert b'<domain:name avail="1">nobody.test</domain:name>' in every
        assert b'<domain:name avail="1">gamma.test</domain:name>' in every  # purged
        assert b"<domain:reason>Reserved</domain:reason>" in every
        assert b"<domain:reason>Not under a TLD served here</domain:reason>" in every
    assert checks._conn is not None  # the checks ran on the checker's connection


async def test_a_check_sees_a_create_committed_just_before_it(world: dict[str, Any]) -> None:
    pair = Pair(world["inline"], world["general"])
    await pair.login("ClientX")
    assert b'<domain:name avail="1">fresh.test</domain:name>' in await pair.send(
        check_frame(["fresh.test"])
    )
    await rd.ok(InProcess(pair.general), rd.domain("fresh.test"))
    for names in (["fresh.test"], ["other.test", "fresh.test"]):
        answer = await pair.send(check_frame(names))
        assert b'<domain:name avail="0">fresh.test</domain:name>' in answer


async def test_a_check_with_an_extension_takes_the_flow(world: dict[str, Any]) -> None:
    checks: InlineChecks = world["checks"]
    pair = Pair(world["inline"], world["general"])
    await pair.login("ClientX", tuple(ns.EXTENSIONS))
    checks.close()
    fee = (
        '<extension><fee:check xmlns:fee="urn:ietf:params:xml:ns:epp:fee-1.0">'
        "<fee:currency>USD</fee:currency>"
        '<fee:command name="create"><fee:period unit="y">1</fee:period></fee:command>'
        "</fee:check></extension>"
    )
    frame = check_frame(["alpha.test", "nobody.test"], "FEE-1").replace(
        b"</check>", b"</check>" + fee.encode()
    )
    answer = await pair.send(frame)
    assert b'code="1000"' in answer and b"<fee:cd" in answer
    assert checks._conn is None  # never opened: the flow answered


async def test_a_broken_connection_answers_2400_and_the_next_check_reconnects(
    world: dict[str, Any],
) -> None:
    checks: InlineChecks = world["checks"]
    session = Session(world["inline"], "127.0.0.1", None)
    assert (await InProcess(session).login("ClientX", support.PASSWORDS["ClientX"])).code == 1000
    assert b'code="1000"' in (await session.handle(check_frame(["alpha.test"])))[0]
    checks._conn.close()  # as if the database went away under the checker
    broken = (await session.handle(check_frame(["alpha.test"])))[0]
    assert b'code="2400"' in broken and b"Traceback" not in broken
    again = (await session.handle(check_frame(["alpha.test", "nobody.test"])))[0]
    assert b'<domain:name avail="0">alpha.test</domain:name>' in again
    assert b'<domain:name avail="1">nobody.test</domain:name>' in again


def test_postgresql_has_no_inline_checks() -> None:
    with pytest.raises(ValueError, match="SQLite"):
        InlineChecks(Database("postgresql://127.0.0.1/none"))


async def test_held_checks_share_a_snapshot_that_any_other_command_ends(
    world: dict[str, Any],
) -> None:
    """What `EppServer._answer_ready` relies on: between `hold` and `release` the checks read
    one snapshot, and a command that may write ends it, so a check after a create (the same
    session's pipelined frames, or another's) sees the name taken."""
    checks: InlineChecks = world["checks"]
    session = Session(world["inline"], "127.0.0.1", None)
    other = InProcess(Session(world["general"], "127.0.0.1", None))
    assert (await InProcess(session).login("ClientX", support.PASSWORDS["ClientX"])).code == 1000
    assert (await other.login("ClientY", support.PASSWORDS["ClientY"])).code == 1000
    free = b'<domain:name avail="1">held.test</domain:name>'
    taken = b'<domain:name avail="0">held.test</domain:name>'
    checks.hold()
    try:
        assert free in session.handle_now(check_frame(["held.test"]))[0]
        # Another connection's create commits while the snapshot is held: the held
        # checks (commands that arrived before it) still read the snapshot.
        await rd.ok(other, rd.domain("held.test"))
        assert free in session.handle_now(check_frame(["held.test", "nobody.test"]))[0]
        # Any other object command of a session ends the snapshot first: an info here.
        info = session.handle_now(info_frame("held.test"))[0]
        assert b'code="1000"' in info
        assert taken in session.handle_now(check_frame(["held.test"]))[0]
        # and a create's own session sees its create in the checks after it
        assert b'code="1000"' in session.handle_now(create_frame("held2.test"))[0]
        assert b'avail="0">held2.test<' in session.handle_now(check_frame(["held2.test"]))[0]
    finally:
        checks.release()
    assert not checks._open
    assert taken in session.handle_now(check_frame(["held.test"]))[0]
