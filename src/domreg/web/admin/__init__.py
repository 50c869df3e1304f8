"""Registry administration (`/admin`, administrators only; anyone else gets 404)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from domreg.web.core import Web


def routes(web: Web) -> list[BaseRoute]:
    from domreg.web.admin import operations, registrars, tlds

    return [*tlds.routes(web), *registrars.routes(web), *operations.routes(web)]
