"""`domreg check`, `domreg backup FILE`, `domreg restore FILE`: the consistency checker and
backups of the embedded SQLite database (PostgreSQL: pg_dump, see the README)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from domreg import config as config_mod
from domreg.store.db import Database


def cmd_check(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.store.check import check

    db = Database(cfg.database_url, pool_size=2)
    try:
        findings = check(db)
    finally:
        db.close()
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} problem(s) found", file=sys.stderr)
        return 1
    print(
        "consistent: live names unique, links live, statuses allowed, ledger = balances, history complete"
    )
    return 0


def cmd_backup(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.store import backup

    try:
        size = backup.backup(cfg.database_url, Path(args.file))
    except backup.BackupError as exc:
        print(f"domreg backup: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: {size} bytes")
    return 0


def cmd_restore(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.store import backup

    try:
        backup.restore(cfg.database_url, Path(args.file))
    except backup.BackupError as exc:
        print(f"domreg restore: {exc}", file=sys.stderr)
        return 1
    print(f"{cfg.database_url} restored from {args.file}")
    return 0


def add_parser(sub: Any) -> None:
    sub.add_parser("check", help="consistency checker (exit 1 on any finding)").set_defaults(
        fn=cmd_check
    )
    b = sub.add_parser("backup", help="online backup of the SQLite database")
    b.add_argument("file")
    b.set_defaults(fn=cmd_backup)
    r = sub.add_parser("restore", help="replace the SQLite database with a backup (server stopped)")
    r.add_argument("file")
    r.set_defaults(fn=cmd_restore)
