"""RDAP lookups and searches as functions: a connection and a query in, a response dict out.

Entity lookups answer registrars and contacts (`lookup_entity`).

This is the API other parts of domreg call (the HTTP app in `rdap/app.py`, the web console's
public lookup page): `lookup_domain(conn, "example.test", viewer)` returns the RDAP answer
as a dict, or raises `RdapError` with the HTTP status and the reason. Names may be given as
A-labels or U-labels (TIG 2.1.1); a name mixing both is refused (TIG 3.1).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domreg.clock import Clock
from domreg.model.names import NameError_, parse_name, to_ascii
from domreg.rdap import render
from domreg.rdap.render import Links
from domreg.rdds import query
from domreg.rdds.policy import ANONYMOUS, Viewer

DEFAULT_LINKS = Links(base="/rdap/", value="/rdap/", tos="/rdap/help")
MAX_QUERY = 255  # characters of a name, handle or pattern
MIN_PREFIX = 2  # characters a search pattern must fix before its wildcard


class RdapError(Exception):
    """A client-visible RDAP error: an HTTP status, its title and a precise description."""

    TITLES = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        405: "Method Not Allowed",
        422: "Unprocessable Content",
        429: "Too Many Requests",
        500: "Internal Server Error",
        501: "Not Implemented",
    }

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.title = self.TITLES.get(status, "Error")
        self.description = description

    def body(self) -> dict[str, Any]:
        return render.error(self.status, self.title, self.description)


def a_label(raw: str, what: str = "domain name") -> str:
    """A queried name as a lower-case A-label name; 400 if it is not a valid name."""
    if not raw or len(raw) > MAX_QUERY:
        raise RdapError(400, f"{what} must be 1 to {MAX_QUERY} characters")
    name = raw[:-1] if raw.endswith(".") else raw
    labels = name.split(".")
    has_u = any(not label.isascii() for label in labels)
    has_a = any(label.lower().startswith("xn--") for label in labels)
    if has_u and has_a:
        raise RdapError(400, f"{what} mixes A-labels and U-labels; use one form")
    try:
        return parse_name(to_ascii(name) if has_u else name).name
    except NameError_ as exc:
        raise RdapError(400, f"invalid {what}: {exc}") from None


def _now(now: datetime | None) -> datetime:
    return now if now is not None else Clock().now()


def lookup_domain(
    conn: Any,
    name: str,
    viewer: Viewer = ANONYMOUS,
    *,
    now: datetime | None = None,
    links: Links = DEFAULT_LINKS,
) -> dict[str, Any]:
    """The RDAP answer for domain `name` (RFC 9083 section 5.3), redacted for `viewer`."""
    return domain_answer(conn, name, viewer, _now(now), links)[0]


def domain_answer(
    conn: Any, name: str, viewer: Viewer, now: datetime, links: Links
) -> tuple[dict[str, Any], datetime | None]:
    """`lookup_domain`'s answer and the time until which it stays true if nothing is
    written (a grace period's start or end changes the statuses; None: no such time)."""
    data = query.domain(conn, a_label(name), now)
    if data is None:
        raise RdapError(404, f"domain {name} is not registered here")
    obj = render.domain(data, viewer, links)
    return render.top(obj, links, now, render.domain_notices(links)), data.stable_until


def lookup_nameserver(
    conn: Any, name: str, *, now: datetime | None = None, links: Links = DEFAULT_LINKS
) -> dict[str, Any]:
    now = _now(now)
    data = query.host(conn, a_label(name, "nameserver name"))
    if data is None:
        raise RdapError(404, f"nameserver {name} is not registered here")
    return render.top(render.nameserver(data, links), links, now)


def lookup_entity(
    conn: Any,
    handle: str,
    viewer: Viewer = ANONYMOUS,
    *,
    now: datetime | None = None,
    links: Links = DEFAULT_LINKS,
) -> dict[str, Any]:
    """A registrar by IANA id, name (fn) or client id (TIG 2.4); else a contact by handle
    (its ROID, as domain answers give it to the sponsor, or its EPP contact id), redacted
    as in domain answers (RFC 9537): in full only for its sponsoring registrar."""
    now = _now(now)
    if not handle or len(handle) > MAX_QUERY:
        raise RdapError(400, f"entity handle must be 1 to {MAX_QUERY} characters")
    if any(ord(c) < 32 for c in handle):
        raise RdapError(400, "entity handle has control characters")
    data = query.registrar(conn, handle)
    if data is not None:
        return render.top(render.registrar(data, links, full=True), links, now)
    found = query.contact(conn, handle)
    if found is None:
        raise RdapError(404, f"entity {handle} is not known here")
    return render.top(render.contact(*found, viewer, links, handle), links, now)


def help_answer(*, now: datetime | None = None, links: Links = DEFAULT_LINKS) -> dict[str, Any]:
    return render.help_answer(links, _now(now))


# ---------------------------------------------------------------- searches

SEARCHES = {
    "domains": ("name", "nsLdhName", "nsIp"),
    "nameservers": ("name", "ip"),
    "entities": ("fn", "handle"),
}


def _pattern(raw: str, what: str, name: bool) -> str:
    """A search string (RFC 9082 section 4.1) as a LIKE pattern; 422 for patterns this
    server does not search (more than one '*', too short a prefix, a partial U-label)."""
    if not raw or len(raw) > MAX_QUERY:
        raise RdapError(400, f"{what} must be 1 to {MAX_QUERY} characters")
    if any(ord(c) < 32 for c in raw):
        raise RdapError(400, f"{what} has control characters")
    stars = raw.count("*")
    if stars > 1:
        raise RdapError(422, f"{what}: only one '*' wildcard is supported")
    if stars == 0:
        text = a_label(raw, what) if name else raw
        return query.like_pattern(text)
    prefix = raw.split("*", 1)[0]
    if len(prefix.replace(".", "")) < MIN_PREFIX:
        raise RdapError(422, f"{what}: give at least {MIN_PREFIX} characters before '*'")
    if not name:
        return query.like_pattern(raw)
    labels = raw.rstrip(".").split(".")
    converted = []
    for label in labels:
        if "*" in label:
            if not label.isascii():
                raise RdapError(422, f"{what}: a partial U-label cannot be searched")
            if not all(c.isalnum() or c in "-*" for c in label):
                raise RdapError(400, f"{what}: {label!r} is not a label pattern")
            converted.append(label.lower())
        elif not label:
            raise RdapError(400, f"{what}: empty label")
        else:
            try:
                converted.append(to_ascii(label))
            except NameError_ as exc:
                raise RdapError(400, f"{what}: {exc}") from None
    return query.like_pattern(".".join(converted))


def _address(raw: str) -> str:
    try:
        if "%" in raw or len(raw) > 64:
            raise ValueError(raw)
        return ipaddress.ip_address(raw).compressed
    except ValueError:
        raise RdapError(400, f"{raw[:64]!r} is not an IP address") from None


def encode_cursor(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,400}", cursor):
            raise ValueError("not base64url")
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise RdapError(400, "invalid cursor: use the 'next' link of the previous page") from None


def search(
    conn: Any,
    kind: str,
    params: Mapping[str, str],
    viewer: Viewer = ANONYMOUS,
    *,
    limit: int = 25,
    now: datetime | None = None,
    links: Links = DEFAULT_LINKS,
) -> dict[str, Any]:
    """A search (RFC 9082 section 3.2): `kind` is domains, nameservers or entities; `params`
    holds one search member and optionally `cursor` (from a previous page's next link)."""
    now = _now(now)
    members = SEARCHES.get(kind)
    if members is None:
        raise RdapError(501, f"{kind} searches are not supported")
    given = [k for k in params if k != "cursor"]
    unknown = [k for k in given if k not in members]
    if unknown:
        raise RdapError(
            400, f"{kind} search by {unknown[0]!r} is not defined; use one of {', '.join(members)}"
        )
    if len(given) != 1:
        raise RdapError(400, f"{kind} search needs exactly one of {', '.join(members)}")
    member = given[0]
    raw = params[member]
    after = decode_cursor(params["cursor"]) if "cursor" in params else ""
    fetch = limit + 1
    objects: list[dict[str, Any]]
    keys: list[str]
    if kind == "domains":
        if member == "nsIp":
            domains = query.domains_by_nameserver_ip(conn, _address(raw), now, fetch, after)
        elif member == "nsLdhName":
            domains = query.domains_by_nameserver(
                conn, _pattern(raw, member, True), now, fetch, after
            )
        else:
            domains = query.domains_by_name(conn, _pattern(raw, member, True), now, fetch, after)
        keys = [d.name for d in domains]
        objects = [render.domain(d, viewer, links) for d in domains[:limit]]
        result_kind = "domainSearchResults"
    elif kind == "nameservers":
        if member == "ip":
            hosts = query.hosts_by_ip(conn, _address(raw), fetch, after)
        else:
            hosts = query.hosts_by_name(conn, _pattern(raw, member, True), fetch, after)
        keys = [h.name for h in hosts]
        objects = [render.nameserver(h, links) for h in hosts[:limit]]
        result_kind = "nameserverSearchResults"
    else:
        if member == "fn":
            found = query.registrars_by_name(conn, _pattern(raw, member, False), fetch, after)
            keys = [r.name for r in found]
        else:
            found = query.registrars_by_handle(conn, _pattern(raw, member, False), fetch, after)
            keys = [r.clid for r in found]
        objects = [render.registrar(r, links, full=True) for r in found[:limit]]
        result_kind = "entitySearchResults"
    more = len(keys) > limit
    next_href = None
    if more:
        from urllib.parse import urlencode

        next_href = f"{links.base}{kind}?" + urlencode(
            {member: raw, "cursor": encode_cursor(keys[limit - 1])}
        )
    notices = render.domain_notices(links) if kind == "domains" else None
    return render.search_result(result_kind, objects, links, now, next_href, more, notices)
