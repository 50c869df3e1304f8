"""The common domain:check, domain:info and domain:create frames recognised by byte
patterns, without lxml.

Most EPP traffic is domain:check of one or a few names, domain:info, and the plain
domain:create of a registration drop, in the shape every client library sends. `parse(data)`
recognises exactly those shapes with one strict regular expression each and returns what
`codec.parse_frame` would return for them: for a check
`Frame(ObjectCmd("check", "domain", [names...]), clTRID)`, for an info the same dict of
name (syntax-checked and lower-cased by `parse_name`, as the codec does), `hosts`, and no
authInfo, for a create the same `DomainCreate` of name, optional period and authInfo
password (no nameservers, registrant, contacts or extension). Anything else gives None, and
the caller parses the frame with the full codec: the patterns only decide *which* parser
runs, never what a frame means. An info or create name that `parse_name` refuses is left
to the codec too, which words its 2005 with the element.

Why a match is a well-formed, schema-valid document (so `parse_frame` would accept it and
give the same command):

- the bytes are ASCII, with an optional XML declaration of one fixed form (version 1.0,
  encoding UTF-8, standalone) at the very start, then `<epp>` in the EPP namespace as the
  only default namespace declaration, `<command>`, `<check>` (`<info>`, `<create>`),
  `<domain:check>` (`<domain:info>`, `<domain:create>`) declaring `xmlns:domain` as the
  domain-1.0 namespace, one or more `<domain:name>` (for info exactly one, with an optional `hosts`
  attribute of one of its four values in double quotes; for create exactly one, then an
  optional `<domain:period unit="y|m">` of 1 to 99 without leading zeros, then
  `<domain:authInfo><domain:pw>` with a password: the order `domain:createType` requires,
  its other optional elements absent), the end tags, and an optional `<clTRID>` after the
  verb (the order `epp:commandType` requires; no `<extension>`, no other authInfo, attribute,
  prefix or element). Only XML white space (space, tab, CR, LF) may appear between tags
  and before `>`: white space in element-only content is insignificant to the schema, and
  there is no text, comment, PI, CDATA or DTD anywhere;
- a name is 1-255, a create's password 1-255 and a clTRID 3-64 printable ASCII characters
  other than `<`, `>` and `&` (`eppcom:labelType`, `epp:trIDStringType`: tokens of those
  lengths; a value without white space is its own collapsed form; a password is a
  `normalizedString` of any length, which such a value is, and the codec's `strip` leaves
  it as it is). No character can start markup, an entity or character reference, or
  `]]>`, so the element's text is the bytes as written, and escaping it for the answer
  changes nothing. U-labels (non-ASCII) take the full codec.

`tests/test_epp_fastpath.py` sends generated frames (the RFC 5731 examples, 1..N names,
registered, reserved, invalid, foreign-TLD and IDN names, odd clTRIDs, every `hosts`, one-byte
variants, malformed frames, random ones) through both parsers and both session paths and
compares the results; `tests/test_epp_fastpath_create.py` does the same for creates.
"""

from __future__ import annotations

import re

from domreg.epp import codec
from domreg.epp import namespaces as ns
from domreg.flows.domain import DomainCreate
from domreg.model.names import NameError_, parse_name
from domreg.model.periods import Period

_S = rb"[ \t\r\n]*"  # XML white space, none of \f \v
#: Printable ASCII except `<`, `>`, `&`: text that needs no escaping and holds no markup.
_TEXT = rb"[!-%'-;=?-~]"
_NAME = rb"<domain:name>" + _TEXT + rb"{1,255}</domain:name>" + _S


def _command(verb: bytes, content: bytes) -> re.Pattern[bytes]:
    """A whole `<epp><command><verb><domain:verb>content</domain:verb></verb>` document with
    an optional clTRID (the last group)."""

    def tag(name: bytes) -> bytes:  # <name>, </name> allow white space before the `>`
        return b"<" + name + _S + b">" + _S

    return re.compile(
        rb'(?:<\?xml version="1\.0"(?: encoding="(?:UTF|utf)-8")?'
        rb'(?: standalone="(?:yes|no)")?\?>)?'
        + _S
        + b'<epp xmlns="'
        + re.escape(ns.EPP.encode())
        + b'"'
        + _S
        + b">"
        + _S
        + tag(b"command")
        + tag(verb)
        + b"<domain:"
        + verb
        + rb"[ \t\r\n]+xmlns:domain=\""
        + re.escape(ns.DOMAIN.encode())
        + b'"'
        + _S
        + b">"
        + _S
        + content
        + tag(b"/domain:" + verb)
        + tag(b"/" + verb)
        + rb"(?:<clTRID>("
        + _TEXT
        + rb"{3,64})</clTRID>"
        + _S
        + rb")?"
        + tag(b"/command")
        + tag(b"/epp")
    )


_CHECK = _command(b"check", rb"((?:" + _NAME + rb")+)")
_NAMES = re.compile(rb"<domain:name>([^<]*)</domain:name>")
_INFO = _command(
    b"info",
    rb'<domain:name(?:[ \t\r\n]+hosts="(all|del|sub|none)")?'
    + _S
    + b">("
    + _TEXT
    + rb"{1,255})</domain:name>"
    + _S,
)


_CREATE = _command(
    b"create",
    b"<domain:name"
    + _S
    + b">("
    + _TEXT
    + rb"{1,255})</domain:name>"
    + _S
    + rb'(?:<domain:period[ \t\r\n]+unit="(y|m)"'
    + _S
    + rb">([1-9][0-9]?)</domain:period>"
    + _S
    + rb")?<domain:authInfo"
    + _S
    + b">"
    + _S
    + b"<domain:pw"
    + _S
    + b">("
    + _TEXT
    + rb"{1,255})</domain:pw>"
    + _S
    + b"</domain:authInfo"
    + _S
    + b">"
    + _S,
)


def domain_check(data: bytes) -> codec.Frame | None:
    """The frame `codec.parse_frame(data)` gives, if `data` is a plain domain:check in the
    recognised shape; None for anything else (parse it with the codec)."""
    check = check_names(data)
    if check is None:
        return None
    return codec.Frame(codec.ObjectCmd("check", "domain", check[0]), check[1])


def check_names(data: bytes) -> tuple[list[str], str | None] | None:
    """The names and clTRID of the `domain_check` frame `data`, or None if it is not one."""
    m = _CHECK.fullmatch(data)
    if m is None:
        return None
    names, cltrid = m.groups()
    return (
        [n.decode("ascii") for n in _NAMES.findall(names)],
        cltrid.decode("ascii") if cltrid is not None else None,
    )


def domain_info(data: bytes) -> codec.Frame | None:
    """The frame `codec.parse_frame(data)` gives, if `data` is a domain:info of one
    syntactically valid name, with or without `hosts`, without authInfo or extension; None
    for anything else (parse it with the codec, which also words the 2005 of a bad name)."""
    m = _INFO.fullmatch(data)
    if m is None:
        return None
    hosts, raw, cltrid = m.groups()
    try:
        name = parse_name(raw.decode("ascii")).name
    except NameError_:
        return None
    info = {"name": name, "hosts": (hosts or b"all").decode(), "auth_info": None, "auth_roid": None}
    return codec.Frame(
        codec.ObjectCmd("info", "domain", info),
        cltrid.decode("ascii") if cltrid is not None else None,
    )


def domain_create(data: bytes) -> codec.Frame | None:
    """The frame `codec.parse_frame(data)` gives, if `data` is a domain:create of one
    syntactically valid name, an optional period and an authInfo password, without
    nameservers, registrant, contacts or extension; None for anything else."""
    m = _CREATE.fullmatch(data)
    if m is None:
        return None
    raw, unit, value, pw, cltrid = m.groups()
    try:
        name = parse_name(raw.decode("ascii")).name
    except NameError_:
        return None
    period = Period(int(value), unit.decode()) if value is not None else None
    return codec.Frame(
        codec.ObjectCmd("create", "domain", DomainCreate(name, pw.decode("ascii"), period=period)),
        cltrid.decode("ascii") if cltrid is not None else None,
    )


def parse(data: bytes) -> codec.Frame | None:
    """`domain_check`, `domain_info` or `domain_create` of `data` (a cheap look at the verb
    picks which)."""
    if b"<check" in data:
        return domain_check(data)
    if b"<info" in data:
        return domain_info(data)
    if b"<create" in data:
        return domain_create(data)
    return None
