"""Console dashboard: balance, domains by status, and activity over the last 30 days."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import webusers
from domreg.web import chart
from domreg.web.auth import page
from domreg.web.console import queries
from domreg.web.core import Web


def routes(web: Web) -> list[BaseRoute]:
    async def dashboard(request: Request, user: webusers.WebUser) -> Response:
        rid = user.registrar_id
        assert rid is not None
        now = web.now()

        def load(conn):
            reg = queries.registrar(conn, rid)
            total, counts = queries.status_counts(conn, rid)
            act = queries.activity(conn, rid, now)
            incoming, outgoing = queries.pending_transfers(conn, rid)
            return reg, total, counts, act, incoming, outgoing

        reg, total, counts, act, incoming, outgoing = await web.read(load)
        return web.render(
            request,
            "console/dashboard.html",
            title="Dashboard",
            reg=reg,
            total=total,
            counts=counts,
            chart=chart.bars(act),
            totals={s: sum(v[s] for _, v in act) for s in chart.SERIES},
            incoming=incoming,
            outgoing=outgoing,
        )

    return [Route("/console", page(web, "registrar", dashboard), methods=["GET"])]
