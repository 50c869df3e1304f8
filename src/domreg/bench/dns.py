"""DNS benchmark: (1) building and writing a large TLD zone, beside the time Knot's own
`kzonecheck` takes to load the same file; (2) the latency from an EPP create's response to
Knot answering the new delegation.

(1) For each backend a fresh database is bulk-loaded with direct inserts (not EPP: loading
is not what is measured): N domains with two nameservers each, 10% with a DS record; 5% of
the domains use two nameservers of their own (in-bailiwick, one A record each: glue), the
others two of 2,000 shared out-of-zone hosts. Then `domreg zone export TLD -o FILE` runs as
its own process: its wall time (Python start-up included) and its peak resident memory
(ru_maxrss) are the figures. In the same run `kzonecheck` loads that file: its time is the
floor, and the ratio is printed beside it.

(2) A real `domreg serve` with its own Knot (dns_mode "knot") on loopback; one EPP session
creates domains at a steady rate, and after each create's response a task asks Knot (UDP)
every few milliseconds until it answers with the delegation. p50/p99/max over all creates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from domreg.bench.epp import (
    DEFAULT_PG_URL,
    BenchError,
    _percentile,
    _say,
    domreg_server,
    free_port,
    fresh_database,
    machine,
    populate,
    registrar,
)

TLD = "test"
BACKENDS = ("sqlite", "postgresql")
SHARED_HOSTS = 2000
#: Targets from the issue.
MAX_BUILD_SECONDS = 10.0
MAX_BUILD_MEMORY = 1 << 30
MAX_P99 = 1.0


@dataclass
class Options:
    domains: int = 1_000_000
    creates: int = 1000
    rate: float = 20.0
    backends: tuple[str, ...] = BACKENDS
    latency_backend: str = "sqlite"
    pg_url: str = DEFAULT_PG_URL
    parts: tuple[str, ...] = ("build", "latency")
    json_path: str | None = None


@dataclass
class BuildResult:
    backend: str
    domains: int
    load_seconds: float
    build_seconds: float
    build_peak_rss: int
    build_cpu_seconds: float  # the export process's user + system time (not the server's)
    zone_bytes: int
    records: int
    kzonecheck_seconds: float
    kzonecheck_peak_rss: int
    kzonecheck_cpu_seconds: float
    kzonecheck_ok: bool
    ratio: float


@dataclass
class LatencyResult:
    backend: str
    creates: int
    rate: float
    p50: float
    p99: float
    max: float
    failures: int
    samples: list[float] = field(default_factory=list, repr=False)


# ---------------------------------------------------------------- (1) the zone build


def bulk_load(url: str, domains: int) -> None:
    """Domains, hosts, nameserver links, glue and DS rows straight into the tables."""
    populate(url, registrars=1, per_registrar=0)
    now = datetime(2026, 1, 1)
    expires = now + timedelta(days=365)
    shared = SHARED_HOSTS
    own_every = 20  # 5% of domains: two in-bailiwick nameservers with glue
    ds_every = 10  # 10% with a DS record

    def domain_rows() -> Any:
        for i in range(1, domains + 1):
            yield (i, f"D{i}-TEST", f"d{i}.{TLD}", 1, 1, 1, now, expires)

    def host_rows() -> Any:
        for k in range(1, shared + 1):
            yield (k, f"H{k}-TEST", f"ns{k % 2 + 1}.provider{k // 2}.example", 1, 1, now, None)
        hid = shared
        for i in range(own_every, domains + 1, own_every):
            for n in (1, 2):
                hid += 1
                yield (hid, f"H{hid}-TEST", f"ns{n}.d{i}.{TLD}", 1, 1, now, i)

    def address_rows() -> Any:
        hid = shared
        for _i in range(own_every, domains + 1, own_every):
            for _n in (1, 2):
                hid += 1
                yield (hid, f"10.{(hid >> 16) & 255}.{(hid >> 8) & 255}.{hid & 255}", "v4")

    def link_rows() -> Any:
        hid = shared
        for i in range(1, domains + 1):
            if i % own_every == 0:
                hid += 2
                yield (i, hid - 1)
                yield (i, hid)
            else:
                a = (i * 2) % shared + 1
                yield (i, a)
                yield (i, a % shared + 1)

    def ds_rows() -> Any:
        for i in range(ds_every, domains + 1, ds_every):
            yield (i, i % 65536, 13, 2, f"{i:064X}")

    tables = [
        (
            "domains",
            "id, roid, name, tld_id, registrar_id, creator_id, created_at, expires_at",
            domain_rows,
        ),
        (
            "hosts",
            "id, roid, name, registrar_id, creator_id, created_at, parent_domain_id",
            host_rows,
        ),
        ("host_addresses", "host_id, address, version", address_rows),
        ("domain_hosts", "domain_id, host_id", link_rows),
        ("domain_ds", "domain_id, key_tag, alg, digest_type, digest", ds_rows),
    ]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1])
        try:
            conn.execute("PRAGMA synchronous=OFF")
            with conn:
                for table, columns, rows in tables:
                    marks = ",".join("?" * len(columns.split(",")))
                    conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows())
        finally:
            conn.close()
        _fill_delegations(url)
        with contextlib.closing(sqlite3.connect(url.split("///", 1)[1])) as conn:
            conn.execute("ANALYZE")
        return
    import psycopg

    with psycopg.connect(url) as pg:
        with pg.cursor() as cur:
            for table, columns, rows in tables:
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows():
                        copy.write_row(row)
        pg.commit()
        _fill_delegations(url)
        pg.autocommit = True
        pg.execute("VACUUM ANALYZE")


def _fill_delegations(url: str) -> None:
    """Each domain's zone lines (`domains.delegation`), as the flows keep them with the
    links: computed from the rows just loaded."""
    from domreg.dns import delegation
    from domreg.store.db import Database

    db = Database(url)
    try:
        with db.write() as conn:
            delegation.refresh_all(conn)
    finally:
        db.close()


def _timed_child(
    cmd: list[str], env: dict[str, str]
) -> tuple[float, int, float, subprocess.CompletedProcess[str]]:
    """Wall time, peak RSS (bytes) and CPU seconds (user + system) of one child process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = usage.ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage_after.ru_utime - usage.ru_utime) + (usage_after.ru_stime - usage.ru_stime)
    after = usage_after.ru_maxrss
    if after <= before:  # an earlier child was larger: measure this one through /usr/bin/time
        timer = shutil.which("time") or "/usr/bin/time"
        if Path(timer).exists():
            again = subprocess.run(
                [timer, "-f", "%M", *cmd], env=env, capture_output=True, text=True
            )
            with contextlib.suppress(ValueError, IndexError):
                after = int(again.stderr.strip().splitlines()[-1])
    return seconds, after * 1024, cpu, done


def run_build(backend: str, opts: Options, tmp: Path) -> BuildResult:
    with fresh_database(backend, tmp, opts.pg_url) as url:
        _say(f"[{backend}] bulk-loading {opts.domains:,} domains")
        start = time.perf_counter()
        bulk_load(url, opts.domains)
        load = time.perf_counter() - start
        _say(f"[{backend}] loaded in {load:.1f} s; building the zone")
        path = tmp / f"{backend}-{TLD}.zone"
        env = dict(os.environ, DOMREG_DATABASE_URL=url, DOMREG_DATA_DIR=str(tmp))
        env.pop("DOMREG_CONFIG", None)
        seconds, rss, cpu, done = _timed_child(
            [sys.executable, "-m", "domreg", "zone", "export", TLD, "-o", str(path)], env
        )
        if done.returncode != 0:
            raise BenchError(f"zone export failed: {done.stderr.strip()[-500:]}")
        records = int(done.stderr.split(", ")[-1].split()[0]) if "records" in done.stderr else 0
        kzonecheck = shutil.which("kzonecheck")
        if kzonecheck is None:
            raise BenchError("kzonecheck is not installed (Debian package knot-dnssecutils)")
        _say(f"[{backend}] built in {seconds:.2f} s; kzonecheck loads the same file")
        k_seconds, k_rss, k_cpu, k_done = _timed_child([kzonecheck, "-o", TLD, str(path)], env)
        size = path.stat().st_size
        path.unlink()
    return BuildResult(
        backend=backend,
        domains=opts.domains,
        load_seconds=load,
        build_seconds=seconds,
        build_peak_rss=rss,
        build_cpu_seconds=cpu,
        zone_bytes=size,
        records=records,
        kzonecheck_seconds=k_seconds,
        kzonecheck_peak_rss=k_rss,
        kzonecheck_cpu_seconds=k_cpu,
        kzonecheck_ok=k_done.returncode == 0,
        ratio=seconds / k_seconds if k_seconds else float("nan"),
    )


# ---------------------------------------------------------------- (2) EPP to DNS latency


async def _answered(port: int, name: str, timeout: float = 10.0) -> float | None:
    """Monotonic time at which Knot first answers `name` with its delegation, or None."""
    import dns.asyncquery
    import dns.message
    import dns.rcode

    deadline = time.monotonic() + timeout
    query = dns.message.make_query(name + ".", "NS")
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            reply = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=0.5)
            if reply.rcode() == dns.rcode.NOERROR and any(
                r.name.to_text() == name + "." for r in reply.authority
            ):
                return time.monotonic()
        await asyncio.sleep(0.002)
    return None


async def _drive(epp_port: int, dns_port: int, ca: str, opts: Options) -> tuple[list[float], int]:
    from domreg.epp.client import EppClient, client_tls_context

    client = await EppClient.connect("127.0.0.1", epp_port, client_tls_context(ca_file=ca))
    clid, password = registrar(0)
    if (await client.login(clid, password)).code != 1000:
        raise BenchError("login failed")
    host = (
        '<create><host:create xmlns:host="urn:ietf:params:xml:ns:host-1.0">'
        "<host:name>ns1.bench.example</host:name></host:create></create>"
    )
    if (await client.command(host)).code != 1000:
        raise BenchError("host create failed")
    interval = 1.0 / opts.rate
    waits: list[asyncio.Task[float | None]] = []
    sent: list[float] = []
    start = time.monotonic()
    failures = 0
    for i in range(opts.creates):
        await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
        name = f"lat{i}-{os.getpid()}.{TLD}"
        reply = await client.domain_create(name, ns_hosts=("ns1.bench.example",))
        answered_at = time.monotonic()
        if reply.code != 1000:
            failures += 1
            continue
        sent.append(answered_at)
        waits.append(asyncio.create_task(_answered(dns_port, name)))
    seen = await asyncio.gather(*waits)
    await client.close()
    latencies = []
    for t0, t1 in zip(sent, seen, strict=True):
        if t1 is None:
            failures += 1
        else:
            latencies.append(max(0.0, t1 - t0))
    return sorted(latencies), failures


def run_latency(opts: Options, tmp: Path) -> LatencyResult:
    backend = opts.latency_backend
    with fresh_database(backend, tmp, opts.pg_url) as url:
        populate(url, registrars=1, per_registrar=0)
        dns_port = free_port()
        data = tmp / "serve"
        data.mkdir()
        with domreg_server(
            url,
            data,
            1,
            dns_mode="knot",
            dns_server=f"127.0.0.1@{dns_port}",
            dns_poll_interval="0.05",
            jobs_interval="0",
        ) as server:
            _say(f"[{backend}] {opts.creates} creates at {opts.rate:g}/s, each until Knot answers")
            latencies, failures = asyncio.run(
                _drive(server.port, dns_port, str(data / "tls" / "ca.crt"), opts)
            )
    return LatencyResult(
        backend=backend,
        creates=opts.creates,
        rate=opts.rate,
        p50=_percentile(latencies, 0.50),
        p99=_percentile(latencies, 0.99),
        max=latencies[-1] if latencies else float("nan"),
        failures=failures,
        samples=latencies,
    )


# ---------------------------------------------------------------- report


def format_report(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"load average {m['load_average']:.2f} at start",
    ]
    if report["build"]:
        lines.append("")
        lines.append(
            f"{'backend':<11}{'domains':>10}{'build s':>9}{'CPU s':>7}{'peak MiB':>10}"
            f"{'kzonecheck s':>14}{'CPU s':>7}{'kzc MiB':>9}{'ratio':>7}{'zone MiB':>10}  target"
        )
        for b in report["build"]:
            ok = b["build_seconds"] <= MAX_BUILD_SECONDS and b["build_peak_rss"] < MAX_BUILD_MEMORY
            lines.append(
                f"{b['backend']:<11}{b['domains']:>10,}{b['build_seconds']:>9.2f}"
                f"{b['build_cpu_seconds']:>7.2f}{b['build_peak_rss'] / 2**20:>10.0f}"
                f"{b['kzonecheck_seconds']:>14.2f}{b['kzonecheck_cpu_seconds']:>7.2f}"
                f"{b['kzonecheck_peak_rss'] / 2**20:>9.0f}{b['ratio']:>7.2f}"
                f"{b['zone_bytes'] / 2**20:>10.0f}  {'met' if ok else 'MISSED'} "
                f"(<= {MAX_BUILD_SECONDS:g} s, < 1 GiB; kzonecheck "
                f"{'accepts' if b['kzonecheck_ok'] else 'REJECTS'} the zone)"
            )
    if report["latency"]:
        r = report["latency"]
        ok = r["p99"] <= MAX_P99 and r["failures"] == 0
        lines.append("")
        lines.append(
            f"EPP create -> answered by Knot ({r['backend']}, {r['creates']} creates at "
            f"{r['rate']:g}/s): p50 {r['p50'] * 1000:.0f} ms, p99 {r['p99'] * 1000:.0f} ms, "
            f"max {r['max'] * 1000:.0f} ms, {r['failures']} not answered; target p99 <= "
            f"{MAX_P99:g} s: {'met' if ok else 'MISSED'}"
        )
    return "\n".join(lines)


def run(opts: Options) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "build": [], "latency": None}
    with tempfile.TemporaryDirectory(prefix="domreg-bench-dns-") as tmp:
        if "build" in opts.parts:
            for backend in opts.backends:
                sub = Path(tmp) / f"build-{backend}"
                sub.mkdir()
                report["build"].append(asdict(run_build(backend, opts, sub)))
        if "latency" in opts.parts:
            sub = Path(tmp) / "latency"
            sub.mkdir()
            result = asdict(run_latency(opts, sub))
            result.pop("samples")
            report["latency"] = result
    return report


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--domains", type=int, default=1_000_000, help="domains in the zone build")
    p.add_argument("--creates", type=int, default=1000, help="EPP creates in the latency run")
    p.add_argument("--rate", type=float, default=20.0, help="creates per second (steady)")
    p.add_argument("--backends", default=",".join(BACKENDS), help="databases for the zone build")
    p.add_argument("--latency-backend", default="sqlite", choices=BACKENDS)
    p.add_argument("--parts", default="build,latency", help="build, latency or both")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--json", dest="json_path", help="also write the results as JSON here")


def add_parser(bench: Any) -> None:
    """Register `domreg bench dns` on the `domreg bench` subparsers."""
    p = bench.add_parser(
        "dns",
        help="zone build of a large TLD beside kzonecheck; EPP-to-DNS latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(fn=_cli)


def _cli(args: argparse.Namespace, cfg: Any) -> int:
    try:
        return main(args)
    except BenchError as exc:
        print(f"domreg bench dns: {exc}", file=sys.stderr)
        return 1


def main(args: argparse.Namespace) -> int:
    backends = tuple(b for b in args.backends.split(",") if b)
    parts = tuple(p for p in args.parts.split(",") if p)
    if any(b not in BACKENDS for b in backends) or any(
        p not in ("build", "latency") for p in parts
    ):
        raise BenchError("--backends is sqlite and/or postgresql; --parts is build and/or latency")
    if args.domains < 1 or args.creates < 1 or args.rate <= 0:
        raise BenchError("--domains, --creates and --rate must be positive")
    opts = Options(
        domains=args.domains,
        creates=args.creates,
        rate=args.rate,
        backends=backends,
        latency_backend=args.latency_backend,
        pg_url=args.pg_url,
        parts=parts,
        json_path=args.json_path,
    )
    report = run(opts)
    print(format_report(report), flush=True)
    if opts.json_path:
        Path(opts.json_path).write_text(json.dumps(report, indent=2) + "\n")
    return 0
