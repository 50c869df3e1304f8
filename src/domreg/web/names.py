"""Names as people type them: Unicode (IDN) or A-labels, one or a list; to the registry's
A-label form, with a readable reason when a name cannot be one."""

from __future__ import annotations

import re

from domreg.model.names import NameError_, parse_name, to_ascii

MAX_NAMES = 50
_SPLIT = re.compile(r"[\s,;]+")


def split_names(text: str) -> list[str]:
    return [n for n in _SPLIT.split(text) if n]


def to_registry_name(raw: str) -> str:
    """A typed domain or host name in A-label form; NameError_ with the reason otherwise."""
    if len(raw) > 253 * 2:
        raise NameError_("name is too long")
    return parse_name(to_ascii(raw)).name
