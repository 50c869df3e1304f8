"""Unhandled namespaces (RFC 9038): response data in a namespace the client did not announce
at login goes into `<result><extValue>`, with the reason "<URI> not in login services",
instead of being dropped.

An operational practice, announced in the greeting; no schema, no command. Applied to every
response: extension parts (`split`) and, for poll messages, the object data in `<resData>`
(`object_data`), since poll messages are queued without knowing what the client will support.
"""

from __future__ import annotations

from collections.abc import Iterable

from domreg.epp.extensions.base import Command, Extend, Part, Render
from domreg.model.errors import ErrorValue

URI = "urn:ietf:params:xml:ns:epp:unhandled-namespaces-1.0"
SCHEMAS: dict[str, str] = {}
COMMANDS: dict[Command, Extend] = {}
RESPONSES: dict[Command, Render] = {}


def reason(uri: str) -> str:
    return f"{uri} not in login services"


def split(parts: Iterable[Part], announced: frozenset[str]) -> tuple[str, list[ErrorValue]]:
    """(`<extension>` content for the announced parts, `<extValue>`s for the others but
    `announced_only` parts, which are dropped)."""
    handled: list[str] = []
    moved: list[ErrorValue] = []
    for part in parts:
        if part.uri in announced:
            handled.append(part.xml)
        elif not part.announced_only:
            moved.append(ErrorValue(part.xml, reason(part.uri)))
    return "".join(handled), moved


def object_data(res_data: str, uri: str, announced: frozenset[str]) -> tuple[str, list[ErrorValue]]:
    """(`<resData>` content, `<extValue>`s): object data of an unannounced object moves out."""
    if not res_data or uri in announced:
        return res_data, []
    return "", [ErrorValue(res_data, reason(uri))]
