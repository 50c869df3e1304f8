"""`domreg escrow deposit|status|verify|restore`: registry data escrow from the command line.

    domreg escrow deposit TLD [--date YYYY-MM-DD] [--type full|diff|thin]
    domreg escrow status
    domreg escrow verify FILE.ryde --key SIGNING-PUBLIC.asc --decryption-key AGENT-SECRET.asc
    domreg escrow restore FILE.ryde --decryption-key AGENT-SECRET.asc [--key SIGNING-PUBLIC.asc]

A deposit, verification or restore that cannot be done says why on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from domreg import config as config_mod
from domreg.clock import Clock
from domreg.escrow import model as m
from domreg.store.db import Database


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: use YYYY-MM-DD") from None


def cmd_deposit(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.escrow import deposit

    now = Clock().now()
    spec = m.Spec(args.tld.lower(), args.date or now.date(), args.type, args.resend)
    db = Database(cfg.database_url, pool_size=2)
    try:
        result = deposit.make(db, cfg, spec, now)
    except m.DepositError as exc:
        print(f"domreg escrow deposit: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    made = result.made
    print(f"{made.ryde} ({made.size} bytes)\n{made.sig}\n{made.report}")
    for uri, n in made.counts.items():
        print(f"  {uri.rsplit(':', 1)[-1]:<20} {n}")
    return 0


def cmd_status(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.escrow import deposit

    db = Database(cfg.database_url, pool_size=2)
    try:
        rows = deposit.status(db)
    finally:
        db.close()
    if not rows:
        print("no deposits yet")
        return 0
    print(f"{'TLD':<12} {'KIND':<5} {'WATERMARK':<20} {'SIZE':>12}  COUNTS / FILE")
    for s in rows:
        counts = ", ".join(
            f"{u.rsplit(':', 1)[-1].removeprefix('rde').removesuffix('-1.0')}={n}"
            for u, n in s.counts.items()
        )
        print(f"{s.tld:<12} {s.kind:<5} {m.xml_time(s.watermark):<20} {s.size:>12}  {counts}")
        print(f"{'':<40}{s.path}")
    return 0


def cmd_verify(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.escrow import verify

    result = verify.verify(
        Path(args.file),
        args.key,
        args.decryption_key,
        Path(args.signature) if args.signature else None,
        args.passphrase or "",
    )
    if result.problems:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        return 1
    print(
        f"{args.file}: good signature, decrypted, schema-valid; {result.type} deposit {result.deposit_id} of {result.tld} at {result.watermark}"
    )
    for uri, n in result.counts.items():
        print(f"  {uri.rsplit(':', 1)[-1]:<20} {n}")
    return 0


def cmd_restore(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.escrow import restore, ryde
    from domreg.store import migrate

    path = Path(args.file)
    try:
        spec = m.parse_name(path.name)
    except m.DepositError:
        spec = None
    tld = args.tld or (spec.tld if spec else None)
    if not tld:
        print("domreg escrow restore: give --tld (the file name does not say)", file=sys.stderr)
        return 2
    db = Database(cfg.database_url, pool_size=2)
    try:
        migrate.upgrade(db.engine)
        signature = path.with_suffix(".sig") if args.key else None
        with (
            ryde.open_deposit(path, args.decryption_key, signature, args.key) as opened,
            opened.xml() as fh,
        ):
            result = restore.restore(db, fh, tld, Clock().now())
    except m.DepositError as exc:
        print(f"domreg escrow restore: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    print(f"restored deposit {result.deposit_id} of {result.tld}:")
    for uri, n in result.counts.items():
        print(f"  {uri.rsplit(':', 1)[-1]:<20} {n}")
    print("registrars' new EPP passwords (hand them over; balances start at zero):")
    for clid, password in result.passwords.items():
        print(f"  {clid:<16} {password}")
    return 0


def add_parser(sub: Any) -> None:
    escrow = sub.add_parser(
        "escrow", help="registry data escrow (RFC 8909/9022, RyDE)"
    ).add_subparsers(dest="escrow_command", required=True, parser_class=sub._parser_class)
    dep = escrow.add_parser("deposit", help="make, encrypt and sign a deposit")
    dep.add_argument("tld")
    dep.add_argument("--date", type=_day, help="watermark day (00:00 UTC); default today")
    dep.add_argument("--type", choices=(m.FULL, m.DIFF, m.THIN), default=m.FULL, help="thin: BRDA")
    dep.add_argument("--resend", type=int, default=0, help="resend number (R in the file name)")
    dep.set_defaults(fn=cmd_deposit)
    escrow.add_parser("status", help="the last deposit of each TLD").set_defaults(fn=cmd_status)
    ver = escrow.add_parser("verify", help="check a deposit as the escrow agent does")
    ver.add_argument("file")
    ver.add_argument("--key", required=True, help="the registry's public signing key (.asc)")
    ver.add_argument("--decryption-key", required=True, help="the escrow agent's secret key (.asc)")
    ver.add_argument("--signature", help="signature file (default: FILE with .sig)")
    ver.add_argument("--passphrase", help="passphrase of the decryption key")
    ver.set_defaults(fn=cmd_verify)
    res = escrow.add_parser("restore", help="load a full deposit into an empty database")
    res.add_argument("file")
    res.add_argument("--decryption-key", required=True, help="the escrow agent's secret key (.asc)")
    res.add_argument("--key", help="the registry's public signing key: check the .sig first")
    res.add_argument("--tld", help="default: from the file name")
    res.set_defaults(fn=cmd_restore)
