"""RDAP over HTTP (RFC 7480, 9082, 9083) on each backend: lookups of every object class by
every name form, HEAD, searches and paging, every error path with its status and an RDAP
error body, ETag and Cache-Control, CORS, the per-IP rate limit, and that what EPP changes
is in the very next answer."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from domreg.clock import Clock
from domreg.config import Config
from domreg.http.app import HttpContext, build_app
from domreg.store.db import Database
from tests import rdds_data, support

RDAP = "application/rdap+json"


def client_for(db: Database, **settings: Any) -> httpx.AsyncClient:
    cfg = Config(**{"rdap_rate_limit": 0.0, **settings})
    app = build_app(HttpContext(db=db, clock=Clock(), cfg=cfg))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.77", 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://rdap.test")


pytestmark = pytest.mark.xdist_group("rdds")


@pytest.fixture(scope="module")
def data_db(shared_db: Database) -> Database:
    """The RDDS test data, created once for this module's tests (none of them writes)."""
    support.empty(shared_db)
    support.setup_registry(shared_db)
    rdds_data.populate(shared_db)
    return shared_db


@pytest_asyncio.fixture
async def http(data_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(data_db) as client:
        yield client


def basic(clid: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{clid}:{password}".encode()).decode()}


def assert_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == RDAP
    assert r.headers["access-control-allow-origin"] == "*"
    body = r.json()
    assert body["errorCode"] == status
    assert (
        body["title"]
        and body["description"]
        and all(isinstance(d, str) for d in body["description"])
    )
    assert "rdap_level_0" in body["rdapConformance"]
    return body


# ---------------------------------------------------------------- lookups


async def test_domain_lookup_answers_the_domain_object(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/domain/example.test")
    assert r.status_code == 200
    assert r.headers["content-type"] == RDAP
    assert r.headers["access-control-allow-origin"] == "*"
    d = r.json()
    assert d["objectClassName"] == "domain"
    assert d["ldhName"] == "example.test"
    assert d["handle"].endswith("-TEST")
    assert sorted(d["status"]) == ["add period", "client transfer prohibited"]
    actions = {e["eventAction"] for e in d["events"]}
    assert {"registration", "expiration", "last update of RDAP database"} <= actions
    assert [n["ldhName"] for n in d["nameservers"]] == ["ns1.dns.net", "ns2.dns.net"]
    assert d["nameservers"][0]["ipAddresses"] == {"v4": ["192.0.2.1"], "v6": ["2001:db8::1"]}
    assert d["secureDNS"]["delegationSigned"] is True
    assert d["secureDNS"]["dsData"][0]["keyTag"] == 12345
    registrar = next(e for e in d["entities"] if e["roles"] == ["registrar"])
    assert registrar["handle"] == "1234"
    assert d["links"][0]["href"] == "http://rdap.test/rdap/domain/example.test"


@pytest.mark.parametrize(
    "name", ["bücher.test", "xn--bcher-kva.test", "XN--BCHER-KVA.TEST", "Bücher.Test."]
)
async def test_idn_domain_found_by_a_label_and_u_label(http: httpx.AsyncClient, name: str) -> None:
    r = await http.get(f"/rdap/domain/{name}")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["ldhName"] == "xn--bcher-kva.test"
    assert d["unicodeName"] == "bücher.test"
    assert "inactive" in d["status"]  # no nameservers


async def test_nameserver_lookup(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/nameserver/NS1.dns.net")
    assert r.status_code == 200
    ns = r.json()
    assert ns["objectClassName"] == "nameserver"
    assert ns["ldhName"] == "ns1.dns.net"
    assert ns["ipAddresses"] == {"v4": ["192.0.2.1"], "v6": ["2001:db8::1"]}
    assert "associated" in ns["status"]
    assert ns["entities"][0]["roles"] == ["registrar"]
    assert ns["entities"][0]["handle"] == "not applicable"  # no IANA id (Profile 4.3)
    assert "publicIds" not in ns["entities"][0]


@pytest.mark.parametrize("handle", ["1234", "ClientX%20Inc.", "ClientX"])
async def test_registrar_entity_by_iana_id_name_or_client_id(
    http: httpx.AsyncClient, handle: str
) -> None:
    r = await http.get(f"/rdap/entity/{handle}")
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["objectClassName"] == "entity"
    assert e["handle"] == "1234"
    assert e["roles"] == ["registrar"]
    assert e["publicIds"] == [{"type": "IANA Registrar ID", "identifier": "1234"}]
    card = {p[0]: p for p in e["vcardArray"][1]}
    assert card["fn"][3] == "ClientX Inc."
    assert card["adr"][1] == {"cc": "US"}
    assert card["adr"][3][2:6] == [["1 Registrar Road", "Suite 2"], "Springfield", "IL", "62701"]
    assert card["email"][3] == "info@clientx.example"


async def test_help(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/help")
    assert r.status_code == 200
    body = r.json()
    assert "notices" in body and any(n["title"] == "Help" for n in body["notices"])
    assert any(link["rel"] == "help" for n in body["notices"] for link in n.get("links", []))


@pytest.mark.parametrize(
    "path",
    [
        "/rdap/domain/example.test",
        "/rdap/nameserver/ns1.dns.net",
        "/rdap/entity/1234",
        "/rdap/help",
    ],
)
async def test_head_answers_like_get_without_a_body(http: httpx.AsyncClient, path: str) -> None:
    get = await http.get(path)
    head = await http.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["access-control-allow-origin"] == "*"
    assert head.headers["content-type"] == RDAP
    assert head.headers["content-length"] == get.headers["content-length"]


async def test_head_of_a_missing_domain_is_404(http: httpx.AsyncClient) -> None:
    r = await http.head("/rdap/domain/nope.test")
    assert r.status_code == 404
    assert r.content == b""


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/rdap/domain/no-such-domain.test", 404),
        ("/rdap/domain/unserved.example", 404),
        ("/rdap/nameserver/ns9.dns.net", 404),
        ("/rdap/entity/999999", 404),
        ("/rdap/entity/Nobody", 404),
        ("/rdap/domain/-bad-.test", 400),
        ("/rdap/domain/xn--bcher-kva.bücher", 400),  # A-label and U-label mixed (TIG 3.1)
        ("/rdap/domain/" + "a" * 300 + ".test", 400),
        ("/rdap/domain/", 400),
        ("/rdap/domain/a/b", 400),
        ("/rdap/nosuchthing/x", 400),
        ("/rdap/ip/192.0.2.1", 501),
        ("/rdap/autnum/64496", 501),
        ("/rdap/domains", 400),
        ("/rdap/domains?color=blue", 400),
        ("/rdap/domains?name=a*b*.test", 422),
        ("/rdap/domains?name=*.test", 422),
        ("/rdap/domains?name=bü*.test", 422),
        ("/rdap/domains?nsIp=not-an-ip", 400),
        ("/rdap/domains?name=exam*.test&cursor=%%%", 400),
        ("/rdap/nameservers?ip=1.2.3", 400),
        ("/rdap/entities?fn=", 400),
    ],
)
async def test_errors_are_rdap_error_objects(
    http: httpx.AsyncClient, path: str, status: int
) -> None:
    assert_error(await http.get(path), status)


async def test_other_methods_get_405_with_allow(http: httpx.AsyncClient) -> None:
    r = await http.post("/rdap/domain/example.test", content=b"x")
    body = assert_error(r, 405)
    assert "GET" in r.headers["allow"]
    assert body["title"] == "Method Not Allowed"


async def test_cors_preflight(http: httpx.AsyncClient) -> None:
    r = await http.options("/rdap/domain/example.test")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]


# ---------------------------------------------------------------- searches and paging


async def test_domain_search_by_name_pattern(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/domains", params={"name": "exam*.test"})
    assert r.status_code == 200
    body = r.json()
    assert "paging" in body["rdapConformance"]
    names = [d["ldhName"] for d in body["domainSearchResults"]]
    assert names == ["exam1.test", "exam2.test", "exam3.test", "example.test"]
    # Results carry the same redaction as lookups.
    ex = body["domainSearchResults"][3]
    assert any(x["name"]["type"] == "Registrant Name" for x in ex["redacted"])


async def test_domain_search_by_u_label(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/domains", params={"name": "bücher.test"})
    assert [d["ldhName"] for d in r.json()["domainSearchResults"]] == ["xn--bcher-kva.test"]


async def test_domain_search_by_nameserver_name_and_ip(http: httpx.AsyncClient) -> None:
    by_name = await http.get("/rdap/domains", params={"nsLdhName": "ns1.dns.*"})
    assert [d["ldhName"] for d in by_name.json()["domainSearchResults"]] == ["example.test"]
    by_ip = await http.get("/rdap/domains", params={"nsIp": "192.0.2.2"})
    assert [d["ldhName"] for d in by_ip.json()["domainSearchResults"]] == [
        "exam1.test",
        "exam2.test",
        "exam3.test",
        "example.test",
    ]


async def test_nameserver_search_by_name_and_ip(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/nameservers", params={"name": "ns*.dns.net"})
    assert [n["ldhName"] for n in r.json()["nameserverSearchResults"]] == [
        "ns1.dns.net",
        "ns2.dns.net",
    ]
    r = await http.get("/rdap/nameservers", params={"ip": "2001:DB8:0::1"})
    assert [n["ldhName"] for n in r.json()["nameserverSearchResults"]] == ["ns1.dns.net"]


async def test_entity_search_by_fn_and_handle(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/entities", params={"fn": "Client*"})
    assert [e["vcardArray"][1][1][3] for e in r.json()["entitySearchResults"]] == [
        "ClientX Inc.",
        "ClientY Inc.",
        "ClientZ Inc.",
    ]
    r = await http.get("/rdap/entities", params={"handle": "1234"})
    assert [e["handle"] for e in r.json()["entitySearchResults"]] == ["1234"]
    r = await http.get("/rdap/entities", params={"handle": "ClientZ"})
    assert [e["handle"] for e in r.json()["entitySearchResults"]] == ["ClientZ"]


async def test_search_results_are_limited_and_paged_with_next_links(data_db: Database) -> None:
    async with client_for(data_db, rdap_search_limit=2) as http:
        seen: list[str] = []
        url: str | None = "/rdap/domains?name=ex*.test"
        pages = 0
        while url is not None:
            body = (await http.get(url)).json()
            page = [d["ldhName"] for d in body["domainSearchResults"]]
            assert len(page) <= 2
            seen += page
            pages += 1
            nxt = [
                link for link in body["paging_metadata"].get("links", []) if link["rel"] == "next"
            ]
            if nxt:
                assert any("truncated" in n.get("type", "") for n in body["notices"])
            url = nxt[0]["href"] if nxt else None
        assert seen == ["exam1.test", "exam2.test", "exam3.test", "example.test"]
        assert pages == 2


# ---------------------------------------------------------------- caching headers, rate limit


async def test_etag_and_if_none_match(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/domain/example.test")
    etag = r.headers["etag"]
    assert etag.startswith('"')
    assert "no-cache" in r.headers["cache-control"] and "public" in r.headers["cache-control"]
    again = await http.get("/rdap/domain/example.test", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = await http.get("/rdap/domain/exam1.test", headers={"If-None-Match": etag})
    assert other.status_code == 200


async def test_rate_limit_answers_429_with_retry_after(data_db: Database) -> None:
    async with client_for(data_db, rdap_rate_limit=1.0, rdap_rate_burst=3) as http:
        codes = [(await http.get("/rdap/domain/example.test")).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        r = await http.get("/rdap/domain/example.test")
        assert_error(r, 429)
        assert int(r.headers["retry-after"]) >= 1


async def test_rdap_never_writes(http: httpx.AsyncClient, data_db: Database) -> None:
    before = support.dump(data_db)
    for path in ("/rdap/domain/example.test", "/rdap/domains?name=ex*.test", "/rdap/entity/1234"):
        await http.get(path)
    assert support.dump(data_db) == before
