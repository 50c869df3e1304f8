"""DNS publication in `domreg serve` and the `domreg zone` commands: the first worker starts
its own Knot (dns_mode "knot") and the publisher task; an EPP create is answered by Knot
without anyone running a command; `domreg zone set|status|ds|export|publish` work on the
running registry and refuse bad input with one line and status 2."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from domreg.clock import Clock
from domreg.epp.client import EppClient, client_tls_context
from domreg.flows import registry
from domreg.store.db import Database
from tests.dnssupport import require, zone_lines
from tests.support import PASSWORDS, free_port, served


def domreg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`domreg ARGS` with the environment `env`, run in this process (a second each saved)."""
    from domreg.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def answered(port: int, name: str, timeout: float = 10.0) -> float:
    """Seconds until Knot on `port` answers `name` NS with a referral."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        q = dns.message.make_query(name, "NS")
        try:
            reply = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
        except dns.exception.Timeout:
            continue
        if (
            reply.rcode() == dns.rcode.NOERROR
            and reply.authority
            and any(r.name.to_text() == name + "." for r in reply.authority)
        ):
            return time.monotonic() - start
        time.sleep(0.01)
    raise AssertionError(f"{name} not answered within {timeout} s")


async def test_serve_publishes_epp_changes_to_its_knot(database_url, db: Database, tmp_path):
    require("knotd")
    port = free_port()
    with served(
        database_url,
        tmp_path,
        workers=2,
        dns_mode="knot",
        dns_server=f"127.0.0.1@{port}",
        dns_poll_interval="0.05",
    ) as env:
        deadline = time.monotonic() + 20
        while True:  # Knot is started before EPP listens; the zone is served at once
            try:
                reply = dns.query.udp(
                    dns.message.make_query("test.", "SOA"), "127.0.0.1", port=port, timeout=1
                )
                if reply.answer:
                    break
            except (OSError, dns.exception.Timeout):
                pass
            assert time.monotonic() < deadline, "Knot did not come up"
            await asyncio.sleep(0.1)
        tls = client_tls_context(ca_file=str(tmp_path / "tls" / "ca.crt"))
        client = await EppClient.connect("127.0.0.1", int(env["DOMREG_EPP_PORT"]), tls)
        assert (await client.login("ClientX", PASSWORDS["ClientX"])).code == 1000
        host = (
            '<create><host:create xmlns:host="urn:ietf:params:xml:ns:host-1.0">'
            "<host:name>ns1.example.org</host:name></host:create></create>"
        )
        assert (await client.command(host)).code == 1000
        reply = await client.domain_create("served.test", ns_hosts=("ns1.example.org",))
        assert reply.code == 1000, reply.raw
        # The delegation gets served (how fast is measured by bench/dns.py, not here).
        await asyncio.to_thread(answered, port, "served.test", 30.0)
        # A TLD added while the registry runs: Knot serves it from its first delegation on.
        with db.write() as conn:
            registry.add_tld(conn, Clock().now(), "later")
            registry.accredit(conn, "ClientX", ["later"])
        reply = await client.domain_create("first.later", ns_hosts=("ns1.example.org",))
        assert reply.code == 1000, reply.raw
        await asyncio.to_thread(answered, port, "first.later")
        await client.close()

        # domreg zone status / ds / export / set / publish against the running registry.
        status = domreg(env, "zone", "status")
        assert status.returncode == 0, status.stderr
        line = next(x for x in status.stdout.splitlines() if x.startswith("test:"))
        assert "pending changes 0" in line and "served serial" in line
        ds = domreg(env, "zone", "ds", "test")
        assert ds.returncode == 0, ds.stderr
        assert ds.stdout.startswith("test. ") and " IN DS " in ds.stdout and " 13 2 " in ds.stdout
        out = tmp_path / "export.zone"
        export = domreg(env, "zone", "export", "test", "-o", str(out))
        assert export.returncode == 0, export.stderr
        assert "served.test. 3600 IN NS ns1.example.org." in zone_lines(out, "test")
        stdout_export = domreg(env, "zone", "export", "test")
        assert "served.test. 3600 IN NS ns1.example.org." in zone_lines(
            stdout_export.stdout, "test"
        )

        bad = domreg(env, "zone", "set", "test", "--ns", "ns1.nic.test")
        assert bad.returncode == 2 and "give its addresses" in bad.stderr
        assert "Traceback" not in bad.stderr
        assert domreg(env, "zone", "set", "test", "--ns", "a.example.org=192.0.2.1").returncode == 2
        assert domreg(env, "zone", "set", "nope", "--ttl", "300").returncode == 2
        assert domreg(env, "zone", "export", "nope").returncode == 2
        done = domreg(
            env,
            "zone",
            "set",
            "test",
            "--ns",
            "a.nic.test=127.0.0.1",
            "--ns",
            "b.nic.test=127.0.0.2,::1",
            "--hostmaster",
            "dns@nic.test",
        )
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 10
        while True:  # the publisher rebuilds the zone with the new apex
            reply = dns.query.udp(
                dns.message.make_query("test.", "NS"), "127.0.0.1", port=port, timeout=1
            )
            names = {rd.to_text() for rrset in reply.answer for rd in rrset}
            if names == {"a.nic.test.", "b.nic.test."}:
                break
            assert time.monotonic() < deadline, names
            await asyncio.sleep(0.1)
        reply = dns.query.udp(
            dns.message.make_query("b.nic.test.", "AAAA"), "127.0.0.1", port=port, timeout=1
        )
        assert [rd.to_text() for rrset in reply.answer for rd in rrset] == ["::1"]
        full = domreg(env, "zone", "publish", "test", "--full")
        assert full.returncode == 0, full.stderr
        assert "published in full" in full.stdout
    # serve stopped: its Knot stopped with it.
    knot_pid = Path(env["DOMREG_DATA_DIR"]) / "dns" / "knot" / "run" / "knot.pid"
    if knot_pid.exists():
        pid = int(knot_pid.read_text().strip() or 0)
        assert pid == 0 or not os.path.exists(f"/proc/{pid}"), "knotd outlived domreg serve"


def test_zone_commands_refuse_when_dns_is_off(database_url, db: Database, tmp_path):
    env = dict(os.environ, DOMREG_DATABASE_URL=database_url, DOMREG_DATA_DIR=str(tmp_path))
    env["DOMREG_DNS_MODE"] = "off"
    done = domreg(env, "zone", "publish", "test", "--full")
    assert done.returncode == 2 and "dns_mode is off" in done.stderr


@pytest.mark.parametrize("mode", ["bogus"])
def test_unknown_dns_mode_is_a_clear_error(database_url, db: Database, tmp_path, mode):
    env = dict(os.environ, DOMREG_DATABASE_URL=database_url, DOMREG_DATA_DIR=str(tmp_path))
    env["DOMREG_DNS_MODE"] = mode
    done = domreg(env, "zone", "publish", "test", "--full")
    assert done.returncode == 2 and "dns_mode must be one of" in done.stderr
