"""The web surface on the HTTP port: public search and lookup, the registrar console and the
registry administration, server-rendered (Jinja2 templates and one stylesheet shipped with
the package, no JavaScript). `routes(ctx)` is what `http/app.build_app` mounts.

Modules: `core` (shared state, forms, rendering, the audited flow runner), `auth` (sign-in,
sessions, CSRF, roles), `public` and `lookup` (no sign-in), `console/` (registrars),
`admin/` (administrators), `chart` (the dashboard's SVG chart), `names` (typed names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from domreg.http.app import HttpContext


def routes(ctx: HttpContext) -> list[BaseRoute]:
    from domreg.web import admin, auth, console, public
    from domreg.web.core import Web

    web = Web(ctx)
    return [
        *public.routes(web),
        *auth.routes(web),
        *console.routes(web),
        *admin.routes(web),
        Mount("/static", StaticFiles(packages=[("domreg.web", "static")]), name="static"),
    ]
