"""`domreg` entry point: parses arguments and dispatches to one subcommand.

Argument errors are one line on stderr and exit status 2; refused operator requests
(an existing TLD, an unknown registrar...) too.
"""

from __future__ import annotations

import argparse
import importlib
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from domreg import config as config_mod
from domreg.clock import Clock
from domreg.flows import registry
from domreg.store.db import Database

ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _db(cfg: config_mod.Config) -> Database:
    return Database(cfg.database_url, pool_size=2)


def cmd_init(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg import tls
    from domreg.store import migrate

    Path(cfg.data_dir).mkdir(parents=True, exist_ok=True)
    db = _db(cfg)
    migrate.upgrade(db.engine)
    tls.ensure_ca(cfg.tls_dir)
    tls.ensure_server_cert(cfg.tls_dir, [])
    print(f"database ready: {cfg.database_url} (schema {migrate.current_revision(db.engine)})")
    print(f"TLS: {cfg.epp_cert} (CA {cfg.epp_client_ca})")
    if args.demo:
        now = Clock().now()
        with db.write() as conn:
            existing = {t.name for t in registry.list_tlds(conn)}
            if "test" not in existing:
                registry.add_tld(conn, now, "test")
            if not any(r.clid == "demo" for r in registry.list_registrars(conn)):
                password = "".join(secrets.choice(ALPHABET) for _ in range(12))
                registry.add_registrar(
                    conn, now, clid="demo", name="Demo Registrar", password=password, tlds=["test"]
                )
                registry.credit(conn, now, "demo", 1_000_000)
                from domreg.flows.registrar_data import set_rdds_data

                set_rdds_data(  # what RDAP and WHOIS publish about it (example values)
                    conn,
                    now,
                    "demo",
                    iana_id=9999,
                    url="https://registrar.example",
                    whois_server="whois.registrar.example",
                    abuse_email="abuse@registrar.example",
                    abuse_phone="+1.5555550100",
                )
                (Path(cfg.data_dir) / "demo-password").write_text(password + "\n")
                print(f"demo TLD: test; demo registrar: demo, password: {password}")
            else:
                print(
                    "demo TLD and registrar exist already; password in",
                    Path(cfg.data_dir) / "demo-password",
                )
    db.close()
    return 0


def cmd_db_upgrade(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.store import migrate

    db = _db(cfg)
    before = migrate.current_revision(db.engine)
    migrate.upgrade(db.engine)
    print(f"schema {before} -> {migrate.current_revision(db.engine)}")
    db.close()
    return 0


def cmd_tld_add(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    db = _db(cfg)
    with db.write() as conn:
        registry.add_tld(conn, Clock().now(), args.name)
    print(f"TLD {args.name.lower()} added")
    return 0


def cmd_tld_list(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    db = _db(cfg)
    with db.read() as conn:
        rows = registry.list_tlds(conn)
    print(f"{'TLD':<20} {'REPOSITORY':<10} {'DOMAINS':>8} {'REGISTRARS':>10}")
    for t in rows:
        print(f"{t.name:<20} {t.repository_id:<10} {t.domains:>8} {t.registrars:>10}")
    return 0


def cmd_registrar_add(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    db = _db(cfg)
    with db.write() as conn:
        registry.add_registrar(
            conn,
            Clock().now(),
            clid=args.clid,
            name=args.name,
            password=args.password,
            cert_fingerprints=args.cert_fingerprint,
            allowed_ips=args.allow_ip,
            tlds=args.tld,
            email=args.email,
        )
    print(f"registrar {args.clid} added")
    return 0


def _parse_amount(text: str) -> int:
    """'12.50' -> 1250 minor units; integers only in cents precision."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"domreg registrar credit: invalid amount {text!r}") from None
    cents = value * 100
    if cents != cents.to_integral_value():
        raise UsageError(f"domreg registrar credit: amount {text} has more than two decimals")
    return int(cents)


def cmd_registrar_credit(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    amount = _parse_amount(args.amount)
    db = _db(cfg)
    with db.write() as conn:
        balance = registry.credit(conn, Clock().now(), args.clid, amount)
    print(f"registrar {args.clid} balance: {balance / 100:.2f}")
    return 0


def cmd_registrar_list(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    db = _db(cfg)
    with db.read() as conn:
        rows = registry.list_registrars(conn)
    print(f"{'CLID':<16} {'STATUS':<9} {'BALANCE':>12} {'TLDS':<20} NAME")
    for r in rows:
        print(
            f"{r.clid:<16} {r.status:<9} {r.balance / 100:>12.2f} {','.join(r.tlds):<20} {r.name}"
        )
    return 0


def cmd_serve(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.serve import serve

    if not Path(cfg.epp_cert).exists():
        raise UsageError(
            f"domreg serve: no TLS certificate at {cfg.epp_cert}; run `domreg init` first"
        )
    return serve(cfg)


def cmd_epp(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.cli.epp import run

    return run(args, cfg)


def cmd_bench_epp(args: argparse.Namespace, cfg: config_mod.Config) -> int:
    from domreg.bench import epp as bench_epp

    try:
        return bench_epp.main(args)
    except bench_epp.BenchError as exc:
        print(f"domreg bench epp: {exc}", file=sys.stderr)
        return 1


#: Commands whose whole parser one module adds (its `add_parser(sub)`). When the command
#: line names one of them, `main` builds only that command's parser, so the process imports
#: only what the command runs: `domreg zone export` of a large zone is timed from process
#: start (bench/dns.py), and every other subcommand module would add a few hundred ms.
ALONE = {"zone": "domreg.cli.zone"}


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names (its first word after the global options), or None."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif not word.startswith("--config="):
            return None  # --help, or an error for the whole parser to report
    return None


def build_parser(only: str | None = None) -> Parser:
    """The parser of every command, or of the one command `only` (a key of ALONE)."""
    p = Parser(prog="domreg", description="domreg: a domain name registry")
    p.add_argument("--config", help="configuration file (default ./domreg.toml)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    if only is not None:
        importlib.import_module(ALONE[only]).add_parser(sub)
        return p

    init = sub.add_parser("init", help="create the database and TLS material")
    init.add_argument(
        "--demo", action="store_true", help="also create TLD 'test' and registrar 'demo'"
    )
    init.set_defaults(fn=cmd_init)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, parser_class=Parser
    )
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(fn=cmd_db_upgrade)

    tld = sub.add_parser("tld", help="TLDs").add_subparsers(
        dest="tld_command", required=True, parser_class=Parser
    )
    add = tld.add_parser("add", help="add a TLD")
    add.add_argument("name")
    add.set_defaults(fn=cmd_tld_add)
    tld.add_parser("list", help="list TLDs").set_defaults(fn=cmd_tld_list)

    reg = sub.add_parser("registrar", help="registrars").add_subparsers(
        dest="registrar_command", required=True, parser_class=Parser
    )
    radd = reg.add_parser("add", help="add a registrar")
    radd.add_argument("clid")
    radd.add_argument("--name", required=True)
    radd.add_argument(
        "--password",
        required=True,
        help="EPP password (6-128 characters; over 16 can only be sent with loginSec, RFC 8807)",
    )
    radd.add_argument("--email")
    radd.add_argument(
        "--cert-fingerprint",
        action="append",
        default=[],
        metavar="SHA256",
        help="required client certificate (SHA-256 of DER, hex); repeatable",
    )
    radd.add_argument(
        "--allow-ip",
        action="append",
        default=[],
        metavar="CIDR",
        help="allowed source network; repeatable",
    )
    radd.add_argument(
        "--tld", action="append", default=[], metavar="NAME", help="accredit for TLD; repeatable"
    )
    radd.set_defaults(fn=cmd_registrar_add)
    credit = reg.add_parser("credit", help="add funds to a registrar's balance")
    credit.add_argument("clid")
    credit.add_argument("amount", help="amount in the currency's units, e.g. 100 or 12.50")
    credit.set_defaults(fn=cmd_registrar_credit)
    reg.add_parser("list", help="list registrars").set_defaults(fn=cmd_registrar_list)
    from domreg.cli.billing import add_parsers as add_billing

    add_billing(tld, reg)  # tld price/reserve/premium; registrar price/set/adjust/statement
    from domreg.cli.phases import add_parsers as add_phases

    add_phases(sub, tld)  # tld phase add/list; tld claims; tmch smdrl (RFC 8334, 7848)

    from domreg.cli.domain_admin import add_parser as add_domain_admin

    add_domain_admin(sub)  # domain status NAME --add/--remove STATUS --reason TEXT

    sub.add_parser("serve", help="run every service").set_defaults(fn=cmd_serve)

    from domreg.cli.jobs import add_parser as add_jobs

    add_jobs(sub)  # jobs run [--until TIME]

    from domreg.cli.tokens import add_parser as add_tokens

    add_tokens(sub)  # token add TOKEN [...]; token list

    from domreg.cli.zone import add_parser as add_zone

    add_zone(sub)  # zone publish|export|ds|status|set
    from domreg.cli.users import add_parser as add_users

    add_users(sub)  # user add USERNAME --role ...; user list (web console)

    from domreg.cli import escrow, ops, report

    escrow.add_parser(sub)  # escrow deposit|status|verify|restore
    report.add_parser(sub)  # report monthly TLD --month YYYY-MM
    ops.add_parser(sub)  # check; backup FILE; restore FILE

    from domreg.cli.epp import add_parser as add_epp

    add_epp(sub).set_defaults(fn=cmd_epp)

    from domreg.bench.epp import add_arguments as add_bench_epp

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(
        dest="bench_command", required=True, parser_class=Parser
    )
    bench_epp = bench.add_parser(
        "epp",
        help="EPP throughput and latency (check, info, create) beside a TLS echo floor",
        description="Drive N concurrent EPP sessions against a fresh `domreg serve` on SQLite "
        "and PostgreSQL, and a bare framed-TLS echo server (the floor) in the same run.",
    )
    add_bench_epp(bench_epp)
    bench_epp.set_defaults(fn=cmd_bench_epp)
    from domreg.cli.rdds import add_parsers as add_rdds

    add_rdds(reg, bench)  # registrar rdds CLID [...]; bench rdap; bench whois

    from domreg.bench.dns import add_parser as add_bench_dns

    add_bench_dns(bench)  # bench dns: zone build beside kzonecheck, EPP-to-DNS latency

    from domreg.bench.escrow import add_parser as add_bench_escrow

    add_bench_escrow(bench)  # bench escrow
    return p


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = command_of(words)
    parser = build_parser(command if command in ALONE else None)
    try:
        args = parser.parse_args(words)
        cfg = config_mod.load(args.config)
        return int(args.fn(args, cfg))
    except UsageError as exc:
        print(f"{exc}", file=sys.stderr)
        return 2
    except (registry.RegistryError, config_mod.ConfigError) as exc:
        print(f"domreg: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
