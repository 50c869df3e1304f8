"""Concurrent sessions against a multi-process `domreg serve`: the database, not the code,
guarantees that a live name is registered once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from domreg.epp.client import EppClient, client_tls_context
from domreg.store import schema as t
from tests.support import PASSWORDS, served

SESSIONS = 50


@pytest.mark.slow
async def test_50_parallel_creates_of_one_name_yield_one_success_and_49_object_exists(
    db, database_url, tmp_path
):
    with served(database_url, tmp_path, workers=2) as env:
        tls = client_tls_context(ca_file=str(tmp_path / "tls" / "ca.crt"))
        port = int(env["DOMREG_EPP_PORT"])
        clients = await asyncio.gather(
            *(EppClient.connect("127.0.0.1", port, tls) for _ in range(SESSIONS))
        )
        clids = list(PASSWORDS)
        logins = await asyncio.gather(
            *(c.login(clids[i % 3], PASSWORDS[clids[i % 3]]) for i, c in enumerate(clients))
        )
        assert {r.code for r in logins} == {1000}
        start = asyncio.Event()

        async def create(client: EppClient) -> int:
            await start.wait()
            return (await client.domain_create("contested.test")).code

        tasks = [asyncio.create_task(create(c)) for c in clients]
        await asyncio.sleep(0.1)
        start.set()
        codes = await asyncio.gather(*tasks)
        for c in clients:
            await c.close()
    assert sorted(codes).count(1000) == 1
    assert sorted(codes).count(2302) == SESSIONS - 1
    with db.read() as conn:
        live = conn.execute(
            select(func.count()).select_from(t.domains).where(t.domains.c.name == "contested.test")
        ).scalar_one()
        history = conn.execute(
            select(func.count())
            .select_from(t.history)
            .where(t.history.c.object_name == "contested.test")
        ).scalar_one()
    assert live == 1
    assert history == 1
