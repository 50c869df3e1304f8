"""ICANN's gTLD RDAP profile (2024): every answer of every object class validates against the
project's JSON schemas (tests/rdap_schema.py), one test per requirement of the Response
Profile and the Technical Implementation Guide that applies to a registry, and the RDAP
cases of ICANN's Registry System Testing (../shared/reference/rst/rdap/cases.yaml)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest
import pytest_asyncio
from sqlalchemy import select

from domreg.flows import domain, lifecycle, registrar_data
from domreg.model import statuses as st
from domreg.rdap import render
from domreg.store import schema as t
from domreg.store.db import Database
from tests import rdap_schema, rdds_data, support
from tests.test_rdap import client_for

pytestmark = pytest.mark.xdist_group("rdds")


@pytest.fixture(scope="module")
def data_db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db)
    data = rdds_data.populate(shared_db)
    # exam3.test changed an hour after its creation (for the "last changed" event).
    rdds_data.run(
        shared_db,
        data.y,
        data.now + timedelta(hours=1),
        domain.update,
        domain.DomainUpdate("exam3.test", add_statuses=(("clientHold", None, None),)),
    )
    return shared_db


@pytest_asyncio.fixture
async def http(data_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(data_db) as client:
        yield client


async def get(http: httpx.AsyncClient, path: str, status: int = 200) -> dict[str, Any]:
    r = await http.get(path)
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    rdap_schema.validate(rdap_schema.kind_of(body), body)
    return body


def one(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


def event(obj: dict[str, Any], action: str) -> str | None:
    return next((e["eventDate"] for e in obj.get("events", []) if e["eventAction"] == action), None)


def row(db: Database, table: Any, **where: Any) -> Any:
    with db.read() as conn:
        return conn.execute(
            select(table).where(
                *(table.c[k] == v for k, v in where.items()), table.c.deleted_at.is_(None)
            )
        ).one()


# ---------------------------------------------------------------- schemas

PATHS = {
    "/rdap/domain/example.test": "domain",
    "/rdap/domain/bücher.test": "domain",
    "/rdap/domain/open.test": "domain",
    "/rdap/nameserver/ns1.dns.net": "nameserver",
    "/rdap/nameserver/ns1.bücher.test": "nameserver",
    "/rdap/entity/1234": "entity",
    "/rdap/entity/ClientZ": "entity",
    "/rdap/help": "help",
    "/rdap/domains?name=exam*.test": "domainSearchResults",
    "/rdap/nameservers?ip=192.0.2.1": "nameserverSearchResults",
    "/rdap/entities?fn=Client*": "entitySearchResults",
    "/rdap/domain/nothing.test": "error",
    "/rdap/domain/-x-.test": "error",
    "/rdap/domains?name=a*b*": "error",
    "/rdap/ip/192.0.2.1": "error",
}


@pytest.mark.parametrize(("path", "kind"), PATHS.items())
async def test_every_answer_validates_against_its_schema(
    http: httpx.AsyncClient, path: str, kind: str
) -> None:
    r = await http.get(path)
    body = r.json()
    assert rdap_schema.kind_of(body) == kind
    rdap_schema.validate(kind, body)


def test_the_schemas_reject_what_the_profile_forbids() -> None:
    good: dict[str, Any] = {
        "rdapConformance": list(render.CONFORMANCE),
        "objectClassName": "domain",
        "handle": "D1-TEST",
        "ldhName": "a.test",
        "status": ["active"],
        "events": [
            {"eventAction": "last update of RDAP database", "eventDate": "2025-01-01T00:00:00Z"}
        ],
        "entities": [],
        "secureDNS": {"delegationSigned": False},
        "links": [{"href": "https://x/rdap/domain/a.test", "rel": "self", "value": "https://x/"}],
        "notices": [
            {"description": ["t"], "links": [{"href": "https://x/tos", "rel": "terms-of-service"}]}
        ],
    }
    rdap_schema.validate("domain", good)
    for broken in (
        {**good, "rdapConformance": ["rdap_level_0"]},  # no profile conformance
        {**good, "status": ["ok"]},  # an EPP status, not an RDAP one
        {**good, "events": []},  # no last update of RDAP database
        {**good, "notices": [{"description": ["t"]}]},  # no terms of service link
        {k: v for k, v in good.items() if k != "secureDNS"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            rdap_schema.validate("domain", broken)


# ---------------------------------------------------------------- Response Profile


async def test_profile_1_2_and_tig_1_3_conformance_in_every_answer(http: httpx.AsyncClient) -> None:
    for path in PATHS:
        conformance = (await http.get(path)).json()["rdapConformance"]
        assert "icann_rdap_response_profile_1" in conformance
        assert "icann_rdap_technical_implementation_guide_1" in conformance


async def test_profile_1_4_adr_has_cc_parameter_and_empty_country_name(
    http: httpx.AsyncClient,
) -> None:
    e = await get(http, "/rdap/entity/1234")
    adr = next(p for p in e["vcardArray"][1] if p[0] == "adr")
    assert adr[1]["cc"] == "US"
    assert adr[3][6] == ""


async def test_profile_1_5_and_tig_3_7_last_update_is_the_time_of_the_answer(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/rdap/domain/example.test", "/rdap/nameserver/ns1.dns.net", "/rdap/entity/1234"):
        before = datetime.utcnow().replace(microsecond=0)
        body = await get(http, path)
        stamp = event(body, "last update of RDAP database")
        assert stamp is not None
        assert before <= datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") <= datetime.utcnow()


async def test_profile_2_1_ldh_and_unicode_names(http: httpx.AsyncClient) -> None:
    a = await get(http, "/rdap/domain/xn--bcher-kva.test")
    assert a["ldhName"] == "xn--bcher-kva.test"
    u = await get(http, "/rdap/domain/bücher.test")
    assert u["unicodeName"] == "bücher.test"
    plain = await get(http, "/rdap/domain/example.test")
    assert "unicodeName" not in plain


async def test_profile_2_2_domain_handle_is_the_roid(
    http: httpx.AsyncClient, data_db: Database
) -> None:
    d = await get(http, "/rdap/domain/example.test")
    assert d["handle"] == row(data_db, t.domains, name="example.test").roid


async def test_profile_2_3_events(http: httpx.AsyncClient, data_db: Database) -> None:
    d = await get(http, "/rdap/domain/example.test")
    stored = row(data_db, t.domains, name="example.test")
    assert event(d, "registration") == stored.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event(d, "expiration") == stored.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event(d, "last changed") is None  # never updated after its creation (2.3.2.2)
    assert event(d, "transfer") is None  # never transferred (2.3.2.3)
    changed = await get(http, "/rdap/domain/exam3.test")
    updated = row(data_db, t.domains, name="exam3.test").updated_at
    assert event(changed, "last changed") == updated.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_profile_2_4_registrar_entity(http: httpx.AsyncClient) -> None:
    d = await get(http, "/rdap/domain/example.test")
    rar = one(d["entities"], roles=["registrar"])
    fn = next(p for p in rar["vcardArray"][1] if p[0] == "fn")
    assert fn[3] == "ClientX Inc."  # 2.4.1
    assert rar["handle"] == "1234"  # 2.4.2
    assert rar["publicIds"] == [{"type": "IANA Registrar ID", "identifier": "1234"}]  # 2.4.3
    abuse = one(rar["entities"], roles=["abuse"])  # 2.4.5
    props = {p[0]: p[3] for p in abuse["vcardArray"][1]}
    assert props["tel"] == "tel:+1.5555550100"
    assert props["email"] == "abuse@clientx.example"
    about = one(rar["links"], rel="about")  # 2.4.6
    assert about["href"] == "https://www.clientx.example"
    assert about["value"]


async def test_profile_2_6_statuses_mapped_per_rfc_8056(http: httpx.AsyncClient) -> None:
    d = await get(http, "/rdap/domain/exam3.test")
    assert set(d["status"]) == {"add period", "client hold"}
    every_epp_status = {v for k, v in vars(st).items() if k.isupper() and isinstance(v, str)} | set(
        lifecycle.RGP_STATUS.values()
    )
    assert every_epp_status
    for epp in every_epp_status:
        assert render.STATUS[epp] in rdap_schema.STATUSES, epp


async def test_profile_2_6_3_status_codes_notice(http: httpx.AsyncClient) -> None:
    d = await get(http, "/rdap/domain/example.test")
    n = one(d["notices"], title="Status Codes")
    assert any(
        "For more information on domain status codes, please visit https://icann.org/epp" in x
        for x in n["description"]
    )
    link = one(n["links"], rel="glossary")
    assert link["href"] == "https://icann.org/epp"
    assert link["value"] == "http://rdap.test/rdap/domain/example.test"


async def test_profile_2_7_3_contact_handles_are_roids_for_the_sponsor(data_db: Database) -> None:
    from tests.test_rdap_redaction import basic

    async with client_for(data_db) as http:
        r = await http.get(
            "/rdap/domain/example.test", headers=basic("ClientX", support.PASSWORDS["ClientX"])
        )
        d = r.json()
    registrant = one(d["entities"], roles=["registrant"])
    with data_db.read() as conn:
        roid = conn.execute(
            select(t.contacts.c.roid).where(t.contacts.c.handle == "reg-1")
        ).scalar_one()
    assert registrant["handle"] == roid


async def test_profile_2_8_nameservers(http: httpx.AsyncClient, data_db: Database) -> None:
    d = await get(http, "/rdap/domain/example.test")
    ns = one(d["nameservers"], ldhName="ns1.dns.net")
    assert ns["handle"] == row(data_db, t.hosts, name="ns1.dns.net").roid
    assert ns["ipAddresses"] == {"v4": ["192.0.2.1"], "v6": ["2001:db8::1"]}


async def test_profile_2_9_secure_dns(http: httpx.AsyncClient) -> None:
    signed = await get(http, "/rdap/domain/example.test")
    assert signed["secureDNS"] == {
        "delegationSigned": True,
        "dsData": [
            {"keyTag": 12345, "algorithm": 13, "digestType": 2, "digest": rdds_data.DS.digest}
        ],
    }
    unsigned = await get(http, "/rdap/domain/exam1.test")
    assert unsigned["secureDNS"] == {"delegationSigned": False}


async def test_profile_2_10_inaccuracy_notice(http: httpx.AsyncClient) -> None:
    d = await get(http, "/rdap/domain/example.test")
    n = one(d["notices"], title="RDDS Inaccuracy Complaint Form")
    assert any(
        "URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf" in x
        for x in n["description"]
    )
    assert one(n["links"], rel="help")["href"] == "https://icann.org/wicf"


async def test_profile_3_1_registrar_entity_query(http: httpx.AsyncClient) -> None:
    e = await get(http, "/rdap/entity/1234")
    props = {p[0] for p in e["vcardArray"][1]}
    assert {"fn", "adr", "tel", "email"} <= props
    adr = next(p for p in e["vcardArray"][1] if p[0] == "adr")[3]
    assert adr[2] and adr[3] and adr[6] == ""  # street, city; country in the cc parameter


async def test_profile_4_nameserver_query(http: httpx.AsyncClient) -> None:
    ns = await get(http, "/rdap/nameserver/ns1.bücher.test")  # 4.1: U-label query
    assert ns["ldhName"] == "ns1.xn--bcher-kva.test"
    assert ns["unicodeName"] == "ns1.bücher.test"
    assert ns["ipAddresses"]["v4"] == ["192.0.2.10"]  # 4.2
    rar = one(ns["entities"], roles=["registrar"])  # 4.3
    assert rar["handle"] == "1234" and rar["publicIds"][0]["identifier"] == "1234"
    other = await get(http, "/rdap/nameserver/ns1.dns.net")
    assert one(other["entities"], roles=["registrar"])["handle"] == "not applicable"
    assert "publicIds" not in other["entities"][0]


# ---------------------------------------------------------------- Technical Implementation Guide


async def test_tig_3_3_terms_of_service_notice(http: httpx.AsyncClient) -> None:
    d = await get(http, "/rdap/domain/example.test")
    tos = d["notices"][0]
    link = one(tos["links"], rel="terms-of-service")
    assert link["href"] and link["value"] == "http://rdap.test/rdap/domain/example.test"


async def test_tig_3_4_help_links_to_usage_documentation(http: httpx.AsyncClient) -> None:
    h = await get(http, "/rdap/help")
    assert any(link["rel"] == "help" for n in h["notices"] for link in n.get("links", []))


async def test_tig_3_8_jcard_addresses_and_phones(http: httpx.AsyncClient) -> None:
    e = await get(http, "/rdap/entity/1234")
    props = e["vcardArray"][1]
    adr = next(p for p in props if p[0] == "adr")
    assert adr[3][2] == ["1 Registrar Road", "Suite 2"]  # 3.8.1: several lines as an array
    tels = {p[1]["type"][0]: p[3] for p in props if p[0] == "tel"}
    assert tels == {"voice": "tel:+1.5555550101", "fax": "tel:+1.5555550102"}  # 3.8.2, 3.8.3


async def test_tig_3_9_roles_are_registered(http: httpx.AsyncClient) -> None:
    d = await get(http, "/rdap/domain/example.test")

    def roles(entities: list[dict[str, Any]]) -> set[str]:
        found: set[str] = set()
        for e in entities:
            found |= set(e["roles"]) | roles(e.get("entities", []))
        return found

    assert roles(d["entities"]) <= set(rdap_schema.ROLES)


# ---------------------------------------------------------------- RST RDAP test cases


RST: dict[str, tuple[str, str, int]] = {
    # case: (method, path, status)
    "rdap-01": ("GET", "/rdap/domain/example.test", 200),
    "rdap-02": ("GET", "/rdap/nameserver/ns1.dns.net", 200),
    "rdap-03": ("GET", "/rdap/entity/1234", 200),
    "rdap-04": ("GET", "/rdap/help", 200),
    "rdap-05": ("HEAD", "/rdap/domain/example.test", 200),
    "rdap-06": ("HEAD", "/rdap/nameserver/ns1.dns.net", 200),
    "rdap-07": ("HEAD", "/rdap/entity/1234", 200),
    "rdap-08": ("GET", "/rdap/domain/zq7x2kw9-random.test", 404),
    "rdap-09": ("GET", "/rdap/nameserver/ns1.zq7x2kw9-random.test", 404),
    "rdap-10": ("GET", "/rdap/entity/zq7x2kw9", 404),
}
#: RST cases about the deployment (TLS in front of the HTTP port, every service address).
DEPLOYMENT = {"rdap-91", "rdap-92"}


def test_every_rst_rdap_case_is_covered() -> None:
    text = support.reference("rst", "rdap", "cases.yaml").read_text()
    cases = set(re.findall(r"^(rdap-\d+):", text, re.M))
    assert cases, "no cases found"
    assert cases == set(RST) | DEPLOYMENT


@pytest.mark.parametrize("case", sorted(RST))
async def test_rst_case(http: httpx.AsyncClient, case: str) -> None:
    method, path, status = RST[case]
    r = await http.request(method, path)
    assert r.status_code == status
    assert r.headers["access-control-allow-origin"] == "*"
    if method == "HEAD":
        assert r.content == b""
        return
    body = r.json()
    rdap_schema.validate(rdap_schema.kind_of(body), body)
    if status == 404:
        assert body["errorCode"] == 404
    # rdap-92: the same query answers the same, but for the last update time.
    again = (await http.request(method, path)).json()
    for answer in (body, again):
        answer["events"] = [
            e
            for e in answer.get("events", [])
            if e["eventAction"] != "last update of RDAP database"
        ]
    assert again == body


async def test_tig_3_2_domain_links_to_the_registrars_rdap_answer(
    http: httpx.AsyncClient, data_db: Database
) -> None:
    """TIG 3.2: when the registrar's RDAP URL is known, the domain answer's topmost object
    has a links object with rel "related", the registrar's RDAP URL of the domain as href
    and the lookup path as value; without one, no such link."""
    before = await get(http, "/rdap/domain/example.test")
    assert not [x for x in before["links"] if x["rel"] == "related"]
    with data_db.write() as conn:
        registrar_data.set_rdds_data(
            conn, datetime(2026, 1, 1), "ClientX", rdap_base_url="https://rdap.clientx.example"
        )
    try:
        answer = await get(http, "/rdap/domain/example.test")
        related = one(answer["links"], rel="related")
        assert related == {
            "value": "http://rdap.test/rdap/domain/example.test",
            "rel": "related",
            "href": "https://rdap.clientx.example/domain/example.test",
            "type": "application/rdap+json",
        }
        # Only domains of that registrar link to it.
        other = await get(http, "/rdap/domain/exam1.test")
        assert not [x for x in other["links"] if x["rel"] == "related"]
    finally:
        with data_db.write() as conn:
            registrar_data.set_rdds_data(conn, datetime(2026, 1, 1), "ClientX", rdap_base_url="")
    after = await get(http, "/rdap/domain/example.test")
    assert not [x for x in after["links"] if x["rel"] == "related"]
