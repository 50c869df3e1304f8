"""WHOIS answers (RFC 3912) in the layout of ICANN's registry WHOIS specification (Registry
Agreement Specification 4, section 1): `Key: value` lines, the domain, nameserver and
registrar formats, `>>> Last update of WHOIS database: ... <<<`, then the notices.

Contact data follows the policy RDAP follows (`rdds/policy.py`) for an anonymous client:
WHOIS has no authentication, so withheld fields read "REDACTED FOR PRIVACY" and emails point
to the registrar of record.
"""

from __future__ import annotations

from datetime import datetime

from domreg.model.names import to_unicode
from domreg.rdds.policy import shows
from domreg.rdds.query import ContactData, DomainData, HostData, RegistrarData

REDACTED = "REDACTED FOR PRIVACY"
EMAIL_NOTE = (
    "Please query the RDDS service of the Registrar of Record identified in this output for "
    "information on how to contact the Registrant, Admin, or Tech contact of the queried domain name."
)
WICF = "URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/"
STATUS_NOTE = "For more information on Whois status codes, please visit https://icann.org/epp"
TERMS = (
    "Terms of Use: registration data is provided for lawful purposes only: to learn the status "
    "of a domain name, its sponsoring registrar and how to reach it. Personal data of contacts "
    "is withheld. Automated bulk queries are not allowed and are rate limited."
)
ROLE = {
    "registrant": ("Registrant", "Registry Registrant ID"),
    "tech": ("Tech", "Registry Tech ID"),
}


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""


def stamp(now: datetime) -> str:
    """The last-update line of every answer (the time of the answer: the database is read
    directly)."""
    return f">>> Last update of WHOIS database: {when(now)} <<<"


def _footer(now: datetime, status_note: bool = False) -> list[str]:
    lines = [stamp(now), ""]
    if status_note:
        lines.append(STATUS_NOTE)
    lines.append(TERMS)
    return lines


def _registrar_lines(r: RegistrarData) -> list[str]:
    return [
        f"Registrar WHOIS Server: {r.whois_server or ''}",
        f"Registrar URL: {r.url or ''}",
    ]


def _contact(role: str, c: ContactData | None) -> list[str]:
    label, id_label = ROLE[role]
    if c is None:
        return []

    def field(name: str, value: str | None) -> str:
        if not value:
            return ""
        return value if shows(c, name, False) else REDACTED

    street = ", ".join(c.street)
    lines = [f"{id_label}: {REDACTED}", f"{label} Name: {field('name', c.name)}"]
    if role == "registrant":
        lines += [
            f"{label} Organization: {field('org', c.org)}",
            f"{label} Street: {field('street', street)}",
            f"{label} City: {field('city', c.city)}",
            f"{label} State/Province: {c.sp or ''}",
            f"{label} Postal Code: {field('pc', c.pc)}",
            f"{label} Country: {c.cc or ''}",
        ]
    lines += [
        f"{label} Phone: {field('voice', c.voice)}",
        f"{label} Phone Ext: {field('voice', c.voice_ext)}",
    ]
    if role == "registrant":
        lines += [
            f"{label} Fax: {field('fax', c.fax)}",
            f"{label} Fax Ext: {field('fax', c.fax_ext)}",
        ]
    email = c.email if shows(c, "email", False) else EMAIL_NOTE
    lines.append(f"{label} Email: {email}")
    return lines


def domain(d: DomainData, now: datetime) -> str:
    r = d.registrar
    lines = [f"Domain Name: {d.name}"]
    if "xn--" in d.name:
        lines.append(f"Internationalized Domain Name: {to_unicode(d.name)}")
    updated = d.updated_at if d.updated_at != d.created_at else None
    lines += [
        f"Registry Domain ID: {d.roid}",
        *_registrar_lines(r),
        f"Updated Date: {when(updated)}",
        f"Creation Date: {when(d.created_at)}",
        f"Registry Expiry Date: {when(d.expires_at)}",
        f"Registrar: {r.name}",
        f"Registrar IANA ID: {r.iana_id if r.iana_id is not None else ''}",
        f"Registrar Abuse Contact Email: {r.abuse_email or ''}",
        f"Registrar Abuse Contact Phone: {r.abuse_phone or ''}",
    ]
    lines += [f"Domain Status: {s} https://icann.org/epp#{s}" for s in d.statuses]
    contacts = dict(reversed(d.contacts))  # the first contact of each role
    lines += _contact("registrant", contacts.get("registrant"))
    lines += _contact("tech", contacts.get("tech"))
    lines += [f"Name Server: {h.name}" for h in d.nameservers]
    lines.append(f"DNSSEC: {'signedDelegation' if d.ds else 'unsigned'}")
    lines.append(WICF)
    return "\r\n".join(lines + _footer(now, status_note=True)) + "\r\n"


def nameserver(h: HostData, now: datetime) -> str:
    lines = [f"Server Name: {h.name}"]
    lines += [f"IP Address: {a}" for a, _ in h.addresses]
    if h.registrar is not None:
        lines.append(f"Registrar: {h.registrar.name}")
        lines += _registrar_lines(h.registrar)
    return "\r\n".join(lines + _footer(now)) + "\r\n"


def registrar(r: RegistrarData, now: datetime) -> str:
    lines = [f"Registrar: {r.name}"]
    lines += [f"Street: {s}" for s in r.street] or ["Street: "]
    lines += [
        f"City: {r.city or ''}",
        f"State/Province: {r.sp or ''}",
        f"Postal Code: {r.pc or ''}",
        f"Country: {r.cc or ''}",
        f"Phone Number: {r.phone or ''}",
        f"Fax Number: {r.fax or ''}",
        f"Email: {r.email or ''}",
        f"Registrar IANA ID: {r.iana_id if r.iana_id is not None else ''}",
        *_registrar_lines(r),
        f"Registrar Abuse Contact Email: {r.abuse_email or ''}",
        f"Registrar Abuse Contact Phone: {r.abuse_phone or ''}",
    ]
    return "\r\n".join(lines + _footer(now)) + "\r\n"


def no_match(query: str, now: datetime) -> str:
    return "\r\n".join([f'No match for "{query}".', *_footer(now)]) + "\r\n"


def refusal(reason: str) -> str:
    """An answer to a query that could not be run (too long, not text, rate limited)."""
    return f"Error: {reason}\r\n"
