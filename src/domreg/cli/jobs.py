"""`domreg jobs run [--until TIME]`: run every lifecycle event due (auto-renewals, transfer
auto-approvals, redemption, purges) once, in time order, and exit. What the scheduler inside
`domreg serve` does every few seconds; for cron, catching up by hand, or simulations."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from domreg import config as config_mod
from domreg.clock import Clock
from domreg.jobs import lifecycle
from domreg.store.db import Database


def parse_time(text: str) -> datetime:
    """RFC 3339 (`2027-01-15T12:00:00Z`) or a date (`2027-01-15`, midnight) -> naive UTC."""
    from domreg.cli.main import UsageError

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"domreg jobs run: --until {text!r} is not a date or RFC 3339 time"
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def cmd_run(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    until = parse_time(args.until) if args.until else Clock().now()
    db = Database(cfg.database_url, pool_size=2)
    try:
        done = lifecycle.run_until(db, until)
        with db.read() as conn:
            cursor = lifecycle.processed_until(conn)
    finally:
        db.close()
    shown = cursor.isoformat() + "Z" if cursor else "never"
    events = "event" if done == 1 else "events"
    print(f"lifecycle: {done} {events} processed; everything due is done up to {shown}")
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `domreg jobs` on the top-level subparsers."""
    jobs = sub.add_parser("jobs", help="server-side jobs (lifecycle)")
    commands = jobs.add_subparsers(dest="jobs_command", required=True, parser_class=type(jobs))
    run = commands.add_parser(
        "run",
        help="run every lifecycle event due now (or up to --until) and exit",
        description="Process every lifecycle event due, earliest first, each at its due time: "
        "auto-renewals, transfer auto-approvals, end of redemption, lapsed restores, purges.",
    )
    run.add_argument(
        "--until",
        metavar="TIME",
        help="process events due up to TIME (RFC 3339 UTC, or a date; default: now). "
        "A TIME in the future runs the registry ahead of its clock: for simulations only.",
    )
    run.set_defaults(fn=cmd_run)
    return jobs
