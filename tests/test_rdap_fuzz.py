"""Fuzzed RDAP requests (Hypothesis against the ASGI application): any path, query string,
method and header bytes get a documented answer (200, 204, 304, 400, 401, 404, 405, 422,
429 or 501), always as an RDAP JSON body (an object class, search results, help, or an
error object whose errorCode is the HTTP status) with CORS, and never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domreg.clock import Clock
from domreg.config import Config
from domreg.http.app import HttpContext, build_app
from domreg.store.db import Database
from tests import rdap_schema, rdds_data, support

pytestmark = pytest.mark.xdist_group("rdds")

DOCUMENTED = {200, 204, 304, 400, 401, 404, 405, 422, 429, 501}
SEGMENTS = [
    "domain",
    "nameserver",
    "entity",
    "domains",
    "nameservers",
    "entities",
    "help",
    "ip",
    "autnum",
    "",
]
NAMES = [
    "example.test",
    "bücher.test",
    "xn--bcher-kva.test",
    "ns1.dns.net",
    "1234",
    "exam*.test",
    "*",
    "..",
    "%00",
]
MEMBERS = ["name", "nsLdhName", "nsIp", "ip", "fn", "handle", "cursor", "x"]


@pytest.fixture(scope="module")
def app(shared_db: Database) -> Any:
    support.empty(shared_db)
    support.setup_registry(shared_db)
    rdds_data.populate(shared_db)
    cfg = Config(rdap_rate_limit=0.0)
    return build_app(HttpContext(db=shared_db, clock=Clock(), cfg=cfg))


async def call(
    app: Any, method: str, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[bytes, bytes], bytes]:
    from urllib.parse import unquote

    path = unquote(raw_path.decode("latin-1"), errors="replace")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"rdap.test"), *headers],
        "client": ("192.0.2.9", 1234),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), body


def check(
    status: int, headers: dict[bytes, bytes], body: bytes, method: str, rdap_path: bool
) -> None:
    assert status in DOCUMENTED, (status, body[:300])
    if not rdap_path:
        return  # outside /rdap/: the HTTP service's own 404s
    assert headers.get(b"access-control-allow-origin") == b"*"
    if status in (204, 304) or method == "HEAD":
        assert body == b""
        return
    assert headers[b"content-type"] == b"application/rdap+json"
    answer = orjson.loads(body)
    rdap_schema.validate(rdap_schema.kind_of(answer), answer)
    if status >= 400:
        assert answer["errorCode"] == status


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(
        ["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
    ),
    segment=st.sampled_from(SEGMENTS) | text,
    name=st.sampled_from(NAMES) | text | st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
    extra=st.sampled_from(["", "/", "/x", "//"]),
    params=st.lists(
        st.tuples(st.sampled_from(MEMBERS) | text, st.sampled_from(NAMES) | text), max_size=3
    ),
    raw_query=st.binary(max_size=40),
    header=st.sampled_from([None, b"Basic Q2xpZW50WDpmb28tQkFSMg==", b"Basic ???", b"Digest x"])
    | st.binary(max_size=20),
)
def test_fuzzed_requests_get_documented_answers(
    app: Any,
    method: str,
    segment: str,
    name: str,
    extra: str,
    params: list[tuple[str, str]],
    raw_query: bytes,
    header: bytes | None,
) -> None:
    from urllib.parse import quote, urlencode

    raw_path = (
        "/rdap/" + quote(segment, safe="") + ("/" + quote(name, safe="") if name else "") + extra
    ).encode()
    query = urlencode(params).encode() if params else raw_query
    headers = [] if header is None else [(b"authorization", header)]
    status, hdrs, body = asyncio.run(call(app, method, raw_path, query, headers))
    check(status, hdrs, body, method, rdap_path=True)
