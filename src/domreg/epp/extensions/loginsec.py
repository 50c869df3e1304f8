"""loginSec-1.0 (RFC 8807): long passwords, the client's user agent, and login security events.

Extends `<login>`: when `<pw>` (or `<newPW>`) is "[LOGIN-SECURITY]", the real password is in
`<loginSec:pw>` (`<loginSec:newPW>`), up to 128 characters; the user agent is carried on the
login command (and logged). The login response, successful or not, carries
`<loginSec:loginSecData>` with the flow's security events (password expiry warning or error,
refused new password).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lxml import etree

from domreg.epp.extensions.base import Command, Extend, Part, Render, token
from domreg.epp.render import esc, when
from domreg.flows.session import LOGIN_SECURITY, SecurityEvent
from domreg.model.errors import EppError
from domreg.model.results import Result

URI = "urn:ietf:params:xml:ns:epp:loginSec-1.0"
SCHEMAS = {URI: "loginSec-1.0.xsd"}
L = "{" + URI + "}"
_NS = f'xmlns:loginSec="{URI}"'


def _override(core: str | None, ext: str | None, what: str) -> str | None:
    """The password to use: `ext` if `core` is the [LOGIN-SECURITY] placeholder (RFC 8807 3.2)."""
    if ext is not None:
        if core != LOGIN_SECURITY:
            raise EppError(
                Result.PARAMETER_VALUE_POLICY_ERROR,
                f"<loginSec:{what}> is only used when <{what}> is {LOGIN_SECURITY}",
            )
        return ext
    if core == LOGIN_SECURITY:
        raise EppError(
            Result.REQUIRED_PARAMETER_MISSING,
            f"<{what}> is {LOGIN_SECURITY} but <loginSec:{what}> is missing",
        )
    return core


def _user_agent(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    parts = [token(el.findtext(L + tag)) for tag in ("app", "tech", "os")]
    return "; ".join(p for p in parts if p) or None


def _login(el: etree._Element, cmd: Any) -> Any:
    """The login command with the passwords taken from the extension where it says so."""
    pw = token(el.findtext(L + "pw"))
    new_pw = token(el.findtext(L + "newPW"))
    agent = _user_agent(el.find(L + "userAgent"))
    if pw is None and new_pw is None and agent is None:
        raise EppError(
            Result.REQUIRED_PARAMETER_MISSING,
            "<loginSec:loginSec> needs a userAgent, pw or newPW (RFC 8807)",
        )
    return replace(
        cmd,
        password=_override(cmd.password, pw, "pw"),
        new_password=_override(cmd.new_password, new_pw, "newPW"),
        user_agent=agent,
        login_security=True,
    )


COMMANDS: dict[Command, Extend] = {(None, "login"): _login}


def event_xml(event: SecurityEvent) -> str:
    ex = f' exDate="{when(event.ex_date)}"' if event.ex_date is not None else ""
    return (
        f'<loginSec:event type="{esc(event.type)}" level="{esc(event.level)}"{ex} lang="en">'
        f"{esc(event.message)}</loginSec:event>"
    )


def _events(events: Any) -> Part | None:
    """`<loginSec:loginSecData>` for a login with security events (success or failure)."""
    if not events:
        return None
    items = "".join(event_xml(e) for e in events)
    return Part(URI, f"<loginSec:loginSecData {_NS}>{items}</loginSec:loginSecData>")


RESPONSES: dict[Command, Render] = {(None, "login"): _events}
