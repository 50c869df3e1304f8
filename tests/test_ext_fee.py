"""fee-1.0 (RFC 8748) over EPP: fees in check (standard and premium class, each command and
period, the currency), the fee charged and the balance in the create, renew, transfer
request and restore answers, and the fee agreement check (flows/fees.py): a stated fee below
the price, or none for a premium name, is 2004 and changes nothing. Every response is
validated against the official schemas.

RFC 8748's own examples, verbatim, are in tests/test_ext_fee_examples.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from domreg.clock import FixedClock
from domreg.epp.extensions import fee, rgp
from domreg.flows import pricing
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid, dump

START = datetime(2026, 1, 15, 12, 0, 0)
DAY = timedelta(days=1)
N = {"fee": fee.URI, "epp": "urn:ietf:params:xml:ns:epp-1.0", "rgp": rgp.URI}
D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
FEE = f'xmlns:fee="{fee.URI}"'


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db, START, tlds=("com", "test"))
    with shared_db.write() as conn:
        premium = pricing.parse_premium("gold,premium,1000.00,400.00,300.00,100.00\n")
        pricing.load_premium(conn, "com", premium)
    return shared_db


async def _client(connect: Any, clid: str = "ClientX") -> Any:
    client = await connect()
    reply = await client.login(clid, support.PASSWORDS[clid], extensions=(fee.URI, rgp.URI))
    assert reply.code == 1000, reply.raw
    return client


async def _send(client: Any, body: str, code: int, extension: str = "") -> Any:
    reply = await client.command(body, extension=extension)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


def _price(db: Database, operation: str) -> int:
    with db.read() as conn:
        column = getattr(t.tlds.c, f"{operation}_price")
        return int(conn.execute(select(column).where(t.tlds.c.name == "com")).scalar_one())


def _balance(db: Database, clid: str = "ClientX") -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                select(t.registrars.c.balance).where(t.registrars.c.clid == clid)
            ).scalar_one()
        )


def _money(minor: int) -> str:
    return pricing.format_amount(minor)


def _create(name: str) -> str:
    return (
        f"<create><domain:create {D}><domain:name>{name}</domain:name>"
        '<domain:period unit="y">1</domain:period>'
        "<domain:authInfo><domain:pw>2fooBAR</domain:pw></domain:authInfo>"
        "</domain:create></create>"
    )


def _fee(verb: str, amount: str, currency: str = "USD") -> str:
    return (
        f"<fee:{verb} {FEE}><fee:currency>{currency}</fee:currency>"
        f"<fee:fee>{amount}</fee:fee></fee:{verb}>"
    )


async def test_check_gives_each_commands_fee_with_the_premium_class(connect, db):
    x = await _client(connect)
    check = (
        f"<check><domain:check {D}><domain:name>example.com</domain:name>"
        "<domain:name>gold.com</domain:name><domain:name>example.invalid</domain:name>"
        "</domain:check></check>"
    )
    ext = (
        f"<fee:check {FEE}><fee:currency>USD</fee:currency>"
        '<fee:command name="create"><fee:period unit="y">2</fee:period></fee:command>'
        '<fee:command name="renew"/><fee:command name="transfer"/>'
        '<fee:command name="restore"/></fee:check>'
    )
    reply = await _send(x, check, 1000, ext)
    data = reply.tree.find("epp:response/epp:extension/fee:chkData", N)
    assert data is not None and data.findtext("fee:currency", namespaces=N) == "USD"
    cds = data.findall("fee:cd", N)
    assert [cd.findtext("fee:objID", namespaces=N) for cd in cds] == [
        "example.com",
        "gold.com",
        "example.invalid",
    ]
    standard, gold, bad = cds
    assert standard.findtext("fee:class", namespaces=N) == "standard"
    fees = {
        c.get("name"): (c.findtext("fee:fee", namespaces=N), c.get("standard"))
        for c in standard.findall("fee:command", N)
    }
    assert fees == {
        "create": (_money(2 * _price(db, "create")), "1"),
        "renew": (_money(_price(db, "renew")), "1"),
        "transfer": (_money(_price(db, "transfer")), "1"),
        "restore": (_money(_price(db, "restore")), "1"),
    }
    assert gold.findtext("fee:class", namespaces=N) == "premium"
    gold_fees = {
        c.get("name"): (c.findtext("fee:fee", namespaces=N), c.get("standard"))
        for c in gold.findall("fee:command", N)
    }
    assert gold_fees == {
        "create": ("2000.00", None),
        "renew": ("400.00", None),
        "transfer": ("300.00", None),
        "restore": ("100.00", None),
    }
    assert bad.get("avail") == "0" and bad.findtext("fee:reason", namespaces=N)


async def test_check_in_another_currency_is_2004(connect, db):
    x = await _client(connect)
    check = f"<check><domain:check {D}><domain:name>a.com</domain:name></domain:check></check>"
    ext = (
        f'<fee:check {FEE}><fee:currency>EUR</fee:currency><fee:command name="create"/></fee:check>'
    )
    await _send(x, check, 2004, ext)


async def test_create_with_the_fee_answers_the_fee_and_the_balance(connect, db):
    x = await _client(connect)
    price = _price(db, "create")
    reply = await _send(x, _create("example.com"), 1000, _fee("create", _money(price)))
    data = reply.tree.find("epp:response/epp:extension/fee:creData", N)
    assert data is not None
    assert data.findtext("fee:fee", namespaces=N) == _money(price)
    assert data.findtext("fee:balance", namespaces=N) == _money(_balance(db))
    assert data.findtext("fee:currency", namespaces=N) == "USD"


async def test_a_fee_below_the_price_or_none_for_a_premium_name_is_2004_and_changes_nothing(
    connect, db
):
    x = await _client(connect)
    before = dump(db)
    low = _money(_price(db, "create") - 1)
    await _send(x, _create("example.com"), 2004, _fee("create", low))
    await _send(x, _create("example.com"), 2004, _fee("create", "100000.00", "EUR"))
    await _send(x, _create("gold.com"), 2004)  # premium, no fee stated
    await _send(x, _create("gold.com"), 2004, _fee("create", "999.99"))
    assert dump(db) == before
    reply = await _send(x, _create("gold.com"), 1000, _fee("create", "1000.00"))
    assert reply.tree.findtext("epp:response/epp:extension/fee:creData/fee:fee", namespaces=N) == (
        "1000.00"
    )


async def test_renew_transfer_and_restore_answer_their_fees(connect, db, clock):
    x = await _client(connect)
    y = await _client(connect, "ClientY")
    await _send(x, _create("example.com"), 1000)
    expiry = (START + timedelta(days=365)).date().isoformat()
    renew = (
        f"<renew><domain:renew {D}><domain:name>example.com</domain:name>"
        f'<domain:curExpDate>{expiry}</domain:curExpDate><domain:period unit="y">1'
        "</domain:period></domain:renew></renew>"
    )
    reply = await _send(x, renew, 1000, _fee("renew", _money(_price(db, "renew"))))
    assert reply.tree.findtext(
        "epp:response/epp:extension/fee:renData/fee:fee", namespaces=N
    ) == _money(_price(db, "renew"))

    transfer = (
        f'<transfer op="request"><domain:transfer {D}><domain:name>example.com</domain:name>'
        "<domain:authInfo><domain:pw>2fooBAR</domain:pw></domain:authInfo>"
        "</domain:transfer></transfer>"
    )
    before = dump(db)
    await _send(y, transfer, 2004, _fee("transfer", "0.00"))
    assert dump(db) == before
    reply = await _send(y, transfer, 1001, _fee("transfer", _money(_price(db, "transfer"))))
    assert reply.tree.findtext(
        "epp:response/epp:extension/fee:trnData/fee:fee", namespaces=N
    ) == _money(_price(db, "transfer"))
    cancel = transfer.replace('op="request"', 'op="cancel"')
    await _send(y, cancel, 1000)

    clock.advance(10 * DAY)
    delete = f"<delete><domain:delete {D}><domain:name>example.com</domain:name></domain:delete></delete>"
    await _send(x, delete, 1001)
    update = f"<update><domain:update {D}><domain:name>example.com</domain:name><domain:chg/></domain:update></update>"
    restore = f'<rgp:update xmlns:rgp="{rgp.URI}"><rgp:restore op="request"/></rgp:update>'
    before = dump(db)
    await _send(x, update, 2004, restore + _fee("update", "0.01"))
    assert dump(db) == before
    await _send(x, update, 2306, _fee("update", "100.00"))  # a fee without a restore
    reply = await _send(x, update, 1000, restore + _fee("update", _money(_price(db, "restore"))))
    data = reply.tree.find("epp:response/epp:extension/fee:updData", N)
    assert data is not None
    assert data.findtext("fee:fee", namespaces=N) == _money(_price(db, "restore"))
    assert reply.tree.find("epp:response/epp:extension/rgp:upData", N) is not None


async def test_a_client_without_the_fee_extension_gets_no_fee_data(connect, db):
    x = await connect()
    await x.login("ClientX", support.PASSWORDS["ClientX"])
    reply = await _send(x, _create("example.com"), 1000)
    assert b"fee-1.0" not in reply.raw
