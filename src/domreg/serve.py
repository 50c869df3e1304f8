"""`domreg serve`: start every service of the registry in one process tree.

With `workers > 1` the parent forks worker processes that share the listening ports
(SO_REUSEPORT); each has its own event loop (uvloop) and database pool. The first worker also
runs the lifecycle jobs' scheduler (`jobs/scheduler.py`) every `jobs_interval` seconds, after
catching up on everything that fell due while the registry was down.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import uvloop

from domreg import metrics
from domreg.clock import Clock
from domreg.config import Config
from domreg.dns.service import DnsService
from domreg.epp.server import EppServer, Limits, server_tls_context
from domreg.epp.session import Registry
from domreg.flows.base import Policy
from domreg.flows.inlinechecks import InlineChecks
from domreg.flows.loopreads import LoopReads
from domreg.flows.loopwrites import LoopWrites
from domreg.http.app import HttpContext, HttpServer, build_app
from domreg.jobs.escrow import EscrowJob
from domreg.jobs.scheduler import Scheduler
from domreg.store.db import Database
from domreg.whois import server as whois_server

log = logging.getLogger("domreg")


async def run(
    cfg: Config, reuse_port: bool, ready: asyncio.Event | None = None, jobs: bool = True
) -> None:
    db = Database(cfg.database_url, pool_size=cfg.db_pool_size)
    clock = Clock()
    # PostgreSQL: plain domain check and info from the event loop (`flows/loopreads.py`);
    # SQLite: the plain check on the driver connection directly (`flows/inlinechecks.py`).
    loop_reads = None if db.is_sqlite else LoopReads(db)
    inline_checks = InlineChecks(db) if db.is_sqlite else None
    # PostgreSQL: domain:create with nothing to link from the event loop (`flows/loopwrites.py`).
    loop_writes = None if db.is_sqlite else LoopWrites(db, size=cfg.db_pool_size)
    registry = Registry(
        db=db,
        clock=clock,
        server_id=cfg.epp_server_id,
        policy=policy(cfg),
        loop_reads=loop_reads,
        inline_checks=inline_checks,
        loop_writes=loop_writes,
    )
    scheduler = None
    if jobs and cfg.jobs_interval > 0:
        scheduler = Scheduler(db, clock, cfg.jobs_interval)
        try:  # catch up before taking commands, so none runs before an event due earlier
            await scheduler.tick()
        except Exception:
            log.exception("lifecycle jobs could not catch up; the scheduler will retry")
    dns = await start_dns(cfg, clock) if jobs else None  # DNS publication: first worker only
    epp = EppServer(
        registry,
        server_tls_context(
            cfg.epp_cert,
            cfg.epp_key,
            cfg.epp_client_ca if Path(cfg.epp_client_ca).exists() else None,
        ),
        Limits(max_frame=cfg.epp_max_frame, idle_timeout=cfg.epp_idle_timeout),
    )
    await epp.start(cfg.epp_host, cfg.epp_port, reuse_port=reuse_port)
    http = HttpServer(build_app(HttpContext(db=db, clock=clock, cfg=cfg)))
    await http.start(cfg.http_host, cfg.http_port, reuse_port=reuse_port)
    whois = whois_server.from_config(db, clock, cfg)  # WHOIS (RFC 3912)
    await whois.start(cfg.whois_host, cfg.whois_port, reuse_port=reuse_port)
    if scheduler is not None:
        scheduler.start()
    if dns is not None:
        dns.start()
    flusher = metrics.Flusher(db, cfg.metrics_flush_interval)
    flusher.start()
    escrow_job = (
        EscrowJob(db, cfg, clock)
        if scheduler is not None and cfg.escrow_interval > 0 and cfg.escrow_agent_key
        else None
    )
    if escrow_job is not None:
        escrow_job.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("shutting down (pid %d)", os.getpid())
    # Stop accepting; commands in flight finish and are answered; then jobs, publishers
    # (DNS sends what the last commands changed), counters.
    await epp.shutdown(grace=10.0)
    if loop_reads is not None:
        await loop_reads.aclose()
    if inline_checks is not None:
        inline_checks.close()
    if loop_writes is not None:
        await loop_writes.aclose()
    await http.close()
    await whois.close()
    if scheduler is not None:
        await scheduler.stop()
    if escrow_job is not None:
        await escrow_job.stop()
    if dns is not None:
        await dns.close()
    await flusher.stop()
    db.close()


async def start_dns(cfg: Config, clock: Clock) -> DnsService | None:
    """The DNS publisher (and the Knot domreg runs itself, dns_mode "knot"), or None."""
    if cfg.dns_mode == "off":
        return None
    service = DnsService(cfg, clock)
    try:
        await asyncio.to_thread(service.open)
    except Exception:
        log.exception("DNS publication could not start; the registry runs without it")
        service.shutdown()
        return None
    return service


def policy(cfg: Config) -> Policy:
    """The flows' registry-wide settings from the configuration."""
    return Policy(
        auth_info_ttl=timedelta(days=cfg.auth_info_ttl_days),
        password_max_age=timedelta(days=cfg.password_max_age_days)
        if cfg.password_max_age_days > 0
        else None,
        password_warning=timedelta(days=cfg.password_warning_days),
        tmch_ca=cfg.tmch_ca_cert or None,
        tmch_crl=cfg.tmch_crl or None,
    )


def banner(cfg: Config) -> str:
    return "\n".join(
        [
            "domreg is running:",
            f"  EPP (RFC 5734, TLS)  {cfg.epp_host}:{cfg.epp_port}   CA certificate: {cfg.epp_client_ca}",
            f"  HTTP                 http://{cfg.http_host}:{cfg.http_port}/   (health: /healthz, RDAP: /rdap/help)",
            f"  WHOIS (RFC 3912)     {cfg.whois_host}:{cfg.whois_port}",
            f"  DNS (Knot, DNSSEC)   {cfg.dns_server.replace('@', ' port ')}"
            if cfg.dns_mode != "off"
            else "  DNS                  off (dns_mode = off)",
            f"  database             {cfg.database_url}",
            f"  lifecycle jobs       every {cfg.jobs_interval:g} s"
            if cfg.jobs_interval > 0
            else "  lifecycle jobs       off (jobs_interval = 0; run `domreg jobs run`)",
            "",
            "Try it:",
            f'  .venv/bin/domreg epp --port {cfg.epp_port} --clid demo --password "$(cat {cfg.data_dir}/demo-password)" create example.test',
            f"  curl -s http://{cfg.http_host}:{cfg.http_port}/rdap/domain/example.test",
            f"  whois -h {cfg.whois_host} -p {cfg.whois_port} example.test",
            f"  kdig @{cfg.dns_server.split('@')[0]} -p {cfg.dns_server.split('@')[-1]} test SOA +dnssec",
            "Stop with Ctrl-C.",
        ]
    )


def serve(cfg: Config) -> int:
    logging.basicConfig(
        level=cfg.log_level.upper(),
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    workers = max(1, cfg.workers)
    print(banner(cfg), flush=True)
    if workers == 1:
        uvloop.run(run(cfg, reuse_port=False))
        return 0
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                uvloop.run(run(cfg, reuse_port=True, jobs=index == 0))
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or (os.waitstatus_to_exitcode(code) != 0)
    sys.stdout.flush()
    return int(status)
