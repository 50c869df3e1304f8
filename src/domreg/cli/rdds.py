"""`domreg registrar rdds` (the registrar data RDAP and WHOIS publish) and the RDAP and WHOIS
benchmarks (`domreg bench rdap`, `domreg bench whois`).

    domreg registrar rdds CLID [--iana-id N] [--url URL] [--whois-server HOST]
                               [--rdap-base-url URL]
                               [--abuse-email E] [--abuse-phone +CC.N] [--email E]
                               [--phone +CC.N] [--fax +CC.N] [--street LINE]... [--city C]
                               [--sp S] [--pc P] [--cc CC]

Options not given leave the value unchanged; an empty value ("") clears it. Refusals are one
line on standard error, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from domreg.clock import Clock
from domreg.config import Config
from domreg.flows.registrar_data import set_rdds_data
from domreg.store.db import Database

FIELDS = (
    "url",
    "whois_server",
    "rdap_base_url",
    "abuse_email",
    "abuse_phone",
    "email",
    "phone",
    "fax",
    "city",
    "sp",
    "pc",
    "cc",
)


def cmd_rdds(args: argparse.Namespace, cfg: Config) -> int:
    db = Database(cfg.database_url, pool_size=1)
    try:
        with db.write() as conn:
            set_rdds_data(
                conn,
                Clock().now(),
                args.clid,
                iana_id=args.iana_id,
                street=args.street,
                **{f: getattr(args, f) for f in FIELDS},
            )
    finally:
        db.close()
    print(f"registrar {args.clid}: published data updated")
    return 0


def cmd_bench(args: argparse.Namespace, cfg: Config) -> int:
    from domreg.bench import rdds as bench

    try:
        return bench.main(args)
    except bench.BenchError as exc:
        print(f"domreg bench {args.bench_command}: {exc}", file=sys.stderr)
        return 1


def add_parsers(registrar: Any, bench: Any) -> None:
    """`registrar rdds` under `registrar`; `rdap` and `whois` under `bench`."""
    p = registrar.add_parser("rdds", help="data RDAP and WHOIS publish about a registrar")
    p.add_argument("clid")
    p.add_argument("--iana-id", type=int, help="IANA Registrar ID (the RDAP entity handle)")
    p.add_argument("--url", help="the registrar's web site (http or https)")
    p.add_argument("--whois-server", help="the registrar's WHOIS server (host name)")
    p.add_argument(
        "--rdap-base-url",
        help="the registrar's RDAP base URL (https), linked from domain answers (TIG 3.2)",
    )
    p.add_argument("--abuse-email", help="abuse contact email")
    p.add_argument("--abuse-phone", help="abuse contact phone, +CC.NUMBER")
    p.add_argument("--email", help="the registrar's email")
    p.add_argument("--phone", help="the registrar's phone, +CC.NUMBER")
    p.add_argument("--fax", help="the registrar's fax, +CC.NUMBER")
    p.add_argument("--street", action="append", help="street line (up to three); repeatable")
    p.add_argument("--city")
    p.add_argument("--sp", help="state or province")
    p.add_argument("--pc", help="postal code")
    p.add_argument("--cc", help="country code (ISO 3166-1 alpha-2)")
    p.set_defaults(fn=cmd_rdds)

    from domreg.bench import rdds as bench_rdds

    rdap = bench.add_parser(
        "rdap",
        help="RDAP domain lookups/s (wrk, 64 connections) beside nginx serving the same bytes",
    )
    bench_rdds.add_arguments(rdap, "rdap")
    rdap.set_defaults(fn=cmd_bench)
    whois = bench.add_parser("whois", help="WHOIS queries/s, one connection per query")
    bench_rdds.add_arguments(whois, "whois")
    whois.set_defaults(fn=cmd_bench)
