"""Administration of registrars: list and create, suspend and reactivate, credit, price
overrides, the RDAP base URL (`flows.registrar_data`: https only; empty clears it), and
their console users (each new user's TOTP secret is shown once)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import access, billing, pricing, registrar_data, registry, webusers
from domreg.store import schema as t
from domreg.web.auth import page
from domreg.web.console import queries
from domreg.web.core import Form, Problem, Web, not_found, redirect


def _registrar(conn: Connection, clid: str) -> dict[str, Any] | None:
    row = conn.execute(select(t.registrars).where(t.registrars.c.clid == clid)).first()
    if row is None:
        return None
    tlds = list(
        conn.execute(
            select(t.tlds.c.name)
            .join(t.registrar_tlds, t.registrar_tlds.c.tld_id == t.tlds.c.id)
            .where(t.registrar_tlds.c.registrar_id == row.id)
            .order_by(t.tlds.c.name)
        ).scalars()
    )
    prices = list(
        conn.execute(
            select(t.tlds.c.name, t.registrar_prices.c.operation, t.registrar_prices.c.price)
            .join(t.tlds, t.tlds.c.id == t.registrar_prices.c.tld_id)
            .where(t.registrar_prices.c.registrar_id == row.id)
            .order_by(t.tlds.c.name, t.registrar_prices.c.operation)
        )
    )
    return {
        "row": row,
        "tlds": tlds,
        "prices": prices,
        "users": webusers.list_users(conn, row.id),
        "ledger": queries.ledger(conn, row.id, 20),
        "all_tlds": queries.tld_names(conn),
    }


def routes(web: Web) -> list[BaseRoute]:
    async def list_page(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        rows = await web.read(registry.list_registrars)
        tlds = await web.read(queries.tld_names)
        return web.render(
            request,
            "admin/registrars.html",
            400 if errors else 200,
            title="Registrars",
            rows=rows,
            tlds=tlds,
            errors=errors or {},
            form=form or {},
        )

    async def list_get(request: Request, user: webusers.WebUser) -> Response:
        return await list_page(request, user)

    async def create(request: Request, user: webusers.WebUser) -> Response:
        form = Form(await request.form())
        clid = form.text("clid", label="Registrar id", max_len=16)
        name = form.text("name", label="Name", max_len=255)
        email = form.text("email", label="E-mail", required=False, max_len=255)
        password = form.text("password", label="EPP password", max_len=128)
        all_tlds = await web.read(queries.tld_names)
        tlds = [x for x in all_tlds if form.data.get(f"tld_{x}") == "on"]
        values = {
            k: v
            for k, v in form.data.items()
            if isinstance(v, str) and k not in ("csrf", "password")
        }
        try:
            form.check()
            await web.act(
                request,
                user,
                "registrar.create",
                clid,
                lambda ctx: registry.add_registrar(
                    ctx.conn,
                    ctx.now,
                    clid=clid,
                    name=name,
                    password=password,
                    tlds=tlds,
                    email=email or None,
                ),
                "clid",
            )
        except Problem as exc:
            errs = dict(exc.errors)
            if "clid" in errs and "password" in errs["clid"].lower():
                errs = {"password": errs["clid"]}
            return await list_page(request, user, errs, values)
        return redirect(f"/admin/registrars/{clid}", "registrar")

    async def detail(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        new_user: webusers.NewUser | None = None,
    ) -> Response:
        clid = request.path_params["clid"]
        data = await web.read(lambda conn: _registrar(conn, clid))
        if data is None:
            return not_found(web, request, "registrar")
        return web.render(
            request,
            "admin/registrar.html",
            400 if errors else 200,
            title=clid,
            r=data,
            operations=billing.OPERATIONS,
            errors=errors or {},
            form=form or {},
            new_user=new_user,
        )

    async def detail_get(request: Request, user: webusers.WebUser) -> Response:
        return await detail(request, user)

    def action(kind: str):
        async def endpoint(request: Request, user: webusers.WebUser) -> Response:
            clid = request.path_params["clid"]
            if await web.read(lambda conn: _registrar(conn, clid)) is None:
                return not_found(web, request, "registrar")
            form = Form(await request.form())
            values = {
                k: v
                for k, v in form.data.items()
                if isinstance(v, str) and k not in ("csrf", "password")
            }
            try:
                if kind == "status":
                    status = form.choice(
                        "status", label="Status", options=access.REGISTRAR_STATUSES
                    )
                    form.check()
                    await web.act(
                        request,
                        user,
                        f"registrar.{status}",
                        clid,
                        lambda ctx: access.set_registrar_status(ctx.conn, ctx.now, clid, status),
                    )
                    done = "saved"
                elif kind == "credit":
                    text = form.text("amount", label="Amount", max_len=20)
                    reason = (
                        form.text("reason", label="Reason", required=False, max_len=200) or "top-up"
                    )
                    amount = 0
                    if text:
                        try:
                            amount = pricing.parse_amount(text, negative=True)
                        except ValueError as exc:
                            form.errors["amount"] = str(exc)
                        if amount == 0 and "amount" not in form.errors:
                            form.errors["amount"] = "The amount must not be zero."
                    form.check()

                    def credit(ctx):
                        rid = ctx.conn.execute(
                            select(t.registrars.c.id).where(t.registrars.c.clid == clid)
                        ).scalar_one()
                        if amount > 0:
                            billing.top_up(ctx.conn, ctx.now, rid, amount, reason)
                        elif billing.adjust(ctx.conn, ctx.now, rid, amount, reason) is None:
                            raise Problem(
                                {
                                    "amount": "The debit would take the balance below the credit limit."
                                }
                            )

                    await web.act(request, user, "registrar.credit", clid, credit, "amount")
                    done = "credited"
                elif kind == "price":
                    tlds = await web.read(queries.tld_names)
                    tld = form.choice("tld", label="TLD", options=tlds)
                    op = form.choice("operation", label="Operation", options=billing.OPERATIONS)
                    text = form.text("price", label="Price", max_len=20)
                    amount = 0
                    if text:
                        try:
                            amount = pricing.parse_amount(text)
                        except ValueError as exc:
                            form.errors["price"] = str(exc)
                    form.check()
                    await web.act(
                        request,
                        user,
                        "registrar.price",
                        clid,
                        lambda ctx: pricing.set_registrar_price(ctx.conn, clid, tld, op, amount),
                        "price",
                    )
                    done = "saved"
                elif kind == "rdap":
                    rdap_url = form.text(
                        "rdap_base_url", label="RDAP base URL", required=False, max_len=255
                    )
                    form.check()
                    await web.act(
                        request,
                        user,
                        "registrar.rdap",
                        clid,
                        lambda ctx: registrar_data.set_rdds_data(
                            ctx.conn, ctx.now, clid, rdap_base_url=rdap_url
                        ),
                        "rdap_base_url",
                    )
                    done = "saved"
                elif kind == "accredit":
                    tlds = await web.read(queries.tld_names)
                    tld = form.choice("tld", label="TLD", options=tlds)
                    form.check()
                    await web.act(
                        request,
                        user,
                        "registrar.accredit",
                        clid,
                        lambda ctx: registry.accredit(ctx.conn, clid, [tld]),
                        "tld",
                    )
                    done = "saved"
                else:
                    username = form.text("username", label="User name", max_len=64)
                    password = form.text("password", label="Password", max_len=128)
                    form.check()
                    new = await web.act(
                        request,
                        user,
                        "user.create",
                        username,
                        lambda ctx: webusers.add_user(
                            ctx.conn,
                            ctx.now,
                            username=username,
                            password=password,
                            role="registrar",
                            registrar=clid,
                        ),
                        "username",
                    )
                    return await detail(request, user, new_user=new)
            except Problem as exc:
                return await detail(request, user, exc.errors, values)
            return redirect(f"/admin/registrars/{clid}", done)

        return endpoint

    return [
        Route("/admin/registrars", page(web, "admin", list_get), methods=["GET"]),
        Route("/admin/registrars", page(web, "admin", create), methods=["POST"]),
        Route("/admin/registrars/{clid}", page(web, "admin", detail_get), methods=["GET"]),
        *(
            Route(
                f"/admin/registrars/{{clid}}/{k}", page(web, "admin", action(k)), methods=["POST"]
            )
            for k in ("status", "credit", "price", "rdap", "accredit", "users")
        ),
    ]
