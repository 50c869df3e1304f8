"""Escrow benchmark: a full deposit of a TLD with N domains (default 1,000,000, with their
contacts and hosts), encryption and signing included, and its restore into an empty
database, each timed with its peak resident memory, beside floors measured in the same run.

The registry is bulk-loaded straight into the tables (executemany in one transaction; the
load's own time is printed: it is the floor of the restore, which inserts the same rows plus
a history row each). The deposit and the restore run as `domreg escrow deposit|restore`
child processes, so their peak RSS (ru_maxrss) is theirs alone. The deposit's floor is GnuPG
alone compressing, encrypting and signing the same XML (`gpg --compress-algo zlib --encrypt`
then `gpg --detach-sign`), the file written beforehand by `escrow.deposit.write_xml` (whose
time is printed too: the XML generation on its own). On PostgreSQL, when the server runs on
this machine, the CPU seconds of its processes serving the deposit and the restore are
printed too (sampled from /proc).

    domreg bench escrow [--domains N] [--backend sqlite|postgresql] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from domreg.clock import Clock

REGISTRARS = 20
CONTACTS_PER_DOMAIN = 0.2  # a contact pool of N/5 handles
HOSTS_PER_DOMAIN = 0.1  # N/10 name servers, two per domain
TLD = "bench"
TARGET_DEPOSIT_S = 60.0
TARGET_DEPOSIT_RSS = 1 << 30
TARGET_RESTORE_S = 300.0


class BenchError(Exception):
    pass


def add_parser(bench: Any) -> None:
    p = bench.add_parser(
        "escrow",
        help="full deposit (with RyDE) and restore of a large TLD, beside gpg and bulk-load floors",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--domains", type=int, default=1_000_000)
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("DOMREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    p.add_argument("--work-dir", help="default: a temporary directory (removed)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument(
        "--database-url",
        help="deposit this existing registry (TLD 'bench', loaded by an earlier run) instead of loading one",
    )
    p.add_argument("--no-restore", action="store_true", help="measure the deposit only")
    p.set_defaults(fn=lambda args, cfg: run(args))


@contextmanager
def _database(backend: str, work: Path, pg_url: str, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{work / (name + '.db')}"
        return
    import psycopg

    db_name = f"domreg_bench_{name}_{os.getpid()}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    try:
        yield pg_url.rsplit("/", 1)[0] + "/" + db_name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def load(url: str, domains: int, now: datetime) -> dict[str, int]:
    """Bulk-load a TLD of `domains` domains with contacts and hosts; returns row counts."""
    from domreg.dns import delegation
    from domreg.flows import registry
    from domreg.store import migrate
    from domreg.store import schema as t
    from domreg.store.db import Database

    db = Database(url, pool_size=2)
    migrate.upgrade(db.engine)
    created = now - timedelta(days=400)
    with db.write() as conn:
        registry.add_tld(conn, created, TLD)
        for i in range(REGISTRARS):
            registry.add_registrar(
                conn,
                created,
                clid=f"reg{i}",
                name=f"Registrar {i}",
                password="bench-PW1",
                tlds=[TLD],
            )
        conn.execute(
            t.registrars.update().values(iana_id=t.registrars.c.id + 1000, created_at=created)
        )
        ids = [r.id for r in conn.execute(t.registrars.select())]
    n_contacts = max(1, int(domains * CONTACTS_PER_DOMAIN))
    n_hosts = max(2, int(domains * HOSTS_PER_DOMAIN))
    batch = 20_000
    counts = {"domains": domains, "contacts": n_contacts, "hosts": n_hosts}
    with db.write() as conn:
        tld_id = conn.execute(t.tlds.select()).first().id  # type: ignore[union-attr]

        sqlite = conn.dialect.name == "sqlite"
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

        def chunks(total: int, make: Any) -> None:
            for start in range(0, total, batch):
                rows = [make(i) for i in range(start, min(total, start + batch))]
                for table, values in _split(rows):
                    cols = list(values[0])
                    mark = "?" if sqlite else "%s"
                    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
                    cursor.executemany(
                        sql,
                        [
                            tuple(
                                v.isoformat(" ", "microseconds")
                                if sqlite and isinstance(v, datetime)
                                else v
                                for v in row.values()
                            )
                            for row in values
                        ],
                    )

        def contact(i: int) -> Any:
            rid = ids[i % len(ids)]
            return [
                (
                    t.contacts,
                    dict(
                        id=i + 1,
                        roid=f"C{i + 1:X}-BENCH",
                        handle=f"ct-{i}",
                        registrar_id=rid,
                        creator_id=rid,
                        created_at=created,
                        email=f"holder{i}@example.com",
                        voice="+1.5555550100",
                    ),
                ),
                (
                    t.contact_postal,
                    dict(
                        contact_id=i + 1,
                        type="int",
                        name=f"Holder {i}",
                        org=None,
                        street1=f"{i} Main Street",
                        street2=None,
                        street3=None,
                        city="Springfield",
                        sp="IL",
                        pc="62701",
                        cc="US",
                    ),
                ),
            ]

        def host(i: int) -> Any:
            rid = ids[i % len(ids)]
            return [
                (
                    t.hosts,
                    dict(
                        id=i + 1,
                        roid=f"H{i + 1:X}-BENCH",
                        name=f"ns{i}.dns-host.example",
                        registrar_id=rid,
                        creator_id=rid,
                        created_at=created,
                    ),
                )
            ]

        def domain(i: int) -> Any:
            rid = ids[i % len(ids)]
            c = i % n_contacts + 1
            h1, h2 = i % n_hosts + 1, (i + 1) % n_hosts + 1
            return [
                (
                    t.domains,
                    dict(
                        id=i + 1,
                        roid=f"D{i + 1:X}-BENCH",
                        name=f"name-{i}.{TLD}",
                        tld_id=tld_id,
                        registrar_id=rid,
                        creator_id=rid,
                        created_at=created,
                        expires_at=created + timedelta(days=730),
                        registrant_id=c,
                    ),
                ),
                (t.domain_contacts, dict(domain_id=i + 1, type="admin", contact_id=c)),
                (
                    t.domain_contacts,
                    dict(domain_id=i + 1, type="tech", contact_id=(c % n_contacts) + 1),
                ),
                (t.domain_hosts, dict(domain_id=i + 1, host_id=h1)),
                (t.domain_hosts, dict(domain_id=i + 1, host_id=h2)),
            ]

        chunks(n_contacts, contact)
        chunks(n_hosts, host)
        chunks(domains, domain)
        delegation.refresh_all(conn)  # what the flows keep with the links
        if conn.dialect.name == "postgresql":
            for table in ("contacts", "hosts", "domains"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    db.close()
    return counts


def _split(rows: list[list[tuple[Any, dict[str, Any]]]]) -> list[tuple[Any, list[dict[str, Any]]]]:
    by_table: dict[Any, list[dict[str, Any]]] = {}
    order: list[Any] = []
    for parts in rows:
        for table, values in parts:
            if table not in by_table:
                by_table[table] = []
                order.append(table)
            by_table[table].append(values)
    return [(table, by_table[table]) for table in order]


class _ServerCpu:
    """CPU seconds of the PostgreSQL server processes serving database `url` while the block
    runs, sampled from /proc every 0.2 s (the server being on this machine); None when they
    cannot be read (SQLite, a remote server). A process's last 0.2 s may be missed."""

    def __init__(self, url: str) -> None:
        self.url = url if url.startswith("postgresql") else ""
        self.seen: dict[int, float] = {}
        self.readable = bool(self.url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import psycopg

        tick = os.sysconf("SC_CLK_TCK")
        with psycopg.connect(self.url, autocommit=True) as conn:
            while True:
                pids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ]
                for pid in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seen[pid] = (int(fields[11]) + int(fields[12])) / tick
                if pids and not self.seen:
                    self.readable = False
                    return
                if self._stop.wait(0.2):
                    return

    def __enter__(self) -> _ServerCpu:
        if self.url:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.url:
            self._thread.join()

    @property
    def seconds(self) -> float | None:
        return sum(self.seen.values()) if self.readable else None


def _child(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Run `cmd`; (wall seconds, peak RSS bytes, CPU seconds of that child and its gpg)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd[2:])} failed ({proc.returncode}): {err[-2000:]}")
    del out
    return wall, int(usage.ru_maxrss) * 1024, usage.ru_utime + usage.ru_stime


def _server(seconds: float | None) -> str:
    return "" if seconds is None else f", PostgreSQL server {seconds:.1f} s CPU"


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU seconds) of running `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(args: argparse.Namespace) -> int:
    from domreg.escrow import deposit, model, ryde
    from domreg.store.db import Database

    with tempfile.TemporaryDirectory(prefix="domreg-bench-escrow-", dir=args.work_dir) as tmp:
        work = Path(tmp)
        now = Clock().now()
        day = now.date()
        keys_dir = work / "keys"
        agent_pub, agent_sec = ryde.generate_key(
            work / "agent-home", "Escrow Agent <agent@escrow.example>", keys_dir
        )
        _reg_pub, reg_sec = ryde.generate_key(
            work / "reg-home", "Registry <rde@registry.example>", keys_dir
        )
        results: dict[str, Any] = {
            "domains": args.domains,
            "backend": args.backend,
            "machine_cpus": os.cpu_count(),
        }
        source = (
            contextlib.nullcontext(args.database_url)
            if args.database_url
            else _database(args.backend, work, args.pg_url, "source")
        )
        with source as url:
            if not args.database_url:
                t0, c0 = time.perf_counter(), time.process_time()
                results["rows"] = load(url, args.domains, now)
                results["load_s"] = time.perf_counter() - t0
                results["load_cpu_s"] = time.process_time() - c0
                print(
                    f"loaded {results['rows']} in {results['load_s']:.1f} s (bulk executemany: the restore's floor)",
                    flush=True,
                )
            env = dict(os.environ)
            env.update(
                DOMREG_DATABASE_URL=url,
                DOMREG_DATA_DIR=str(work / "data"),
                DOMREG_ESCROW_AGENT_KEY=str(agent_pub),
                DOMREG_ESCROW_SIGNING_KEY=str(reg_sec),
                DOMREG_LOG_LEVEL="WARNING",
            )
            cli = [sys.executable, "-m", "domreg"]
            with _ServerCpu(url) as server:
                wall, rss, cpu = _child(
                    [*cli, "escrow", "deposit", TLD, "--date", day.isoformat()], env
                )
            results["deposit_server_cpu_s"] = server.seconds
            spec = model.Spec(TLD, day)
            ryde_file = work / "data" / "escrow" / spec.name("ryde")
            results.update(
                deposit_s=wall,
                deposit_cpu_s=cpu,
                deposit_rss=rss,
                ryde_bytes=ryde_file.stat().st_size,
            )
            print(
                f"deposit: {wall:.1f} s ({cpu:.1f} s CPU{_server(results['deposit_server_cpu_s'])}), peak RSS {rss / 2**20:.0f} MiB, {ryde_file.stat().st_size / 2**20:.0f} MiB .ryde",
                flush=True,
            )
            # The XML on its own, then the floor: gpg alone on it.
            db = Database(url, pool_size=2)
            xml = work / "floor.xml"
            t0, c0 = time.perf_counter(), time.process_time()
            deposit.write_xml(db, spec, xml)
            results["xml_s"] = time.perf_counter() - t0
            results["xml_cpu_s"] = time.process_time() - c0
            db.close()
            results["xml_bytes"] = xml.stat().st_size
            home = work / "floor-home"
            gpg = [
                "gpg",
                "--homedir",
                str(home),
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ]
            home.mkdir(mode=0o700)
            subprocess.run(
                [*gpg, "--import", str(agent_pub), str(reg_sec)], check=True, capture_output=True
            )
            enc, enc_cpu = _timed(
                [
                    *gpg,
                    "--trust-model",
                    "always",
                    "--compress-algo",
                    "zlib",
                    "-r",
                    "agent@escrow.example",
                    "--output",
                    str(work / "floor.gpg"),
                    "--encrypt",
                    str(xml),
                ]
            )
            sig, sig_cpu = _timed(
                [
                    *gpg,
                    "--local-user",
                    "rde@registry.example",
                    "--armor",
                    "--output",
                    str(work / "floor.sig"),
                    "--detach-sign",
                    str(work / "floor.gpg"),
                ]
            )
            results.update(floor_gpg_s=enc + sig, floor_gpg_cpu_s=enc_cpu + sig_cpu)
            print(
                f"  XML alone {results['xml_s']:.1f} s ({results['xml_bytes'] / 2**20:.0f} MiB); floor gpg encrypt+sign of it: {enc + sig:.1f} s ({enc_cpu + sig_cpu:.1f} s CPU)",
                flush=True,
            )
            xml.unlink()
            (work / "floor.gpg").unlink()
        if args.no_restore or "load_s" not in results:
            results["deposit_vs_floor"] = results["deposit_s"] / results["floor_gpg_s"]
            print(
                f"deposit {results['deposit_s']:.1f} s, floor {results['floor_gpg_s']:.1f} s, "
                f"ratio {results['deposit_vs_floor']:.2f}; peak RSS {results['deposit_rss'] / 2**20:.0f} MiB"
            )
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=2))
            return 0
        with _database(args.backend, work, args.pg_url, "restored") as url2:
            env["DOMREG_DATABASE_URL"] = url2
            with _ServerCpu(url2) as server:
                wall, rss, cpu = _child(
                    [*cli, "escrow", "restore", str(ryde_file), "--decryption-key", str(agent_sec)],
                    env,
                )
            results.update(
                restore_s=wall,
                restore_cpu_s=cpu,
                restore_rss=rss,
                restore_server_cpu_s=server.seconds,
            )
            print(
                f"restore: {wall:.1f} s ({cpu:.1f} s CPU{_server(server.seconds)}), peak RSS {rss / 2**20:.0f} MiB",
                flush=True,
            )
        r = results
        r["deposit_vs_floor"] = r["deposit_s"] / r["floor_gpg_s"]
        r["deposit_cpu_vs_floor"] = r["deposit_cpu_s"] / r["floor_gpg_cpu_s"]
        r["restore_vs_floor"] = r["restore_s"] / r["load_s"]
        print()
        print(f"{'':<9}{'wall':>9}{'CPU':>9}{'peak RSS':>10}  floor wall / CPU   ratio wall / CPU")
        for what, floor in (("deposit", "floor_gpg"), ("restore", "load")):
            print(
                f"{what:<9}{r[what + '_s']:>8.1f}s{r[what + '_cpu_s']:>8.1f}s"
                f"{r[what + '_rss'] / 2**20:>7.0f}MiB  {r[floor + '_s']:>7.1f}s / {r[floor + '_cpu_s']:.1f}s"
                f"   {r[what + '_s'] / r[floor + '_s']:.2f} / {r[what + '_cpu_s'] / r[floor + '_cpu_s']:.2f}"
            )
        print(
            f"targets: deposit <= {TARGET_DEPOSIT_S:.0f} s and < 1 GiB, restore <= {TARGET_RESTORE_S:.0f} s "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: wall time includes waiting for a CPU)"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    return 0
