"""The one ASGI application on the HTTP port, and how `domreg serve` runs it.

`build_app` assembles the routes of every HTTP surface (RDAP, public pages, console,
administration) from their own packages; each surface gets the same `HttpContext` (the
database, the clock, the configuration) and reads or writes only through flows and store
queries, like EPP. `HttpServer` runs the application with uvicorn (httptools, on the
worker's running uvloop) on a socket the worker binds itself, so that workers share the
port with SO_REUSEPORT and shutdown stays in `serve.py`'s hands. RDAP lookups the answer
cache holds are answered by the HTTP protocol without the ASGI round trip (`http/fast.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import domreg.web
from domreg import rdap
from domreg.clock import Clock
from domreg.config import Config
from domreg.http.fast import fast_protocol
from domreg.store.db import Database


@dataclass(frozen=True)
class HttpContext:
    """What every HTTP surface gets: the registry's database, clock and configuration."""

    db: Database
    clock: Clock
    cfg: Config


def build_app(ctx: HttpContext) -> Starlette:
    """The application; its `state.rdap` is the RDAP application (for `HttpServer`)."""
    rdap_app = rdap.RdapApp(ctx)
    routes: list[BaseRoute] = [Route("/healthz", _health(ctx), methods=["GET", "HEAD"])]
    routes += rdap.routes(rdap_app)  # RDAP under /rdap/
    routes += domreg.web.routes(ctx)  # public pages, registrar console, administration
    app = Starlette(routes=routes)
    app.state.rdap = rdap_app
    return app


def _health(ctx: HttpContext) -> Callable[[Request], Awaitable[Response]]:
    """`GET /healthz`: 200 when the database answers, 503 otherwise (for load balancers)."""

    async def health(request: Request) -> Response:
        try:
            await ctx.db.run(lambda: _ping(ctx.db))
        except Exception:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return health


def _ping(db: Database) -> None:
    with db.read() as conn:
        conn.exec_driver_sql("SELECT 1")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve.py` owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """An ASGI application served by uvicorn on a socket bound by this process; with `fast`
    (the default) and an application from `build_app`, RDAP's cached lookups are answered
    by the HTTP protocol itself (`http/fast.py`), everything else by the application."""

    def __init__(self, app: Starlette, fast: bool = True) -> None:
        self.app = app
        rdap_app = getattr(app.state, "rdap", None)
        self.http: type[asyncio.Protocol] | str = (
            fast_protocol(rdap_app) if fast and rdap_app is not None else "httptools"
        )
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self, host: str, port: int, reuse_port: bool = False) -> None:
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that name it, and
        # without it Nagle and delayed ACKs add ~40 ms to every response.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=self.http,
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            date_header=True,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Stop accepting, let requests in flight finish, close connections."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
