"""What the extension modules share: response parts, handler signatures, small XML readers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from domreg.model.errors import EppError
from domreg.model.results import Result

#: A command an extension extends: (object kind, verb), e.g. ("domain", "create"); the
#: object kind is None for session commands and poll: (None, "login"), (None, "poll").
Command = tuple[str | None, str]

#: Turns the extension's element of a command into typed data on the typed command:
#: `extend(element, command) -> command` (a new, updated command).
Extend = Callable[[etree._Element, Any], Any]

#: Turns a flow's typed result into the extension's response element, or None.
Render = Callable[[Any], "Part | None"]


@dataclass(frozen=True, slots=True)
class Part:
    """One child of a response's `<extension>`: its namespace and its serialised element
    (which declares that namespace, so it can also stand alone in `<extValue>`)."""

    uri: str
    xml: str
    #: Status information the client did not ask for (rgp:infData): given only to clients
    #: that announced the URI, dropped (not moved into `<extValue>`) for the others.
    announced_only: bool = False


def describe(command: Command) -> str:
    kind, verb = command
    return f"<{kind}:{verb}>" if kind else f"<{verb}>"


def expect(element: etree._Element, localname: str, prefix: str, command: Command) -> None:
    """2002 unless `element` is the one this extension adds to `command`."""
    got = etree.QName(element).localname
    if got != localname:
        raise EppError(
            Result.COMMAND_USE_ERROR,
            f"<{prefix}:{got}> cannot be used with {describe(command)}; "
            f"it takes <{prefix}:{localname}>",
        )


def integer(parent: etree._Element, tag: str) -> int:
    """A schema-validated integer child."""
    return int((parent.findtext(tag) or "0").strip())


def boolean(value: str | None) -> bool:
    """An XML Schema boolean ("true", "1", "false", "0"; whitespace collapsed)."""
    return (value or "").strip() in ("true", "1")


def token(value: str | None) -> str | None:
    """An XML Schema token: leading and trailing whitespace removed, inner runs made one space.

    Whitespace is only tab, line feed, carriage return and space (RFC 8807 section 1.1).
    """
    if value is None:
        return None
    spaced = value.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return " ".join(word for word in spaced.split(" ") if word)
