"""allocationToken-1.0 (RFC 8495): an allocation token on domain check and create.

Extends `<domain:check>` (`<allocationToken:allocationToken>`: a `flows.checks.DomainCheck`
with the token; a reserved name the token allows is reported available, one it does not
"Allocation Token mismatch", section 3.1.1) and `<domain:create>` (the token on
`DomainCreate.allocation_token`: it may allow a reserved name and discount the create price;
an invalid token is 2201, section 3.2.1; the rules are `flows/tokens.py`'s). Adds nothing to
the responses (sections 3.1.1 and 3.2.1).

Not supported: `<allocationToken:info>` on domain info (section 3.1.2) answers 2102 "Unimplemented
option" (the registry does not keep which token allocated a domain, so it has none to return);
a token on transfer or update (sections 3.2.4, 3.2.5) is 2002, as for any command an
extension does not extend.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lxml import etree

from domreg.epp.extensions.base import Command, Extend, Render, expect, token
from domreg.flows import checks
from domreg.model.errors import EppError
from domreg.model.results import Result

URI = "urn:ietf:params:xml:ns:allocationToken-1.0"
SCHEMAS = {URI: "allocationToken-1.0.xsd"}


def _value(el: etree._Element, command: Command) -> str:
    """The token of `<allocationToken:allocationToken>` (an XML Schema token, at least one
    character: whitespace around it, as in the RFC's examples, is not part of it)."""
    expect(el, "allocationToken", "allocationToken", command)
    return token(el.text) or ""


def _check(el: etree._Element, cmd: Any) -> checks.DomainCheck:
    return replace(checks.of(cmd), allocation_token=_value(el, ("domain", "check")))


def _create(el: etree._Element, cmd: Any) -> Any:
    return replace(cmd, allocation_token=_value(el, ("domain", "create")))


def _info(el: etree._Element, cmd: Any) -> Any:
    expect(el, "info", "allocationToken", ("domain", "info"))
    raise EppError(
        Result.UNIMPLEMENTED_OPTION,
        "<allocationToken:info> is not supported: this registry does not return allocation "
        "tokens (RFC 8495 section 3.1.2)",
    )


COMMANDS: dict[Command, Extend] = {
    ("domain", "check"): _check,
    ("domain", "create"): _create,
    ("domain", "info"): _info,
}

RESPONSES: dict[Command, Render] = {}
