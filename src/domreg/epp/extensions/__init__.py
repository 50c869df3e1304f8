"""EPP extensions: one module per extension, found by its namespace URI (the way dnspython
finds one module per record type).

Each module declares:
- `URI`: its namespace, announced in the greeting (`<svcExtension><extURI>`);
- `SCHEMAS`: namespace -> XSD file in `epp/xsd/`, compiled with the core schemas (epp/xsd.py),
  so commands carrying the extension are validated like the rest;
- `COMMANDS`: the commands it extends, (object, verb) -> `extend(element, command)`, which
  turns its element of the command's `<extension>` into typed data on the typed command the
  flow receives (e.g. DomainCreate.dnssec);
- `RESPONSES`: (object, verb) -> `render(result)`, its response element for a flow's typed
  result, as a `Part` (or None).

The codec refuses an extension URI not in this registry (2103) and an extension used with a
command it does not extend (2002). A response carries a part only if the client announced
its URI at login; any other part goes into `<result><extValue>` (RFC 9038, unhandled.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree

from domreg.epp.extensions import (
    allocation_token,
    changepoll,
    fee,
    launch,
    loginsec,
    rgp,
    secdns,
    secureauthinfo,
    unhandled,
)
from domreg.epp.extensions.base import Command, Part, describe
from domreg.model.errors import EppError, ErrorValue
from domreg.model.results import Result

#: Every extension module, in greeting order.
MODULES = (
    secdns,
    rgp,
    fee,
    loginsec,
    changepoll,
    secureauthinfo,
    unhandled,
    allocation_token,
    launch,
)
BY_URI = {m.URI: m for m in MODULES}
#: The extension URIs announced in the greeting (namespaces.EXTENSIONS).
URIS: tuple[str, ...] = tuple(BY_URI)
#: namespace -> XSD file of every extension schema (in epp/xsd/).
SCHEMAS: dict[str, str] = {ns: f for m in MODULES for ns, f in m.SCHEMAS.items()}

__all__ = ["BY_URI", "MODULES", "SCHEMAS", "URIS", "Part", "extend", "respond"]


def extend(command: Command, typed: Any, element: etree._Element) -> Any:
    """Apply one `<extension>` child to the typed command. 2002 if its extension does not
    extend this command; the module's own codes for bad content."""
    module = BY_URI[etree.QName(element).namespace or ""]
    handler = module.COMMANDS.get(command)
    if handler is None:
        local = etree.QName(element).localname
        raise EppError(
            Result.COMMAND_USE_ERROR,
            f"{module.URI} does not extend {describe(command)} (<{local}> cannot be used here)",
        )
    return handler(element, typed)


def parts(command: Command, result: Any) -> list[Part]:
    """The response parts every extension adds for this command's typed result."""
    found: list[Part] = []
    for module in MODULES:
        render = module.RESPONSES.get(command)
        if render is not None:
            part = render(result)
            if part is not None:
                found.append(part)
    return found


def respond(
    command: Command, result: Any, announced: Iterable[str]
) -> tuple[str, list[ErrorValue]]:
    """(`<extension>` content, `<extValue>`s) for a response: the parts of extensions the
    client announced at login, and the others moved aside (RFC 9038)."""
    return unhandled.split(parts(command, result), frozenset(announced))
