"""Comparing two registries object by object, one function per protocol: what the original
answers and what a registry restored from its escrow deposit answers must be the same.
`compare_epp` is EPP info (through an EPP server over each database); `compare_rdap` and
`compare_whois` are RDAP lookups and WHOIS answers of every domain, nameserver and registrar
(through the rdap and whois Python APIs over each database, at the same `now`)."""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from domreg import rdap
from domreg.clock import Clock
from domreg.epp.client import EppClient
from domreg.epp.server import EppServer, Limits, server_tls_context
from domreg.epp.session import Registry
from domreg.store import schema as t
from domreg.store.db import Database
from domreg.whois import server as whois
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


# ---------------------------------------------------------------- RDAP and WHOIS

#: What legitimately differs between two RDDS answers: the time of the answer ("last update
#: of RDAP/WHOIS database" is the time the database is read). Both registries are asked at
#: the same `now`, so this matters only if a caller passes different times; nothing else is
#: normalised: ROIDs, handles, dates, statuses and registrar data must round-trip.
_RDAP_STAMP = "last update of RDAP database"
_WHOIS_STAMP = re.compile(r">>> Last update of WHOIS database: [^<]*<<<")


def _rdap_normalise(answer: Any) -> Any:
    if isinstance(answer, dict):
        if answer.get("eventAction") == _RDAP_STAMP:
            return {**answer, "eventDate": "-"}
        return {k: _rdap_normalise(v) for k, v in answer.items()}
    if isinstance(answer, list):
        return [_rdap_normalise(v) for v in answer]
    return answer


def _registrars(db: Database) -> dict[str, int]:
    """clid -> internal id (ids may differ between the original and the restored database)."""
    with db.read() as conn:
        return {r.clid: r.id for r in conn.execute(select(t.registrars.c.clid, t.registrars.c.id))}


def _rdap(db: Database, kind: str, name: str, viewer: rdap.Viewer, now: datetime) -> Any:
    with db.read() as conn:
        try:
            if kind == "domain":
                answer = rdap.lookup_domain(conn, name, viewer, now=now)
            elif kind == "nameserver":
                answer = rdap.lookup_nameserver(conn, name, now=now)
            else:
                answer = rdap.lookup_entity(conn, name, now=now)
        except rdap.RdapError as exc:
            answer = exc.body()
    return _rdap_normalise(answer)


def compare_rdap(
    original: Database, restored: Database, objects: Objects, now: datetime
) -> list[str]:
    """RDAP lookups of every domain (anonymous and as its sponsor, who sees its contacts in
    full), nameserver and registrar entity of `original`, asked of both databases at `now`;
    returns the differences (empty: the same answers)."""
    ids = (_registrars(original), _registrars(restored))
    queries: list[tuple[str, str, str | None]] = []
    for name, sponsor in sorted(objects.domains.items()):
        queries += [("domain", name, None), ("domain", name, sponsor)]
    queries += [("nameserver", name, None) for name in sorted(objects.hosts)]
    queries += [("entity", clid, None) for clid in sorted(ids[0])]
    differences = []
    for kind, name, sponsor in queries:
        a, b = (
            _rdap(
                db,
                kind,
                name,
                rdap.ANONYMOUS if sponsor is None else rdap.Viewer(known[sponsor], sponsor),
                now,
            )
            for db, known in zip((original, restored), ids, strict=True)
        )
        if "errorCode" in a:  # every object compared is live on the original
            differences.append(f"rdap {kind} {name}: the original does not answer: {a}")
        elif a != b:
            differences.append(f"rdap {kind} {name} as {sponsor}\n original: {a}\n restored: {b}")
    return differences


def compare_whois(
    original: Database, restored: Database, objects: Objects, now: datetime
) -> list[str]:
    """WHOIS answers for every domain, nameserver and registrar of `original`, asked of both
    databases at `now`; returns the differences (empty: the same answers)."""
    queries = [f"domain {name}" for name in sorted(objects.domains)]
    queries += [f"nameserver {name}" for name in sorted(objects.hosts)]
    queries += [f"registrar {clid}" for clid in sorted(_registrars(original))]
    differences = []
    for text in queries:
        answers = []
        for db in (original, restored):
            with db.read() as conn:
                answers.append(_WHOIS_STAMP.sub(">>> -", whois.answer(conn, text, now)[0]))
        a, b = answers
        if a.startswith(("No match", "Error:")):  # every object compared is live on the original
            differences.append(f"whois {text}: the original does not answer: {a}")
        elif a != b:
            differences.append(f"whois {text}\n original: {a}\n restored: {b}")
    return differences
