"""Registration data for the RDAP and WHOIS tests, created through the flows (as EPP would).

`populate(db)` gives, on top of `support.setup_registry`:
- ClientX with its published data (IANA id 1234, URL, WHOIS server, abuse contact, address);
- domain dns.net (ClientY) with hosts ns1.dns.net (192.0.2.1, 2001:db8::1) and ns2.dns.net;
- contacts reg-1 (registrant: name, org, address, phone, fax, email) and tech-1 (ClientX);
- example.test (ClientX): registrant reg-1, admin and tech tech-1, both nameservers, a DS
  record, clientTransferProhibited;
- xn--bcher-kva.test (bücher.test, ClientX), no nameservers, with host ns1.bücher.test;
- exam1.test ... exam3.test and other.test (ClientY), for searches;
- open.test (ClientZ): registrant open-1, who discloses name, voice and email (RFC 5733).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from domreg.clock import Clock
from domreg.flows import contact, dnssec, domain, domain_create, host
from domreg.flows.base import Actor, Context, SvTrIds
from domreg.flows.registrar_data import set_rdds_data
from domreg.store import schema as t
from domreg.store.db import Database

DS = dnssec.DsData(12345, 13, 2, "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE4C3C0F1B2E5B2E3F0A1B2C3D")


@dataclass
class Data:
    now: datetime
    x: Actor
    y: Actor


def actor(db: Database, clid: str) -> Actor:
    with db.read() as conn:
        rid = conn.execute(
            select(t.registrars.c.id).where(t.registrars.c.clid == clid)
        ).scalar_one()
    return Actor(rid, clid)


_svtrids = SvTrIds()


def run(db: Database, who: Actor, now: datetime, flow: object, *args: object) -> object:
    with db.write() as conn:
        return flow(Context(conn, now, who, "RDDS-TEST", _svtrids.next()), *args)  # type: ignore[operator]


def populate(db: Database, now: datetime | None = None) -> Data:
    now = now or Clock().now()
    x, y = actor(db, "ClientX"), actor(db, "ClientY")
    with db.write() as conn:
        set_rdds_data(
            conn,
            now,
            "ClientX",
            iana_id=1234,
            url="https://www.clientx.example",
            whois_server="whois.clientx.example",
            abuse_email="abuse@clientx.example",
            abuse_phone="+1.5555550100",
            email="info@clientx.example",
            phone="+1.5555550101",
            fax="+1.5555550102",
            street=["1 Registrar Road", "Suite 2"],
            city="Springfield",
            sp="IL",
            pc="62701",
            cc="US",
        )
    run(db, y, now, domain_create.create, domain.DomainCreate("dns.net", "Auth-dns1"))
    run(
        db,
        y,
        now,
        host.create,
        host.HostCreate("ns1.dns.net", (("192.0.2.1", "v4"), ("2001:db8::1", "v6"))),
    )
    run(db, y, now, host.create, host.HostCreate("ns2.dns.net", (("192.0.2.2", "v4"),)))
    postal = contact.PostalInfo(
        "int",
        "Jane Registrant",
        "Example Org",
        ("10 Main Street", "Floor 3"),
        "Dulles",
        "VA",
        "20166",
        "US",
    )
    run(
        db,
        x,
        now,
        contact.create,
        contact.ContactCreate(
            "reg-1",
            (postal,),
            "jane@example.org",
            "Auth-reg1",
            voice="+1.7035555555",
            voice_ext="12",
            fax="+1.7035555556",
        ),
    )
    tech = contact.PostalInfo(
        "int", "Tom Tech", None, ("2 Side St",), "Reston", "VA", "20190", "US"
    )
    run(
        db,
        x,
        now,
        contact.create,
        contact.ContactCreate(
            "tech-1", (tech,), "tom@example.org", "Auth-tech1", voice="+1.7035550000"
        ),
    )
    run(
        db,
        x,
        now,
        domain_create.create,
        domain.DomainCreate(
            "example.test",
            "Auth-ex1",
            ns=("ns1.dns.net", "ns2.dns.net"),
            registrant="reg-1",
            contacts=(("admin", "tech-1"), ("tech", "tech-1")),
            dnssec=dnssec.DnssecCreate(ds=(DS,)),
        ),
    )
    run(
        db,
        x,
        now,
        domain.update,
        domain.DomainUpdate(
            "example.test", add_statuses=(("clientTransferProhibited", None, None),)
        ),
    )
    run(db, x, now, domain_create.create, domain.DomainCreate("xn--bcher-kva.test", "Auth-idn1"))
    run(db, x, now, host.create, host.HostCreate("ns1.xn--bcher-kva.test", (("192.0.2.10", "v4"),)))
    for i in (1, 2, 3):
        run(
            db,
            y,
            now,
            domain_create.create,
            domain.DomainCreate(f"exam{i}.test", "Auth-exam1", ns=("ns2.dns.net",)),
        )
    run(db, y, now, domain_create.create, domain.DomainCreate("other.test", "Auth-other1"))
    z = actor(db, "ClientZ")
    open_postal = contact.PostalInfo(
        "int", "Olga Open", None, ("5 Open Way",), "Paris", None, "75001", "FR"
    )
    disclose = contact.Disclose(True, frozenset({"name_int", "voice", "email"}))
    run(
        db,
        z,
        now,
        contact.create,
        contact.ContactCreate(
            "open-1",
            (open_postal,),
            "olga@example.fr",
            "Auth-open1",
            voice="+33.155555555",
            disclose=disclose,
        ),
    )
    run(
        db,
        z,
        now,
        domain_create.create,
        domain.DomainCreate("open.test", "Auth-open1", registrant="open-1"),
    )
    return Data(now, x, y)
