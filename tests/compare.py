"""Comparing two registries object by object, one function per protocol: what the original
answers and what a registry restored from its escrow deposit answers must be the same.
`compare_epp` is EPP info; RDAP and WHOIS comparisons go beside it as those services land."""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from domreg.clock import Clock
from domreg.epp.client import EppClient
from domreg.epp.server import EppServer, Limits, server_tls_context
from domreg.epp.session import Registry
from domreg.store.db import Database
from tests.registry_data import C, D, H, Objects, login


@asynccontextmanager
async def serving(db: Database, tls_dir: Path, clock: Clock) -> AsyncIterator[EppServer]:
    """An in-process EPP server over `db`."""
    server = EppServer(
        Registry(db=db, clock=clock),
        server_tls_context(
            str(tls_dir / "server.crt"), str(tls_dir / "server.key"), str(tls_dir / "ca.crt")
        ),
        Limits(max_frame=65536, idle_timeout=30.0, frame_timeout=5.0),
    )
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.close()


#: Parts that differ between any two answers (transaction ids), or that an escrow deposit
#: does not carry by design (authInfo: RFC 9022 has none; the sponsor sets a new one).
_VOLATILE = [
    re.compile(rb"<trID>.*?</trID>", re.S),
    re.compile(rb"<(domain|contact):authInfo>.*?</\1:authInfo>", re.S),
]


def normalise(raw: bytes) -> bytes:
    for pattern in _VOLATILE:
        raw = pattern.sub(b"", raw)
    return raw


def _infos(objects: Objects) -> list[tuple[str, str]]:
    """(sponsor, info command) for every object."""
    out = []
    for name, sponsor in sorted(objects.domains.items()):
        out.append(
            (
                sponsor,
                f"<info><domain:info {D}><domain:name>{name}</domain:name></domain:info></info>",
            )
        )
    for name, sponsor in sorted(objects.hosts.items()):
        out.append(
            (sponsor, f"<info><host:info {H}><host:name>{name}</host:name></host:info></info>")
        )
    for handle, sponsor in sorted(objects.contacts.items()):
        out.append(
            (
                sponsor,
                f"<info><contact:info {C}><contact:id>{handle}</contact:id></contact:info></info>",
            )
        )
    return out


async def compare_epp(
    original: EppServer,
    restored: EppServer,
    tls: ssl.SSLContext,
    objects: Objects,
    passwords: dict[str, str],
    restored_passwords: dict[str, str],
) -> list[str]:
    """EPP info of every object, asked of each registry by the object's sponsor; returns the
    differences (empty: the same answers but for transaction ids and authInfo)."""
    differences = []
    clients: dict[tuple[int, str], Any] = {}
    try:
        for sponsor, body in _infos(objects):
            answers = []
            for server, secrets in ((original, passwords), (restored, restored_passwords)):
                key = (id(server), sponsor)
                if key not in clients:
                    client = await EppClient.connect("127.0.0.1", server.ports[0], tls)
                    await login(client, sponsor, secrets[sponsor])
                    clients[key] = client
                answers.append((await clients[key].command(body, cltrid="CMP")).raw)
            a, b = (normalise(x) for x in answers)
            if a != b:
                differences.append(f"{body}\n original: {a.decode()}\n restored: {b.decode()}")
    finally:
        for client in clients.values():
            await client.close()
    return differences
