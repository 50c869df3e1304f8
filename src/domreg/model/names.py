"""Domain and host name rules: LDH syntax, length limits, IDNA2008 A-labels, the TLD a name is under.

Names are stored and compared as lower-case A-labels; U-labels are only for display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import idna

MAX_NAME_OCTETS = 253
MAX_LABEL_OCTETS = 63
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LDH_LABEL = re.compile(rf"^{_LABEL}$")
#: Two or more LDH labels: with no "--" anywhere (so no label needs the A-label checks), a
#: name that matches passes every rule of `checked_name` (whose label loop it saves).
_LDH_NAME = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")


class NameError_(ValueError):
    """A name breaks a syntax rule; the message says which one."""


@dataclass(frozen=True, slots=True)
class DomainName:
    """A syntactically valid, lower-case, A-label domain name."""

    name: str

    @property
    def labels(self) -> list[str]:
        return self.name.split(".")

    @property
    def tld(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def parent(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else ""

    @property
    def unicode(self) -> str:
        return to_unicode(self.name)


def check_label(label: str) -> None:
    """Raise NameError_ unless `label` is a valid lower-case LDH label or IDNA2008 A-label."""
    if not label:
        raise NameError_("empty label")
    if len(label) > MAX_LABEL_OCTETS:
        raise NameError_(f"label longer than {MAX_LABEL_OCTETS} octets")
    if not _LDH_LABEL.match(label):
        raise NameError_(f"label {label!r} is not letters, digits and inner hyphens")
    if len(label) >= 4 and label[2:4] == "--":
        if not label.startswith("xn--"):
            raise NameError_(
                f"label {label!r} has hyphens in positions 3 and 4 but is not an A-label"
            )
        try:
            ulabel = idna.decode(label)
            if idna.encode(ulabel).decode("ascii") != label:
                raise NameError_(f"A-label {label!r} does not round-trip")
        except idna.IDNAError as exc:
            raise NameError_(f"A-label {label!r} is not valid IDNA2008: {exc}") from None


def parse_name(raw: str) -> DomainName:
    """Validate a host or domain name given in A-label or LDH form; returns it lower-cased.

    A trailing dot is not allowed (EPP names are relative to the root without it).
    """
    if not isinstance(raw, str):
        raise NameError_("name is not text")
    name = raw.strip().lower()
    if len(name) <= MAX_NAME_OCTETS and "--" not in name and _LDH_NAME.fullmatch(name):
        return DomainName(name)  # the common case, in one match
    return DomainName(checked_name(name))


def checked_name(name: str) -> str:
    """`name` (stripped, lower-cased) if it passes every rule, one by one; else NameError_
    saying which rule it breaks. `parse_name` takes a shortcut for plain LDH names."""
    if not name:
        raise NameError_("empty name")
    if not name.isascii():
        raise NameError_("name is not ASCII; IDNs must be given as A-labels (xn--)")
    if len(name) > MAX_NAME_OCTETS:
        raise NameError_(f"name longer than {MAX_NAME_OCTETS} octets")
    labels = name.split(".")
    if len(labels) < 2:
        raise NameError_("name needs at least two labels")
    for label in labels:
        check_label(label)
    return name


def to_ascii(text: str) -> str:
    """A user-typed name (U-labels allowed) to its lower-case A-label form."""
    text = text.strip().rstrip(".")
    if text.isascii():
        return text.lower()
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise NameError_(f"not a valid IDNA2008 name: {exc}") from None


def to_unicode(name: str) -> str:
    """The U-label display form of a stored A-label name (unchanged if it has no xn-- labels)."""
    if "xn--" not in name:
        return name
    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name
