"""Nothing acknowledged is ever lost: `domreg serve` killed with SIGKILL at random points under
a load of creates, renews and updates, several times, on SQLite and PostgreSQL; after each
crash every command answered 1000 is in the history (by its svTRID), no command answered
with an error left anything, and the consistency checker finds nothing. A clean shutdown
(SIGTERM) lets a command in flight finish, answers it, commits it and exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from domreg.epp.client import EppClient, client_tls_context
from domreg.store import schema as t
from domreg.store.check import check
from domreg.store.db import Database
from tests import support
from tests.registry_data import renew, update

SESSIONS = 4
ROUNDS = 3


def _start(
    database_url: str, data_dir: Path, **settings: str
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`domreg serve` with one worker (the process we signal is the server itself)."""
    env = dict(os.environ)
    env.update(
        DOMREG_DATA_DIR=str(data_dir),
        DOMREG_DATABASE_URL=database_url,
        DOMREG_EPP_PORT=str(support.free_port()),
        DOMREG_HTTP_PORT=str(support.free_port()),
        DOMREG_WHOIS_PORT=str(support.free_port()),
        DOMREG_WORKERS="1",
        DOMREG_LOG_LEVEL="WARNING",
        DOMREG_JOBS_INTERVAL="0",
        **{f"DOMREG_{k.upper()}": v for k, v in settings.items()},
    )
    cli = [sys.executable, "-m", "domreg"]
    subprocess.run([*cli, "init"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [*cli, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    port = int(env["DOMREG_EPP_PORT"])
    import socket

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, env
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("domreg serve did not start") from None
            time.sleep(0.05)


@dataclass
class Sent:
    kind: str
    name: str
    code: int | None  # None: no answer (the server died)
    svtrid: str | None


async def _load(
    port: int, tls, session: int, round_: int, log: list[Sent], known: dict[str, str]
) -> None:
    """Creates, renews and updates until the connection dies."""
    client = None
    rng = random.Random(session * 100 + round_)
    try:
        client = await EppClient.connect("127.0.0.1", port, tls)
        assert (await client.login("ClientX", support.PASSWORDS["ClientX"])).code == 1000
        n = 0
        while True:
            n += 1
            choice = rng.random()
            mine = [name for name in known if name.startswith(f"s{session}-")]
            if n % 4 == 3 and mine:
                # A name the session holds: an error (2302) that must leave nothing.
                name, kind, body = mine[0], "create", None
            elif choice < 0.5 or not mine:
                name, kind, body = f"s{session}-r{round_}-{n}.test", "create", None
            elif choice < 0.75:
                name = rng.choice(mine)
                kind, body = "renew", renew(name, known[name], 1)
            else:
                name = rng.choice(mine)
                kind = "update"
                s = "clientHold" if rng.random() < 0.5 else "clientRenewProhibited"
                body = update(name, f'<domain:add><domain:status s="{s}"/></domain:add>')
            entry = Sent(kind, name, None, None)
            log.append(entry)
            reply = await (client.domain_create(name) if body is None else client.command(body))
            entry.code, entry.svtrid = reply.code, reply.findtext(".//epp:svTRID")
            ex = reply.findtext(".//domain:exDate")
            if reply.code == 1000 and ex:
                known[name] = ex[:10]
    except (ConnectionError, OSError, asyncio.IncompleteReadError, EOFError, ValueError):
        return
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


def _verify(url: str, log: list[Sent]) -> None:
    db = Database(url, pool_size=1)
    try:
        with db.read() as conn:
            recorded = {r.svtrid for r in conn.execute(select(t.history.c.svtrid))}
            live = {
                r.name
                for r in conn.execute(
                    select(t.domains.c.name).where(t.domains.c.deleted_at.is_(None))
                )
            }
        acknowledged = [s for s in log if s.code == 1000]
        refused = [s for s in log if s.code is not None and s.code >= 2000]
        assert acknowledged, "the load made no progress before the kill"
        lost = [s for s in acknowledged if s.svtrid not in recorded]
        assert lost == [], f"acknowledged commands missing after the crash: {lost[:5]}"
        assert all(s.name in live for s in acknowledged if s.kind == "create")
        leaked = [s for s in refused if s.svtrid in recorded]
        assert leaked == [], f"refused commands left history rows: {leaked[:5]}"
        assert check(db) == []
    finally:
        db.close()


@pytest.mark.slow
async def test_sigkill_under_load_loses_no_acknowledged_command(db, database_url, tmp_path):
    log: list[Sent] = []
    known: dict[str, str] = {}
    rng = random.Random(7)
    for round_ in range(ROUNDS):
        proc, env = _start(database_url, tmp_path)
        tls = client_tls_context(ca_file=str(tmp_path / "tls" / "ca.crt"))
        port = int(env["DOMREG_EPP_PORT"])
        before = len(log)
        tasks = [
            asyncio.create_task(_load(port, tls, s, round_, log, known)) for s in range(SESSIONS)
        ]
        deadline = time.monotonic() + 60
        while sum(1 for e in log[before:] if e.code == 1000) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # let the sessions log in and get going (a busy machine)
        await asyncio.sleep(rng.uniform(0.1, 1.0))  # then a random point of the load
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
        _verify(database_url, log)
    assert sum(1 for s in log if s.code == 1000) > 20
    assert any(s.code is None for s in log), "no command was cut off by a kill"
    assert any(s.code == 2302 for s in log)


async def test_sigterm_lets_a_command_in_flight_finish_and_exits_0(db, database_url, tmp_path):
    # Counters are flushed hourly here: what they hold afterwards was flushed at shutdown.
    proc, env = _start(database_url, tmp_path, metrics_flush_interval="3600")
    try:
        tls = client_tls_context(ca_file=str(tmp_path / "tls" / "ca.crt"))
        client = await EppClient.connect("127.0.0.1", int(env["DOMREG_EPP_PORT"]), tls)
        assert (await client.login("ClientX", support.PASSWORDS["ClientX"])).code == 1000
        idle = await EppClient.connect("127.0.0.1", int(env["DOMREG_EPP_PORT"]), tls)
        # Hold the database so the create stays in flight until we let it go.
        if database_url.startswith("sqlite"):
            blocker = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30)
            blocker.isolation_level = None
            blocker.execute("BEGIN IMMEDIATE")
        else:
            blocker = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"))
            blocker.execute("LOCK TABLE domains IN EXCLUSIVE MODE")
        pending = asyncio.create_task(client.domain_create("in-flight.test"))
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert proc.poll() is None  # waiting for the command in flight
        blocker.rollback() if not isinstance(blocker, sqlite3.Connection) else blocker.execute(
            "ROLLBACK"
        )
        blocker.close()
        reply = await asyncio.wait_for(pending, 20)
        assert reply.code == 1000
        assert proc.wait(20) == 0
        # New connections are refused; the idle session was closed.
        with pytest.raises(OSError):
            await EppClient.connect("127.0.0.1", int(env["DOMREG_EPP_PORT"]), tls)
        with pytest.raises(
            (ConnectionError, asyncio.IncompleteReadError, OSError, EOFError, ValueError)
        ):
            await idle.domain_check("x.test")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with db.read() as conn:
        names = {r.name for r in conn.execute(select(t.domains.c.name))}
        counted = {(r.service, r.name): r.count for r in conn.execute(select(t.service_counters))}
    assert "in-flight.test" in names
    assert counted[("epp", "domain:create")] == 1 and counted[("epp", "login")] == 1
