"""The public lookup page: a domain, nameserver or registrar in readable form.

Rendered from the flows' read-side views (`domain.render_info`, `host.render_info`, the
registrars table) until the RDAP module lands on main; the page then renders the RDAP
answer (see the report of issue 6). Contacts are never shown here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import domain, host
from domreg.flows.dnssec import presentation
from domreg.flows.lookup import live_domain, live_host
from domreg.model.names import NameError_
from domreg.store import schema as t
from domreg.web.core import Web
from domreg.web.names import to_registry_name


@dataclass
class Found:
    kind: str  # domain, nameserver, registrar
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    lists: list[tuple[str, list[str]]] = field(default_factory=list)


def _registrar(conn: Connection, clid: str) -> Found | None:
    row = conn.execute(select(t.registrars).where(t.registrars.c.clid == clid)).first()
    if row is None:
        return None
    facts = [
        ("Registrar id", row.clid),
        ("Name", row.name),
        ("Status", "active" if row.status == "ok" else row.status),
    ]
    if row.iana_id:
        facts.append(("IANA id", str(row.iana_id)))
    if row.email:
        facts.append(("Contact e-mail", row.email))
    return Found("registrar", row.name, facts)


def _dt(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def find(conn: Connection, query: str) -> Found | None:
    """The domain, nameserver or registrar `query` names (in that order of preference)."""
    query = query.strip()
    try:
        name = to_registry_name(query)
    except NameError_:
        name = ""
    if name:
        row = live_domain(conn, name)
        if row is not None:
            info = domain.render_info(conn, row, "all", full=True, show_auth=False)
            from domreg.web.core import unicode_name

            facts = [
                ("Name", unicode_name(info.name)),
                ("A-label", info.name),
                ("Registry object id", info.roid),
                ("Registrar", info.sponsor),
                ("Registered", _dt(info.created_at)),
                ("Expires", _dt(info.expires_at)),
                ("Last changed", _dt(info.updated_at)),
                ("DNSSEC", "signed (DS records below)" if info.ds else "unsigned"),
            ]
            return Found(
                "domain",
                unicode_name(info.name),
                facts,
                [
                    ("Status", [s for s, _, _ in info.statuses]),
                    ("Nameservers", list(info.ns or [])),
                    ("DS records", presentation(info.ds)),
                ],
            )
        hrow = live_host(conn, name)
        if hrow is not None:
            hinfo = host.render_info(conn, hrow)
            return Found(
                "nameserver",
                hinfo.name,
                [
                    ("Name", hinfo.name),
                    ("Registrar", hinfo.sponsor),
                    ("Created", _dt(hinfo.created_at)),
                ],
                [
                    ("Status", [s for s, _, _ in hinfo.statuses]),
                    ("Addresses", [a for a, _ in hinfo.addresses]),
                ],
            )
    if len(query) <= 16:
        return _registrar(conn, query)
    return None


def routes(web: Web) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        q = request.query_params.get("q", "")
        errors: dict[str, str] = {}
        found = None
        if "q" in request.query_params:
            if not q.strip():
                errors["q"] = "Type a domain, nameserver or registrar id."
            elif len(q) > 300:
                errors["q"] = "At most 300 characters."
            elif any(ord(c) < 32 for c in q):
                errors["q"] = "The query contains control characters."
            else:
                found = await web.read(lambda conn: find(conn, q))
                if found is None:
                    errors["q"] = f"Nothing registered here matches {q.strip()!r}."
        status = 400 if errors and "q" in request.query_params and not q.strip() else 200
        if errors and found is None and q.strip():
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
