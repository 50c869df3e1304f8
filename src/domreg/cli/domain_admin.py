"""`domreg domain`: operator actions on registered domains.

    domreg domain status NAME [--add STATUS]... [--remove STATUS]... --reason TEXT [--who NAME]

Sets or removes server statuses (serverHold, serverDeleteProhibited, serverRenewProhibited,
serverTransferProhibited, serverUpdateProhibited) in one transaction with its history row,
and queues a change poll message (RFC 8590) telling the sponsoring registrar who changed the
domain and why (`--reason`, at most 32 characters). Refusals are one line on standard error
and exit status 2, as for every `domreg` command.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from domreg.clock import Clock
from domreg.config import Config
from domreg.flows import admin
from domreg.flows.base import Context, SvTrIds, registry_actor
from domreg.store.db import Database

#: Operator transaction ids: their own prefix keeps them apart from a server's or the jobs'
#: generator in the same process; one sequence however many commands the process runs.
_SVTRIDS = SvTrIds("DRA")


def add_parser(sub: Any) -> None:
    from domreg.cli.main import Parser

    domain = sub.add_parser("domain", help="operator actions on domains").add_subparsers(
        dest="domain_command", required=True, parser_class=Parser
    )
    status = domain.add_parser(
        "status",
        help="add or remove server statuses (the sponsor gets a change poll message)",
    )
    status.add_argument("name")
    status.add_argument("--add", action="append", default=[], metavar="STATUS")
    status.add_argument("--remove", action="append", default=[], metavar="STATUS")
    status.add_argument("--reason", required=True, help="why (told to the sponsor, <= 32 chars)")
    status.add_argument(
        "--who", default=None, help="who acts, for the audit trail (default: the login name)"
    )
    status.set_defaults(fn=cmd_domain_status)


def cmd_domain_status(args: argparse.Namespace, cfg: Config) -> int:
    who = args.who or f"operator {getpass.getuser()}"
    db = Database(cfg.database_url, pool_size=2)
    try:
        with db.write() as conn:
            ctx = Context(conn, Clock().now(), registry_actor(who), None, _SVTRIDS.next())
            statuses = admin.set_server_statuses(
                ctx,
                admin.StatusChange(
                    name=args.name,
                    reason=args.reason,
                    add=tuple(args.add),
                    remove=tuple(args.remove),
                ),
            )
    finally:
        db.close()
    shown = ", ".join(statuses) or "no stored statuses"
    print(f"{args.name.lower()}: {shown}; the sponsor has a change poll message ({ctx.svtrid})")
    return 0
