"""RDAP (RFC 7480-7484, 9082, 9083, 9537) with ICANN's gTLD RDAP profile: the read side.

`routes(RdapApp(ctx))` gives the HTTP application its /rdap/ mount (`rdap/app.py`; the HTTP
server answers cached lookups itself through `http/fast.py`); the lookups are
functions over a connection (`rdap/api.py`) that other parts of domreg call directly:

    with db.read() as conn:
        answer = rdap.lookup_domain(conn, "example.test", viewer)   # a dict
"""

from domreg.rdap.api import (
    RdapError,
    help_answer,
    lookup_domain,
    lookup_entity,
    lookup_nameserver,
    search,
)
from domreg.rdap.app import RdapApp, routes
from domreg.rdap.render import Links
from domreg.rdds.policy import ANONYMOUS, Viewer

__all__ = [
    "ANONYMOUS",
    "Links",
    "RdapApp",
    "RdapError",
    "Viewer",
    "help_answer",
    "lookup_domain",
    "lookup_entity",
    "lookup_nameserver",
    "routes",
    "search",
]
