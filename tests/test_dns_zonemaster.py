"""Zonemaster (zonemaster-cli, Debian) against the TLD domreg publishes, entirely on loopback.

Zonemaster only talks to port 53 and starts from the root, so the test serves a small root
zone of its own: one Knot on 127.53.0.1:53 holds "." (the hints file points there) with the
delegation of .test and the DS records `domreg zone ds` gives; domreg's Knot serves .test,
signed, on 127.53.0.2:53 and 127.53.0.3:53 (its two apex nameservers). The registry's data
comes from EPP: delegations with glue and with DS.

No ERROR or CRITICAL result may appear, except from the test cases that cannot pass without
the public internet or public addresses, listed in OFFLINE with the reason. The same list is
in docs/dns.md.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from domreg.clock import Clock
from domreg.dns.knot import KnotServer, Tsig
from domreg.dns.service import start_managed
from domreg.dns.status import ds_records
from domreg.flows import dns as dns_flow
from domreg.flows.base import Context, SvTrIds, registry_actor
from domreg.store.db import Database
from tests.dnssupport import make_publisher, placeholder_zone, require, settle
from tests.test_dns import create, ds, host, ok, registrar, secdns_create, update_ns

ROOT = "127.53.0.1"
TLD_SERVERS = ("127.53.0.2", "127.53.0.3")

#: Zonemaster test cases that cannot pass offline on loopback, and why.
OFFLINE = {
    "ADDRESS01": "the nameservers' addresses are loopback (127/8), special-purpose by RFC 6890; "
    "public addresses pass",
    "ADDRESS02": "reverse DNS of the nameservers' addresses needs the public in-addr.arpa tree",
    "ADDRESS03": "reverse DNS of the nameservers' addresses needs the public in-addr.arpa tree",
    "CONNECTIVITY03": "AS diversity is looked up in public ASN databases (Cymru, RIPE)",
    "CONNECTIVITY04": "prefix diversity is looked up in public ASN databases (Cymru, RIPE)",
}


def root_server(base: Path, tsig: Tsig, tld_ds: list[str]) -> KnotServer:
    zones = base / "zones"
    zones.mkdir(parents=True)
    lines = [
        ". 86400 IN SOA a.root. hostmaster.root. 1 14400 3600 604800 86400",
        ". 86400 IN NS a.root.",
        f"a.root. 86400 IN A {ROOT}",
        "test. 86400 IN NS ns1.nic.test.",
        "test. 86400 IN NS ns2.nic.test.",
        f"ns1.nic.test. 86400 IN A {TLD_SERVERS[0]}",
        f"ns2.nic.test. 86400 IN A {TLD_SERVERS[1]}",
        *tld_ds,
    ]
    (zones / "root.zone").write_text("\n".join(lines) + "\n")
    root = KnotServer(base / "knot", f"{ROOT}@53", zones, tsig, ["."])
    root.write_config()
    conf = root.conf.read_text().replace('file: "%s.zone"', 'file: "root.zone"')
    root.conf.write_text(conf)
    root.process = subprocess.Popen(
        [require("knotd"), "-c", str(root.conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not root.control.ping():
        assert time.monotonic() < deadline, "the root Knot did not start"
        time.sleep(0.05)
    return root


@pytest.mark.xdist_group("zonemaster")  # port 53 on fixed loopback addresses: one at a time
@pytest.mark.slow
async def test_zonemaster_finds_no_error_in_the_published_tld(connect, db: Database, tmp_path):
    zonemaster = require("zonemaster-cli")
    with db.write() as conn:
        ctx = Context(conn, Clock().now(), registry_actor("test"), None, SvTrIds("DRT").next())
        dns_flow.set_settings(
            ctx,
            "test",
            dns_flow.DnsSettings(
                nameservers=(("ns1.nic.test", TLD_SERVERS[:1]), ("ns2.nic.test", TLD_SERVERS[1:])),
                hostmaster="hostmaster@example.org",
            ),
        )
    client = await registrar(connect)
    await ok(client, create("alpha.test"))
    await ok(client, host("ns1.alpha.test", "192.0.2.1"))
    await ok(client, host("ns2.alpha.test", "192.0.2.2"))
    await ok(client, update_ns("alpha.test", add=("ns1.alpha.test", "ns2.alpha.test")))
    await ok(
        client,
        create("beta.test", "ns1.alpha.test", "ns2.alpha.test"),
        secdns_create(ds(key_tag=12345, alg=13, digest="AB" * 32)),
    )
    tsig = Tsig.load_or_create(tmp_path / "tsig.key", "domreg-update")
    zone_dir = tmp_path / "zones"
    placeholder_zone(zone_dir / "test.zone", "test")
    knot = KnotServer(
        tmp_path / "knot",
        "[" + ", ".join(f"{a}@53" for a in TLD_SERVERS) + "]",
        zone_dir,
        tsig,
        ["test"],
    )
    publisher = make_publisher(db, knot)
    publisher.target.querier.server = f"{TLD_SERVERS[0]}@53"  # type: ignore[attr-defined]
    start_managed(knot, publisher)
    root = None
    try:
        await settle(publisher)
        tld_ds = ds_records("test", f"{TLD_SERVERS[0]}@53")
        root = root_server(tmp_path / "root", tsig, tld_ds)
        hints = tmp_path / "hints"
        hints.write_text(f". 3600000 NS a.root.\na.root. 3600000 A {ROOT}\n")
        done = subprocess.run(
            [
                zonemaster,
                "--hints",
                str(hints),
                "--no-ipv6",
                "--raw",
                "--show-testcase",
                "--level",
                "INFO",
                "--no-progress",
                "test",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        if root is not None:
            root.stop()
        knot.stop()
    assert done.returncode == 0, done.stderr
    print(done.stdout)  # the report, for `pytest -s`
    results = [line.split() for line in done.stdout.splitlines() if line.strip()]
    bad = [
        r for r in results if len(r) > 3 and r[1] in ("ERROR", "CRITICAL") and r[2] not in OFFLINE
    ]
    assert not bad, "\n".join(" ".join(r) for r in bad)
    # The parent, delegation and DNSSEC test cases ran against the loopback root.
    tags = {(r[2], r[3]) for r in (line.split() for line in done.stdout.splitlines()) if len(r) > 3}
    for expected in [
        ("BASIC01", "HAS_PARENT"),
        ("DELEGATION01", "ENOUGH_NS_DEL"),
        ("DNSSEC05", "ALGORITHM_OK"),
        ("DNSSEC10", "DS10_HAS_NSEC3"),
    ]:
        assert expected in tags, done.stdout
