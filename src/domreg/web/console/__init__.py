"""The registrar console (`/console`): every page shows and changes only the signed-in
user's registrar's objects; another registrar's object answers 404."""

from __future__ import annotations

from starlette.routing import BaseRoute

from domreg.web.core import Web


def routes(web: Web) -> list[BaseRoute]:
    from domreg.web.console import account, contacts, dashboard, domains, objects, register

    return [
        *dashboard.routes(web),
        *register.routes(web),
        *domains.routes(web),
        *objects.routes(web),
        *contacts.routes(web),
        *account.routes(web),
    ]
