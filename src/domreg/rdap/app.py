"""RDAP over HTTP (RFC 7480): a plain ASGI application mounted at /rdap/ on the HTTP port.

Paths (RFC 9082): `help`, `domain/<name>`, `nameserver/<name>`, `entity/<handle>` (a
registrar, or a contact redacted for the viewer as in domain answers),
`domains?...`, `nameservers?...`, `entities?...`; GET and HEAD (TIG 1.8), OPTIONS for CORS
preflight. Every answer is `application/rdap+json` with `Access-Control-Allow-Origin: *`;
errors are RDAP error objects (400 bad input, 401 bad credentials, 404 no such object, 405
method, 422 unsupported search pattern, 429 rate limit with Retry-After, 501 unsupported
query such as `ip/` or `autnum/`), never HTML and never a stack trace. Answers carry an
ETag (over the body less its "last update of RDAP database" time, so that an unchanged
object keeps its tag) and honour If-None-Match; anonymous ones are `public`, authenticated
ones `private`.

Every answered query (200, 304, or 404: the object is not registered) counts once in
`domreg.metrics` (service "rdap", name the query kind: domain, nameserver, entity, help,
domains-search, nameservers-search, entities-search) for ICANN's monthly activity report;
refused queries (400, 401, 405, 422, 429, 501), CORS preflights and failures do not.

It is plain ASGI rather than Starlette routes: a lookup is a few dozen microseconds of
database and JSON work, and a router, request object and middleware would double it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
from starlette.routing import BaseRoute, Match

from domreg import metrics
from domreg.rdap import api, render
from domreg.rdap.api import RdapError
from domreg.rdap.auth import Authenticator, AuthError
from domreg.rdap.render import Links
from domreg.rdds import query
from domreg.rdds.cache import AnswerCache, Entry
from domreg.rdds.policy import ANONYMOUS, Viewer
from domreg.rdds.query import Version
from domreg.rdds.ratelimit import RateLimiter, retry_after

log = logging.getLogger("domreg.rdap")

PREFIX = "/rdap/"
MAX_QUERY_STRING = 2048
AUTH_FAILURE_COST = 10.0
_METHODS = (b"allow", b"GET, HEAD, OPTIONS")
_CORS = (b"access-control-allow-origin", b"*")
_VARY = (b"vary", b"Authorization")
_TYPE = (b"content-type", render.MEDIA_TYPE.encode())
_UNSUPPORTED = {"ip", "autnum", "ips", "autnums", "reverse_search"}
_LOOKUPS = ("domain", "nameserver", "entity")
#: The metrics name each query kind (first path segment) is counted under.
_COUNTED = {
    "domain": "domain",
    "nameserver": "nameserver",
    "entity": "entity",
    "help": "help",
    "domains": "domains-search",
    "nameservers": "nameservers-search",
    "entities": "entities-search",
}
_ANSWERED = (200, 304, 404)

Headers = list[tuple[bytes, bytes]]
#: The scope key under which the fast path (`http/fast.py`) hands a request it could not
#: answer from the cache on, with the version it read after the request arrived (None if
#: the read failed: `__call__` reads it again).
VERSION = "domreg.rdds_version"


@dataclass(frozen=True, slots=True)
class Lookup:
    """An anonymous GET or HEAD lookup (`RdapApp.lookup`): its scope, method, cache key
    and request headers."""

    scope: dict[str, Any]
    method: str
    key: tuple[str, str, None, Links]
    headers: dict[bytes, bytes]


def _refusal(exc: RdapError) -> tuple[int, bytes, Headers]:
    headers: Headers = []
    if exc.status == 405:
        headers.append(_METHODS)
    elif exc.status == 401:
        headers.append((b"www-authenticate", b'Basic realm="rdap", charset="UTF-8"'))
    return exc.status, orjson.dumps(exc.body()), headers


def _subject(kind: str, rest: str, scope: dict[str, Any]) -> str | None:
    """The name a query is about, for its TLD (`metrics.tld_of`): the domain or name server
    looked up, or a domain or name server search's `name` pattern; None for the rest."""
    if kind in ("domain", "nameserver"):
        return rest
    if kind in ("domains", "nameservers"):
        for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if key == "name":
                return value
    return None


class RdapApp:
    """The ASGI application; `ctx` is the HTTP service's `HttpContext`."""

    def __init__(self, ctx: Any) -> None:
        self.db = ctx.db
        self.clock = ctx.clock
        cfg = ctx.cfg
        self.base_url: str = cfg.rdap_base_url
        self.tos_url: str = cfg.rdap_tos_url
        self.search_limit = max(1, cfg.rdap_search_limit)
        self.max_age = max(0, cfg.rdap_max_age)
        self._public = b"public, max-age=%d" % self.max_age if self.max_age else b"public, no-cache"
        self.limiter = RateLimiter(cfg.rdap_rate_limit, cfg.rdap_rate_burst)
        self.auth = Authenticator(ctx.db, cfg.rdap_auth_cache_seconds)
        self.cache = AnswerCache()
        self.versions = query.DataVersion(ctx.db)
        self._links_seen: dict[tuple[bytes, str, bytes], Links] = {}
        self._last_stamp: tuple[datetime | None, bytes] = (None, b"")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        try:
            status, body, headers = await self._answer(scope, method)
        except RdapError as exc:
            status, body, headers = _refusal(exc)
        except Exception:
            log.exception("RDAP request %s %s failed", method, scope.get("path"))
            err = RdapError(500, "the server could not answer; the error is logged")
            status, body, headers = 500, orjson.dumps(err.body()), []
        status, headers, body = self._complete(scope, method, status, body, headers)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _complete(
        self,
        scope: dict[str, Any],
        method: str,
        status: int,
        body: bytes,
        headers: Headers,
        now: datetime | None = None,
    ) -> tuple[int, Headers, bytes]:
        """Count an answered query (at `now`, default the clock's); the status, every header
        of the answer, and the bytes to send after them (none for HEAD, 204 and 304)."""
        if status in _ANSWERED:  # one dict increment per answered query (the activity report)
            kind, _, rest = scope["path"][len(PREFIX) :].partition("/")
            counted = _COUNTED.get(kind)
            if counted is not None:
                when = self.clock.now() if now is None else now
                metrics.count(metrics.RDAP, counted, when, _subject(kind, rest, scope))
        headers.append(_CORS)
        if status == 204:
            return 204, headers, b""
        headers.append(_TYPE)
        if status != 304:
            headers.append((b"content-length", str(len(body)).encode()))
        return status, headers, b"" if method == "HEAD" or status == 304 else body

    def lookup(self, scope: dict[str, Any]) -> Lookup | None:
        """The fast path's first step (`http/fast.py`): if `scope` is an anonymous GET or
        HEAD lookup (`domain/`, `nameserver/`, `entity/` and a name) without a body, what
        `cached` needs to answer it; else None (the request goes through `__call__`). No
        side effect."""
        method: str = scope["method"]
        full_path: str = scope["path"]
        if (method != "GET" and method != "HEAD") or not full_path.startswith(PREFIX):
            return None
        path = full_path[len(PREFIX) :]
        kind, _, rest = path.partition("/")
        if (
            kind not in _LOOKUPS
            or not rest
            or "/" in rest
            or len(path) > 2 * api.MAX_QUERY
            or len(scope.get("query_string", b"")) > MAX_QUERY_STRING
        ):
            return None
        raw_headers = dict(scope["headers"])
        if (
            b"authorization" in raw_headers  # may see more: never from the anonymous entries
            or b"content-length" in raw_headers  # a body: left to the ASGI path
            or b"transfer-encoding" in raw_headers
        ):
            return None
        links = self._links(scope, raw_headers, path)
        return Lookup(scope, method, (kind, rest, None, links), raw_headers)

    def cached(self, lookup: Lookup, token: Version) -> tuple[int, Headers, bytes] | None:
        """The fast path's second step, with `token` read after the request arrived: the
        answer as `__call__` would give it (status, headers, bytes after them) if the cache
        holds one under `token` (or a 429 if the client is over its rate), with the same
        side effects (rate limit, query counts); else None, with none (`__call__` answers,
        and counts the cache miss)."""
        now = self.clock.now()
        entry = self.cache.find(token, lookup.key, now)
        if entry is None:
            return None
        self.cache.hits += 1
        scope = lookup.scope
        client = scope.get("client")
        wait = self.limiter.take(client[0] if client else "-")
        if wait:
            status, body, headers = self._too_many(wait)
        else:
            body = entry.body.replace(entry.stamp, self._stamp(now))
            status, headers = self._conditional(ANONYMOUS, entry.etag, lookup.headers)
        return self._complete(scope, lookup.method, status, body, headers, now)

    def _links(self, scope: dict[str, Any], headers: dict[bytes, bytes], path: str) -> Links:
        host = headers.get(b"host", b"localhost")
        qs: bytes = scope.get("query_string", b"")
        key = (host, path, qs)
        links = self._links_seen.get(key)
        if links is None:
            base = self.base_url
            if not base:
                base = f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}{PREFIX}"
            value = base + quote(path, safe="/:@!$&'()*+,;=-._~")
            if qs:
                value += "?" + qs.decode("latin-1")
            links = Links(base=base, value=value, tos=self.tos_url or base + "help")
            if len(self._links_seen) > 10_000:
                self._links_seen.clear()
            self._links_seen[key] = links
        return links

    def _stamp(self, now: datetime) -> bytes:
        """The "last update of RDAP database" event of `now` as it is in a body (per second)."""
        second = now.replace(microsecond=0)
        if self._last_stamp[0] != second:
            self._last_stamp = (
                second,
                b'"eventAction":"last update of RDAP database","eventDate":"%s"'
                % render.rfc3339(second).encode(),
            )
        return self._last_stamp[1]

    async def _answer(self, scope: dict[str, Any], method: str) -> tuple[int, bytes, Headers]:
        if method not in ("GET", "HEAD", "OPTIONS"):
            raise RdapError(405, f"method {method} is not allowed; use GET or HEAD")
        raw_headers = dict(scope["headers"])
        client = scope.get("client")
        ip = client[0] if client else "-"
        wait = self.limiter.take(ip)
        if wait:
            return self._too_many(wait)
        if method == "OPTIONS":
            return (
                204,
                b"",
                [
                    _METHODS,
                    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
                    (b"access-control-allow-headers", b"Authorization, Accept, If-None-Match"),
                ],
            )
        full_path: str = scope["path"]
        if not full_path.startswith(PREFIX):
            raise RdapError(400, "RDAP queries are under /rdap/")
        path = full_path[len(PREFIX) :]
        query_string: bytes = scope.get("query_string", b"")
        if len(query_string) > MAX_QUERY_STRING or len(path) > 2 * api.MAX_QUERY:
            raise RdapError(400, "query too long")
        viewer = ANONYMOUS
        authorization = raw_headers.get(b"authorization")
        if authorization is not None:
            try:
                viewer = await self.auth.viewer(authorization.decode("latin-1"))
            except AuthError as exc:
                self.limiter.take(ip, AUTH_FAILURE_COST - 1)  # a failure costs more
                raise RdapError(401, str(exc)) from None
        links = self._links(scope, raw_headers, path)
        now = self.clock.now()
        body, etag = await self._respond(path, query_string, viewer, links, now, scope.get(VERSION))
        status, headers = self._conditional(viewer, etag, raw_headers)
        return status, b"" if status == 304 else body, headers

    def _conditional(
        self, viewer: Viewer, etag: bytes, raw_headers: dict[bytes, bytes]
    ) -> tuple[int, Headers]:
        """200 or, if the request's If-None-Match has `etag`, 304; the caching headers."""
        if viewer.registrar_id is None:
            headers: Headers = [(b"cache-control", self._public), (b"etag", etag), _VARY]
        else:
            headers = [(b"cache-control", b"private, no-cache"), (b"etag", etag), _VARY]
        match = raw_headers.get(b"if-none-match")
        if match is not None and (match == etag or etag in [m.strip() for m in match.split(b",")]):
            return 304, headers
        return 200, headers

    def _too_many(self, wait: float) -> tuple[int, bytes, Headers]:
        seconds = retry_after(wait)
        err = RdapError(429, f"too many queries from this address; retry in {seconds} s")
        return 429, orjson.dumps(err.body()), [(b"retry-after", str(seconds).encode())]

    async def _respond(
        self,
        path: str,
        query_string: bytes,
        viewer: Viewer,
        links: Links,
        now: datetime,
        token: Version | None = None,
    ) -> tuple[bytes, bytes]:
        """The body and ETag of the answer to `path`; lookups go through the cache (under
        `token` if given: a version read after the request arrived, by the fast path)."""
        kind, _, rest = path.partition("/")
        stamp = self._stamp(now)
        if kind not in _LOOKUPS:
            answer = await self.db.run(
                lambda: self._other(kind, rest, query_string, viewer, links, now)
            )
            body = orjson.dumps(answer)
            return body, _etag(body, stamp)
        if not rest or "/" in rest:
            raise RdapError(400, f"a {kind} lookup is {kind}/<name>")
        key = (kind, rest, viewer.registrar_id, links)
        if token is None:  # before the data: what is read after is newer
            token = await self.versions.acurrent()
        entry = self.cache.get(token, key, now)
        if entry is not None:
            return entry.body.replace(entry.stamp, stamp), entry.etag

        def read() -> tuple[dict[str, Any], datetime | None]:
            with self.db.read() as conn:
                return self._lookup(conn, kind, rest, viewer, links, now)

        answer, valid_until = await self.db.run(read)
        body = orjson.dumps(answer)
        entry = Entry(body, stamp, _etag(body, stamp), valid_until)
        self.cache.put(token, key, entry)
        return body, entry.etag

    @staticmethod
    def _lookup(
        conn: Any, kind: str, rest: str, viewer: Viewer, links: Links, now: datetime
    ) -> tuple[dict[str, Any], datetime | None]:
        if kind == "domain":
            return api.domain_answer(conn, rest, viewer, now, links)
        if kind == "nameserver":
            return api.lookup_nameserver(conn, rest, now=now, links=links), None
        return api.lookup_entity(conn, rest, viewer, now=now, links=links), None

    def _other(
        self, kind: str, rest: str, query_string: bytes, viewer: Viewer, links: Links, now: datetime
    ) -> dict[str, Any]:
        if kind in ("domains", "nameservers", "entities"):
            if rest:
                raise RdapError(400, f"{kind} searches take a query string, not a path")
            try:
                pairs = parse_qsl(
                    query_string.decode("utf-8"), keep_blank_values=True, strict_parsing=False
                )
            except UnicodeDecodeError:
                raise RdapError(400, "the query string is not UTF-8") from None
            params = dict(pairs)
            if len(params) != len(pairs):
                raise RdapError(400, "a search member is given twice")
            with self.db.read() as conn:
                return api.search(
                    conn, kind, params, viewer, limit=self.search_limit, now=now, links=links
                )
        if kind == "help" and not rest:
            return api.help_answer(now=now, links=links)
        if kind in _UNSUPPORTED:
            raise RdapError(501, f"{kind} queries are not supported by a domain name registry")
        raise RdapError(400, f"unknown RDAP query {kind[:40]!r}; see {PREFIX}help")


def _etag(body: bytes, stamp: bytes) -> bytes:
    """A strong ETag over the body less its "last update of RDAP database" time."""
    digest = hashlib.blake2b(body.replace(stamp, b""), digest_size=12).hexdigest()
    return b'"' + digest.encode() + b'"'


class _RdapRoute(BaseRoute):
    """Every path under /rdap (whatever its characters) goes to the RDAP application: no
    Starlette redirect or plain-text 404 ever answers an RDAP query."""

    def __init__(self, app: RdapApp) -> None:
        self.app = app

    def matches(self, scope: MutableMapping[str, Any]) -> tuple[Match, dict[str, Any]]:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/rdap" or path.startswith(PREFIX)):
            return Match.FULL, {"endpoint": self.app}
        return Match.NONE, {}

    async def handle(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await self.app(dict(scope), receive, send)


def routes(app: RdapApp) -> list[BaseRoute]:
    """The routes `http/app.py`'s `build_app` adds: everything under /rdap, to `app`."""
    return [_RdapRoute(app)]
