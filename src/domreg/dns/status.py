"""Publication state for operators (`domreg zone status`) and the TLD's DS records for the
parent (`domreg zone ds`), computed from the key signing keys the server publishes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dns.dnssec
import dns.message
import dns.query
import dns.rdatatype
from sqlalchemy import select

from domreg.config import Config
from domreg.dns.publisher import pending_by_tld
from domreg.dns.targets import parse_server
from domreg.store import schema as t
from domreg.store.db import Database


def zone_status(db: Database) -> list[dict[str, Any]]:
    """Per TLD: serial built, serial served, when, pending outbox rows, last error."""
    with db.read() as conn:
        tlds = conn.execute(select(t.tlds.c.id, t.tlds.c.name).order_by(t.tlds.c.name)).all()
        state = {r.tld_id: r for r in conn.execute(select(t.tld_dns))}
        pending = pending_by_tld(conn, [r.name for r in tlds])
    out = []
    for tld in tlds:
        s = state.get(tld.id)
        out.append(
            {
                "tld": tld.name,
                "serial": s.serial if s else 0,
                "served_serial": s.served_serial if s else None,
                "published_at": s.published_at if s else None,
                "full_published_at": s.full_published_at if s else None,
                "pending": pending.get(tld.name, 0),
                "last_error": s.last_error if s else None,
                "error_at": s.error_at if s else None,
            }
        )
    return out


def _time(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") + "Z" if value else "never"


def format_status(rows: list[dict[str, Any]], cfg: Config) -> str:
    lines = [f"DNS publication: mode {cfg.dns_mode}, server {cfg.dns_server}"]
    for r in rows:
        lines.append(
            f"{r['tld']}: served serial {r['served_serial'] if r['served_serial'] is not None else '-'}"
            f" (built {r['serial']}), published {_time(r['published_at'])}, "
            f"last full {_time(r['full_published_at'])}, pending changes {r['pending']}"
        )
        if r["last_error"]:
            lines.append(f"  last error at {_time(r['error_at'])}: {r['last_error']}")
    return "\n".join(lines)


def ds_records(tld: str, server: str, digest: str = "SHA256") -> list[str]:
    """DS records (master file lines) of the zone's key signing keys, as the server serves
    them. RuntimeError if the server cannot be asked or the zone is not signed."""
    host, port = parse_server(server)
    query = dns.message.make_query(tld + ".", "DNSKEY", want_dnssec=True)
    try:
        reply = dns.query.tcp(query, host, port=port, timeout=3)
    except (OSError, dns.exception.DNSException) as exc:
        raise RuntimeError(f"cannot ask {server} for the DNSKEY set of {tld}: {exc}") from None
    keys = [
        rd
        for rrset in reply.answer
        if rrset.rdtype == dns.rdatatype.DNSKEY
        for rd in rrset
        if rd.flags & 0x0001  # SEP: a key signing key
    ]
    if not keys:
        raise RuntimeError(f"{server} serves no key signing key for {tld}: is the zone signed?")
    ttl = next(r.ttl for r in reply.answer if r.rdtype == dns.rdatatype.DNSKEY)
    return [
        f"{tld}. {ttl} IN DS {dns.dnssec.make_ds(tld + '.', k, digest).to_text()}" for k in keys
    ]
