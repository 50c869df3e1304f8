"""Public pages, no sign-in: domain search (availability, reserved, premium and price, for one
name or a list, IDN input in Unicode) and lookup of a domain, nameserver or registrar in
readable form (`lookup.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import billing, domain
from domreg.flows.base import Context, registry_actor
from domreg.flows.lookup import tld_for
from domreg.model.names import NameError_, parse_name
from domreg.store import schema as t
from domreg.web import lookup
from domreg.web.core import Web
from domreg.web.names import MAX_NAMES, split_names, to_registry_name


@dataclass(frozen=True, slots=True)
class SearchResult:
    typed: str
    name: str  # A-label form ("" when the input is not a name)
    display: str  # Unicode form
    state: str  # available, registered, reserved, premium, invalid, unserved
    reason: str = ""
    price: int | None = None
    currency: str = ""
    price_class: str = ""


def search(conn: Connection, now: object, typed: list[str]) -> list[SearchResult]:
    """Availability and one-year create price of each typed name; a bare label is tried
    under every TLD."""
    tlds = [r.name for r in conn.execute(select(t.tlds.c.name).order_by(t.tlds.c.name))]
    wanted: list[tuple[str, str]] = []
    results: list[SearchResult] = []
    for raw in typed:
        candidates = [raw] if "." in raw.strip(".") else [f"{raw}.{tld}" for tld in tlds]
        for cand in candidates:
            try:
                wanted.append((cand, to_registry_name(cand)))
            except NameError_ as exc:
                results.append(SearchResult(cand, "", cand, "invalid", str(exc)))
    ctx = Context(conn, now, registry_actor("web:public"), None, "-")  # type: ignore[arg-type]
    checked = domain.check(ctx, [n for _, n in wanted]) if wanted else []
    for (cand, name), item in zip(wanted, checked, strict=True):
        display = _unicode(name)
        if item.avail:
            dn = parse_name(name)
            tld = tld_for(conn, dn)
            assert tld is not None
            price = billing.quote(conn, 0, tld.id, dn.labels[0], "create", 1)
            state = "available" if price.price_class == "standard" else "premium"
            results.append(
                SearchResult(
                    cand, name, display, state, "", price.amount, price.currency, price.price_class
                )
            )
        else:
            reason = item.reason or ""
            state = {"In use": "registered", "Reserved": "reserved"}.get(reason, "unserved")
            if reason.startswith("Invalid"):
                state = "invalid"
            results.append(SearchResult(cand, name, display, state, reason))
    return results


def _unicode(name: str) -> str:
    from domreg.web.core import unicode_name

    return unicode_name(name)


def routes(web: Web) -> list[BaseRoute]:
    async def home(request: Request) -> Response:
        q = request.query_params.get("q", "")
        errors: dict[str, str] = {}
        results: list[SearchResult] = []
        if "q" in request.query_params:
            names = split_names(q)
            if not names:
                errors["q"] = "Type a name to search for."
            elif len(q) > 5000 or len(names) > MAX_NAMES:
                errors["q"] = f"At most {MAX_NAMES} names at once."
            elif any(ord(c) < 32 and c not in "\r\n\t" for c in q):
                errors["q"] = "The names contain control characters."
            else:
                now = web.now()
                results = await web.read(lambda conn: search(conn, now, names))
        status = 400 if errors else 200
        return web.render(
            request,
            "public/search.html",
            status,
            title="Domain search",
            results=results,
            errors=errors,
            form={"q": q[:5000]},
        )

    return [Route("/", home, methods=["GET"]), *lookup.routes(web)]
