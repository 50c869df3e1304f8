"""Every web form's bad input (empty, too long, wrong format, hostile strings) gets an error
next to the field that caused it, answers 400, and changes nothing (every table but the web
audit's own rows is byte-for-byte the same), on both backends."""

from __future__ import annotations

import pytest

from domreg.store.db import Database
from tests import web_support as ws

pytestmark = pytest.mark.asyncio

LONG = "x" * 5000
HOSTILE = "<script>alert('x')</script>\"'; DROP TABLE domains; --"
CTRL = "bad\x00\x07value"
DIGEST = "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE23BF5E07C4CF0DE8B8F8FA3D"
CONTACT = {"handle": "c-1", "name": "Ann", "city": "Berlin", "cc": "DE", "email": "ann@example.org"}
EDIT = {"int_name": "Ann", "int_city": "Berlin", "int_cc": "DE", "email": "ann@example.org"}
CE = "/console/contacts/xc-1/edit"
REG = {"clid": "NewReg", "name": "New", "email": "", "password": "epp-Pass-1", "tld_test": "on"}

#: (who, path, form, field with the error)
CASES: list[tuple[str, str, dict[str, str], str]] = [
    # registration
    (
        "x",
        "/console/register",
        {"name": "", "years": "1", "fee": "1000", "currency": "USD"},
        "name",
    ),
    (
        "x",
        "/console/register",
        {"name": LONG, "years": "1", "fee": "1000", "currency": "USD"},
        "name",
    ),
    (
        "x",
        "/console/register",
        {"name": "bad..name", "years": "1", "fee": "1000", "currency": "USD"},
        "name",
    ),
    (
        "x",
        "/console/register",
        {"name": HOSTILE, "years": "1", "fee": "1000", "currency": "USD"},
        "name",
    ),
    (
        "x",
        "/console/register",
        {"name": "ok.test", "years": "ten", "fee": "1000", "currency": "USD"},
        "years",
    ),
    (
        "x",
        "/console/register",
        {"name": "ok.test", "years": "11", "fee": "1000", "currency": "USD"},
        "years",
    ),
    (
        "x",
        "/console/register",
        {"name": "mine.test", "years": "1", "fee": "1000", "currency": "USD"},
        "name",
    ),
    (
        "x",
        "/console/register",
        {
            "name": "ok.test",
            "years": "1",
            "fee": "1000",
            "currency": "USD",
            "nameservers": "no such host!",
        },
        "nameservers",
    ),
    # domain page
    ("x", "/console/domains/mine.test/renew", {"years": ""}, "years"),
    ("x", "/console/domains/mine.test/renew", {"years": "0"}, "years"),
    ("x", "/console/domains/mine.test/renew", {"years": HOSTILE}, "years"),
    ("x", "/console/domains/mine.test/renew", {"years": "10"}, "years"),  # beyond 10 years ahead
    ("x", "/console/domains/mine.test/nameservers", {"nameservers": "not a host!"}, "nameservers"),
    ("x", "/console/domains/mine.test/nameservers", {"nameservers": LONG}, "nameservers"),
    ("x", "/console/domains/mine.test/nameservers", {"nameservers": CTRL}, "nameservers"),
    (
        "x",
        "/console/domains/mine.test/nameservers",
        {"nameservers": "\n".join(f"ns{i}.example.org" for i in range(14))},
        "nameservers",
    ),
    (
        "x",
        "/console/domains/mine.test/nameservers",
        {"nameservers": "ns1.zone.test"},
        "nameservers",
    ),
    (
        "x",
        "/console/domains/mine.test/ds/add",
        {"key_tag": "", "alg": "13", "digest_type": "2", "digest": DIGEST},
        "key_tag",
    ),
    (
        "x",
        "/console/domains/mine.test/ds/add",
        {"key_tag": "70000", "alg": "13", "digest_type": "2", "digest": DIGEST},
        "key_tag",
    ),
    (
        "x",
        "/console/domains/mine.test/ds/add",
        {"key_tag": "1", "alg": "x", "digest_type": "2", "digest": DIGEST},
        "alg",
    ),
    (
        "x",
        "/console/domains/mine.test/ds/add",
        {"key_tag": "1", "alg": "13", "digest_type": "2", "digest": "XYZ"},
        "digest",
    ),
    (
        "x",
        "/console/domains/mine.test/ds/add",
        {"key_tag": "1", "alg": "13", "digest_type": "2", "digest": "AB"},
        "digest",
    ),
    (
        "x",
        "/console/domains/mine.test/ds/add",
        {"key_tag": "1", "alg": "13", "digest_type": "2", "digest": LONG},
        "digest",
    ),
    ("x", "/console/domains/mine.test/delete", {"confirm": ""}, "confirm"),
    ("x", "/console/domains/mine.test/delete", {"confirm": "other.test"}, "confirm"),
    # transfers
    (
        "x",
        "/console/transfers",
        {"op": "request", "name": "", "auth_code": "abc", "years": "1"},
        "name",
    ),
    (
        "x",
        "/console/transfers",
        {"op": "request", "name": "theirs.test", "auth_code": "", "years": "1"},
        "auth_code",
    ),
    (
        "x",
        "/console/transfers",
        {"op": "request", "name": "theirs.test", "auth_code": "wrong-Code-1", "years": "1"},
        "auth_code",
    ),
    (
        "x",
        "/console/transfers",
        {"op": "request", "name": LONG, "auth_code": "abc", "years": "1"},
        "name",
    ),
    (
        "x",
        "/console/transfers",
        {"op": "request", "name": "mine.test", "auth_code": "abc-Def-12", "years": "1"},
        "name",
    ),
    # contacts and hosts
    ("x", "/console/contacts", {**CONTACT, "handle": ""}, "handle"),
    ("x", "/console/contacts", {**CONTACT, "handle": "x" * 17}, "handle"),
    ("x", "/console/contacts", {**CONTACT, "email": "not-an-address"}, "email"),
    ("x", "/console/contacts", {**CONTACT, "cc": "Germany"}, "cc"),
    ("x", "/console/contacts", {**CONTACT, "name": CTRL}, "name"),
    ("x", "/console/contacts", {**CONTACT, "city": ""}, "city"),
    # the contact page
    ("x", CE, {**EDIT, "int_name": ""}, "int_name"),
    ("x", CE, {**EDIT, "int_city": ""}, "int_city"),
    ("x", CE, {**EDIT, "email": ""}, "email"),
    ("x", CE, {**EDIT, "int_name": LONG}, "int_name"),
    ("x", CE, {**EDIT, "int_pc": "1" * 17}, "int_pc"),
    ("x", CE, {**EDIT, "int_street": "a\nb\nc\nd"}, "int_street"),
    ("x", CE, {**EDIT, "email": "not-an-address"}, "email"),
    ("x", CE, {**EDIT, "email": HOSTILE}, "email"),
    ("x", CE, {**EDIT, "voice": "030 1234567"}, "voice"),
    ("x", CE, {**EDIT, "fax": HOSTILE}, "fax"),
    ("x", CE, {**EDIT, "int_cc": "Germany"}, "int_cc"),
    ("x", CE, {**EDIT, "int_cc": "XX"}, "int_cc"),
    ("x", CE, {**EDIT, "int_city": CTRL}, "int_city"),
    ("x", CE, {**EDIT, "int_name": "Jürgen"}, "int_name"),  # int is ASCII only
    ("x", CE, {**EDIT, "loc_name": "Jürgen"}, "loc_city"),  # a new loc needs an address
    ("x", "/console/contacts/xc-1/delete", {"confirm": ""}, "confirm"),
    ("x", "/console/contacts/xc-1/delete", {"confirm": HOSTILE}, "confirm"),
    ("x", "/console/contacts/xc-1/delete", {"confirm": "xc-1"}, "confirm"),  # linked
    ("x", "/console/hosts", {"name": "", "addresses": ""}, "name"),
    ("x", "/console/hosts", {"name": "-bad-.example.org", "addresses": ""}, "name"),
    ("x", "/console/hosts", {"name": "ns9.example.org", "addresses": "999.1.1.1"}, "addresses"),
    ("x", "/console/hosts", {"name": HOSTILE, "addresses": ""}, "name"),
    # EPP access
    ("x", "/console/settings/password", {"password": "", "password2": ""}, "password"),
    (
        "x",
        "/console/settings/password",
        {"password": "new-Pass-99", "password2": "other-Pass-99"},
        "password2",
    ),
    ("x", "/console/settings/password", {"password": "a", "password2": "a"}, "password"),
    ("x", "/console/settings/ips", {"allowed_ips": "not-an-ip"}, "allowed_ips"),
    ("x", "/console/settings/ips", {"allowed_ips": HOSTILE}, "allowed_ips"),
    ("x", "/console/settings/certs", {"fingerprints": "abc"}, "fingerprints"),
    # administration
    ("admin", "/admin/registrars", {**REG, "clid": ""}, "clid"),
    ("admin", "/admin/registrars", {**REG, "clid": "bad id!"}, "clid"),
    ("admin", "/admin/registrars", {**REG, "clid": "ClientX"}, "clid"),
    ("admin", "/admin/registrars", {**REG, "name": LONG}, "name"),
    ("admin", "/admin/registrars", {**REG, "password": "x"}, "password"),
    ("admin", "/admin/registrars/ClientX/credit", {"amount": ""}, "amount"),
    ("admin", "/admin/registrars/ClientX/credit", {"amount": "lots"}, "amount"),
    ("admin", "/admin/registrars/ClientX/credit", {"amount": "0"}, "amount"),
    ("admin", "/admin/registrars/ClientX/credit", {"amount": "1.234"}, "amount"),
    ("admin", "/admin/registrars/ClientX/credit", {"amount": "-99999999.00"}, "amount"),
    (
        "admin",
        "/admin/registrars/ClientX/price",
        {"tld": "test", "operation": "create", "price": "abc"},
        "price",
    ),
    (
        "admin",
        "/admin/registrars/ClientX/price",
        {"tld": "nope", "operation": "create", "price": "1.00"},
        "tld",
    ),
    (
        "admin",
        "/admin/registrars/ClientX/users",
        {"username": "", "password": "long-Pass-123"},
        "username",
    ),
    (
        "admin",
        "/admin/registrars/ClientX/users",
        {"username": "Bad Name", "password": "long-Pass-123"},
        "username",
    ),
    (
        "admin",
        "/admin/registrars/ClientX/users",
        {"username": "x-user", "password": "long-Pass-123"},
        "username",
    ),
    (
        "admin",
        "/admin/registrars/ClientX/users",
        {"username": "fine", "password": "short"},
        "password",
    ),
    ("admin", "/admin/tlds", {"name": ""}, "name"),
    ("admin", "/admin/tlds", {"name": "bad tld!"}, "name"),
    ("admin", "/admin/tlds", {"name": "test"}, "name"),
    ("admin", "/admin/tlds/test/phase", {"phase": "bogus", "starts_at": "2027-01-01"}, "phase"),
    ("admin", "/admin/tlds/test/phase", {"phase": "sunrise", "starts_at": "soon"}, "starts_at"),
    (
        "admin",
        "/admin/tlds/test/phase",
        {"phase": "sunrise", "starts_at": "2027-02-01", "ends_at": "2027-01-01"},
        "ends_at",
    ),
    ("admin", "/admin/tlds/test/reserved", {}, "file"),
    ("admin", "/admin/domains/mine.test/statuses", {"mode": "lock", "reason": ""}, "reason"),
    ("admin", "/admin/domains/mine.test/statuses", {"mode": "lock", "reason": "r" * 40}, "reason"),
    (
        "admin",
        "/admin/domains/mine.test/statuses",
        {"mode": "statuses", "reason": "nothing"},
        "reason",
    ),
]


async def test_bad_input_gets_a_field_error_and_changes_nothing(db: Database) -> None:
    ws.add_users(db)
    ws.create_domain(db, "ClientX", "mine.test")
    ws.create_domain(db, "ClientX", "zone.test")
    ws.create_domain(db, "ClientY", "theirs.test")
    ws.create_contact(db, "ClientX", "xc-1")
    ws.link_domain(db, "ClientX", "linked.test", "xc-1", "xc-1")
    app = ws.app(db)
    who = {"x": await ws.browser(app, "x-user"), "admin": await ws.browser(app, "admin")}
    before = ws.dump_without_audit(db)
    problems = []
    for user, path, form, field in CASES:
        r = await who[user].post(path, form)
        error = ws.field_error(r.text, field)
        if r.status_code != 400 or not error:
            problems.append(f"{path} {form} → {r.status_code}, error on {field}: {error!r}")
        if "<script>alert" in r.text:
            problems.append(f"{path}: hostile text not escaped")
    assert problems == []
    assert ws.dump_without_audit(db) == before
    # and every refusal is in the audit log
    from sqlalchemy import func, select

    from domreg.store import schema as t

    with db.read() as conn:
        refused = conn.execute(
            select(func.count()).select_from(t.web_audit).where(t.web_audit.c.outcome == "refused")
        ).scalar_one()
    assert refused >= 10


@pytest.mark.parametrize(
    "path,params,field",
    [
        ("/", {"q": ""}, "q"),
        ("/", {"q": " ".join(["a.test"] * 51)}, "q"),
        ("/", {"q": CTRL}, "q"),
        ("/lookup", {"q": ""}, "q"),
        ("/lookup", {"q": LONG}, "q"),
        ("/lookup", {"q": HOSTILE}, "q"),
    ],
)
async def test_public_forms_bad_input(
    db: Database, path: str, params: dict[str, str], field: str
) -> None:
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ws.app(db)), base_url="http://t"
    ) as c:  # type: ignore[arg-type]
        r = await c.get(path, params=params)
    assert r.status_code in (400, 404)
    assert ws.field_error(r.text, field)
    assert "<script>alert" not in r.text


async def test_console_list_filters_bad_input(db: Database) -> None:
    ws.add_users(db)
    x = await ws.browser(ws.app(db), "x-user")
    for params, field in [
        ({"tld": "nope"}, "tld"),
        ({"status": HOSTILE}, "status"),
        ({"before": "soon"}, "before"),
        ({"q": LONG}, "q"),
    ]:
        r = await x.get("/console/domains", params=params)
        assert r.status_code == 400 and ws.field_error(r.text, field), params
