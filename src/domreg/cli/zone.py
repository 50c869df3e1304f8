"""`domreg zone`: DNS publication of the TLDs (dns/).

    domreg zone publish TLD --full      build the whole zone and have the server load it
    domreg zone export TLD [-o FILE]    the zone in master file format (stdout by default)
    domreg zone ds TLD                  DS records of the TLD's signing key, for the parent
    domreg zone status                  per TLD: serials, pending changes, last error
    domreg zone set TLD [--ns NAME[=ADDR,ADDR]]... [--hostmaster MAILBOX] [--ttl SECONDS]

Refusals (an unknown TLD, a server that cannot be reached) are one line on standard error
and exit status 2 (1 for a failed publication), as for every `domreg` command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from domreg.clock import Clock
from domreg.config import Config
from domreg.dns import zone as zb
from domreg.flows.base import Context, SvTrIds, registry_actor
from domreg.store.db import Database

_SVTRIDS = SvTrIds("DRZ")


def add_parser(sub: Any) -> None:
    from domreg.cli.main import Parser

    zone = sub.add_parser("zone", help="DNS zones of the TLDs").add_subparsers(
        dest="zone_command", required=True, parser_class=Parser
    )
    publish = zone.add_parser(
        "publish", help="publish the whole zone of a TLD to the configured server"
    )
    publish.add_argument("tld")
    publish.add_argument(
        "--full", action="store_true", required=True, help="a full rebuild (the only kind here)"
    )
    publish.set_defaults(fn=cmd_publish)
    export = zone.add_parser("export", help="write a TLD's zone in master file format")
    export.add_argument("tld")
    export.add_argument("-o", "--output", metavar="FILE", help="file to write (default stdout)")
    export.set_defaults(fn=cmd_export)
    ds = zone.add_parser("ds", help="DS records of the TLD's key signing key, for the parent")
    ds.add_argument("tld")
    ds.set_defaults(fn=cmd_ds)
    zone.add_parser("status", help="publication state of every TLD").set_defaults(fn=cmd_status)
    settings = zone.add_parser("set", help="a TLD's apex nameservers, hostmaster and TTL")
    settings.add_argument("tld")
    settings.add_argument(
        "--ns",
        action="append",
        default=None,
        metavar="NAME[=ADDR,...]",
        help="an apex nameserver, with its addresses when inside the TLD; repeat for each "
        "(the list replaces the current one)",
    )
    settings.add_argument(
        "--hostmaster", metavar="MAILBOX", help="SOA contact, e.g. dns@nic.example"
    )
    settings.add_argument("--ttl", type=int, help="TTL of the zone's records (seconds)")
    settings.set_defaults(fn=cmd_set)


class _Decoding:
    """The zone's bytes to a text stream (standard output replaced by one)."""

    def __init__(self, text: TextIO) -> None:
        self.text = text

    def write(self, data: bytes) -> int:
        return self.text.write(data.decode())


def _db(cfg: Config) -> Database:
    return Database(cfg.database_url, pool_size=2)


def _tld(db: Database, tld: str) -> str:
    from domreg.cli.main import UsageError

    tld = tld.lower().strip(".")
    with db.read() as conn:
        if tld not in zb.tld_names(conn):
            raise UsageError(f"domreg zone: TLD {tld} does not exist")
    return tld


def cmd_export(args: argparse.Namespace, cfg: Config) -> int:
    db = _db(cfg)
    try:
        tld = _tld(db, args.tld)
        if args.output:
            _, serial, stats = zb.write_zone_file(db, tld, Path(args.output))
            print(
                f"{args.output}: zone {tld}, serial {serial}, {stats.delegations} delegations, "
                f"{stats.ds} DS, {stats.glue} glue, {stats.records} records",
                file=sys.stderr,
            )
        else:
            sys.stdout.flush()
            buffer = getattr(sys.stdout, "buffer", None)  # None: a text stream, in-process
            zb.write_zone(db, tld, buffer or _Decoding(sys.stdout))
            sys.stdout.flush()
            if buffer is not None:
                buffer.flush()
    finally:
        db.close()
    return 0


def cmd_publish(args: argparse.Namespace, cfg: Config) -> int:
    from domreg.cli.main import UsageError
    from domreg.dns.publisher import Publisher
    from domreg.dns.service import make_target
    from domreg.dns.targets import PublishError

    if cfg.dns_mode == "off":
        raise UsageError("domreg zone publish: dns_mode is off, there is no server to publish to")
    db = _db(cfg)
    try:
        tld = _tld(db, args.tld)
        publisher = Publisher(db, make_target(cfg), Path(cfg.dns_zone_dir))
        try:
            serial, stats = publisher.publish_full(tld)
        except PublishError as exc:
            print(f"domreg zone publish: {exc}", file=sys.stderr)
            return 1
        served = publisher.target.served_serial(tld)
    finally:
        db.close()
    print(
        f"zone {tld} published in full: serial {serial} built, served serial {served}; "
        f"{stats.delegations} delegations, {stats.ds} DS, {stats.glue} glue"
    )
    return 0


def cmd_ds(args: argparse.Namespace, cfg: Config) -> int:
    from domreg.dns.status import ds_records

    db = _db(cfg)
    try:
        tld = _tld(db, args.tld)
    finally:
        db.close()
    try:
        records = ds_records(tld, cfg.dns_server)
    except RuntimeError as exc:
        print(f"domreg zone ds: {exc}", file=sys.stderr)
        return 1
    for r in records:
        print(r)
    return 0


def cmd_status(args: argparse.Namespace, cfg: Config) -> int:
    from domreg.dns.status import format_status, zone_status

    db = _db(cfg)
    try:
        rows = zone_status(db)
    finally:
        db.close()
    print(format_status(rows, cfg))
    return 0


def parse_ns(text: str) -> tuple[str, tuple[str, ...]]:
    name, _, addresses = text.partition("=")
    return name.strip(), tuple(a.strip() for a in addresses.split(",") if a.strip())


def cmd_set(args: argparse.Namespace, cfg: Config) -> int:
    from domreg.flows import dns as dns_flow

    change = dns_flow.DnsSettings(
        nameservers=tuple(parse_ns(n) for n in args.ns) if args.ns else None,
        hostmaster=args.hostmaster,
        ttl=args.ttl,
    )
    db = _db(cfg)
    try:
        with db.write() as conn:
            ctx = Context(conn, Clock().now(), registry_actor("operator"), None, _SVTRIDS.next())
            shown = dns_flow.set_settings(ctx, args.tld, change)
    finally:
        db.close()
    servers = ", ".join(
        s["name"] + (f" ({', '.join(s['addresses'])})" if s["addresses"] else "")
        for s in shown["nameservers"]  # type: ignore[attr-defined]
    )
    print(
        f"{args.tld.lower()}: nameservers {servers or '(defaults)'}; hostmaster "
        f"{shown['hostmaster'] or '(default)'}; TTL {shown['ttl']}; the publisher rebuilds the zone"
    )
    return 0
