"""`domreg report monthly TLD --month YYYY-MM [--out DIR]`: ICANN's two monthly reports as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from domreg import config as config_mod
from domreg.store.db import Database


def cmd_monthly(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.reports import monthly

    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.read() as conn:
            tx, act = monthly.write(
                conn, args.tld, args.month, Path(args.out or Path(cfg.data_dir) / "reports")
            )
    except monthly.ReportError as exc:
        print(f"domreg report monthly: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(f"{tx}\n{act}")
    return 0


def add_parser(sub: Any) -> None:
    report = sub.add_parser("report", help="ICANN monthly reports").add_subparsers(
        dest="report_command", required=True, parser_class=sub._parser_class
    )
    monthly_p = report.add_parser("monthly", help="transactions and activity reports (CSV)")
    monthly_p.add_argument("tld")
    monthly_p.add_argument("--month", required=True, help="YYYY-MM")
    monthly_p.add_argument("--out", help="directory (default <data_dir>/reports)")
    monthly_p.set_defaults(fn=cmd_monthly)
