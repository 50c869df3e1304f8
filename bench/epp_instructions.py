"""Instructions the EPP server executes per command (valgrind), a figure the load does not move.

On a shared machine the CPU time per command moves with the other users' load; the count of
instructions does not. This runs one `uvloop` `EppServer` process on a fresh SQLite database
(`domreg.bench.epp.populate`) under `valgrind --tool=cachegrind --cache-sim=no`, drives it
with `--sessions` TLS sessions of the benchmark's client (`_connect`, `Requests`) for `k1`
and then `k2` commands each, and prints the difference of the two runs' instruction totals
per command (start-up, logins and warm-up cancel out).

    .venv/bin/python bench/epp_instructions.py --phase check
    .venv/bin/python bench/epp_instructions.py --phase info --no-inline
    # before: PYTHONPATH=/path/to/main/src .venv/bin/python bench/epp_instructions.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from domreg.bench import epp as bench


async def _serve(url: str, tls_dir: str, port: int, inline: bool) -> None:
    from domreg.epp.server import EppServer, Limits, server_tls_context
    from domreg.epp.session import Registry
    from domreg.store.db import Database

    tls = server_tls_context(f"{tls_dir}/server.crt", f"{tls_dir}/server.key", f"{tls_dir}/ca.crt")
    server = EppServer(Registry(Database(url)), tls, Limits())
    if hasattr(server, "answer_inline"):  # older code has no switch
        server.answer_inline = inline
    await server.start(bench.HOST, port)
    Path(tls_dir, f"ready-{port}").touch()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


async def _drive(port: int, ca: str, phase: str, sessions: int, k: int) -> None:
    from domreg.epp.client import client_tls_context

    tls = client_tls_context(ca_file=ca)
    clid, password = bench.registrar(0)
    conns = [await bench._connect(port, tls) for _ in range(sessions)]
    for c in conns:
        reply = await c.request(bench.login_request(clid, password, "LOGIN-1"))
        assert bench.result_code(reply) == b"1000", reply

    async def run(i: int, c: bench.FramedClient) -> None:
        requests = bench.Requests(phase, bench.SessionPlan(i, clid, password, 0), 200)
        for _ in range(k):
            reply = await c.request(requests.next())
            assert bench.result_code(reply)[:1] == b"1", reply

    await asyncio.gather(*(run(i, c) for i, c in enumerate(conns)))
    for c in conns:
        c.close()


def _instructions(tmp: Path, url: str, tls_dir: Path, args: argparse.Namespace, k: int) -> int:
    port = bench.free_port()
    out = tmp / f"cachegrind.{k}"
    log = tmp / f"valgrind.{k}.log"
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}"]
    cmd += [sys.executable, __file__, "--serve", url, str(tls_dir), str(port)]
    cmd += ["--no-inline"] if args.no_inline else []
    with log.open("wb") as f:
        server = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=os.environ)
    try:
        ready = tls_dir / f"ready-{port}"  # valgrind starts slowly: no fixed time limit
        while not ready.exists():
            if server.poll() is not None:
                raise SystemExit(f"the server exited: {log.read_text()[-500:]}")
            time.sleep(0.2)
        bench.uvloop_run(_drive(port, str(tls_dir / "ca.crt"), args.phase, args.sessions, k))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(600)
    found = re.search(r"I\s+refs:\s+([\d,]+)", log.read_text())
    if found is None:
        raise SystemExit(f"no instruction count in {log}: {log.read_text()[-500:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--phase", default="check", choices=["check", "info"])
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--k1", type=int, default=50)
    p.add_argument("--k2", type=int, default=250)
    p.add_argument("--no-inline", action="store_true", help="every frame through the task")
    p.add_argument("--serve", nargs=3, metavar=("URL", "TLS_DIR", "PORT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        import uvloop

        url, tls_dir, port = args.serve
        uvloop.run(_serve(url, tls_dir, int(port), not args.no_inline))
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with bench.fresh_database("sqlite", tmp, bench.DEFAULT_PG_URL) as url:
            bench.populate(url, 1, 200)
            env = dict(os.environ, DOMREG_DATA_DIR=str(tmp), DOMREG_DATABASE_URL=url)
            subprocess.run([sys.executable, "-m", "domreg", "init"], env=env, cwd=tmp, check=True)
            tls_dir = next(tmp.rglob("server.crt")).parent
            low = _instructions(tmp, url, tls_dir, args, args.k1)
            high = _instructions(tmp, url, tls_dir, args, args.k2)
    per = (high - low) / (args.sessions * (args.k2 - args.k1))
    inline = "task per frame" if args.no_inline else "answered where the database allows"
    print(f"{args.phase}: {per:,.0f} instructions per command in the server ({inline})")


if __name__ == "__main__":
    main()
