"""`domreg epp`: an EPP client for operators and registrars (check, info, raw frames)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from domreg.config import Config
from domreg.epp.client import EppClient, client_tls_context


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("epp", help="talk EPP to a registry server")
    p.add_argument("--host", default=None, help="server (default: epp_host from the configuration)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--clid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--ca-file", help="CA to verify the server (default: the local registry CA)")
    p.add_argument("--cert", help="client certificate (PEM)")
    p.add_argument("--key", help="client key (PEM)")
    p.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    actions = p.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="domain:check")
    check.add_argument("names", nargs="+")
    info = actions.add_parser("info", help="domain:info")
    info.add_argument("name")
    info.add_argument("--auth-info")
    create = actions.add_parser("create", help="domain:create")
    create.add_argument("name")
    create.add_argument("--years", type=int, default=1)
    create.add_argument("--ns", action="append", default=[])
    actions.add_parser("poll", help="poll op=req")
    actions.add_parser("raw", help="send the XML frame read from standard input")
    return p


async def _session(args: argparse.Namespace, cfg: Config) -> int:
    from pathlib import Path

    ca = args.ca_file or (cfg.epp_client_ca if Path(cfg.epp_client_ca).exists() else None)
    tls = client_tls_context(
        ca_file=ca, cert_file=args.cert, key_file=args.key, verify=not args.insecure
    )
    host = args.host or cfg.epp_host
    client = await EppClient.connect(host, args.port or cfg.epp_port, tls)
    try:
        login = await client.login(args.clid, args.password)
        if login.code != 1000:
            sys.stdout.write(login.raw.decode() + "\n")
            return 1
        if args.action == "check":
            reply = await client.domain_check(*args.names)
        elif args.action == "info":
            reply = await client.domain_info(args.name, args.auth_info)
        elif args.action == "create":
            reply = await client.domain_create(args.name, args.years, tuple(args.ns))
        elif args.action == "poll":
            reply = await client.command('<poll op="req"/>')
        else:
            from domreg.epp.client import parse_reply

            raw = await client.send_raw(sys.stdin.buffer.read().strip())
            reply = parse_reply(raw)
        sys.stdout.write(_pretty(reply.raw) + "\n")
        await client.logout()
        return 0 if reply.code < 2000 else 1
    finally:
        await client.close()


def _pretty(raw: bytes) -> str:
    from lxml import etree

    try:
        tree = etree.fromstring(
            raw, etree.XMLParser(remove_blank_text=True, resolve_entities=False)
        )
        return etree.tostring(tree, pretty_print=True, encoding="unicode")
    except etree.XMLSyntaxError:
        return raw.decode(errors="replace")


def run(args: argparse.Namespace, cfg: Config) -> int:
    try:
        return asyncio.run(_session(args, cfg))
    except (OSError, TimeoutError) as exc:
        print(
            f"domreg epp: cannot reach {args.host or cfg.epp_host}:{args.port or cfg.epp_port}: {exc}",
            file=sys.stderr,
        )
        return 2
