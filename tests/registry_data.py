"""A small registry of every kind of object, built over EPP: what the escrow, restore and
report tests deposit, restore and count. `populate` returns the objects it left live."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from domreg.clock import FixedClock
from domreg.epp import namespaces as ns

D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
H = 'xmlns:host="urn:ietf:params:xml:ns:host-1.0"'
C = 'xmlns:contact="urn:ietf:params:xml:ns:contact-1.0"'
SEC = 'xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1"'
RGP = 'xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"'
AUTH = "auth-INFO1"


def contact(handle: str, cc: str = "US", disclose: str = "", org: str = "") -> str:
    o = f"<contact:org>{org}</contact:org>" if org else ""
    return (
        f"<create><contact:create {C}><contact:id>{handle}</contact:id>"
        f'<contact:postalInfo type="int"><contact:name>Holder {handle}</contact:name>{o}'
        "<contact:addr><contact:street>1 Main St</contact:street><contact:street>Suite 2</contact:street>"
        f"<contact:city>Dulles</contact:city><contact:sp>VA</contact:sp><contact:pc>20166</contact:pc>"
        f"<contact:cc>{cc}</contact:cc></contact:addr></contact:postalInfo>"
        '<contact:voice x="12">+1.7035555555</contact:voice><contact:fax>+1.7035555556</contact:fax>'
        f"<contact:email>{handle}@example.com</contact:email>"
        f"<contact:authInfo><contact:pw>{AUTH}</contact:pw></contact:authInfo>{disclose}"
        "</contact:create></create>"
    )


def host(name: str, *addrs: tuple[str, str]) -> str:
    a = "".join(f'<host:addr ip="{v}">{x}</host:addr>' for x, v in addrs)
    return f"<create><host:create {H}><host:name>{name}</host:name>{a}</host:create></create>"


def domain(
    name: str,
    years: int = 1,
    registrant: str = "",
    contacts: tuple[tuple[str, str], ...] = (),
    nameservers: tuple[str, ...] = (),
) -> str:
    nss = "".join(f"<domain:hostObj>{n}</domain:hostObj>" for n in nameservers)
    nsx = f"<domain:ns>{nss}</domain:ns>" if nss else ""
    reg = f"<domain:registrant>{registrant}</domain:registrant>" if registrant else ""
    cts = "".join(f'<domain:contact type="{t}">{h}</domain:contact>' for t, h in contacts)
    return (
        f"<create><domain:create {D}><domain:name>{name}</domain:name>"
        f'<domain:period unit="y">{years}</domain:period>{nsx}{reg}{cts}'
        f"<domain:authInfo><domain:pw>{AUTH}</domain:pw></domain:authInfo></domain:create></create>"
    )


def ds(key_tag: int = 12345) -> str:
    return (
        f"<secDNS:create {SEC}><secDNS:dsData><secDNS:keyTag>{key_tag}</secDNS:keyTag>"
        "<secDNS:alg>13</secDNS:alg><secDNS:digestType>2</secDNS:digestType>"
        f"<secDNS:digest>{'AB' * 32}</secDNS:digest></secDNS:dsData></secDNS:create>"
    )


def update(name: str, inner: str) -> str:
    return f"<update><domain:update {D}><domain:name>{name}</domain:name>{inner}</domain:update></update>"


def renew(name: str, cur: str, years: int = 1) -> str:
    return (
        f"<renew><domain:renew {D}><domain:name>{name}</domain:name><domain:curExpDate>{cur}</domain:curExpDate>"
        f'<domain:period unit="y">{years}</domain:period></domain:renew></renew>'
    )


def delete(name: str) -> str:
    return f"<delete><domain:delete {D}><domain:name>{name}</domain:name></domain:delete></delete>"


def transfer(op: str, name: str, pw: str | None = AUTH) -> str:
    auth = f"<domain:authInfo><domain:pw>{pw}</domain:pw></domain:authInfo>" if pw else ""
    return f'<transfer op="{op}"><domain:transfer {D}><domain:name>{name}</domain:name>{auth}</domain:transfer></transfer>'


async def login(client: Any, clid: str, password: str) -> None:
    reply = await client.login(clid, password, extensions=tuple(ns.EXTENSIONS))
    assert reply.code == 1000, reply.raw


async def ok(
    client: Any, body: str, extension: str = "", codes: tuple[int, ...] = (1000, 1001)
) -> Any:
    reply = await client.command(body, extension=extension)
    assert reply.code in codes, reply.raw.decode()
    return reply


@dataclass
class Objects:
    """What `populate` left live, by sponsor: what info must answer for."""

    domains: dict[str, str] = field(default_factory=dict)  # name -> sponsor clid
    hosts: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)


async def populate(x: Any, y: Any, clock: FixedClock) -> Objects:
    """Contacts, hosts (external and subordinate, v4 and v6), domains with contacts, name
    servers, DS data, client statuses, a renew, a pending transfer, a contact update, a domain
    in redemption and one deleted in its add grace period (purged). `x` and `y` are clients
    logged in as ClientX and ClientY; `clock` moves 10 days through it."""
    objs = Objects()
    await ok(
        x,
        contact(
            "cx1",
            disclose='<contact:disclose flag="0"><contact:voice/><contact:email/></contact:disclose>',
            org="Example Org",
        ),
    )
    await ok(x, contact("cx2", cc="DE"))
    await ok(y, contact("cy1", cc="FR"))
    objs.contacts.update(cx1="ClientX", cx2="ClientX", cy1="ClientY")
    await ok(x, host("ns1.example.org"))
    await ok(y, host("ns2.example.info"))
    objs.hosts.update({"ns1.example.org": "ClientX", "ns2.example.info": "ClientY"})
    contacts = (("admin", "cx2"), ("tech", "cx2"), ("billing", "cx1"))
    await ok(x, domain("alpha.test", 2, "cx1", contacts, ("ns1.example.org",)), extension=ds())
    await ok(x, host("ns1.alpha.test", ("192.0.2.1", "v4"), ("2001:db8::1", "v6")))
    objs.hosts["ns1.alpha.test"] = "ClientX"
    await ok(x, domain("beta.test", 1, "cx2", (), ("ns1.alpha.test", "ns2.example.info")))
    await ok(
        x,
        update(
            "beta.test",
            '<domain:add><domain:status s="clientHold" lang="en">payment overdue</domain:status></domain:add>',
        ),
    )
    await ok(x, domain("gamma.test", 1, "cx1"))
    await ok(x, delete("gamma.test"))  # inside the add grace period: purged at once
    await ok(y, domain("epsilon.test", 3, "cy1", (("admin", "cy1"), ("tech", "cy1"))))
    await ok(x, domain("delta.test", 1, "cx1"))
    objs.domains.update(
        {"alpha.test": "ClientX", "beta.test": "ClientX", "epsilon.test": "ClientY"}
    )
    clock.advance(timedelta(days=10))
    reply = await ok(
        x, "<info><domain:info " + D + "><domain:name>alpha.test</domain:name></domain:info></info>"
    )
    exp = reply.findtext(".//domain:exDate")
    assert exp is not None
    await ok(x, renew("alpha.test", exp[:10], 1))
    await ok(x, delete("delta.test"))  # after the add grace period: redemption
    objs.domains["delta.test"] = "ClientX"
    await ok(x, transfer("request", "epsilon.test"))
    await ok(
        x,
        f"<update><contact:update {C}><contact:id>cx2</contact:id><contact:chg>"
        "<contact:email>new-cx2@example.com</contact:email></contact:chg></contact:update></update>",
    )
    return objs
