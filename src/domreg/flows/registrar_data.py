"""Operator flow: the registrar data that RDAP and WHOIS publish (IANA id, web site, WHOIS
server, RDAP base URL, abuse contact, postal address, phone, fax), set on an existing
registrar. The RDAP base URL is the registrar's own RDAP service (as in IANA's "Registrar
IDs" registry): a registry domain answer links to the registrar's answer for the domain
(ICANN RDAP TIG 3.2); it is kept ending in "/".

Each value is checked before anything is written; `None` leaves a field unchanged and ""
clears it. Refusals raise `RegistryError` with the reason.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select, update

from domreg.flows.registry import RegistryError
from domreg.store import schema as t

#: EPP's phone syntax (RFC 5733 section 2.5): +CC.NUMBER.
PHONE = re.compile(r"^\+[0-9]{1,3}\.[0-9]{1,14}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
RDAP_URL = re.compile(r"^https://[^\s/?#]+(/[^\s?#]*)?$")  # RFC 7480 section 4.2: https
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)

TEXT_FIELDS = ("city", "sp", "pc")


def set_rdds_data(
    conn: Connection,
    now: datetime,
    clid: str,
    *,
    iana_id: int | None = None,
    url: str | None = None,
    whois_server: str | None = None,
    rdap_base_url: str | None = None,
    abuse_email: str | None = None,
    abuse_phone: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    fax: str | None = None,
    street: list[str] | None = None,
    city: str | None = None,
    sp: str | None = None,
    pc: str | None = None,
    cc: str | None = None,
) -> None:
    """Set the published data of registrar `clid`. Raises RegistryError naming a bad value."""
    row = conn.execute(select(t.registrars.c.id).where(t.registrars.c.clid == clid)).first()
    if row is None:
        raise RegistryError(f"registrar {clid} does not exist")
    values: dict[str, Any] = {}
    if iana_id is not None:
        if not 1 <= iana_id <= 2**31 - 1:
            raise RegistryError(f"IANA id must be a positive number, not {iana_id}")
        taken = conn.execute(
            select(t.registrars.c.clid).where(
                t.registrars.c.iana_id == iana_id, t.registrars.c.id != row.id
            )
        ).first()
        if taken is not None:
            raise RegistryError(f"IANA id {iana_id} belongs to registrar {taken.clid}")
        values["iana_id"] = iana_id
    for name, value, pattern, what in (
        ("url", url, URL, "an http(s) URL"),
        ("whois_server", whois_server, HOSTNAME, "a host name"),
        ("rdap_base_url", rdap_base_url, RDAP_URL, "an https URL with no query or fragment"),
        ("abuse_email", abuse_email, EMAIL, "an email address"),
        ("email", email, EMAIL, "an email address"),
        ("abuse_phone", abuse_phone, PHONE, "a phone number +CC.NUMBER"),
        ("phone", phone, PHONE, "a phone number +CC.NUMBER"),
        ("fax", fax, PHONE, "a phone number +CC.NUMBER"),
    ):
        if value is None:
            continue
        if value and not pattern.match(value):
            raise RegistryError(f"{name.replace('_', ' ')} must be {what}, not {value!r}")
        values[name] = value or None
    if values.get("rdap_base_url") and not values["rdap_base_url"].endswith("/"):
        values["rdap_base_url"] += "/"
    for name, value in (("city", city), ("sp", sp), ("pc", pc)):
        if value is None:
            continue
        limit = 16 if name == "pc" else 255
        if len(value) > limit or any(ord(c) < 32 for c in value):
            raise RegistryError(f"{name} must be one line of at most {limit} characters")
        values[name] = value or None
    if cc is not None:
        if cc and not re.fullmatch(r"[A-Za-z]{2}", cc):
            raise RegistryError(f"country code must be two letters (ISO 3166-1), not {cc!r}")
        values["cc"] = cc.upper() or None
    if street is not None:
        if len(street) > 3 or any(len(s) > 255 or any(ord(c) < 32 for c in s) for s in street):
            raise RegistryError("street: at most three lines of at most 255 characters")
        values["street"] = orjson.dumps(street).decode() if street else None
    if not values:
        return
    values["updated_at"] = now
    conn.execute(update(t.registrars).where(t.registrars.c.id == row.id).values(**values))
