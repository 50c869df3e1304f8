"""Console account pages: the poll queue (read, acknowledge), the billing ledger (and its
CSV export), and EPP access settings (password, IP allow-list, certificate fingerprints)."""

from __future__ import annotations

import csv
import io

import orjson
from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import access, poll, webusers
from domreg.store import schema as t
from domreg.web.auth import page
from domreg.web.console import queries
from domreg.web.core import Form, Problem, Web, redirect


def _messages(conn: Connection, registrar_id: int) -> list[object]:
    pm = t.poll_messages
    return list(
        conn.execute(
            select(pm.c.id, pm.c.created_at, pm.c.kind, pm.c.message)
            .where(pm.c.registrar_id == registrar_id, pm.c.acked_at.is_(None))
            .order_by(pm.c.id)
            .limit(200)
        )
    )


def routes(web: Web) -> list[BaseRoute]:
    async def poll_page(
        request: Request, user: webusers.WebUser, errors: dict[str, str] | None = None
    ) -> Response:
        rid = user.registrar_id
        assert rid is not None
        rows = await web.read(lambda conn: _messages(conn, rid))
        return web.render(
            request,
            "console/poll.html",
            400 if errors else 200,
            title="Messages",
            rows=rows,
            errors=errors or {},
        )

    async def poll_get(request: Request, user: webusers.WebUser) -> Response:
        return await poll_page(request, user)

    async def poll_ack(request: Request, user: webusers.WebUser) -> Response:
        form = Form(await request.form())
        msg_id = form.text("id", label="Message", max_len=20)
        try:
            form.check()
            await web.act(request, user, "poll.ack", msg_id, lambda ctx: poll.ack(ctx, msg_id), "")
        except Problem as exc:
            return await poll_page(request, user, exc.errors)
        return redirect("/console/poll", "acked")

    async def billing_page(request: Request, user: webusers.WebUser) -> Response:
        rid = user.registrar_id
        assert rid is not None

        def load(conn: Connection) -> tuple[object, list[object]]:
            return queries.registrar(conn, rid), queries.ledger(conn, rid)

        reg, rows = await web.read(load)
        return web.render(request, "console/billing.html", title="Billing", reg=reg, rows=rows)

    async def billing_csv(request: Request, user: webusers.WebUser) -> Response:
        rid = user.registrar_id
        assert rid is not None
        rows = await web.read(lambda conn: queries.ledger(conn, rid, limit=None))
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(
            ["id", "at", "kind", "amount", "currency", "domain", "years", "svtrid", "description"]
        )
        for r in rows:
            w.writerow(
                [
                    r.id,
                    r.at.isoformat(sep=" "),
                    r.kind,
                    f"{r.amount / 100:.2f}",
                    r.currency,
                    _cell(r.domain_name),
                    r.years or "",
                    r.svtrid or "",
                    _cell(r.description),
                ]
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="ledger-{user.clid}.csv"'},
        )

    async def settings_page(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        rid = user.registrar_id
        assert rid is not None
        reg = await web.read(lambda conn: queries.registrar(conn, rid))
        values = {
            "allowed_ips": "\n".join(orjson.loads(reg.allowed_ips)),
            "fingerprints": "\n".join(orjson.loads(reg.cert_fingerprints)),
            **(form or {}),
        }
        users = await web.read(lambda conn: webusers.list_users(conn, rid))
        return web.render(
            request,
            "console/settings.html",
            400 if errors else 200,
            title="EPP access",
            reg=reg,
            errors=errors or {},
            form=values,
            users=users,
        )

    async def settings_get(request: Request, user: webusers.WebUser) -> Response:
        return await settings_page(request, user)

    def setting(kind: str):
        async def endpoint(request: Request, user: webusers.WebUser) -> Response:
            rid = user.registrar_id
            assert rid is not None
            form = Form(await request.form())
            values: dict[str, str] = {}
            try:
                if kind == "password":
                    pw = form.text("password", label="New EPP password", max_len=128)
                    again = form.text("password2", label="New EPP password again", max_len=128)
                    if pw and again and pw != again:
                        form.errors["password2"] = "The two passwords differ."
                    form.check()
                    fn = lambda ctx: access.set_epp_password(ctx.conn, ctx.now, rid, pw)  # noqa: E731
                elif kind == "ips":
                    text = form.text(
                        "allowed_ips",
                        label="IP allow-list",
                        required=False,
                        max_len=5000,
                        multiline=True,
                    )
                    values["allowed_ips"] = text
                    form.check()
                    try:
                        nets = access.parse_networks(text)
                    except access.FieldError as exc:
                        raise Problem({exc.field: str(exc)}) from None
                    fn = lambda ctx: access.set_allowed_ips(ctx.conn, ctx.now, rid, nets)  # noqa: E731
                else:
                    text = form.text(
                        "fingerprints",
                        label="Certificate fingerprints",
                        required=False,
                        max_len=10000,
                        multiline=True,
                    )
                    values["fingerprints"] = text
                    form.check()
                    try:
                        fps = access.parse_fingerprints(text)
                    except access.FieldError as exc:
                        raise Problem({exc.field: str(exc)}) from None
                    fn = lambda ctx: access.set_fingerprints(ctx.conn, ctx.now, rid, fps)  # noqa: E731
                await web.act(
                    request,
                    user,
                    f"epp.{kind}",
                    user.clid or "",
                    fn,
                    "password" if kind == "password" else "",
                )
            except Problem as exc:
                return await settings_page(request, user, exc.errors, values)
            return redirect("/console/settings", "certs" if kind == "certs" else kind)

        return endpoint

    return [
        Route("/console/poll", page(web, "registrar", poll_get), methods=["GET"]),
        Route("/console/poll/ack", page(web, "registrar", poll_ack), methods=["POST"]),
        Route("/console/billing", page(web, "registrar", billing_page), methods=["GET"]),
        Route("/console/billing.csv", page(web, "registrar", billing_csv), methods=["GET"]),
        Route("/console/settings", page(web, "registrar", settings_get), methods=["GET"]),
        Route(
            "/console/settings/password",
            page(web, "registrar", setting("password")),
            methods=["POST"],
        ),
        Route("/console/settings/ips", page(web, "registrar", setting("ips")), methods=["POST"]),
        Route(
            "/console/settings/certs", page(web, "registrar", setting("certs")), methods=["POST"]
        ),
    ]


def _cell(value: str | None) -> str:
    """A CSV cell that spreadsheets will not run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
