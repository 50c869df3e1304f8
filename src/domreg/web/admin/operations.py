"""Administration of operations: the overview, any domain (server statuses and registry
lock, through `flows/admin.py`), the audit log (history and web audit rows, searchable) and
the state of the jobs (cursors, outbox backlog) and of DNS publication."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, literal, or_, select, union_all
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import admin, domain, lifecycle, webusers
from domreg.flows.lookup import live_domain
from domreg.model import statuses as st
from domreg.model.names import NameError_
from domreg.store import schema as t
from domreg.web.auth import page
from domreg.web.console import queries
from domreg.web.core import Form, Problem, Web, not_found, redirect
from domreg.web.names import to_registry_name

REGISTRY_LOCK = (
    st.SERVER_UPDATE_PROHIBITED,
    st.SERVER_DELETE_PROHIBITED,
    st.SERVER_TRANSFER_PROHIBITED,
)
#: Cursor names of DNS publication (written by the DNS publisher, issue 5): shown when present.
DNS_CURSOR_PREFIX = "dns"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def audit_rows(conn: Connection, q: str, limit: int = 200) -> list[Any]:
    """History rows (every change by anyone, EPP or web or jobs) and web audit rows (sign-ins,
    refused and non-object actions), newest first; `q` matches object, command, user or id."""
    h, w = t.history, t.web_audit
    hist = select(
        h.c.at.label("at"),
        literal("change").label("source"),
        h.c.command.label("action"),
        h.c.object_name.label("target"),
        func.coalesce(h.c.cltrid, "").label("who"),
        t.registrars.c.clid.label("clid"),
        literal("ok").label("outcome"),
        h.c.svtrid.label("svtrid"),
        literal("").label("detail"),
    ).outerjoin(t.registrars, t.registrars.c.id == h.c.registrar_id)
    web = select(
        w.c.at.label("at"),
        literal("web").label("source"),
        w.c.action.label("action"),
        func.coalesce(w.c.target, "").label("target"),
        w.c.username.label("who"),
        t.registrars.c.clid.label("clid"),
        w.c.outcome.label("outcome"),
        func.coalesce(w.c.svtrid, "").label("svtrid"),
        func.coalesce(w.c.detail, "").label("detail"),
    ).outerjoin(t.registrars, t.registrars.c.id == w.c.registrar_id)
    if q:
        pat = _like(q.lower())
        hist = hist.where(
            or_(
                func.lower(h.c.object_name).like(pat, escape="\\"),
                h.c.command.like(pat, escape="\\"),
                func.lower(h.c.cltrid).like(pat, escape="\\"),
                h.c.svtrid.like(pat, escape="\\"),
                func.lower(t.registrars.c.clid).like(pat, escape="\\"),
            )
        )
        web = web.where(
            or_(
                func.lower(w.c.target).like(pat, escape="\\"),
                w.c.action.like(pat, escape="\\"),
                w.c.username.like(pat, escape="\\"),
                w.c.svtrid.like(pat, escape="\\"),
            )
        )
    u = union_all(hist, web).subquery()
    return list(conn.execute(select(u).order_by(u.c.at.desc()).limit(limit)))


def jobs_state(conn: Connection) -> dict[str, Any]:
    cursors = list(conn.execute(select(t.cursors).order_by(t.cursors.c.name)))
    outbox_max = conn.execute(select(func.max(t.outbox.c.id))).scalar_one() or 0
    outbox_count = conn.execute(select(func.count()).select_from(t.outbox)).scalar_one()
    dns = [c for c in cursors if c.name.startswith(DNS_CURSOR_PREFIX)]
    return {
        "cursors": [
            (c, max(0, outbox_max - c.position) if c.name.startswith(DNS_CURSOR_PREFIX) else None)
            for c in cursors
        ],
        "outbox_max": outbox_max,
        "outbox_count": outbox_count,
        "dns": [
            (
                c,
                max(0, outbox_max - c.position),
                (100 * c.position // outbox_max) if outbox_max else 100,
            )
            for c in dns
        ],
    }


def overview(conn: Connection, now: datetime) -> dict[str, Any]:
    live = t.domains.c.deleted_at.is_(None)
    return {
        "domains": conn.execute(
            select(func.count()).select_from(t.domains).where(live)
        ).scalar_one(),
        "registrars": conn.execute(select(func.count()).select_from(t.registrars)).scalar_one(),
        "tlds": conn.execute(select(func.count()).select_from(t.tlds)).scalar_one(),
        "pending_transfers": conn.execute(
            select(func.count())
            .select_from(t.domains)
            .where(live, t.domains.c.trn_status == "pending")
        ).scalar_one(),
        "recent": audit_rows(conn, "", 15),
    }


def routes(web: Web) -> list[BaseRoute]:
    async def home(request: Request, user: webusers.WebUser) -> Response:
        now = web.now()
        data = await web.read(lambda conn: overview(conn, now))
        jobs = await web.read(jobs_state)
        return web.render(
            request, "admin/overview.html", title="Registry administration", o=data, jobs=jobs
        )

    async def domains_page(request: Request, user: webusers.WebUser) -> Response:
        raw = request.query_params.get("q", "")
        errors: dict[str, str] = {}
        if "q" in request.query_params:
            try:
                name = to_registry_name(raw)
            except NameError_ as exc:
                errors["q"] = f"Not a domain name: {exc}"
            else:
                found = await web.read(lambda conn: live_domain(conn, name))
                if found is not None:
                    from starlette.responses import RedirectResponse

                    return RedirectResponse(f"/admin/domains/{name}", 303)
                errors["q"] = f"{name} is not registered."
        return web.render(
            request,
            "admin/domains.html",
            400 if errors else 200,
            title="Domains",
            errors=errors,
            form={"q": raw[:300]},
        )

    async def domain_page(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        try:
            name = to_registry_name(request.path_params["name"])
        except NameError_:
            return not_found(web, request, "domain")
        now = web.now()

        def load(conn: Connection) -> Any:
            row = live_domain(conn, name)
            if row is None:
                return None
            info = domain.render_info(conn, row, "all", full=True, show_auth=False)
            return (
                info,
                lifecycle.rgp_statuses(conn, row.id, now),
                queries.history_of(conn, row.roid),
            )

        data = await web.read(load)
        if data is None:
            return not_found(web, request, "domain")
        info, rgp, history = data
        stored = {s for s, _, _ in info.statuses}
        return web.render(
            request,
            "admin/domain.html",
            400 if errors else 200,
            title=name,
            d=info,
            rgp=rgp,
            history=history,
            server=[(s, s in stored) for s in sorted(st.DOMAIN_SERVER_SETTABLE)],
            locked=all(s in stored for s in REGISTRY_LOCK),
            errors=errors or {},
            form=form or {},
        )

    async def domain_get(request: Request, user: webusers.WebUser) -> Response:
        return await domain_page(request, user)

    async def domain_statuses(request: Request, user: webusers.WebUser) -> Response:
        try:
            name = to_registry_name(request.path_params["name"])
        except NameError_:
            return not_found(web, request, "domain")
        form = Form(await request.form())
        reason = form.text("reason", label="Reason", max_len=admin.MAX_REASON)
        mode = form.choice("mode", label="Change", options=("statuses", "lock", "unlock"))
        values = {"reason": reason}
        try:
            form.check()

            def fn(ctx):
                from domreg.flows.base import statuses_of

                row = live_domain(ctx.conn, name)
                if row is None:
                    raise Problem({"": "The domain no longer exists."})
                stored = set(statuses_of(ctx.conn, row.roid))
                if mode == "lock":
                    wanted = stored | set(REGISTRY_LOCK)
                elif mode == "unlock":
                    wanted = stored - set(REGISTRY_LOCK)
                else:
                    wanted = {s for s in st.DOMAIN_SERVER_SETTABLE if form.data.get(s) == "on"} | (
                        stored - st.DOMAIN_SERVER_SETTABLE
                    )
                add = tuple(sorted((wanted - stored) & st.DOMAIN_SERVER_SETTABLE))
                rem = tuple(sorted((stored - wanted) & st.DOMAIN_SERVER_SETTABLE))
                return admin.set_server_statuses(ctx, admin.StatusChange(name, reason, add, rem))

            await web.act(request, user, f"domain.server.{mode}", name, fn, "reason")
        except Problem as exc:
            return await domain_page(request, user, exc.errors, values)
        return redirect(f"/admin/domains/{name}", "statuses")

    async def audit_page(request: Request, user: webusers.WebUser) -> Response:
        q = request.query_params.get("q", "")
        errors: dict[str, str] = {}
        if len(q) > 200:
            errors["q"] = "At most 200 characters."
            q = ""
        elif any(ord(c) < 32 for c in q):
            errors["q"] = "The search contains control characters."
            q = ""
        rows = await web.read(lambda conn: audit_rows(conn, q.strip()))
        return web.render(
            request,
            "admin/audit.html",
            400 if errors else 200,
            title="Audit log",
            rows=rows,
            errors=errors,
            form={"q": q},
        )

    async def jobs_page(request: Request, user: webusers.WebUser) -> Response:
        from domreg.dns.status import zone_status

        data = await web.read(jobs_state)
        zones = await web.db.run(lambda: zone_status(web.db))
        return web.render(
            request, "admin/jobs.html", title="Jobs and DNS publication", jobs=data, zones=zones
        )

    return [
        Route("/admin", page(web, "admin", home), methods=["GET"]),
        Route("/admin/domains", page(web, "admin", domains_page), methods=["GET"]),
        Route("/admin/domains/{name}", page(web, "admin", domain_get), methods=["GET"]),
        Route(
            "/admin/domains/{name}/statuses", page(web, "admin", domain_statuses), methods=["POST"]
        ),
        Route("/admin/audit", page(web, "admin", audit_page), methods=["GET"]),
        Route("/admin/jobs", page(web, "admin", jobs_page), methods=["GET"]),
    ]
