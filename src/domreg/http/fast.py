"""RDAP's fast path: cached lookups answered by the HTTP protocol, without the ASGI round trip.

uvicorn's httptools protocol parses each request into a scope and a request-response cycle,
then runs the ASGI application in a task of its own, which writes the status line and
headers, then the body, in two socket writes. For an RDAP lookup the cache can answer (the
common case) that is most of the server's work. `fast_protocol(rdap)` is that protocol,
except for an anonymous GET or HEAD lookup (`RdapApp.lookup`): it reads the version of the
registration data, and if the cache holds the answer under it (`RdapApp.cached`) writes the
whole response in one `transport.write`, as uvicorn's own `send` would have written it: the
same bytes and headers (the Date of uvicorn's default headers, `connection: close` when the
connection is not kept), and the same keep-alive, pipelining and shutdown behaviour.

- SQLite (`PRAGMA data_version`, no round trip): when nothing else runs on the connection,
  from `on_headers_complete`, with no cycle at all (`_ANSWERED` stands in for it); else
  where uvicorn would start the cycle's task (`_start_asgi_task`).
- PostgreSQL: where uvicorn would start the task, the cycle waits for the shared
  non-blocking version read (`DataVersion.request`) through a done-callback, no task; it
  is uvicorn's current cycle meanwhile, so later requests on the connection queue behind it
  in uvicorn's pipeline as behind a running task.

Everything else, a cache miss included (it carries the version read on,
`rdap.app.VERSION`), is run as uvicorn runs it; so is a request whose version read or
answer failed (the ASGI path reads the version again: on PostgreSQL a reconnect, on SQLite
a 500 if it fails again).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from domreg.rdap.app import VERSION, Lookup, RdapApp
from domreg.rdds.query import Version

log = logging.getLogger("domreg.rdap")


def fast_protocol(rdap: RdapApp) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol answering `rdap`'s cached lookups itself."""
    return type("RdapFastProtocol", (FastProtocol,), {"rdap": rdap})


class FastProtocol(HttpToolsProtocol):
    rdap: RdapApp
    #: Responses written by the fast path, on every connection (for tests and benchmarks).
    answered = 0

    def on_headers_complete(self) -> None:
        # SQLite (the version costs no round trip), nothing running on the connection: the
        # scope as uvicorn fills it, and if the cache has the answer, no cycle at all.
        cycle = self.cycle
        if (
            (cycle is None or cycle.response_complete)
            and self.rdap.versions.synchronous
            and self.limit_concurrency is None
            and not self.access_log
            and not self.flow.write_paused
            and not self.parser.should_upgrade()
        ):
            parser, scope = self.parser, self.scope
            http_version = parser.get_http_version()
            scope["method"] = parser.get_method().decode("ascii")
            if http_version != "1.1":
                scope["http_version"] = http_version
            parsed_url = httptools.parse_url(self.url)
            path = parsed_url.path.decode("ascii")
            if "%" in path:
                path = urllib.parse.unquote(path)
            scope["path"] = self.root_path + path
            scope["query_string"] = parsed_url.query or b""
            lookup = self.rdap.lookup(scope)  # type: ignore[arg-type]
            if lookup is not None:
                token = self._version()
                keep_alive = http_version != "1.0" and parser.should_keep_alive()
                if token is not None and self._write(lookup, token, keep_alive):
                    self.cycle = _ANSWERED  # type: ignore[assignment]
                    self.on_response_complete()
                    return
                scope[VERSION] = token  # type: ignore[literal-required]
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if (
            app is self.app
            and VERSION not in cycle.scope  # not one `on_headers_complete` hands on
            and not self.access_log
            and not self.flow.write_paused
        ):
            lookup = self.rdap.lookup(cycle.scope)  # type: ignore[arg-type]
            if lookup is not None:
                versions = self.rdap.versions
                if versions.synchronous:
                    token = self._version()
                    if token is None or not self._answer(cycle, lookup, token):
                        cycle.scope[VERSION] = token  # type: ignore[literal-required]
                        super()._start_asgi_task(cycle, app)
                    return
                versions.request().add_done_callback(
                    lambda read: self._version_read(read, cycle, lookup, app)
                )
                return
        super()._start_asgi_task(cycle, app)

    def _version_read(
        self, read: asyncio.Future[Version], cycle: RequestResponseCycle, lookup: Lookup, app: Any
    ) -> None:
        if cycle.disconnected:
            cycle.on_response = _nothing  # as uvicorn's task ends
            return
        if read.cancelled() or read.exception() is not None:
            super()._start_asgi_task(cycle, app)  # it reads again, and answers what it finds
            return
        token = read.result()
        if self.flow.write_paused or not self._answer(cycle, lookup, token):
            cycle.scope[VERSION] = token  # type: ignore[literal-required]
            super()._start_asgi_task(cycle, app)

    def _version(self) -> Version | None:
        """SQLite's version now, or None if it cannot be read (the ASGI path reads it
        again, and answers 500 if it fails again)."""
        try:
            return self.rdap.versions.current()
        except Exception:
            log.exception("RDAP fast path: the data version could not be read")
            return None

    def _answer(self, cycle: RequestResponseCycle, lookup: Lookup, token: Version) -> bool:
        """Write the cached answer and complete `cycle` as uvicorn's `send` does."""
        if not self._write(lookup, token, cycle.keep_alive):
            return False
        cycle.response_started = cycle.response_complete = True
        on_response, cycle.on_response = cycle.on_response, _nothing
        on_response()  # uvicorn's: the next pipelined request, or the keep-alive timer
        return True

    def _write(self, lookup: Lookup, token: Version, keep_alive: bool) -> bool:
        """Write the cached answer as uvicorn's `send` would (closing the connection after
        it unless `keep_alive`), if the cache has it."""
        try:
            answer = self.rdap.cached(lookup, token)
        except Exception:  # the ASGI path answers (with a 500 if it fails too)
            log.exception("RDAP fast path: %s failed", lookup.scope["path"])
            return False
        if answer is None:
            return False
        status, headers, body = answer
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content += (name, b": ", value, b"\r\n")
        for name, value in headers:
            content += (name, b": ", value, b"\r\n")
        if not keep_alive:
            content.append(b"connection: close\r\n")
        content += (b"\r\n", body)
        self.transport.write(b"".join(content))
        FastProtocol.answered += 1
        if not keep_alive:
            self.transport.close()
        return True


class _Answered:
    """The connection's `cycle` after the fast path answered a request without one: a
    completed response, as uvicorn's callbacks (`on_body`, `on_message_complete`,
    `connection_lost`, `shutdown`) expect."""

    response_complete = True
    disconnected = False
    keep_alive = True

    class message_event:  # an attribute: an object with set()
        @staticmethod
        def set() -> None:
            pass


_ANSWERED = _Answered()


def _nothing() -> None:
    pass
