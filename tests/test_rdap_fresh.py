"""What EPP and the flows change is in the very next RDAP answer (the answer cache never
serves what the database no longer holds), on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from domreg.clock import Clock
from domreg.flows import domain, host
from domreg.store.db import Database
from tests import rdds_data
from tests.test_rdap import client_for


@pytest_asyncio.fixture
async def http(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    rdds_data.populate(db)
    async with client_for(db) as client:
        yield client


async def test_epp_changes_are_in_the_next_answer(
    http: httpx.AsyncClient, connect: Any, db: Database
) -> None:
    before = (await http.get("/rdap/domain/exam1.test")).json()
    assert [n["ldhName"] for n in before["nameservers"]] == ["ns2.dns.net"]
    client = await connect("ClientY")
    reply = await client.command(
        '<update><domain:update xmlns:domain="urn:ietf:params:xml:ns:domain-1.0">'
        "<domain:name>exam1.test</domain:name><domain:add><domain:ns>"
        "<domain:hostObj>ns1.dns.net</domain:hostObj></domain:ns>"
        '<domain:status s="clientHold"/></domain:add></domain:update></update>'
    )
    assert reply.code == 1000, reply.raw
    after = (await http.get("/rdap/domain/exam1.test")).json()
    assert [n["ldhName"] for n in after["nameservers"]] == ["ns1.dns.net", "ns2.dns.net"]
    assert "client hold" in after["status"]
    # A host's new address shows in the domains that use it at once.
    reply = await client.command(
        '<update><host:update xmlns:host="urn:ietf:params:xml:ns:host-1.0">'
        "<host:name>ns2.dns.net</host:name><host:add>"
        '<host:addr ip="v4">192.0.2.99</host:addr></host:add></host:update></update>'
    )
    assert reply.code == 1000, reply.raw
    again = (await http.get("/rdap/domain/exam1.test")).json()
    assert "192.0.2.99" in again["nameservers"][1]["ipAddresses"]["v4"]


async def test_flow_deletes_are_in_the_next_answer(http: httpx.AsyncClient, db: Database) -> None:
    assert (await http.get("/rdap/domain/other.test")).status_code == 200
    y = rdds_data.actor(db, "ClientY")
    rdds_data.run(db, y, Clock().now(), domain.delete_, "other.test")
    r = await http.get("/rdap/domain/other.test")
    # Deleted inside its add grace period: purged at once, so no longer registered.
    assert r.status_code == 404
    rdds_data.run(
        db, y, Clock().now(), host.create, host.HostCreate("ns3.dns.net", (("192.0.2.3", "v4"),))
    )
    assert (await http.get("/rdap/nameserver/ns3.dns.net")).status_code == 200
