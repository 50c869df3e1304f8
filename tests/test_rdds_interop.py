"""Third-party clients read domreg's registration data: the PyPI packages `rdap` (20C) and
`whoisit` over RDAP, and Debian's `whois` client over WHOIS, against real listening servers.

Pointing them at this registry uses their documented options, not patches: `rdap` takes
`bootstrap_url` in its configuration (the RDAP service to ask); `whoisit` is given a local
IANA-format bootstrap file (`load_bootstrap_data`, with `allow_insecure=True` since the test
server speaks plain HTTP) that maps the TLDs to this server; `whois` takes `-h` and `-p`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC

import pytest
import pytest_asyncio
from sqlalchemy import select

from domreg.clock import Clock
from domreg.config import Config
from domreg.http.app import HttpContext, HttpServer, build_app
from domreg.store import schema as t
from domreg.store.db import Database
from domreg.whois.server import WhoisServer
from tests import rdds_data, support

pytestmark = [pytest.mark.xdist_group("rdds"), pytest.mark.interop]


@pytest.fixture(scope="module")
def data_db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db)
    rdds_data.populate(shared_db)
    return shared_db


@pytest_asyncio.fixture
async def servers(data_db: Database) -> AsyncIterator[tuple[str, int]]:
    http = HttpServer(
        build_app(HttpContext(db=data_db, clock=Clock(), cfg=Config(rdap_rate_limit=0.0)))
    )
    await http.start("127.0.0.1", 0)
    whois = WhoisServer(data_db, Clock(), rate=0.0)
    await whois.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{http.port}/rdap/", whois.port
    finally:
        await whois.close()
        await http.close()


async def test_rdap_package_reads_domain_and_registrar(
    servers: tuple[str, int], data_db: Database
) -> None:
    from rdap.schema.rdap import Domain

    from rdap import RdapClient

    base, _ = servers
    client = RdapClient({"bootstrap_url": base, "timeout": 10})
    found = await asyncio.to_thread(client.get_domain, "example.test")
    parsed = Domain(**found.data)  # the package's own model of an RDAP domain
    assert parsed.ldhName == "example.test"
    assert [n.ldhName for n in parsed.nameservers] == ["ns1.dns.net", "ns2.dns.net"]
    events = {e.eventAction: e.eventDate for e in parsed.events}
    with data_db.read() as conn:
        row = conn.execute(
            select(t.domains.c.created_at, t.domains.c.expires_at).where(
                t.domains.c.name == "example.test"
            )
        ).one()
    assert events["registration"] == row.created_at.replace(microsecond=0, tzinfo=UTC)
    assert events["expiration"] == row.expires_at.replace(microsecond=0, tzinfo=UTC)
    registrar = next(e for e in parsed.entities if "registrar" in e.roles)
    assert registrar.handle == "1234"
    assert parsed.secureDNS is not None and parsed.secureDNS.delegationSigned is True
    assert "abuse@clientx.example" in found.emails  # its vCard parser, nested entities included
    entity = await asyncio.to_thread(client.get_entity, "1234")
    assert entity.handle == "1234"
    assert "info@clientx.example" not in found.emails  # the domain's answer has no registrar email
    assert entity.data["vcardArray"][1][1][3] == "ClientX Inc."


def _bootstrap(base: str) -> str:
    """An IANA-format bootstrap document sending every TLD of this registry to `base`."""
    return json.dumps(
        {
            "timestamp": int(time.time()),
            "dns": {"services": [[["test", "com", "net"], [base]]]},
            "asn": {"services": [[["64496-64511"], [base]]]},
            "ipv4": {"services": [[["192.0.2.0/24"], [base]]]},
            "ipv6": {"services": [[["2001:db8::/32"], [base]]]},
            "object": {"services": [[["registry"], ["DOMREG"], [base]]]},
        }
    )


async def test_whoisit_reads_domain(servers: tuple[str, int]) -> None:
    import whoisit

    base, _ = servers
    whoisit.clear_bootstrapping()
    whoisit.load_bootstrap_data(_bootstrap(base), allow_insecure=True)
    try:
        result = await asyncio.to_thread(whoisit.domain, "example.test", allow_insecure_ssl=True)
        idn = await asyncio.to_thread(whoisit.domain, "xn--bcher-kva.test", allow_insecure_ssl=True)
    finally:
        whoisit.clear_bootstrapping()
    assert result["name"] == "example.test"
    assert result["handle"].endswith("-TEST")
    assert result["nameservers"] == ["ns1.dns.net", "ns2.dns.net"]
    assert set(result["status"]) == {"add period", "client transfer prohibited"}
    assert result["registration_date"] is not None and result["expiration_date"] is not None
    assert result["expiration_date"].year == result["registration_date"].year + 1
    registrar = result["entities"]["registrar"][0]
    assert registrar["name"] == "ClientX Inc."
    assert registrar["handle"] == "1234"
    assert idn["name"] == "xn--bcher-kva.test"


async def _whois_client(port: int, query: str) -> str:
    exe = shutil.which("whois")
    if exe is None:
        pytest.skip("Debian's whois client is not installed (scripts/system-deps.sh installs it)")
    done = await asyncio.to_thread(
        subprocess.run,
        [exe, "-h", "127.0.0.1", "-p", str(port), query],
        capture_output=True,
        timeout=30,
    )
    return done.stdout.decode()


async def test_debian_whois_client_reads_domain(servers: tuple[str, int]) -> None:
    _, port = servers
    out = await _whois_client(port, "example.test")
    assert "Domain Name: example.test" in out
    assert "Registrar: ClientX Inc." in out
    assert "Registrar IANA ID: 1234" in out
    assert "Name Server: ns1.dns.net" in out and "Name Server: ns2.dns.net" in out
    assert (
        "Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited"
        in out
    )
    assert "Creation Date: " in out and "Registry Expiry Date: " in out
    assert "Registrant Name: REDACTED FOR PRIVACY" in out


async def test_debian_whois_client_idn_and_nameserver(servers: tuple[str, int]) -> None:
    _, port = servers
    out = await _whois_client(port, "bücher.test")
    assert "Domain Name: xn--bcher-kva.test" in out
    out = await _whois_client(port, "nameserver ns1.dns.net")
    assert "Server Name: ns1.dns.net" in out and "IP Address: 2001:db8::1" in out
    out = await _whois_client(port, "missing.test")
    assert 'No match for "missing.test".' in out
