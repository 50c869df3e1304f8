"""RDAP and WHOIS benchmarks, each beside a floor measured in the same run.

`domreg bench rdap`: a fresh database (domains with registrant, technical contact, two
nameservers with glue and a DS record each), a real `domreg serve` (started by
`bench/epp.py`'s helpers, rate limits off), and `wrk` with 64 connections looking up domains
(a Lua script cycles through the names) for a measured window; then nginx serving, on as
many worker processes, the very bytes of one domreg answer from a file: the floor, what
HTTP/1.1 keep-alive and wrk reach on this machine at that moment. Lookups/s, p50 and p99
are wrk's; the ratio is domreg's lookups/s over nginx's.

`domreg bench whois`: one TCP connection per query (connect, send a domain name, read the
answer to EOF), from several load-generator processes, against `domreg serve`; the floor is
an asyncio server on uvloop with the same number of processes that answers each connection
with the bytes of a real domreg answer and closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from domreg.bench.epp import (
    BACKENDS,
    DEFAULT_PG_URL,
    HOST,
    BenchError,
    Server,
    _cpu_seconds,
    _database_cpu,
    domreg_server,
    free_port,
    fresh_database,
    machine,
    wait_listening,
)

TLD = "test"
TARGETS = {"rdap": (10_000.0, 0.25), "whois": (5_000.0, None)}


def _say(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def populate(url: str, domains: int) -> list[str]:
    """Schema, TLD, one registrar with its published data, contacts, hosts and `domains`
    domains created through the flows. Returns the domain names."""
    from domreg.clock import Clock
    from domreg.flows import contact, dnssec, domain, domain_create, host, registry
    from domreg.flows.base import Actor, Context, SvTrIds
    from domreg.flows.registrar_data import set_rdds_data
    from domreg.store import migrate
    from domreg.store.db import Database

    db = Database(url, pool_size=1)
    ids = SvTrIds()
    try:
        migrate.upgrade(db.engine)
        now = Clock().now()
        with db.write() as conn:
            registry.add_tld(conn, now, TLD)
            registry.add_registrar(
                conn,
                now,
                clid="benchrar",
                name="Bench Registrar",
                password="bench-Pw01",
                tlds=[TLD],
            )
            registry.credit(conn, now, "benchrar", 10**12)
            set_rdds_data(
                conn,
                now,
                "benchrar",
                iana_id=9999,
                url="https://registrar.example",
                whois_server="whois.registrar.example",
                abuse_email="abuse@registrar.example",
                abuse_phone="+1.5555550100",
            )
            rid = conn.exec_driver_sql("SELECT id FROM registrars").scalar_one()
        actor = Actor(rid, "benchrar")
        postal = contact.PostalInfo(
            "int", "Jane Doe", "Example Org", ("1 Main St",), "Dulles", "VA", "20166", "US"
        )
        names = [f"bench{k}.{TLD}" for k in range(domains)]
        with db.write() as conn:

            def ctx() -> Context:
                return Context(conn, now, actor, "BENCH", ids.next())

            domain_create.create(ctx(), domain.DomainCreate(f"dns.{TLD}", "Auth-bench1"))
            for n in (1, 2):
                host.create(
                    ctx(),
                    host.HostCreate(
                        f"ns{n}.dns.{TLD}", ((f"192.0.2.{n}", "v4"), (f"2001:db8::{n}", "v6"))
                    ),
                )
            contact.create(
                ctx(),
                contact.ContactCreate(
                    "bench-reg", (postal,), "jane@example.org", "Auth-bench1", voice="+1.7035555555"
                ),
            )
            ds = dnssec.DsData(
                12345, 13, 2, "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE4C3C0F1B2E5B2E3F0A1B2C3D"
            )
            for name in names:
                domain_create.create(
                    ctx(),
                    domain.DomainCreate(
                        name,
                        "Auth-bench1",
                        ns=(f"ns1.dns.{TLD}", f"ns2.dns.{TLD}"),
                        registrant="bench-reg",
                        contacts=(("tech", "bench-reg"),),
                        dnssec=dnssec.DnssecCreate(ds=(ds,)),
                    ),
                )
        return names
    finally:
        db.close()


@contextlib.contextmanager
def serving(url: str, data_dir: Path, workers: int) -> Iterator[tuple[Server, int, int]]:
    """`domreg serve` with rate limits off; yields (server, HTTP port, WHOIS port)."""
    http_port, whois_port = free_port(), free_port()
    with domreg_server(
        url,
        data_dir,
        workers,
        http_port=str(http_port),
        whois_port=str(whois_port),
        rdap_rate_limit="0",
        whois_rate_limit="0",
        jobs_interval="0",
    ) as server:
        for port in (http_port, whois_port):
            wait_listening(port, workers, lambda: True, "domreg serve")
        yield server, http_port, whois_port


# ---------------------------------------------------------------- CPU per operation


def cpu_usage(server: Server) -> tuple[float, dict[int, float]]:
    """CPU seconds so far of the server's processes, and of each PostgreSQL backend serving
    its database (none on SQLite)."""
    return _cpu_seconds(server.pids), _database_cpu(server.database)


def add_cpu(
    res: dict[str, Any],
    server: Server,
    before: tuple[float, dict[int, float]],
    after: tuple[float, dict[int, float]],
) -> None:
    """Server and database CPU microseconds per answered query between `before` and
    `after` (what a noisy machine changes least: the wall-clock rate moves with the load)."""
    ops = res["requests"]
    res["srv_us_per_op"] = (after[0] - before[0]) * 1e6 / ops if ops else None
    res["db_us_per_op"] = (
        sum(v - before[1].get(p, 0.0) for p, v in after[1].items()) * 1e6 / ops
        if ops and server.database is not None
        else None
    )


# ---------------------------------------------------------------- RDAP with wrk and nginx

_LUA = """
local names = {}
for line in io.lines("%s") do names[#names + 1] = line end
local i = 0
request = function()
  i = i %% #names + 1
  return wrk.format("GET", "/rdap/domain/" .. names[i])
end
"""


def _duration_ms(text: str) -> float:
    value = float(re.match(r"[0-9.]+", text).group(0))  # type: ignore[union-attr]
    unit = text[len(re.match(r"[0-9.]+", text).group(0)) :]  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}.get(unit, 1.0)


def wrk(
    url: str, connections: int, duration: float, threads: int, script: str | None
) -> dict[str, Any]:
    """Run wrk; returns requests/s, p50/p99 (ms), requests, non-2xx and socket errors."""
    exe = shutil.which("wrk")
    if exe is None:
        raise BenchError("wrk is not installed (Debian package wrk; scripts/system-deps.sh)")
    cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise BenchError(f"wrk failed: {out.stderr.strip()[-300:]}")
    text = out.stdout
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"could not read wrk's output:\n{text}")
    return {
        "ops_per_s": float(rps.group(1)),
        "p50_ms": _duration_ms(p50.group(1)),
        "p99_ms": _duration_ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


@contextlib.contextmanager
def nginx(root: Path, body: bytes, workers: int) -> Iterator[int]:
    """nginx serving `body` for every /rdap/domain/ path, `workers` processes."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        raise BenchError(
            "nginx is not installed (Debian package nginx-light; scripts/system-deps.sh)"
        )
    port = free_port()
    (root / "response.json").write_bytes(body)
    user = "user root;" if os.geteuid() == 0 else ""
    conf = root / "nginx.conf"
    conf.write_text(
        f"""{user}
daemon off;
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen {HOST}:{port} reuseport;
        location /rdap/domain/ {{
            root {root};
            try_files /response.json =404;
            default_type application/rdap+json;
            add_header Access-Control-Allow-Origin *;
        }}
    }}
}}
"""
    )
    (root / "tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [exe, "-c", str(conf), "-p", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_listening(port, 1, lambda: proc.poll() is None, "nginx")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_rdap(opts: argparse.Namespace, backend: str, tmp: Path) -> list[dict[str, Any]]:
    data_dir = tmp / backend
    data_dir.mkdir()
    results = []
    with fresh_database(backend, data_dir, opts.pg_url) as url:
        _say(f"{backend}: preparing {opts.domains} domains")
        names = populate(url, opts.domains)
        names_file = data_dir / "names.txt"
        names_file.write_text("\n".join(names) + "\n")
        script = data_dir / "names.lua"
        script.write_text(_LUA % names_file)
        with serving(url, data_dir, opts.workers) as (server, http_port, _):
            base = f"http://{HOST}:{http_port}"
            with urllib.request.urlopen(f"{base}/rdap/domain/{names[0]}") as r:
                body = r.read()
            _say(f"{backend}: floor (nginx, {len(body)}-byte answer)")
            (data_dir / "nginx").mkdir()
            with nginx(data_dir / "nginx", body, opts.workers) as port:
                wrk(
                    f"http://{HOST}:{port}/rdap/domain/{names[0]}",
                    opts.connections,
                    opts.warmup,
                    opts.threads,
                    None,
                )
                floor = wrk(
                    f"http://{HOST}:{port}/rdap/domain/{names[0]}",
                    opts.connections,
                    opts.duration,
                    opts.threads,
                    None,
                )
            floor.update(backend=backend, phase="floor (nginx)", bytes=len(body))
            results.append(floor)
            _say(f"{backend}: RDAP domain lookups")
            wrk(base + "/", opts.connections, opts.warmup, opts.threads, str(script))
            before = cpu_usage(server)
            res = wrk(base + "/", opts.connections, opts.duration, opts.threads, str(script))
            add_cpu(res, server, before, cpu_usage(server))
            res.update(backend=backend, phase="rdap domain", bytes=len(body))
            res["ratio"] = res["ops_per_s"] / floor["ops_per_s"] if floor["ops_per_s"] else None
            results.append(res)
    return results


# ---------------------------------------------------------------- WHOIS


class _OneQuery(asyncio.Protocol):
    """One WHOIS exchange: send the query when connected, collect the answer until EOF."""

    def __init__(self, query: bytes, done: asyncio.Future[bytes]) -> None:
        self.query = query
        self.done = done
        self.parts: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.query)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.parts.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(b"".join(self.parts))


async def _whois_loop(
    port: int, queries: list[bytes], stop_at: float, start_at: float
) -> tuple[int, int, list[float]]:
    ok = failed = 0
    latencies: list[float] = []
    i = 0
    loop = asyncio.get_running_loop()
    while True:
        t0 = time.perf_counter()
        if t0 >= stop_at:
            break
        q = queries[i % len(queries)]
        i += 1
        done: asyncio.Future[bytes] = loop.create_future()
        try:
            await loop.create_connection(lambda q=q, done=done: _OneQuery(q, done), HOST, port)  # type: ignore[misc]
            data = await done
        except OSError:
            failed += 1
            continue
        t1 = time.perf_counter()
        if t0 >= start_at and t1 <= stop_at:
            if data.startswith(b"Domain Name:"):
                ok += 1
                latencies.append(t1 - t0)
            else:
                failed += 1
    return ok, failed, latencies


def _whois_process(
    port: int, queries: list[bytes], concurrency: int, start: float, stop: float, out: Any
) -> None:
    import uvloop

    async def main() -> None:
        offset = time.perf_counter() - time.monotonic()
        parts = await asyncio.gather(
            *(_whois_loop(port, queries, stop + offset, start + offset) for _ in range(concurrency))
        )
        ok = sum(p[0] for p in parts)
        failed = sum(p[1] for p in parts)
        lat = [x for p in parts for x in p[2]]
        out.put((ok, failed, lat))

    uvloop.run(main())


def drive_whois(
    port: int, names: list[str], opts: argparse.Namespace, server: Server | None = None
) -> dict[str, Any]:
    mp = multiprocessing.get_context("fork")
    out = mp.Queue()
    queries = [f"{n}\r\n".encode() for n in names]
    start = time.monotonic() + 0.5 + opts.warmup
    stop = start + opts.duration
    procs = [
        mp.Process(
            target=_whois_process,
            args=(port, queries, opts.concurrency, start, stop, out),
            daemon=True,
        )
        for _ in range(opts.client_procs)
    ]
    for p in procs:
        p.start()
    if server is not None:  # the server's CPU in the measured window
        time.sleep(max(0.0, start - time.monotonic()))
        before = cpu_usage(server)
        time.sleep(max(0.0, stop - time.monotonic()))
        after = cpu_usage(server)
    parts = [out.get(timeout=opts.warmup + opts.duration + 60) for _ in procs]
    for p in procs:
        p.join(10)
    ok = sum(p[0] for p in parts)
    lat = sorted(x for p in parts for x in p[2])

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * (len(lat) - 1) + 0.5))] * 1000 if lat else float("nan")

    res = {
        "ops_per_s": ok / opts.duration,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "requests": ok,
        "errors": sum(p[1] for p in parts),
    }
    if server is not None:
        add_cpu(res, server, before, after)
    return res


class _Canned(asyncio.Protocol):
    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        if b"\n" in data:
            self.transport.write(self.reply)
            self.transport.close()


def _whois_floor(port: int, reply: bytes) -> None:
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Canned(reply), HOST, port, reuse_port=True, backlog=1024
        )
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    uvloop.run(main())


def run_whois(opts: argparse.Namespace, backend: str, tmp: Path) -> list[dict[str, Any]]:
    data_dir = tmp / backend
    data_dir.mkdir()
    results = []
    with fresh_database(backend, data_dir, opts.pg_url) as url:
        _say(f"{backend}: preparing {opts.domains} domains")
        names = populate(url, opts.domains)
        with serving(url, data_dir, opts.workers) as (server, _, whois_port):
            import socket

            with socket.create_connection((HOST, whois_port)) as s:
                s.sendall(f"{names[0]}\r\n".encode())
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
            port = free_port()
            mp = multiprocessing.get_context("fork")
            floor_procs = [
                mp.Process(target=_whois_floor, args=(port, reply), daemon=True)
                for _ in range(opts.workers)
            ]
            for p in floor_procs:
                p.start()
            try:
                wait_listening(
                    port, opts.workers, lambda: all(p.is_alive() for p in floor_procs), "floor"
                )
                _say(f"{backend}: floor (canned answer, {len(reply)} bytes)")
                floor = drive_whois(port, names, opts)
            finally:
                for p in floor_procs:
                    if p.pid is not None:
                        os.kill(p.pid, signal.SIGTERM)
                    p.join(10)
            floor.update(backend=backend, phase="floor (canned)", bytes=len(reply))
            results.append(floor)
            _say(f"{backend}: WHOIS domain queries")
            res = drive_whois(whois_port, names, opts, server)
            res.update(backend=backend, phase="whois domain", bytes=len(reply))
            res["ratio"] = res["ops_per_s"] / floor["ops_per_s"] if floor["ops_per_s"] else None
            results.append(res)
    return results


# ---------------------------------------------------------------- command line


def add_arguments(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--backend", choices=[*BACKENDS, "both"], default="sqlite")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    p.add_argument("--workers", type=int, default=2, help="server (and floor) processes")
    p.add_argument("--domains", type=int, default=1000, help="domains created beforehand")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL admin database URL")
    p.add_argument("--json", dest="json_path", metavar="FILE", help="also write the results here")
    if kind == "rdap":
        p.add_argument("--connections", type=int, default=64, help="wrk connections")
        p.add_argument("--threads", type=int, default=2, help="wrk threads")
    else:
        p.add_argument("--client-procs", type=int, default=2, help="load generator processes")
        p.add_argument("--concurrency", type=int, default=16, help="queries in flight per process")


def format_report(kind: str, report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"domreg {kind.upper()} benchmark, {report['started']}",
        f"machine: {m['cpus']} x {m['cpu_model']}, load average {m['load_average']:.2f} at start",
        "",
        f"{'backend':<11} {'phase':<16} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs floor':>9} "
        f"{'bytes':>6} {'srv us/op':>10} {'db us/op':>9}",
    ]

    def us(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    for r in report["results"]:
        ratio = f"{r['ratio']:.0%}" if r.get("ratio") is not None else "-"
        lines.append(
            f"{r['backend']:<11} {r['phase']:<16} {r['ops_per_s']:>9,.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {ratio:>9} {r['bytes']:>6} {us(r.get('srv_us_per_op')):>10} "
            f"{us(r.get('db_us_per_op')):>9}"
        )
    for t in report["targets"]:
        lines.append(
            f"target {t['backend']} {t['phase']}: {t['target']} -> {'met' if t['met'] else 'MISSED'}"
        )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    kind = args.bench_command
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    report: dict[str, Any] = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [],
    }
    with tempfile.TemporaryDirectory(prefix=f"domreg-bench-{kind}-") as tmp:
        for backend in backends:
            run = run_rdap if kind == "rdap" else run_whois
            report["results"].extend(run(args, backend, Path(tmp)))
    min_ops, min_ratio = TARGETS[kind]
    report["targets"] = [
        {
            "backend": r["backend"],
            "phase": r["phase"],
            "target": f">= {min_ops:,.0f}/s"
            + (f" and >= {min_ratio:.0%} of floor" if min_ratio else ""),
            "met": r["ops_per_s"] >= min_ops
            and (min_ratio is None or (r.get("ratio") or 0) >= min_ratio),
        }
        for r in report["results"]
        if not r["phase"].startswith("floor")
    ]
    print(format_report(kind, report), flush=True)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=2) + "\n")
    return 0
