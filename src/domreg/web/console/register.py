"""Console registration (price shown first, then confirmed with that price as the agreed
fee, so a price change in between refuses the create) and transfers (request; incoming and
outgoing requests, cancel)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import billing, domain, domain_create, fees, webusers
from domreg.flows.base import Context, registry_actor
from domreg.flows.lookup import tld_for
from domreg.model.names import NameError_, parse_name
from domreg.model.periods import Period
from domreg.web.auth import page
from domreg.web.console import queries
from domreg.web.core import Form, Problem, Web, redirect
from domreg.web.names import split_names, to_registry_name


def quote(conn: Connection, now: Any, registrar_id: int, name: str, years: int) -> dict[str, Any]:
    """Availability and this registrar's price for `years` of `name` (A-label)."""
    ctx = Context(conn, now, registry_actor("web"), None, "-")
    item = domain.check(ctx, [name])[0]
    out: dict[str, Any] = {"name": name, "avail": item.avail, "reason": item.reason or ""}
    if item.avail:
        dn = parse_name(name)
        tld = tld_for(conn, dn)
        assert tld is not None
        price = billing.quote(conn, registrar_id, tld.id, dn.labels[0], "create", years)
        out.update(amount=price.amount, currency=price.currency, price_class=price.price_class)
    return out


def routes(web: Web) -> list[BaseRoute]:
    async def form_page(request: Request, user: webusers.WebUser) -> Response:
        rid = user.registrar_id
        assert rid is not None
        p = request.query_params
        errors: dict[str, str] = {}
        values = {"name": p.get("name", "")[:300], "years": p.get("years", "1")[:3]}
        offer = None
        if "name" in p:
            form = Form(p)  # type: ignore[arg-type]
            raw = form.text("name", label="Domain name", max_len=253)
            years = form.integer("years", label="Years", low=1, high=10, default=1)
            name = ""
            if raw:
                try:
                    name = to_registry_name(raw)
                except NameError_ as exc:
                    form.errors["name"] = f"Not a domain name: {exc}"
            errors = form.errors
            if not errors:
                now = web.now()
                offer = await web.read(lambda conn: quote(conn, now, rid, name, years))
                if not offer["avail"]:
                    errors["name"] = f"{raw} is not available: {offer['reason']}"
                    offer = None
                else:
                    offer["years"] = years
        handles = await web.read(lambda conn: queries.contact_handles(conn, rid))
        return web.render(
            request,
            "console/register.html",
            400 if errors else 200,
            title="Register a domain",
            offer=offer,
            errors=errors,
            form=values,
            handles=handles,
        )

    async def register(request: Request, user: webusers.WebUser) -> Response:
        rid = user.registrar_id
        assert rid is not None
        form = Form(await request.form())
        raw = form.text("name", label="Domain name", max_len=253)
        years = form.integer("years", label="Years", low=1, high=10)
        amount = form.integer("fee", label="Price", low=0, high=10**12)
        currency = form.text("currency", label="Currency", max_len=3)
        registrant = form.text("registrant", label="Registrant", required=False, max_len=16)
        ns_text = form.text(
            "nameservers", label="Nameservers", required=False, max_len=4000, multiline=True
        )
        name = ""
        if raw:
            try:
                name = to_registry_name(raw)
            except NameError_ as exc:
                form.errors["name"] = f"Not a domain name: {exc}"
        ns: list[str] = []
        for n in split_names(ns_text):
            try:
                ns.append(to_registry_name(n))
            except NameError_ as exc:
                form.errors.setdefault("nameservers", f"{n[:80]!r} is not a host name: {exc}")
        code = secrets.token_urlsafe(18)
        values = {k: v for k, v in form.data.items() if isinstance(v, str) and k != "csrf"}
        try:
            form.check()
            contacts = tuple((c, registrant) for c in ("admin", "tech")) if registrant else ()
            cmd = domain.DomainCreate(
                name,
                code,
                Period(years, "y"),
                tuple(ns),
                registrant or None,
                contacts,
                fee=fees.FeeStatement(amount, currency),
            )
            await web.act(
                request,
                user,
                "domain.create",
                name,
                lambda ctx: domain_create.create(ctx, cmd),
                "name",
            )
        except Problem as exc:
            handles = await web.read(lambda conn: queries.contact_handles(conn, rid))
            offer = None
            if name and "name" not in exc.errors:
                offer = {
                    "name": name,
                    "years": years,
                    "amount": amount,
                    "currency": currency,
                    "price_class": "",
                }
            return web.render(
                request,
                "console/register.html",
                400,
                title="Register a domain",
                offer=offer,
                errors=exc.errors,
                form=values,
                handles=handles,
            )
        return redirect(f"/console/domains/{name}", "registered")

    async def transfers(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        rid = user.registrar_id
        assert rid is not None

        def load(conn: Connection) -> Any:
            incoming, outgoing = queries.pending_transfers(conn, rid)
            return incoming, outgoing

        incoming, outgoing = await web.read(load)
        return web.render(
            request,
            "console/transfers.html",
            400 if errors else 200,
            title="Transfers",
            incoming=incoming,
            outgoing=outgoing,
            errors=errors or {},
            form=form or {},
        )

    async def transfers_page(request: Request, user: webusers.WebUser) -> Response:
        return await transfers(request, user)

    async def request_transfer(request: Request, user: webusers.WebUser) -> Response:
        form = Form(await request.form())
        raw = form.text("name", label="Domain name", max_len=253)
        auth = form.text("auth_code", label="Auth code", max_len=255)
        years = form.integer("years", label="Years", low=1, high=10, default=1)
        op = form.choice("op", label="Operation", options=("request", "cancel"))
        name = ""
        if raw:
            try:
                name = to_registry_name(raw)
            except NameError_ as exc:
                form.errors["name"] = f"Not a domain name: {exc}"
        if op == "cancel":
            form.errors.pop("auth_code", None)
        values = {"name": raw, "years": str(years)}
        try:
            form.check()
            if op == "cancel":
                cmd = domain.DomainTransfer("cancel", name)
            else:
                cmd = domain.DomainTransfer(
                    "request", name, auth_info=auth, period=Period(years, "y")
                )
            await web.act(
                request,
                user,
                f"domain.transfer.{op}",
                name,
                lambda ctx: domain.transfer(ctx, cmd),
                "name",
            )
        except Problem as exc:
            errs = dict(exc.errors)
            if any("authInfo" in v for v in errs.values()):
                errs = {"auth_code": "The auth code does not match."}
            return await transfers(request, user, errs, values)
        return redirect(
            "/console/transfers", "transfer-requested" if op == "request" else "transfer-cancelled"
        )

    return [
        Route("/console/register", page(web, "registrar", form_page), methods=["GET"]),
        Route("/console/register", page(web, "registrar", register), methods=["POST"]),
        Route("/console/transfers", page(web, "registrar", transfers_page), methods=["GET"]),
        Route("/console/transfers", page(web, "registrar", request_transfer), methods=["POST"]),
    ]
