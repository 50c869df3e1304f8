"""Redaction (RFC 9537, ICANN RDAP Response Profile 2.7): contact data is withheld from
anonymous clients and from registrars that do not sponsor the domain, and every withheld
field is named in the "redacted" member with its method and path; the sponsor,
authenticated with HTTP Basic (EPP client id and password, argon2-verified and remembered
briefly), sees its domain in full; what a contact chose to disclose is published."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from domreg.clock import Clock
from domreg.flows import contact
from domreg.rdap.app import RdapApp
from domreg.store.db import Database
from tests import rdap_schema, rdds_data, support
from tests.test_rdap import assert_error, client_for

pytestmark = pytest.mark.xdist_group("rdds")


@pytest.fixture(scope="module")
def data_db(shared_db: Database) -> Database:
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


def entity(d: dict[str, Any], role: str) -> dict[str, Any]:
    return next(e for e in d["entities"] if e["roles"] == [role])


def card(e: dict[str, Any]) -> dict[str, list[Any]]:
    return {p[0] if p[0] != "tel" else "tel-" + p[1]["type"][0]: p for p in e["vcardArray"][1]}


REGISTRANT_REDACTIONS = {
    "Registry Registrant ID": "removal",
    "Registrant Name": "emptyValue",
    "Registrant Organization": "removal",
    "Registrant Street": "emptyValue",
    "Registrant City": "emptyValue",
    "Registrant Postal Code": "emptyValue",
    "Registrant Phone": "removal",
    "Registrant Phone Ext": "removal",
    "Registrant Fax": "removal",
    "Registrant Email": "replacementValue",
    "Registry Tech ID": "removal",
    "Tech Name": "emptyValue",
    "Tech Phone": "removal",
    "Tech Email": "replacementValue",
}


async def test_anonymous_clients_get_contacts_redacted(http: httpx.AsyncClient) -> None:
    d = (await http.get("/rdap/domain/example.test")).json()
    assert "redacted" in d["rdapConformance"]
    registrant = entity(d, "registrant")
    assert "handle" not in registrant
    c = card(registrant)
    assert c["fn"][3] == ""
    assert "org" not in c and "tel-voice" not in c and "tel-fax" not in c and "email" not in c
    # Street, city and postal code emptied; state/province and country published.
    assert c["adr"][3] == ["", "", "", "", "VA", "", ""]
    assert c["adr"][1] == {"cc": "US"}
    # The email is replaced by the registrar's web site (Profile 2.7.8.2).
    assert c["contact-uri"][3] == "https://www.clientx.example"
    tech = entity(d, "technical")
    assert card(tech)["fn"][3] == "" and "email" not in card(tech)
    # Administrative and billing contacts are not published.
    assert {tuple(e["roles"]) for e in d["entities"]} == {
        ("registrar",),
        ("registrant",),
        ("technical",),
    }
    names = {r["name"]["type"]: r["method"] for r in d["redacted"]}
    assert names == REGISTRANT_REDACTIONS
    for r in d["redacted"]:
        assert r["pathLang"] == "jsonpath"
        assert ("prePath" in r) != ("postPath" in r)  # exactly one (RFC 9537 section 4.2)
        if r["method"] == "removal":
            assert "prePath" in r
        if r["method"] == "emptyValue":
            assert "postPath" in r
        if r["method"] == "replacementValue":
            assert r["replacementPath"].endswith("[?(@[0]=='contact-uri')]")
    # Nothing personal anywhere in the answer.
    raw = (await http.get("/rdap/domain/example.test")).text
    for secret in (
        "Jane",
        "Example Org",
        "Main Street",
        "Dulles",
        "20166",
        "7035555555",
        "jane@",
        "tom@",
    ):
        assert secret not in raw


async def test_sponsor_authenticated_with_http_basic_sees_everything(
    http: httpx.AsyncClient,
) -> None:
    r = await http.get(
        "/rdap/domain/example.test", headers=basic("ClientX", support.PASSWORDS["ClientX"])
    )
    assert r.status_code == 200
    assert "private" in r.headers["cache-control"]
    d = r.json()
    assert "redacted" not in d
    registrant = entity(d, "registrant")
    assert registrant["handle"].endswith("-CONT")
    c = card(registrant)
    assert c["fn"][3] == "Jane Registrant"
    assert c["org"][3] == "Example Org"
    assert c["adr"][3] == ["", "", ["10 Main Street", "Floor 3"], "Dulles", "VA", "20166", ""]
    assert c["tel-voice"][3] == "tel:+1.7035555555;ext=12"
    assert c["tel-fax"][3] == "tel:+1.7035555556"
    assert c["email"][3] == "jane@example.org"
    assert card(entity(d, "administrative"))["fn"][3] == "Tom Tech"


async def test_other_registrars_get_the_redacted_view(http: httpx.AsyncClient) -> None:
    r = await http.get(
        "/rdap/domain/example.test", headers=basic("ClientY", support.PASSWORDS["ClientY"])
    )
    d = r.json()
    assert {x["name"]["type"] for x in d["redacted"]} == set(REGISTRANT_REDACTIONS)
    assert "handle" not in entity(d, "registrant")


@pytest.mark.parametrize(
    "header",
    [
        basic("ClientX", "wrong-Password1"),
        basic("NoSuchRar", "whatever-1A"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
)
async def test_bad_credentials_get_401(http: httpx.AsyncClient, header: dict[str, str]) -> None:
    r = await http.get("/rdap/domain/example.test", headers=header)
    assert_error(r, 401)
    assert r.headers["www-authenticate"].startswith("Basic")


async def test_verified_passwords_are_remembered_briefly(data_db: Database) -> None:
    async with client_for(data_db) as http:
        app = http._transport.app  # type: ignore[attr-defined]
        rdap = next(r.app for r in app.routes if isinstance(getattr(r, "app", None), RdapApp))
        header = basic("ClientX", support.PASSWORDS["ClientX"])
        for _ in range(5):
            assert (await http.get("/rdap/domain/example.test", headers=header)).status_code == 200
        assert rdap.auth.verifications == 1
        rdap.auth.ttl = 0.0  # expired at once: every request verifies again
        rdap.auth._cache.clear()
        for _ in range(2):
            await http.get("/rdap/domain/example.test", headers=header)
        assert rdap.auth.verifications == 3
        # A wrong password is never served from the cache of a right one.
        bad = await http.get("/rdap/domain/example.test", headers=basic("ClientX", "foo-BAR3"))
        assert bad.status_code == 401


async def test_what_a_contact_discloses_is_published(http: httpx.AsyncClient) -> None:
    d = (await http.get("/rdap/domain/open.test")).json()
    c = card(entity(d, "registrant"))
    assert c["fn"][3] == "Olga Open"
    assert c["tel-voice"][3] == "tel:+33.155555555"
    assert c["email"][3] == "olga@example.fr"
    assert c["adr"][3] == ["", "", "", "", "", "", ""]  # address not disclosed
    names = {r["name"]["type"] for r in d["redacted"]}
    assert names == {
        "Registry Registrant ID",
        "Registrant Street",
        "Registrant City",
        "Registrant Postal Code",
    }


SECRETS = ("Jane", "Example Org", "Main Street", "Dulles", "20166", "7035555555", "jane@")


async def _contact(
    http: httpx.AsyncClient, handle: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    r = await http.get(f"/rdap/entity/{handle}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    rdap_schema.validate("entity", body)
    return body


async def test_contact_lookup_is_redacted_for_anonymous_clients(http: httpx.AsyncClient) -> None:
    r = await http.get("/rdap/entity/reg-1")
    assert "public" in r.headers["cache-control"]
    for secret in SECRETS:
        assert secret not in r.text
    e = await _contact(http, "reg-1")
    assert e["objectClassName"] == "entity" and e["roles"] == ["registrant"]
    assert "handle" not in e
    assert [ev["eventAction"] for ev in e["events"]] == ["last update of RDAP database"]
    c = card(e)
    assert c["fn"][3] == "" and c["adr"][3] == ["", "", "", "", "VA", "", ""]
    names = {x["name"]["type"]: x["method"] for x in e["redacted"]}
    assert names == {
        k: ("removal" if v == "replacementValue" else v)  # no registrar site to point to
        for k, v in REGISTRANT_REDACTIONS.items()
        if k.startswith("Registrant") or k == "Registry Registrant ID"
    }
    for x in e["redacted"]:
        assert (x.get("prePath") or x.get("postPath")).startswith("$.")
        assert "entities" not in (x.get("prePath") or x.get("postPath"))
    assert e["links"][0]["href"].endswith("/rdap/entity/reg-1")
    # A contact that is only an administrative and technical contact: no address at all.
    tech = await _contact(http, "tech-1")
    assert tech["roles"] == ["administrative", "technical"]
    assert "adr" not in card(tech) and card(tech)["fn"][3] == ""
    assert "tom@" not in str(tech)


async def test_contact_lookup_in_full_for_its_sponsor_only(http: httpx.AsyncClient) -> None:
    sponsor = basic("ClientX", support.PASSWORDS["ClientX"])
    full = await _contact(http, "reg-1", sponsor)
    assert "redacted" not in full
    assert full["handle"].endswith("-CONT")
    c = card(full)
    assert c["fn"][3] == "Jane Registrant" and c["email"][3] == "jane@example.org"
    assert c["tel-voice"][3] == "tel:+1.7035555555;ext=12"
    assert full["events"][0]["eventAction"] == "registration"
    # The handle domain answers give the sponsor (the ROID) finds the same contact.
    by_roid = await _contact(http, full["handle"], sponsor)
    assert card(by_roid) == c
    # Another registrar, and the anonymous client after the sponsor, get the redacted view.
    other = await _contact(http, full["handle"], basic("ClientY", support.PASSWORDS["ClientY"]))
    assert "redacted" in other and card(other)["fn"][3] == ""
    anonymous = await _contact(http, full["handle"])
    assert "redacted" in anonymous and "handle" not in anonymous


async def test_contact_on_no_domain_has_no_role_and_is_redacted(
    http: httpx.AsyncClient, data_db: Database
) -> None:
    x = rdds_data.actor(data_db, "ClientX")
    now = Clock().now()
    postal = contact.PostalInfo(
        "int", "Lone Contact", None, ("9 Lone Rd",), "Reston", "VA", "20190", "US"
    )
    create = contact.ContactCreate("lone-1", (postal,), "lone@example.org", "Auth-lone1")
    rdds_data.run(data_db, x, now, contact.create, create)
    try:
        anonymous = await _contact(http, "lone-1")
        assert "roles" not in anonymous and "Lone Contact" not in str(anonymous)
        assert {e["name"]["type"] for e in anonymous["redacted"]} >= {"Registrant Name"}
        sponsor = await _contact(http, "lone-1", basic("ClientX", support.PASSWORDS["ClientX"]))
        assert "roles" not in sponsor and card(sponsor)["fn"][3] == "Lone Contact"
    finally:
        rdds_data.run(data_db, x, Clock().now(), contact.delete_, "lone-1")


async def test_contact_lookup_head_and_not_found(http: httpx.AsyncClient) -> None:
    head = await http.head("/rdap/entity/reg-1")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert_error(await http.get("/rdap/entity/no-such-contact"), 404)
    missing = await http.head("/rdap/entity/no-such-contact")
    assert missing.status_code == 404 and missing.content == b""
