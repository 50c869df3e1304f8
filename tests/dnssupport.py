"""DNS test support: a Knot DNS started once per test module, a publisher for the test's
database, and questions to Knot with dnspython."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import dns.zone
import pytest

from domreg.dns import zone as zb
from domreg.dns.knot import KnotServer, Tsig
from domreg.dns.publisher import Publisher
from domreg.dns.targets import KnotcTarget, nodes_of
from domreg.store.db import Database
from tests import support

TLDS = ("test", "com", "net")


def require(tool: str) -> str:
    """The path of a Debian tool the test needs (scripts/system-deps.sh installs them)."""
    path = shutil.which(tool) or (
        f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None
    )
    if path is None:
        pytest.skip(f"{tool} is not installed (scripts/system-deps.sh installs it)")
    return path


def placeholder_zone(path: Path, tld: str) -> None:
    """The apex only: what Knot loads at start, before a test publishes its database."""
    zs = zb.ZoneSettings(tld, 0, zb.ZoneSettings.defaults(tld), f"hostmaster@nic.{tld}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(zb.line(o, r) for o, r in zs.apex_records(1)))


@pytest.fixture(scope="module")
def knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    require("knotd")
    base = tmp_path_factory.mktemp("knot")
    zone_dir = base / "zones"
    for tld in TLDS:
        placeholder_zone(zone_dir / f"{tld}.zone", tld)
    server = KnotServer(
        base / "knot",
        f"127.0.0.1@{support.free_port()}",
        zone_dir,
        Tsig.load_or_create(base / "tsig.key", "domreg-update"),
        TLDS,
    )
    server.start()
    yield server
    server.stop()


def port(knot: KnotServer) -> int:
    return int(knot.listen.rsplit("@", 1)[1])


def make_publisher(db: Database, knot: KnotServer, target: object | None = None) -> Publisher:
    return Publisher(
        db,
        target or KnotcTarget(str(knot.base / "knot.sock"), knot.listen),  # type: ignore[arg-type]
        knot.zone_dir,
    )


async def settle(publisher: Publisher, rounds: int = 10) -> None:
    """Run publisher steps (as the task does) until the outbox holds nothing new."""
    for _ in range(rounds):
        out = await asyncio.to_thread(publisher.step)
        assert not out.errors, out.errors
        if out.rows == 0:
            return
    raise AssertionError("the publisher did not catch up")


def ask(knot: KnotServer, name: str, rtype: str, dnssec: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, want_dnssec=dnssec)
    query.flags &= ~0x0100  # no recursion desired
    return dns.query.tcp(query, "127.0.0.1", port=port(knot), timeout=3)


def referral(knot: KnotServer, name: str) -> tuple[set[str], set[str], dict[str, set[str]]]:
    """(NS targets, DS records, glue addresses by host) in Knot's answer for `name` NS."""
    reply = ask(knot, name, "NS", dnssec=True)
    ns: set[str] = set()
    ds: set[str] = set()
    glue: dict[str, set[str]] = {}
    for rrset in reply.authority:
        if rrset.rdtype == dns.rdatatype.NS and rrset.name.to_text() == name + ".":
            ns |= {rd.to_text() for rd in rrset}
        if rrset.rdtype == dns.rdatatype.DS:
            ds |= {rd.to_text().upper() for rd in rrset}
    for rrset in reply.additional:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            glue.setdefault(rrset.name.to_text(), set()).update(rd.to_text() for rd in rrset)
    return ns, ds, glue


def axfr(knot: KnotServer, tld: str) -> dns.zone.Zone:
    """The zone Knot serves, signed, with absolute names."""
    return dns.zone.from_xfr(
        dns.query.xfr("127.0.0.1", tld + ".", port=port(knot), timeout=10, relativize=False),
        relativize=False,
    )


def axfr_text(knot: KnotServer, tld: str, path: Path) -> Path:
    kdig = require("kdig")
    out = subprocess.run(
        [kdig, "@127.0.0.1", "-p", str(port(knot)), tld + ".", "AXFR", "+nocomments", "+nostats"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path.write_text("\n".join(line for line in out.splitlines() if not line.startswith(";")))
    return path


def zone_lines(source: Path | str, tld: str) -> set[str]:
    """The records of a zone file (a path, or its text), one presentation line each ("owner.
    TTL IN TYPE rdata", absolute names): what it says, whatever its layout ($TTL, order)."""
    text = source.read_text() if isinstance(source, Path) else source
    zone = dns.zone.from_text(text, origin=tld + ".", relativize=False)
    return {
        f"{name} {rrset.ttl} IN {dns.rdatatype.to_text(rrset.rdtype)} "
        + (rd.to_text().upper() if rrset.rdtype == dns.rdatatype.DS else rd.to_text())
        for name, node in zone.nodes.items()
        for rrset in node.rdatasets
        for rd in rrset
    }


def served_equals_full_build(db: Database, knot: KnotServer, tld: str, tmp: Path) -> None:
    """The zone Knot serves (less the signer's records) is what a fresh full build holds."""
    path = tmp / f"fresh-{tld}.zone"
    zb.write_zone_file(db, tld, path)
    built = nodes_of(dns.zone.from_file(str(path), origin=tld + ".", relativize=False), tld)
    served = nodes_of(axfr(knot, tld), tld)
    norm = {k: sorted(v) for k, v in built.items()}
    assert {k: sorted(v) for k, v in served.items()} == norm
