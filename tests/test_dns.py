"""DNS publication (issue 5) against a real Knot DNS: registrars' EPP commands reach the zone
Knot serves (delegations, narrow glue, DS, holds, delete and restore), signed with NSEC3 that
validates; a full rebuild equals what was published incrementally; failures are retried,
reported and lose nothing. One knotd per module; every test publishes its database in full
first, which resets what Knot serves to that database."""

from __future__ import annotations

import io
import subprocess

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset
import pytest
from sqlalchemy import update

from domreg.clock import Clock
from domreg.dns import zone as zb
from domreg.dns.knot import KnotServer, Tsig
from domreg.dns.publisher import Publisher
from domreg.dns.service import start_managed
from domreg.dns.status import ds_records, zone_status
from domreg.dns.targets import FilesTarget, UpdateTarget
from domreg.flows import admin
from domreg.flows.base import Context, SvTrIds, registry_actor
from domreg.store import schema as t
from domreg.store.db import Database
from tests.dnssupport import (
    ask,
    axfr,
    axfr_text,
    make_publisher,
    referral,
    require,
    served_equals_full_build,
    settle,
    zone_lines,
)
from tests.test_ext_secdns import ds, secdns_create, secdns_update

D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
H = 'xmlns:host="urn:ietf:params:xml:ns:host-1.0"'
RGP = '<rgp:update xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0">{}</rgp:update>'
REPORT = (
    '<rgp:restore op="report"><rgp:report><rgp:preData>before</rgp:preData>'
    "<rgp:postData>after</rgp:postData><rgp:delTime>2026-01-01T00:00:00Z</rgp:delTime>"
    "<rgp:resTime>2026-01-02T00:00:00Z</rgp:resTime><rgp:resReason>error</rgp:resReason>"
    "<rgp:statement>true</rgp:statement><rgp:statement>also true</rgp:statement>"
    "</rgp:report></rgp:restore>"
)
DIGEST = "AB" * 32
DIGEST2 = "CD" * 32


@pytest.fixture
def publisher(db: Database, knot: KnotServer) -> Publisher:
    pub = make_publisher(db, knot)
    pub.publish_all_full()
    return pub


def create(name: str, *ns: str) -> str:
    hosts = "".join(f"<domain:hostObj>{h}</domain:hostObj>" for h in ns)
    nss = f"<domain:ns>{hosts}</domain:ns>" if ns else ""
    return (
        f"<create><domain:create {D}><domain:name>{name}</domain:name>{nss}"
        "<domain:authInfo><domain:pw>auth-INFO1</domain:pw></domain:authInfo></domain:create></create>"
    )


def host(name: str, *addresses: str) -> str:
    addr = "".join(
        f'<host:addr ip="{"v6" if ":" in a else "v4"}">{a}</host:addr>' for a in addresses
    )
    return f"<create><host:create {H}><host:name>{name}</host:name>{addr}</host:create></create>"


def update_ns(name: str, add: tuple[str, ...] = (), rem: tuple[str, ...] = ()) -> str:
    def part(tag: str, hosts: tuple[str, ...]) -> str:
        if not hosts:
            return ""
        inner = "".join(f"<domain:hostObj>{h}</domain:hostObj>" for h in hosts)
        return f"<domain:{tag}><domain:ns>{inner}</domain:ns></domain:{tag}>"

    return (
        f"<update><domain:update {D}><domain:name>{name}</domain:name>"
        f"{part('add', add)}{part('rem', rem)}</domain:update></update>"
    )


def update_status(name: str, add: str = "", rem: str = "") -> str:
    a = f'<domain:add><domain:status s="{add}"/></domain:add>' if add else ""
    r = f'<domain:rem><domain:status s="{rem}"/></domain:rem>' if rem else ""
    return f"<update><domain:update {D}><domain:name>{name}</domain:name>{a}{r}</domain:update></update>"


def rename_host(name: str, new: str) -> str:
    return (
        f"<update><host:update {H}><host:name>{name}</host:name>"
        f"<host:chg><host:name>{new}</host:name></host:chg></host:update></update>"
    )


def delete(name: str) -> str:
    return f"<delete><domain:delete {D}><domain:name>{name}</domain:name></domain:delete></delete>"


async def ok(client, body: str, extension: str = "", code: int = 1000):
    reply = await client.command(body, extension=extension)
    assert reply.code == code, reply.raw.decode()
    return reply


async def registrar(connect):
    client = await connect()
    reply = await client.login(
        "ClientX",
        "foo-BAR2",
        extensions=("urn:ietf:params:xml:ns:secDNS-1.1", "urn:ietf:params:xml:ns:rgp-1.0"),
    )
    assert reply.code == 1000, reply.raw
    return client


async def world(client) -> None:
    """alpha.test with in-bailiwick ns1.alpha.test (IPv4 and IPv6) and external
    ns.example.org; beta.test with DS data on ns.example.org."""
    await ok(client, host("ns.example.org"))
    await ok(client, create("alpha.test"))
    await ok(client, host("ns1.alpha.test", "192.0.2.1", "2001:db8::1"))
    await ok(client, update_ns("alpha.test", add=("ns1.alpha.test", "ns.example.org")))
    await ok(
        client,
        create("beta.test", "ns.example.org"),
        secdns_create(ds(key_tag=12345, alg=13, digest=DIGEST)),
    )


# ---------------------------------------------------------------- answers follow EPP


async def test_epp_create_publishes_delegation_glue_and_ds(connect, db, knot, publisher):
    client = await registrar(connect)
    await world(client)
    await settle(publisher)
    ns, ds_set, glue = referral(knot, "alpha.test")
    assert ns == {"ns1.alpha.test.", "ns.example.org."}
    assert glue == {"ns1.alpha.test.": {"192.0.2.1", "2001:db8::1"}}
    assert ds_set == set()
    ns, ds_set, glue = referral(knot, "beta.test")
    assert ns == {"ns.example.org."}
    assert ds_set == {f"12345 13 2 {DIGEST}"}
    assert glue == {}
    assert ask(knot, "gamma.test", "NS").rcode() == dns.rcode.NXDOMAIN


async def test_epp_updates_of_ns_ds_and_holds_change_the_answer(
    connect, db, knot, publisher, tmp_path
):
    client = await registrar(connect)
    await world(client)
    await settle(publisher)
    # NS: the in-bailiwick host leaves the delegation, so its glue goes too (no orphan glue).
    await ok(client, update_ns("alpha.test", rem=("ns1.alpha.test",)))
    await settle(publisher)
    ns, _, glue = referral(knot, "alpha.test")
    assert ns == {"ns.example.org."}
    assert glue == {}
    assert "ns1.alpha.test" not in {n.to_text().rstrip(".") for n in axfr(knot, "test").nodes}
    await ok(client, update_ns("alpha.test", add=("ns1.alpha.test",)))
    await settle(publisher)
    assert referral(knot, "alpha.test")[2] == {"ns1.alpha.test.": {"192.0.2.1", "2001:db8::1"}}
    # DS: replace one record by another.
    await ok(
        client,
        update_ns("beta.test"),
        secdns_update(
            f"<secDNS:rem>{ds(key_tag=12345, alg=13, digest=DIGEST)}</secDNS:rem>"
            f"<secDNS:add>{ds(key_tag=54321, alg=13, digest=DIGEST2)}</secDNS:add>"
        ),
    )
    await settle(publisher)
    assert referral(knot, "beta.test")[1] == {f"54321 13 2 {DIGEST2}"}
    # clientHold takes the delegation and its glue out; removing it brings them back.
    await ok(client, update_status("alpha.test", add="clientHold"))
    await settle(publisher)
    assert ask(knot, "alpha.test", "NS").rcode() == dns.rcode.NXDOMAIN
    assert ask(knot, "ns1.alpha.test", "A").rcode() == dns.rcode.NXDOMAIN
    await ok(client, update_status("alpha.test", rem="clientHold"))
    await settle(publisher)
    assert referral(knot, "alpha.test")[0] == {"ns1.alpha.test.", "ns.example.org."}
    # serverHold, set by the registry (domreg domain status).
    with db.write() as conn:
        ctx = Context(conn, Clock().now(), registry_actor("test"), None, SvTrIds("DRT").next())
        admin.set_server_statuses(
            ctx, admin.StatusChange("beta.test", "abuse", add=("serverHold",))
        )
    await settle(publisher)
    assert ask(knot, "beta.test", "DS").rcode() == dns.rcode.NXDOMAIN
    served_equals_full_build(db, knot, "test", tmp_path)


async def test_delete_into_redemption_and_restore(connect, db, knot, publisher):
    with db.write() as conn:  # past the add grace period: a delete goes into redemption
        conn.execute(update(t.tlds).values(add_grace_days=0))
    client = await registrar(connect)
    await world(client)
    await settle(publisher)
    await ok(client, delete("beta.test"), code=1001)
    await settle(publisher)
    assert ask(knot, "beta.test", "NS").rcode() == dns.rcode.NXDOMAIN
    await ok(client, update_ns("beta.test"), RGP.format('<rgp:restore op="request"/>'))
    await settle(publisher)
    assert ask(knot, "beta.test", "NS").rcode() == dns.rcode.NXDOMAIN  # pendingRestore
    await ok(client, update_ns("beta.test"), RGP.format(REPORT))
    await settle(publisher)
    ns, ds_set, _ = referral(knot, "beta.test")
    assert ns == {"ns.example.org."}
    assert ds_set == {f"12345 13 2 {DIGEST}"}
    # Deleted inside the add grace period: purged at once, gone from DNS as well.
    with db.write() as conn:
        conn.execute(update(t.tlds).values(add_grace_days=5))
    await ok(client, create("gone.test", "ns.example.org"))
    await settle(publisher)
    assert referral(knot, "gone.test")[0] == {"ns.example.org."}
    await ok(client, delete("gone.test"))
    await settle(publisher)
    assert ask(knot, "gone.test", "NS").rcode() == dns.rcode.NXDOMAIN


async def test_narrow_glue_and_idn_names(connect, db, knot, publisher, tmp_path):
    client = await registrar(connect)
    await ok(client, create("gamma.test"))
    await ok(client, host("ns1.gamma.test", "192.0.2.7"))
    await ok(client, host("ns2.gamma.test", "192.0.2.8"))  # gamma.test never uses it
    await ok(client, host("ns3.gamma.test", "192.0.2.9"))  # nobody uses it
    await ok(client, update_ns("gamma.test", add=("ns1.gamma.test",)))
    # delta.test uses hosts under gamma.test: sibling glue is not delta's to publish; the
    # address of ns1.gamma.test is in the zone as gamma.test's own glue, that of
    # ns2.gamma.test (which gamma.test does not use) is not in the zone at all.
    await ok(client, create("delta.test", "ns1.gamma.test", "ns2.gamma.test"))
    await ok(client, create("xn--bcher-kva.test", "ns1.gamma.test"))  # bücher.test
    await settle(publisher)
    assert referral(knot, "gamma.test")[2] == {"ns1.gamma.test.": {"192.0.2.7"}}
    assert "ns2.gamma.test." not in referral(knot, "delta.test")[2]
    zone = axfr(knot, "test")
    names = {n.to_text().rstrip(".") for n in zone.nodes}
    assert "ns2.gamma.test" not in names  # narrow glue
    assert "ns3.gamma.test" not in names  # no orphan glue
    a = zone.find_rdataset("ns1.gamma.test.", dns.rdatatype.A)
    assert [rd.to_text() for rd in a] == ["192.0.2.7"]
    assert "xn--bcher-kva.test" in names
    assert referral(knot, "xn--bcher-kva.test")[0] == {"ns1.gamma.test."}
    # Renaming the host renames every NS record that points at it.
    await ok(client, rename_host("ns1.gamma.test", "dns.gamma.test"))
    await settle(publisher)
    assert referral(knot, "delta.test")[0] == {"dns.gamma.test.", "ns2.gamma.test."}
    assert referral(knot, "gamma.test")[2] == {"dns.gamma.test.": {"192.0.2.7"}}
    served_equals_full_build(db, knot, "test", tmp_path)


# ---------------------------------------------------------------- DNSSEC


async def test_signed_zone_validates_with_nsec3(connect, db, knot, publisher, tmp_path):
    client = await registrar(connect)
    await world(client)
    await settle(publisher)
    zone = axfr(knot, "test")
    apex = zone.find_node("test.")
    param = apex.find_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC3PARAM)
    assert [rd.to_text() for rd in param] == ["1 0 0 -"]  # SHA-1, no opt-out, 0 iterations, no salt
    keys = apex.find_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    assert {rd.algorithm for rd in keys} == {dns.dnssec.Algorithm.ECDSAP256SHA256}
    origin = dns.name.from_text("test.")
    keyring = {origin: keys}
    # A name that does not exist: the NSEC3 records proving it validate against the DNSKEYs,
    # and one of them covers the name's hash.
    reply = ask(knot, "nonexistent.test", "A", dnssec=True)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    nsec3 = [r for r in reply.authority if r.rdtype == dns.rdatatype.NSEC3]
    sigs = {
        r.name: r
        for r in reply.authority
        if r.rdtype == dns.rdatatype.RRSIG and r.covers == dns.rdatatype.NSEC3
    }
    assert nsec3
    for rrset in nsec3:
        dns.dnssec.validate(rrset, sigs[rrset.name], keyring)
    target = dns.dnssec.nsec3_hash("nonexistent.test.", salt=None, iterations=0, algorithm=1)
    covered = False
    for rrset in nsec3:
        owner = rrset.name.labels[0].decode().upper()
        following = rrset[0].to_text().split()[4].upper()
        if owner < target < following or (following < owner and not following < target < owner):
            covered = True
    assert covered
    # The DS of a delegation is signed; the whole chain checks out with ldns-verify-zone.
    reply = ask(knot, "beta.test", "DS", dnssec=True)
    ds_rrset = reply.find_rrset(
        reply.answer, dns.name.from_text("beta.test."), dns.rdataclass.IN, dns.rdatatype.DS
    )
    sig = reply.find_rrset(
        reply.answer,
        dns.name.from_text("beta.test."),
        dns.rdataclass.IN,
        dns.rdatatype.RRSIG,
        dns.rdatatype.DS,
    )
    dns.dnssec.validate(ds_rrset, sig, keyring)
    verify = require("ldns-verify-zone")
    signed = axfr_text(knot, "test", tmp_path / "signed.zone")
    done = subprocess.run([verify, str(signed)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # domreg zone ds: the DS of the key signing key, for the parent.
    (line,) = ds_records("test", knot.listen)
    ksk = next(rd for rd in keys if rd.flags & 1)
    assert line.split(" IN DS ")[1] == dns.dnssec.make_ds(origin, ksk, "SHA256").to_text()


# ---------------------------------------------------------------- zone files


async def test_exported_zone_passes_kzonecheck_and_named_checkzone(
    connect, db, knot, publisher, tmp_path
):
    client = await registrar(connect)
    await world(client)
    await ok(client, create("xn--bcher-kva.test", "ns1.alpha.test"))
    path = tmp_path / "test.zone"
    _, serial, stats = zb.write_zone_file(db, "test", path)
    assert (stats.delegations, stats.ds, stats.glue) == (3, 1, 2)
    text = path.read_text()
    assert f"IN SOA ns1.nic.test. hostmaster.nic.test. {serial} " in text
    kzonecheck = require("kzonecheck")
    done = subprocess.run([kzonecheck, "-o", "test", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    checkzone = require("named-checkzone")
    done = subprocess.run([checkzone, "test", str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr
    # Serials increase with every build.
    _, serial2, _ = zb.write_zone_file(db, "test", tmp_path / "again.zone", serial=None)
    with db.write() as conn:
        conn.execute(update(t.tld_dns).values(serial=serial2))
    _, serial3, _ = zb.write_zone_file(db, "test", tmp_path / "third.zone")
    assert serial3 > serial2


async def test_parallel_build_over_small_ranges_writes_the_same_zone(connect, db, tmp_path):
    """The full build's statements over id ranges of 2, read by 3 connections in parallel,
    write what one connection reading one range writes: same records, same counts."""
    client = await registrar(connect)
    await world(client)
    for i in range(8):
        await ok(client, create(f"d{i}.test", "ns.example.org", "ns1.alpha.test"))
    await ok(client, update_status("d3.test", add="clientHold"))
    await ok(client, create("gamma.test"))  # no nameservers: no delegation
    one, many = io.BytesIO(), io.BytesIO()
    _, _, stats = zb.write_zone(db, "test", one, serial=7, workers=1, range_size=10**9)
    _, _, stats_many = zb.write_zone(db, "test", many, serial=7, workers=3, range_size=2)
    assert sorted(many.getvalue().splitlines()) == sorted(one.getvalue().splitlines())
    assert stats_many == stats
    assert (stats.delegations, stats.ns, stats.ds, stats.glue) == (9, 17, 1, 2)
    assert b"d3.test." not in one.getvalue() and b"gamma.test." not in one.getvalue()
    # An unknown TLD is refused before anything is written.
    with pytest.raises(zb.ZoneError, match="TLD nosuch does not exist"):
        zb.write_zone_file(db, "nosuch", tmp_path / "nosuch.zone")
    assert list(tmp_path.iterdir()) == []


def test_parallel_readers_see_one_snapshot_while_commits_land(db):
    """The build's connections all see the database as it was when they were opened,
    though writers commit while they read (the EPP server keeps writing)."""
    grace = "SELECT add_grace_days FROM tlds WHERE name = 'test'"
    with db.read() as conn:
        before = conn.exec_driver_sql(grace).scalar_one()
    with zb._readers(db, 3) as conns:
        with db.write() as conn:
            conn.execute(update(t.tlds).where(t.tlds.c.name == "test").values(add_grace_days=99))
        seen = [c.exec_driver_sql(grace).scalar_one() for c in conns]
    assert seen == [before] * 3 != [99] * 3
    with db.read() as conn:
        assert conn.exec_driver_sql(grace).scalar_one() == 99


# ---------------------------------------------------------------- failures and other targets


async def test_knot_stopped_is_retried_reported_and_loses_nothing(
    connect, db, knot, publisher, tmp_path
):
    """While Knot is down every step fails, is recorded and keeps the changes past the cursor;
    when it returns (domreg starts its Knot again from fresh zone files, as `domreg serve`
    does), the changes are served and the zone equals a fresh full build."""
    client = await registrar(connect)
    await world(client)
    await settle(publisher)
    knot.stop()
    await ok(client, create("during.test", "ns.example.org"))
    await ok(client, update_ns("alpha.test", rem=("ns.example.org",)))
    out = publisher.step()
    assert "test" in out.errors
    (status,) = [s for s in zone_status(db) if s["tld"] == "test"]
    assert status["last_error"] and "control socket" in status["last_error"]
    assert status["pending"] == 2
    assert publisher.step().errors  # still failing: retried, nothing dropped
    assert [s["pending"] for s in zone_status(db) if s["tld"] == "test"] == [2]
    publisher.zones_hook = lambda tlds: None if knot.running else start_managed(knot, publisher)
    await settle(publisher)
    (status,) = [s for s in zone_status(db) if s["tld"] == "test"]
    assert status["last_error"] is None and status["pending"] == 0
    assert referral(knot, "during.test")[0] == {"ns.example.org."}
    assert referral(knot, "alpha.test")[0] == {"ns1.alpha.test."}
    await ok(client, create("after.test", "ns.example.org"))
    await settle(publisher)
    assert referral(knot, "after.test")[0] == {"ns.example.org."}
    served_equals_full_build(db, knot, "test", tmp_path)


async def test_dns_update_with_tsig_and_a_bad_key(connect, db, knot, publisher, tmp_path):
    client = await registrar(connect)
    good = UpdateTarget(knot.listen, knot.tsig)
    bad = UpdateTarget(
        knot.listen,
        Tsig(
            knot.tsig.name,
            knot.tsig.algorithm,
            Tsig.load_or_create(tmp_path / "other.key", "x").secret,
        ),
    )
    pub = make_publisher(db, knot, bad)
    await ok(client, host("ns.example.org"))
    await ok(client, create("viaupdate.test", "ns.example.org"))
    out = pub.step()
    assert "TSIG key domreg-update not accepted" in out.errors["test"]
    (status,) = [s for s in zone_status(db) if s["tld"] == "test"]
    assert status["pending"] == 1 and "refused" in status["last_error"]  # the host is .org
    assert ask(knot, "viaupdate.test", "NS").rcode() == dns.rcode.NXDOMAIN
    pub.target = good
    await settle(pub)
    assert referral(knot, "viaupdate.test")[0] == {"ns.example.org."}
    # A full publication over DNS UPDATE: the difference between AXFR and the build is sent.
    await ok(client, rename_host("ns.example.org", "ns9.example.org"))
    pub.publish_full("test")
    assert referral(knot, "viaupdate.test")[0] == {"ns9.example.org."}
    served_equals_full_build(db, knot, "test", tmp_path)


async def test_zone_file_publisher_for_nsd_and_bind(connect, db, tmp_path):
    """dns_mode "files": each batch rewrites the TLD's zone file and runs the reload command;
    here the command is BIND's named-checkzone, which must accept the file. A failing
    command is reported and retried like any publication error."""
    checkzone = require("named-checkzone")
    client = await registrar(connect)
    await world(client)
    pub = Publisher(db, FilesTarget(f"{checkzone} {{zone}} {{file}}"), tmp_path)
    await settle(pub)
    lines = zone_lines(tmp_path / "test.zone", "test")
    assert "alpha.test. 3600 IN NS ns1.alpha.test." in lines
    assert f"beta.test. 3600 IN DS 12345 13 2 {DIGEST}" in lines
    assert "ns1.alpha.test. 3600 IN AAAA 2001:db8::1" in lines
    pub.target = FilesTarget("false {zone}")
    await ok(client, create("more.test", "ns.example.org"))
    out = pub.step()
    assert "false test failed" in out.errors["test"]
    assert [s["pending"] for s in zone_status(db) if s["tld"] == "test"] == [1]
    pub.target = FilesTarget("")
    await settle(pub)
    assert "more.test. 3600 IN NS ns.example.org." in zone_lines(tmp_path / "test.zone", "test")
