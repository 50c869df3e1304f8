"""`domreg token`: allocation tokens (RFC 8495) for registrars to create names with.

    domreg token add TOKEN [--tld T] [--registrar CLID] [--domain NAME] [--allows-reserved]
                           [--discount PCT] [--max-uses N] [--expires TIME]
    domreg token list

A token may be bound to a TLD, a registrar and one domain name; it is valid before its
expiry (RFC 3339 UTC, or a date: midnight) for `--max-uses` creates (default 1). It allows a
reserved name with `--allows-reserved` and takes `--discount` percent off the create price.
`list` prints one line per token. Refusals are one line on standard error, exit status 2.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from domreg.clock import Clock
from domreg.config import Config
from domreg.flows import tokens
from domreg.flows.registry import RegistryError
from domreg.store.db import Database


def _time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RegistryError(f"--expires {text!r} is not a date or RFC 3339 time") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def _show(v: tokens.TokenView) -> str:
    expires = v.expires_at.isoformat() + "Z" if v.expires_at else "never"
    return (
        f"{v.token}: tld {v.tld or 'any'}, registrar {v.registrar or 'any'}, "
        f"domain {v.domain_name or 'any'}, reserved {'allowed' if v.allows_reserved else 'no'}, "
        f"discount {v.discount_percent}%, uses {v.uses}/{v.max_uses}, expires {expires}"
    )


def cmd_add(args: argparse.Namespace, cfg: Config) -> int:
    expires = _time(args.expires) if args.expires else None
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.write() as conn:
            view = tokens.add(
                conn,
                Clock().now(),
                args.token,
                tld=args.tld,
                registrar=args.registrar,
                domain_name=args.domain,
                allows_reserved=args.allows_reserved,
                discount_percent=args.discount,
                max_uses=args.max_uses,
                expires_at=expires,
            )
    finally:
        db.close()
    print(f"token added: {_show(view)}")
    return 0


def cmd_list(args: argparse.Namespace, cfg: Config) -> int:
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.read() as conn:
            views = tokens.list_tokens(conn)
    finally:
        db.close()
    for view in views:
        print(_show(view))
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `domreg token` on the top-level subparsers."""
    token = sub.add_parser("token", help="allocation tokens (RFC 8495)")
    commands = token.add_subparsers(dest="token_command", required=True, parser_class=type(token))
    add = commands.add_parser(
        "add",
        help="add an allocation token",
        description="Add an allocation token registrars send with a domain create (RFC 8495).",
    )
    add.add_argument("token")
    add.add_argument("--tld", metavar="T", help="valid only under this TLD")
    add.add_argument("--registrar", metavar="CLID", help="valid only for this registrar")
    add.add_argument("--domain", metavar="NAME", help="valid only for this domain name")
    add.add_argument(
        "--allows-reserved", action="store_true", help="allows creating a reserved name"
    )
    add.add_argument(
        "--discount", type=int, default=0, metavar="PCT", help="percent off the create price"
    )
    add.add_argument(
        "--max-uses", type=int, default=1, metavar="N", help="how many creates (default 1)"
    )
    add.add_argument(
        "--expires", metavar="TIME", help="valid before TIME (RFC 3339 UTC, or a date)"
    )
    add.set_defaults(fn=cmd_add)
    commands.add_parser("list", help="list allocation tokens").set_defaults(fn=cmd_list)
    return token
