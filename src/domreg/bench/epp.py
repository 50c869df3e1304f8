"""EPP benchmark: N concurrent TLS sessions through domain:check, info and create, beside a floor.

For each backend (SQLite, PostgreSQL) the benchmark builds a fresh database, starts a real
`domreg serve` with its worker processes, and drives it with a multi-process load generator.
In the same run it measures the floor: a bare framed-TLS echo server (same certificate, same
number of worker processes sharing the port through SO_REUSEPORT, uvloop) that answers every
frame with a canned frame as long as a real domain:check response. The machine is shared and
noisy, so every figure is printed beside the floor measured minutes earlier, with the ratio.

The load generator is built not to be the bottleneck: several processes, each running uvloop
and asyncio protocols, requests prepared as bytes, and the result code read with a byte
search instead of an XML parser. Each session sends one command and waits for its answer, as
EPP requires (no pipelining). A phase runs for a warm-up, then for a fixed measured window;
only commands answered inside the window count, and only successful ones (1xxx) are ops.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import collections
import contextlib
import json
import multiprocessing
import os
import platform
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast
from xml.sax.saxutils import escape

from sqlalchemy.engine import make_url

from domreg.epp import namespaces as ns

PHASES = ("check", "info", "create")
BACKENDS = ("sqlite", "postgresql")
DEFAULT_PG_URL = os.environ.get("DOMREG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
HOST = "127.0.0.1"
TLD = "test"
#: The clTRID every benchmark command carries (the server does not require them to be unique).
CLTRID_PREFIX = "BENCH"


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


@dataclass(frozen=True)
class Target:
    """A throughput target from the issue; `backends` limits where it applies."""

    min_ops: float
    min_ratio: float | None = None
    backends: tuple[str, ...] = BACKENDS

    def describe(self) -> str:
        text = f">= {self.min_ops:,.0f}/s"
        if self.min_ratio is not None:
            text += f" and >= {self.min_ratio:.0%} of floor"
        return text


TARGETS = {
    "domain:check": Target(10_000, min_ratio=0.35),
    "domain:info": Target(5_000),
    "domain:create": Target(1_500, backends=("postgresql",)),
}


@dataclass
class Options:
    """What to run (the command line's options)."""

    backends: tuple[str, ...] = BACKENDS
    phases: tuple[str, ...] = PHASES
    sessions: int = 32
    duration: float = 10.0
    warmup: float = 3.0
    workers: int = 2
    client_procs: int = 2
    registrars: int = 8
    info_domains: int = 1000
    pg_url: str = DEFAULT_PG_URL
    json_path: str | None = None
    floor: bool = True


@dataclass
class PhaseResult:
    backend: str
    phase: str
    ops: int
    duration: float
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    floor_ops_per_s: float | None = None
    ratio: float | None = None
    load_before: float = 0.0
    load_after: float = 0.0
    #: CPU time per successful op in the server's processes and in the load generator, and
    #: how busy the whole machine was (0-1) during the measured window.
    server_us_per_op: float | None = None
    client_us_per_op: float | None = None
    database_us_per_op: float | None = None  # PostgreSQL's backend processes (local server)
    machine_busy: float | None = None
    #: The floor's CPU per op (server and load generator) over this phase's: the ratio that
    #: other users of the machine do not move, where `ratio` (of ops/s) depends on the CPU
    #: share the benchmark got in each phase.
    cpu_ratio: float | None = None


# ---------------------------------------------------------------- requests, as bytes


def frame(payload: bytes) -> bytes:
    """RFC 5734 framing: a 4-byte big-endian length (header included), then the payload."""
    return (len(payload) + 4).to_bytes(4, "big") + payload


def _command(body: str, cltrid: str) -> bytes:
    return frame(
        f'<?xml version="1.0" encoding="UTF-8"?><epp xmlns="{ns.EPP}"><command>{body}'
        f"<clTRID>{escape(cltrid)}</clTRID></command></epp>".encode()
    )


def login_request(clid: str, password: str, cltrid: str) -> bytes:
    objs = "".join(f"<objURI>{o}</objURI>" for o in ns.OBJECTS)
    return _command(
        f"<login><clID>{escape(clid)}</clID><pw>{escape(password)}</pw>"
        "<options><version>1.0</version><lang>en</lang></options>"
        f"<svcs>{objs}</svcs></login>",
        cltrid,
    )


def check_request(name: str, cltrid: str) -> bytes:
    return _command(
        f'<check><domain:check xmlns:domain="{ns.DOMAIN}">'
        f"<domain:name>{escape(name)}</domain:name></domain:check></check>",
        cltrid,
    )


def info_request(name: str, cltrid: str) -> bytes:
    return _command(
        f'<info><domain:info xmlns:domain="{ns.DOMAIN}">'
        f'<domain:name hosts="all">{escape(name)}</domain:name></domain:info></info>',
        cltrid,
    )


AUTH_INFO = "bench-Auth1"


def create_request(name: str, cltrid: str) -> bytes:
    return _command(
        f'<create><domain:create xmlns:domain="{ns.DOMAIN}">'
        f'<domain:name>{escape(name)}</domain:name><domain:period unit="y">1</domain:period>'
        f"<domain:authInfo><domain:pw>{AUTH_INFO}</domain:pw></domain:authInfo>"
        "</domain:create></create>",
        cltrid,
    )


def logout_request(cltrid: str) -> bytes:
    return _command("<logout/>", cltrid)


def result_code(reply: bytes) -> bytes:
    """The first result code of a response, found without parsing the XML."""
    at = reply.find(b'code="')
    return reply[at + 6 : at + 10] if at >= 0 else b"????"


def registrar(index: int) -> tuple[str, str]:
    """(clID, password) of benchmark registrar `index`."""
    return f"bench{index:02d}", f"bench-Pw{index:02d}"


def info_name(registrar_index: int, k: int) -> str:
    return f"info{registrar_index}-{k}.{TLD}"


@dataclass(frozen=True)
class SessionPlan:
    """What one session does: who it logs in as and which frames it sends."""

    index: int
    clid: str
    password: str
    registrar_index: int


class Requests:
    """Frame source for one session in one phase; `next()` is cheap (the hot loop calls it)."""

    def __init__(self, phase: str, plan: SessionPlan, info_per_registrar: int) -> None:
        self.phase = phase
        self.i = 0
        cltrid = f"{CLTRID_PREFIX}-{plan.index}"
        if phase == "info":
            # Names the session's registrar sponsors: the full info view, authInfo included.
            count = max(1, info_per_registrar)
            self.frames = [
                info_request(info_name(plan.registrar_index, k), cltrid) for k in range(count)
            ]
        elif phase in ("check", "floor"):
            # Names nobody holds: the common case for a check (one name per command).
            self.frames = [
                check_request(f"avail{plan.index}-{k}.{TLD}", cltrid) for k in range(512)
            ]
        elif phase == "create":
            # Unique names: the prefix and suffix are prepared, only the counter is formatted.
            sample = create_request(f"@.{TLD}", cltrid)[4:]
            head, tail = sample.split(b"@", 1)
            self.head = head + f"new{plan.index}-{secrets.token_hex(3)}-".encode()
            self.tail = tail
            self.frames = []
        else:
            raise BenchError(f"unknown phase {phase!r}")

    def next(self) -> bytes:
        i = self.i
        self.i = i + 1
        if self.frames:
            return self.frames[i % len(self.frames)]
        payload = self.head + str(i).encode() + self.tail
        return (len(payload) + 4).to_bytes(4, "big") + payload


# ---------------------------------------------------------------- the client side


class FramedClient(asyncio.Protocol):
    """One TLS connection speaking RFC 5734 framing; one outstanding request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.frames: collections.deque[bytes] = collections.deque()
        self.waiter: asyncio.Future[bytes] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed: Exception | None = None
        self.greeting = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while len(buf) >= 4:
            length = int.from_bytes(buf[:4], "big")
            if len(buf) < length:
                break
            payload = bytes(buf[4:length])
            del buf[:length]
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                self.waiter = None
                waiter.set_result(payload)
            else:
                self.frames.append(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = exc or ConnectionResetError("connection closed by the server")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(self.closed)

    async def read(self) -> bytes:
        if self.frames:
            return self.frames.popleft()
        if self.closed is not None:
            raise self.closed
        self.waiter = self.loop.create_future()
        return await self.waiter

    async def request(self, data: bytes) -> bytes:
        assert self.transport is not None
        self.transport.write(data)
        return await self.read()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(port: int, tls: ssl.SSLContext) -> FramedClient:
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(
        loop.create_connection(
            lambda: FramedClient(loop), HOST, port, ssl=tls, server_hostname=HOST
        ),
        60,
    )
    proto.greeting = await asyncio.wait_for(proto.read(), 60)
    return proto


async def _session(
    conn: FramedClient,
    requests: Requests,
    t0: float,
    t1: float,
    latencies: array.array[float],
    codes: collections.Counter[bytes],
) -> None:
    """Send commands back to back until `t1`; keep the latency of those answered in [t0, t1]."""
    clock = time.monotonic
    next_frame = requests.next
    request = conn.request
    while True:
        sent = clock()
        if sent >= t1:
            return
        reply = await request(next_frame())
        done = clock()
        if t0 <= done <= t1:
            at = reply.find(b'code="')
            code = reply[at + 6 : at + 10]
            codes[code] += 1
            if code[:1] == b"1":
                latencies.append(done - sent)


async def _drive(
    proc: int,
    port: int,
    ca_file: str,
    phase: str,
    plans: list[SessionPlan],
    info_per_registrar: int,
    start: Any,
    duration: float,
    results: Any,
) -> None:
    from domreg.epp.client import client_tls_context

    tls = client_tls_context(ca_file=ca_file)
    conns = await asyncio.gather(*(_connect(port, tls) for _ in plans))
    try:
        if phase != "floor":
            replies = await asyncio.gather(
                *(
                    c.request(login_request(p.clid, p.password, f"{CLTRID_PREFIX}-login"))
                    for c, p in zip(conns, plans, strict=True)
                )
            )
            for reply in replies:
                if result_code(reply) != b"1000":
                    raise BenchError(f"login failed: {reply.decode(errors='replace')[:300]}")
        sources = [Requests(phase, p, info_per_registrar) for p in plans]
        results.put(("ready", proc, None))
        while start.value == 0.0:
            await asyncio.sleep(0.005)
        # Commands start at once: the warm-up runs until the measured window opens at `start`.
        t0 = start.value
        t1 = t0 + duration
        latencies: array.array[float] = array.array("d")
        codes: collections.Counter[bytes] = collections.Counter()
        await asyncio.gather(
            *(_session(c, s, t0, t1, latencies, codes) for c, s in zip(conns, sources, strict=True))
        )
        results.put(
            (
                "done",
                proc,
                {"latencies": latencies, "codes": {k.decode(): v for k, v in codes.items()}},
            )
        )
        if phase != "floor":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.gather(*(c.request(logout_request("BENCH-bye")) for c in conns)), 5
                )
    finally:
        for c in conns:
            c.close()


async def sample_check(port: int, ca_file: str) -> tuple[bytes, bytes]:
    """domreg's greeting and its answer to one of the check commands the load generator sends:
    the floor answers with frames of exactly these sizes."""
    from domreg.epp.client import client_tls_context

    conn = await _connect(port, client_tls_context(ca_file=ca_file))
    try:
        greeting = conn.greeting
        clid, password = registrar(0)
        login = await conn.request(login_request(clid, password, f"{CLTRID_PREFIX}-login"))
        if result_code(login) != b"1000":
            raise BenchError(f"login failed: {login.decode(errors='replace')[:300]}")
        reply = await conn.request(Requests("check", SessionPlan(0, clid, password, 0), 1).next())
        if result_code(reply) != b"1000":
            raise BenchError(f"check failed: {reply.decode(errors='replace')[:300]}")
        await conn.request(logout_request(f"{CLTRID_PREFIX}-bye"))
        return greeting, reply
    finally:
        conn.close()


def uvloop_run(coro: Any) -> Any:
    import uvloop

    return uvloop.run(coro)


def _client_process(*args: Any) -> None:
    import uvloop

    results = args[-1]
    try:
        uvloop.run(_drive(*args))
    except BaseException as exc:  # reported to the parent, which stops the run
        results.put(("error", args[0], f"{type(exc).__name__}: {exc}"))


@dataclass(frozen=True)
class Server:
    """A server under test: its port, the processes that do its work, and the name of its
    PostgreSQL database (whose backend processes work for it too)."""

    port: int
    pids: tuple[int, ...]
    database: str | None = None


def _cpu_seconds(pids: list[int] | tuple[int, ...]) -> float:
    """User plus system CPU time of `pids` so far (processes that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _database_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend process serving `database` (local only)."""
    if database is None:
        return {}
    needle = f" {database} ".encode()
    found = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if cmdline.read_bytes().startswith(b"postgres: ") and needle in cmdline.read_bytes():
                pid = int(cmdline.parent.name)
                found[pid] = _cpu_seconds([pid])
    return found


def _machine_cpu() -> tuple[float, float]:
    """(all, idle) CPU seconds of the whole machine since boot."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return sum(values) / tick, (values[3] + values[4]) / tick


def run_phase(
    backend: str,
    phase: str,
    server: Server,
    ca_file: str,
    opts: Options,
    info_per_registrar: int,
) -> PhaseResult:
    """Drive `opts.sessions` sessions through one phase and measure it."""
    mp = multiprocessing.get_context("fork")
    results = mp.Queue()
    start = mp.Value("d", 0.0)
    plans = [
        SessionPlan(i, *registrar(i % opts.registrars), registrar_index=i % opts.registrars)
        for i in range(opts.sessions)
    ]
    procs = max(1, min(opts.client_procs, opts.sessions))
    groups = [plans[p::procs] for p in range(procs)]
    workers = [
        mp.Process(
            target=_client_process,
            args=(
                p,
                server.port,
                ca_file,
                phase,
                groups[p],
                info_per_registrar,
                start,
                opts.duration,
                results,
            ),
            daemon=True,
        )
        for p in range(procs)
    ]
    for w in workers:
        w.start()
    try:
        _collect(results, "ready", procs, 120)
        load_before = os.getloadavg()[0]
        start.value = t0 = time.monotonic() + 0.05 + opts.warmup
        clients = [w.pid for w in workers if w.pid is not None]
        time.sleep(max(0.0, t0 - time.monotonic()))
        cpu0 = _cpu_seconds(server.pids), _cpu_seconds(clients), _machine_cpu()
        db0 = _database_cpu(server.database)
        time.sleep(max(0.0, t0 + opts.duration - time.monotonic()))
        cpu1 = _cpu_seconds(server.pids), _cpu_seconds(clients), _machine_cpu()
        db1 = _database_cpu(server.database)
        done = _collect(results, "done", procs, opts.warmup + opts.duration + 120)
        load_after = os.getloadavg()[0]
    finally:
        for w in workers:
            w.join(10)
            if w.is_alive():
                w.kill()
    latencies: list[float] = []
    codes: collections.Counter[str] = collections.Counter()
    for item in done:
        latencies.extend(item["latencies"])
        codes.update(item["codes"])
    latencies.sort()
    ok = sum(n for c, n in codes.items() if c.startswith("1"))
    errors = {c: n for c, n in sorted(codes.items()) if not c.startswith("1")}
    all_cpu, idle_cpu = cpu1[2][0] - cpu0[2][0], cpu1[2][1] - cpu0[2][1]
    return PhaseResult(
        backend=backend,
        phase="floor" if phase == "floor" else f"domain:{phase}",
        ops=ok,
        duration=opts.duration,
        ops_per_s=ok / opts.duration,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        errors=errors,
        load_before=load_before,
        load_after=load_after,
        server_us_per_op=(cpu1[0] - cpu0[0]) * 1e6 / ok if ok else None,
        database_us_per_op=(
            sum(v - db0.get(p, 0.0) for p, v in db1.items()) * 1e6 / ok
            if ok and server.database is not None
            else None
        ),
        client_us_per_op=(cpu1[1] - cpu0[1]) * 1e6 / ok if ok else None,
        machine_busy=1 - idle_cpu / all_cpu if all_cpu else None,
    )


def _collect(results: Any, kind: str, count: int, timeout: float) -> list[Any]:
    import queue

    deadline = time.monotonic() + timeout
    got: list[Any] = []
    while len(got) < count:
        try:
            what, proc, payload = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise BenchError(f"load generator timed out waiting for '{kind}'") from None
        if what == "error":
            raise BenchError(f"load generator process {proc}: {payload}")
        if what == kind:
            got.append(payload)
    return got


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


# ---------------------------------------------------------------- the floor


class EchoFrames(asyncio.Protocol):
    """The floor: TLS, RFC 5734 framing, and a canned answer; no XML, no database."""

    def __init__(self, greeting: bytes, reply: bytes, max_frame: int) -> None:
        self.greeting = greeting
        self.reply = reply
        self.max_frame = max_frame
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.greeting)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buf = self.buffer
        buf += data
        while len(buf) >= 4:
            length = int.from_bytes(buf[:4], "big")
            if length <= 4 or length > self.max_frame:
                self.transport.close()
                return
            if len(buf) < length:
                return
            del buf[:length]
            self.transport.write(self.reply)


def _floor_process(port: int, cert: str, key: str, ca: str, greeting: bytes, reply: bytes) -> None:
    import uvloop

    from domreg.epp.server import server_tls_context

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tls = server_tls_context(cert, key, ca)
        server = await loop.create_server(
            lambda: EchoFrames(greeting, reply, 65536),
            HOST,
            port,
            ssl=tls,
            reuse_port=True,
            backlog=1024,
        )
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    uvloop.run(main())


@contextlib.contextmanager
def floor_server(data_dir: Path, workers: int, greeting: bytes, reply: bytes) -> Iterator[Server]:
    """Run the echo server with `workers` processes on one port, sending `greeting` to each
    connection and `reply` (both framed) for every frame it receives."""
    tls_dir = data_dir / "tls"
    port = free_port()
    mp = multiprocessing.get_context("fork")
    procs = [
        mp.Process(
            target=_floor_process,
            args=(
                port,
                str(tls_dir / "server.crt"),
                str(tls_dir / "server.key"),
                str(tls_dir / "ca.crt"),
                greeting,
                reply,
            ),
            daemon=True,
        )
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        wait_listening(port, workers, lambda: all(p.is_alive() for p in procs), "floor server")
        yield Server(port, tuple(p.pid for p in procs if p.pid is not None))
    finally:
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()


# ---------------------------------------------------------------- servers and databases


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _listening_sockets(port: int) -> int | None:
    """How many sockets listen on `port` (one per worker with SO_REUSEPORT); None if unknown."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    count = 0
    for line in lines:
        parts = line.split()
        local, state = parts[1], parts[3]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def _children(pid: int) -> list[int]:
    """Direct child processes of `pid` (the server's workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def wait_listening(port: int, workers: int, alive: Callable[[], bool], what: str) -> None:
    """Wait until every worker listens, so that connections spread over all of them."""
    deadline = time.monotonic() + 60
    while True:
        listening = _listening_sockets(port)
        if listening is None:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                time.sleep(1.0)  # cannot count listeners here: give the others a moment
                return
            except OSError:
                pass
        elif listening >= workers:
            return
        if not alive():
            raise BenchError(f"{what} exited during start-up")
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not listen on port {port} within 60 s")
        time.sleep(0.05)


@contextlib.contextmanager
def domreg_server(url: str, data_dir: Path, workers: int, **settings: str) -> Iterator[Server]:
    """`domreg serve` as a separate process tree, configured by DOMREG_* variables."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        DOMREG_DATA_DIR=str(data_dir),
        DOMREG_DATABASE_URL=url,
        DOMREG_EPP_PORT=str(port),
        DOMREG_WORKERS=str(workers),
        DOMREG_LOG_LEVEL="WARNING",
    )
    defaults = {"http_port": str(free_port()), "whois_port": str(free_port()), "dns_mode": "off"}
    env.update({f"DOMREG_{k.upper()}": v for k, v in {**defaults, **settings}.items()})
    env.pop("DOMREG_CONFIG", None)
    log = data_dir / f"serve-{port}.log"
    cli = [sys.executable, "-m", "domreg"]
    init = subprocess.run([*cli, "init"], env=env, capture_output=True, text=True, cwd=data_dir)
    if init.returncode != 0:
        raise BenchError(f"domreg init failed: {(init.stderr or init.stdout).strip()[-500:]}")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cli, "serve"],
            env=env,
            cwd=data_dir,
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=True,
        )
    try:
        try:
            wait_listening(port, workers, lambda: proc.poll() is None, "domreg serve")
        except BenchError as exc:
            raise BenchError(f"{exc}: {log.read_text()[-500:].strip()}") from None
        database = url.rsplit("/", 1)[1].split("?", 1)[0] if url.startswith("postgres") else None
        yield Server(port, (proc.pid, *_children(proc.pid)), database)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        problems = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if " ERROR " in line or "Traceback" in line
        ]
        if problems:
            print(f"  note: the server logged {len(problems)} error line(s) in {log}", flush=True)


@contextlib.contextmanager
def fresh_database(backend: str, tmp: Path, pg_url: str) -> Iterator[str]:
    """A new, empty database for one run; PostgreSQL ones are dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    import psycopg

    name = f"domreg_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())  # one line
        raise BenchError(f"PostgreSQL at {pg_url} is not usable: {reason}") from None
    try:
        # The same server, user and options (a Unix socket's `?host=` among them).
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def populate(url: str, registrars: int, per_registrar: int) -> dict[str, str]:
    """Schema, TLD `test`, the benchmark registrars, and the domains the info phase reads.

    Returns the settings of the database that bear on the figures (durability)."""
    from sqlalchemy import select

    from domreg.clock import Clock
    from domreg.flows import domain, domain_create, registry
    from domreg.flows.base import Actor, Context
    from domreg.store import migrate
    from domreg.store import schema as t
    from domreg.store.db import Database

    db = Database(url, pool_size=1)
    try:
        migrate.upgrade(db.engine)
        now = Clock().now()
        with db.write() as conn:
            registry.add_tld(conn, now, TLD)
            for r in range(registrars):
                clid, password = registrar(r)
                registry.add_registrar(
                    conn, now, clid=clid, name=f"Benchmark {r}", password=password, tlds=[TLD]
                )
                registry.credit(conn, now, clid, 10**12)
        with db.read() as conn:
            ids = {
                r.clid: r.id for r in conn.execute(select(t.registrars.c.clid, t.registrars.c.id))
            }
        for r in range(registrars):
            clid, _ = registrar(r)
            actor = Actor(ids[clid], clid)
            with db.write() as conn:
                for k in range(per_registrar):
                    ctx = Context(conn, now, actor, None, f"BENCH-SETUP-{r}-{k}")
                    domain_create.create(ctx, domain.DomainCreate(info_name(r, k), AUTH_INFO))
        if not db.is_sqlite:
            # Planner statistics of the loaded tables, as autovacuum gathers them within a
            # minute of a load: without them the plans made at the server's start take the
            # tables for empty (and may pick any index that matches, in name lookups
            # `(registrar_id, name)` scanned whole).
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        with db.read() as conn:
            if db.is_sqlite:
                return {
                    "journal_mode": str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()),
                    "synchronous": "NORMAL (set by domreg for WAL)",
                }
            return {
                k: str(conn.exec_driver_sql(f"SHOW {k}").scalar())
                for k in ("server_version", "fsync", "synchronous_commit", "full_page_writes")
            }
    finally:
        db.close()


# ---------------------------------------------------------------- the run


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average": os.getloadavg()[0],
    }


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_backend(backend: str, opts: Options, tmp: Path) -> tuple[list[PhaseResult], dict[str, str]]:
    per_registrar = max(1, opts.info_domains // max(1, opts.registrars))
    data_dir = tmp / backend
    data_dir.mkdir()
    results: list[PhaseResult] = []
    with fresh_database(backend, data_dir, opts.pg_url) as url:
        _say(f"{backend}: preparing the database ({per_registrar * opts.registrars} domains)")
        settings = populate(url, opts.registrars, per_registrar)
        with domreg_server(url, data_dir, opts.workers) as server:
            ca = str(data_dir / "tls" / "ca.crt")
            floor: PhaseResult | None = None
            if opts.floor:
                greeting, reply = uvloop_run(sample_check(server.port, ca))
                with floor_server(data_dir, opts.workers, frame(greeting), frame(reply)) as echo:
                    _say(f"{backend}: measuring the floor")
                    floor = run_phase(backend, "floor", echo, ca, opts, per_registrar)
                    floor.ratio = floor.cpu_ratio = 1.0
                    floor.floor_ops_per_s = floor.ops_per_s
                    results.append(floor)
            for phase in opts.phases:
                _say(f"{backend}: domain:{phase}")
                res = run_phase(backend, phase, server, ca, opts, per_registrar)
                if floor is not None and floor.ops_per_s:
                    res.floor_ops_per_s = floor.ops_per_s
                    res.ratio = res.ops_per_s / floor.ops_per_s
                    res.cpu_ratio = _cpu_ratio(floor, res)
                results.append(res)
    return results, settings


def _cpu_ratio(floor: PhaseResult, res: PhaseResult) -> float | None:
    if None in (floor.server_us_per_op, floor.client_us_per_op):
        return None
    if None in (res.server_us_per_op, res.client_us_per_op):
        return None
    theirs = (floor.server_us_per_op or 0) + (floor.client_us_per_op or 0)
    ours = (res.server_us_per_op or 0) + (res.client_us_per_op or 0)
    return theirs / (ours + (res.database_us_per_op or 0))


def run(opts: Options) -> dict[str, Any]:
    """Run every requested backend; returns the whole report as plain data."""
    report: dict[str, Any] = {
        "machine": machine(),
        "options": {k: v for k, v in asdict(opts).items() if k not in ("json_path",)},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [],
        "databases": {},
    }
    with tempfile.TemporaryDirectory(prefix="domreg-bench-") as tmp:
        for backend in opts.backends:
            results, settings = run_backend(backend, opts, Path(tmp))
            report["results"].extend(asdict(r) for r in results)
            report["databases"][backend] = settings
    report["targets"] = evaluate(report["results"])
    return report


def evaluate(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    verdicts = []
    for r in results:
        target = TARGETS.get(r["phase"])
        if target is None or r["backend"] not in target.backends:
            continue
        met: bool | None = r["ops_per_s"] >= target.min_ops
        if target.min_ratio is not None:  # not judged (None) without the floor
            met = None if r["ratio"] is None else met and r["ratio"] >= target.min_ratio
        verdicts.append(
            {
                "backend": r["backend"],
                "phase": r["phase"],
                "target": target.describe(),
                "ops_per_s": r["ops_per_s"],
                "ratio": r["ratio"],
                "met": met,
            }
        )
    return verdicts


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def format_report(report: dict[str, Any]) -> str:
    m, o = report["machine"], report["options"]
    lines = [
        f"domreg EPP benchmark, {report['started']}: {o['sessions']} sessions, "
        f"{o['workers']} server workers, {o['client_procs']} client processes, "
        f"{o['duration']:g} s per phase after {o['warmup']:g} s of warm-up",
        f"machine: {m['cpus']} x {m['cpu_model']}, Python {m['python']}, "
        f"load average {m['load_average']:.2f} at start",
        "",
        f"{'backend':<11} {'phase':<14} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'vs floor':>9} {'srv us/op':>10} {'db us/op':>9} {'cli us/op':>10} "
        f"{'busy':>5} {'cpu vs floor':>12}",
    ]
    for r in report["results"]:
        errors = sum(r["errors"].values())
        ratio = f"{r['ratio']:.0%}" if r["ratio"] is not None else "-"
        phase = "floor (echo)" if r["phase"] == "floor" else r["phase"]
        lines.append(
            f"{r['backend']:<11} {phase:<14} {r['ops_per_s']:>9,.0f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {errors:>7} {ratio:>9} {_num(r['server_us_per_op']):>10} "
            f"{_num(r['database_us_per_op']):>9} {_num(r['client_us_per_op']):>10} "
            f"{_pct(r['machine_busy']):>5} {_pct(r['cpu_ratio']):>12}"
        )
        if r["errors"]:
            lines.append(f"{'':<26} errors by result code: {r['errors']}")
    lines += [
        "",
        "vs floor: ops/s over the floor's ops/s in the same run. srv/db/cli us/op: CPU time per",
        "successful command in the server's processes, in PostgreSQL's backends for the",
        "benchmark database, and in the load generator. busy: the whole machine's CPU use in",
        "the window (other users included). cpu vs floor: the floor's srv+cli us/op over this",
        "phase's srv+db+cli us/op, a ratio that other users of the machine move much less.",
        "",
    ]
    for backend, settings in report["databases"].items():
        lines.append(f"{backend}: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    if report["targets"]:
        lines += ["", "targets:"]
        for v in report["targets"]:
            ratio = f", {v['ratio']:.0%} of floor" if v["ratio"] is not None else ""
            verdict = {True: "met", False: "MISSED", None: "not judged (no floor)"}[v["met"]]
            lines.append(
                f"  {v['backend']:<11} {v['phase']:<14} {v['target']:<32} "
                f"{v['ops_per_s']:>9,.0f}/s{ratio}  {verdict}"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def _phases(text: str) -> tuple[str, ...]:
    phases = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in phases if p not in PHASES]
    if unknown or not phases:
        raise argparse.ArgumentTypeError(
            f"unknown phase {', '.join(unknown) or text!r}; choose from {','.join(PHASES)}"
        )
    return phases


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="database to benchmark (default both)",
    )
    p.add_argument("--sessions", type=_positive(int), default=32, help="concurrent TLS sessions")
    p.add_argument(
        "--duration", type=_positive(float), default=10.0, help="measured seconds per phase"
    )
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring a phase")
    p.add_argument("--workers", type=_positive(int), default=2, help="server worker processes")
    p.add_argument(
        "--client-procs",
        type=_positive(int),
        default=max(1, os.cpu_count() or 1),
        help="load generator processes (default: one per CPU)",
    )
    p.add_argument(
        "--phases", type=_phases, default=PHASES, help="comma-separated: check,info,create"
    )
    p.add_argument(
        "--registrars", type=_positive(int), default=8, help="registrars the sessions log in as"
    )
    p.add_argument(
        "--info-domains",
        type=_positive(int),
        default=1000,
        help="domains created beforehand for the info phase",
    )
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL admin database URL")
    p.add_argument("--no-floor", action="store_true", help="skip the echo-server floor")
    p.add_argument("--json", dest="json_path", metavar="FILE", help="also write the results here")


def options(args: argparse.Namespace) -> Options:
    if args.warmup < 0:
        raise BenchError("--warmup cannot be negative")
    return Options(
        backends=BACKENDS if args.backend == "both" else (args.backend,),
        phases=args.phases,
        sessions=args.sessions,
        duration=args.duration,
        warmup=args.warmup,
        workers=args.workers,
        client_procs=args.client_procs,
        registrars=args.registrars,
        info_domains=args.info_domains,
        pg_url=args.pg_url,
        json_path=args.json_path,
        floor=not args.no_floor,
    )


def main(args: argparse.Namespace) -> int:
    opts = options(args)
    report = run(opts)
    print(format_report(report), flush=True)
    if opts.json_path:
        Path(opts.json_path).write_text(json.dumps(report, indent=2) + "\n")
    return 0
