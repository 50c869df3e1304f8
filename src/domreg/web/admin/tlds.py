"""Administration of TLDs: list and create, lifecycle policy, launch phases, prices, and the
reserved and premium lists (CSV upload, through `flows/pricing.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import access, billing, launch, pricing, registry, webusers
from domreg.store import schema as t
from domreg.web.auth import page
from domreg.web.core import Form, Problem, Web, not_found, redirect


def _tld(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(t.tlds).where(t.tlds.c.name == name)).first()
    if row is None:
        return None
    phases = list(
        conn.execute(
            select(t.tld_phases)
            .where(t.tld_phases.c.tld_id == row.id)
            .order_by(t.tld_phases.c.starts_at)
        )
    )
    reserved = list(
        conn.execute(
            select(t.reserved_names)
            .where(t.reserved_names.c.tld_id == row.id)
            .order_by(t.reserved_names.c.label)
            .limit(200)
        )
    )
    premium = list(
        conn.execute(
            select(t.premium_names)
            .where(t.premium_names.c.tld_id == row.id)
            .order_by(t.premium_names.c.label)
            .limit(200)
        )
    )
    counts = {
        "reserved": conn.execute(
            select(func.count())
            .select_from(t.reserved_names)
            .where(t.reserved_names.c.tld_id == row.id)
        ).scalar_one(),
        "premium": conn.execute(
            select(func.count())
            .select_from(t.premium_names)
            .where(t.premium_names.c.tld_id == row.id)
        ).scalar_one(),
    }
    return {
        "row": row,
        "phases": phases,
        "reserved": reserved,
        "premium": premium,
        "counts": counts,
    }


def routes(web: Web) -> list[BaseRoute]:
    async def tlds_page(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        rows = await web.read(registry.list_tlds)
        return web.render(
            request,
            "admin/tlds.html",
            400 if errors else 200,
            title="TLDs",
            rows=rows,
            errors=errors or {},
            form=form or {},
        )

    async def tlds_get(request: Request, user: webusers.WebUser) -> Response:
        return await tlds_page(request, user)

    async def tld_create(request: Request, user: webusers.WebUser) -> Response:
        form = Form(await request.form())
        name = form.text("name", label="TLD", max_len=63)
        try:
            form.check()
            await web.act(
                request,
                user,
                "tld.create",
                name,
                lambda ctx: registry.add_tld(ctx.conn, ctx.now, name),
                "name",
            )
        except Problem as exc:
            return await tlds_page(request, user, exc.errors, {"name": name})
        return redirect("/admin/tlds", "tld")

    async def tld_page(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        name = request.path_params["name"]
        data = await web.read(lambda conn: _tld(conn, name))
        if data is None:
            return not_found(web, request, "TLD")
        row = data["row"]
        values = {k: str(getattr(row, k)) for k in access.POLICY_FIELDS}
        values.update(
            {
                f"{op}_price": pricing.format_amount(getattr(row, f"{op}_price"))
                for op in billing.OPERATIONS
            }
        )
        values.update(form or {})
        return web.render(
            request,
            "admin/tld.html",
            400 if errors else 200,
            title=f".{name}",
            tld=data,
            policy_fields=list(access.POLICY_FIELDS),
            operations=billing.OPERATIONS,
            phases=launch.PHASES,
            errors=errors or {},
            form=values,
        )

    async def tld_get(request: Request, user: webusers.WebUser) -> Response:
        return await tld_page(request, user)

    def tld_action(kind: str):
        async def endpoint(request: Request, user: webusers.WebUser) -> Response:
            name = request.path_params["name"]
            if await web.read(lambda conn: _tld(conn, name)) is None:
                return not_found(web, request, "TLD")
            form = Form(await request.form())
            values = {k: v for k, v in form.data.items() if isinstance(v, str) and k != "csrf"}
            try:
                if kind == "policy":
                    policy = {
                        k: form.integer(k, label=k.replace("_", " "), low=lo, high=hi)
                        for k, (lo, hi) in access.POLICY_FIELDS.items()
                    }
                    prices: dict[str, int] = {}
                    for op in billing.OPERATIONS:
                        text = form.text(f"{op}_price", label=f"{op} price", max_len=20)
                        if text:
                            try:
                                prices[op] = pricing.parse_amount(text)
                            except ValueError as exc:
                                form.errors[f"{op}_price"] = str(exc)
                    form.check()

                    def fn(ctx):
                        access.set_tld_policy(ctx.conn, name, policy)
                        for op, amount in prices.items():
                            pricing.set_tld_price(ctx.conn, name, op, amount)

                    await web.act(request, user, "tld.policy", name, fn)
                elif kind == "phase":
                    phase = form.choice("phase", label="Phase", options=launch.PHASES)
                    sub = form.text("sub_phase", label="Sub-phase", required=False, max_len=64)
                    starts = _date(form, "starts_at", "Starts", required=True)
                    ends = _date(form, "ends_at", "Ends", required=False)
                    if starts and ends and ends <= starts:
                        form.errors["ends_at"] = "Ends: must be after the start."
                    form.check()
                    assert starts is not None
                    await web.act(
                        request,
                        user,
                        "tld.phase",
                        name,
                        lambda ctx: launch.add_phase(
                            ctx.conn, name, phase, starts, ends, sub or None
                        ),
                        "phase",
                    )
                else:
                    body = form.upload("file", label="CSV file")
                    replace = form.data.get("replace") == "on"
                    form.check()
                    try:
                        text = body.decode("utf-8-sig")
                    except UnicodeDecodeError:
                        raise Problem({"file": "The file is not UTF-8 text."}) from None
                    try:
                        if kind == "reserved":
                            entries: Any = pricing.parse_reserved(text)

                            def fn2(ctx):
                                return pricing.load_reserved(
                                    ctx.conn, name, entries, replace=replace
                                )
                        else:
                            entries = pricing.parse_premium(text)

                            def fn2(ctx):
                                return pricing.load_premium(
                                    ctx.conn, name, entries, replace=replace
                                )
                    except (ValueError, registry.RegistryError) as exc:
                        raise Problem({"file": str(exc)}) from None
                    await web.act(request, user, f"tld.{kind}", name, fn2, "file")
            except Problem as exc:
                errs = dict(exc.errors)
                if kind in ("reserved", "premium") and "" in errs:
                    errs = {"file": errs[""]}
                return await tld_page(request, user, errs, values)
            return redirect(
                f"/admin/tlds/{name}", "list" if kind in ("reserved", "premium") else "saved"
            )

        return endpoint

    return [
        Route("/admin/tlds", page(web, "admin", tlds_get), methods=["GET"]),
        Route("/admin/tlds", page(web, "admin", tld_create), methods=["POST"]),
        Route("/admin/tlds/{name}", page(web, "admin", tld_get), methods=["GET"]),
        *(
            Route(f"/admin/tlds/{{name}}/{k}", page(web, "admin", tld_action(k)), methods=["POST"])
            for k in ("policy", "phase", "reserved", "premium")
        ),
    ]


def _date(form: Form, name: str, label: str, required: bool) -> datetime | None:
    text = form.text(name, label=label, required=required, max_len=20)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        form.errors[name] = f"{label}: a date like 2027-01-31."
        return None
