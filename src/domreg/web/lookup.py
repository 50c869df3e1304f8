"""The public lookup page: a domain, nameserver or registrar in readable form, rendered from
the RDAP module's answer (`rdap.api.lookup_domain`, `lookup_nameserver`, `lookup_entity`,
anonymous viewer: the same data and redactions as `/rdap/`), with a link to the RDAP JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg import metrics
from domreg.rdap import api as rdap
from domreg.web.core import Web


@dataclass
class Found:
    kind: str  # domain, nameserver, registrar
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    lists: list[tuple[str, list[str]]] = field(default_factory=list)
    rdap_path: str = ""


EVENT_LABELS = {
    "registration": "Registered",
    "expiration": "Expires",
    "last changed": "Last changed",
    "transfer": "Transferred",
    "last update of RDAP database": "Data as of",
}


def _fn(entity: dict[str, Any]) -> str:
    card = entity.get("vcardArray") or []
    for prop in card[1] if len(card) > 1 else []:
        if prop and prop[0] == "fn":
            return str(prop[3])
    return str(entity.get("handle", ""))


def _registrar_id(entity: dict[str, Any]) -> str:
    """The registrar's id: its RDAP handle (IANA id), else the end of its self link (the
    registry's client id)."""
    handle = str(entity.get("handle", ""))
    if handle and handle != "not applicable":
        return handle
    for link in entity.get("links", []):
        if link.get("rel") == "self":
            return str(link.get("href", "")).rstrip("/").rsplit("/", 1)[-1]
    return handle


def _date(value: str) -> str:
    return value.replace("T", " ").replace("Z", " UTC")[:20] + (
        "UTC" if value.endswith("Z") else ""
    )


def from_rdap(answer: dict[str, Any]) -> Found:
    """A readable view of an RDAP answer (RFC 9083): a domain, nameserver or entity."""
    kind = answer.get("objectClassName", "")
    facts: list[tuple[str, str]] = []
    lists: list[tuple[str, list[str]]] = []
    ldh = str(answer.get("ldhName", ""))
    title = str(answer.get("unicodeName") or ldh or _fn(answer))
    if kind in ("domain", "nameserver"):
        facts.append(("Name", title))
        if ldh and ldh != title:
            facts.append(("A-label", ldh))
    else:
        facts.append(("Name", _fn(answer)))
    if answer.get("handle"):
        facts.append(("Handle", str(answer["handle"])))
    for pid in answer.get("publicIds", []):
        facts.append((str(pid.get("type", "Id")), str(pid.get("identifier", ""))))
    for entity in answer.get("entities", []):
        if "registrar" in entity.get("roles", []):
            facts.append(("Registrar", f"{_fn(entity)} ({_registrar_id(entity)})"))
    for event in answer.get("events", []):
        label = EVENT_LABELS.get(event.get("eventAction", ""))
        if label:
            facts.append((label, _date(str(event.get("eventDate", "")))))
    lists.append(("Status", [str(s) for s in answer.get("status", [])]))
    if kind == "domain":
        lists.append(
            ("Nameservers", [str(n.get("ldhName", "")) for n in answer.get("nameservers", [])])
        )
        sec = answer.get("secureDNS") or {}
        facts.append(
            ("DNSSEC", "signed (DS records below)" if sec.get("delegationSigned") else "unsigned")
        )
        lists.append(
            (
                "DS records",
                [
                    f"{d.get('keyTag')} {d.get('algorithm')} {d.get('digestType')} {d.get('digest')}"
                    for d in sec.get("dsData", [])
                ],
            )
        )
    if kind == "nameserver":
        ips = answer.get("ipAddresses") or {}
        lists.append(("Addresses", [*ips.get("v4", []), *ips.get("v6", [])]))
    return Found(
        {"domain": "domain", "nameserver": "nameserver"}.get(kind, "registrar"), title, facts, lists
    )


def find(conn: Connection, query: str, now: datetime) -> Found | None:
    """The domain, nameserver or registrar `query` names (in that order), from RDAP."""
    query = query.strip()
    attempts = (
        ("domain", rdap.lookup_domain),
        ("nameserver", rdap.lookup_nameserver),
        ("entity", rdap.lookup_entity),
    )
    for path, lookup in attempts:
        try:
            answer = lookup(conn, query, now=now)
        except rdap.RdapError:
            continue
        found = from_rdap(answer)
        handle = answer.get("ldhName") or answer.get("handle") or query
        found.rdap_path = f"/rdap/{path}/{handle}"
        return found
    return None


def routes(web: Web) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        q = request.query_params.get("q", "")
        errors: dict[str, str] = {}
        found = None
        status = 200
        if "q" in request.query_params:
            if not q.strip():
                errors["q"] = "Type a domain, nameserver or registrar id."
                status = 400
            elif len(q) > 300:
                errors["q"] = "At most 300 characters."
                status = 400
            elif any(ord(c) < 32 for c in q):
                errors["q"] = "The query contains control characters."
                status = 400
            else:
                now = web.now()
                found = await web.read(lambda conn: find(conn, q, now))
                # ICANN's web-whois-queries, in the report of the TLD of the name looked up
                metrics.count(metrics.WHOIS, "web", now, q.strip())
                if found is None:
                    errors["q"] = f"Nothing registered here matches {q.strip()!r}."
                    status = 404
        return web.render(
            request,
            "public/lookup.html",
            status,
            title="Lookup",
            found=found,
            errors=errors,
            form={"q": q[:300]},
        )

    return [Route("/lookup", page, methods=["GET"])]
