"""The HTTP service: `domreg serve` answers on its HTTP port; /healthz reports the database."""

from __future__ import annotations

import httpx
import pytest

from domreg.clock import Clock
from domreg.config import Config
from domreg.http.app import HttpContext, HttpServer, build_app
from domreg.store.db import Database


@pytest.mark.asyncio
async def test_health_reports_database(db: Database) -> None:
    server = HttpServer(build_app(HttpContext(db=db, clock=Clock(), cfg=Config())))
    await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            r = await client.get("/healthz")
            assert r.status_code == 200
            assert r.json() == {"status": "ok"}
            assert (await client.get("/no-such-page")).status_code == 404
    finally:
        await server.close()
