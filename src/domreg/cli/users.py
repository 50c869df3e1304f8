"""`domreg user`: web console users (administrators and registrar users).

    domreg user add USERNAME --role admin|registrar [--registrar CLID] [--totp-secret B32]
    domreg user list

The password is read from standard input (first line) when it is not a terminal, otherwise
asked for twice. `add` prints the user's TOTP secret and its otpauth:// URI once, for the
authenticator app. Refusals are one line on standard error, exit status 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from domreg.clock import Clock
from domreg.config import Config
from domreg.flows import webusers
from domreg.flows.registry import RegistryError
from domreg.store.db import Database


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise RegistryError("the passwords differ")
    return first


def cmd_add(args: argparse.Namespace, cfg: Config) -> int:
    password = _password()
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.write() as conn:
            new = webusers.add_user(
                conn,
                Clock().now(),
                username=args.username,
                password=password,
                role=args.role,
                registrar=args.registrar,
                totp_secret=args.totp_secret,
            )
    finally:
        db.close()
    print(
        f"user {new.username} added ({args.role}{' of ' + args.registrar if args.registrar else ''})"
    )
    print(f"TOTP secret: {new.totp_secret}")
    print(f"otpauth URI: {new.provisioning_uri()}")
    return 0


def cmd_list(args: argparse.Namespace, cfg: Config) -> int:
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.read() as conn:
            users = webusers.list_users(conn)
    finally:
        db.close()
    for u in users:
        print(f"{u.username}\t{u.role}\t{u.clid or '-'}")
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `domreg user` on the top-level subparsers."""
    user = sub.add_parser("user", help="web console users")
    commands = user.add_subparsers(dest="user_command", required=True, parser_class=type(user))
    add = commands.add_parser(
        "add",
        help="add a web console user (password on standard input or asked for)",
        description="Add a web console user; prints its TOTP secret once.",
    )
    add.add_argument("username")
    add.add_argument("--role", choices=webusers.ROLES, required=True)
    add.add_argument("--registrar", metavar="CLID", help="the registrar of a registrar user")
    add.add_argument("--totp-secret", metavar="B32", help="use this base32 TOTP secret")
    add.set_defaults(fn=cmd_add)
    commands.add_parser("list", help="list web console users").set_defaults(fn=cmd_list)
    return user
