"""Backup and restore of the embedded SQLite database through SQLite's online backup API: a
consistent copy page by page while `domreg serve` keeps writing (each step takes the read
lock briefly; writers in between restart the copy of changed pages). PostgreSQL is backed up
with its own tools (pg_dump; see the README)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

#: Pages copied per step; between steps other connections get the database.
PAGES = 4096


class BackupError(ValueError):
    pass


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        raise BackupError(
            "backup and restore are for the embedded SQLite database; back up PostgreSQL with pg_dump"
        )
    return Path(parsed.database)


def backup(url: str, target: Path) -> int:
    """Copy the database at `url` into `target` (a new file); returns its size in bytes."""
    source = sqlite_path(url)
    if not source.exists():
        raise BackupError(f"no database at {source}")
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with (
        sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src,
        sqlite3.connect(partial) as dst,
    ):
        src.backup(dst, pages=PAGES)
    _check(partial)
    partial.replace(target)
    return target.stat().st_size


def _check(path: Path) -> None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path}: integrity check failed: {result}")


def restore(url: str, backup_file: Path) -> None:
    """Replace the database at `url` with the backup's content (stop `domreg serve` first)."""
    target = sqlite_path(url)
    if not backup_file.exists():
        raise BackupError(f"no backup at {backup_file}")
    try:
        _check(backup_file)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup_file} is not an SQLite database: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True) as src,
        sqlite3.connect(target) as dst,
    ):
        src.backup(dst, pages=PAGES)
