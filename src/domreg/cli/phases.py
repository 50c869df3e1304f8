"""`domreg tld phase`, `domreg tld claims`, `domreg tmch smdrl`: launch phases (RFC 8334) and
the TMCH data they use.

    domreg tld phase add TLD NAME --start TIME [--end TIME] [--sub-phase NAME]
    domreg tld phase list TLD
    domreg tld claims TLD --file FILE [--replace]    # the DNL, or label,claim_key CSV
    domreg tmch smdrl --file FILE                    # the SMD revocation list

NAME is sunrise, landrush, claims, open or custom (which needs --sub-phase, its name). Times
are RFC 3339 UTC or dates (midnight); a phase without --end is open-ended. Phases of a TLD
may not overlap. Refusals are one line on standard error, exit status 2.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domreg import tmch
from domreg.config import Config
from domreg.flows import launch
from domreg.flows.registry import RegistryError
from domreg.store.db import Database


def _time(option: str, text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RegistryError(f"{option} {text!r} is not a date or RFC 3339 time") from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _show(v: launch.PhaseView) -> str:
    name = f"{v.name} ({v.sub_phase})" if v.sub_phase else v.name
    end = v.ends_at.isoformat() + "Z" if v.ends_at else "open-ended"
    return f"{v.tld}: {name} from {v.starts_at.isoformat()}Z to {end}"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read {path}: {exc}") from None


def cmd_phase_add(args: argparse.Namespace, cfg: Config) -> int:
    start = _time("--start", args.start)
    end = _time("--end", args.end) if args.end else None
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.write() as conn:
            view = launch.add_phase(conn, args.tld, args.name, start, end, args.sub_phase)
    finally:
        db.close()
    print(f"phase added: {_show(view)}")
    return 0


def cmd_phase_list(args: argparse.Namespace, cfg: Config) -> int:
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.read() as conn:
            views = launch.list_phases(conn, args.tld)
    finally:
        db.close()
    for view in views:
        print(_show(view))
    return 0


def cmd_claims(args: argparse.Namespace, cfg: Config) -> int:
    try:
        claims = tmch.parse_dnl(_read(args.file))
    except ValueError as exc:
        raise RegistryError(f"{args.file}: {exc}") from None
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.write() as conn:
            count = launch.load_claims(conn, args.tld, claims, replace=args.replace)
    finally:
        db.close()
    print(f"{count} claimed labels loaded for .{args.tld.lower().strip('.')}")
    return 0


def cmd_smdrl(args: argparse.Namespace, cfg: Config) -> int:
    try:
        revocations = tmch.parse_smdrl(_read(args.file))
    except ValueError as exc:
        raise RegistryError(f"{args.file}: {exc}") from None
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.write() as conn:
            count = launch.load_revocations(conn, revocations)
    finally:
        db.close()
    print(f"{count} signed marks newly revoked ({len(revocations)} listed)")
    return 0


def add_parsers(sub: Any, tld: Any) -> None:
    """Register `domreg tld phase`, `domreg tld claims` and `domreg tmch`."""
    phase = tld.add_parser("phase", help="launch phases (RFC 8334)")
    phases = phase.add_subparsers(dest="phase_command", required=True, parser_class=type(phase))
    add = phases.add_parser("add", help="add a launch phase to a TLD")
    add.add_argument("tld")
    add.add_argument("name", help=", ".join(launch.PHASES))
    add.add_argument("--start", required=True, metavar="TIME", help="RFC 3339 UTC, or a date")
    add.add_argument("--end", metavar="TIME", help="RFC 3339 UTC, or a date (default: none)")
    add.add_argument("--sub-phase", metavar="NAME", help="sub-phase; a custom phase's name")
    add.set_defaults(fn=cmd_phase_add)
    listing = phases.add_parser("list", help="a TLD's launch phases")
    listing.add_argument("tld")
    listing.set_defaults(fn=cmd_phase_list)

    claims = tld.add_parser("claims", help="load trademark claims (the TMCH DNL)")
    claims.add_argument("tld")
    claims.add_argument("--file", required=True, help="the DNL, or a label,claim_key CSV")
    claims.add_argument("--replace", action="store_true", help="drop labels not in the file")
    claims.set_defaults(fn=cmd_claims)

    tm = sub.add_parser("tmch", help="Trademark Clearinghouse data")
    tmcmds = tm.add_subparsers(dest="tmch_command", required=True, parser_class=type(tm))
    smdrl = tmcmds.add_parser("smdrl", help="load the SMD revocation list")
    smdrl.add_argument("--file", required=True, help="the TMCH SMD revocation list (CSV)")
    smdrl.set_defaults(fn=cmd_smdrl)
