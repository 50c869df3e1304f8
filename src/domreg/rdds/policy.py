"""Who sees what of registration data: one redaction policy for RDAP and WHOIS.

The registry publishes domain, nameserver and registrar data to everyone. Contact data is
personal: an anonymous client (every WHOIS client, and RDAP clients that do not
authenticate) sees only the registrant's state/province and country (ICANN's Registration
Data Policy) and the fields a contact chose to disclose with EPP (`<contact:disclose
flag="1">`, RFC 5733). A registrar authenticated over HTTP sees its own domains' contacts
in full. Administrative and billing contacts are not published to anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from domreg.rdds.query import ContactData, DomainData


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: a registrar (authenticated) or nobody in particular (`registrar_id` None)."""

    registrar_id: int | None = None
    clid: str | None = None

    def sponsors(self, domain: DomainData) -> bool:
        return self.registrar_id is not None and self.registrar_id == domain.registrar.id


ANONYMOUS = Viewer()

#: Contact roles shown to clients that do not sponsor the domain (redacted).
PUBLIC_ROLES = frozenset({"registrant", "tech"})

#: Contact fields (as RDAP and WHOIS name them) and the RFC 5733 disclose elements that
#: publish them. `sp` and `cc` of the registrant are always published.
DISCLOSE = {
    "name": ("name_int", "name_loc"),
    "org": ("org_int", "org_loc"),
    "street": ("addr_int", "addr_loc"),
    "city": ("addr_int", "addr_loc"),
    "pc": ("addr_int", "addr_loc"),
    "voice": ("voice",),
    "fax": ("fax",),
    "email": ("email",),
}
ALWAYS_PUBLIC = frozenset({"sp", "cc"})


def visible_roles(domain: DomainData, viewer: Viewer) -> list[tuple[str, ContactData]]:
    """The domain's contacts this viewer gets (redacted or not), in a stable order."""
    if viewer.sponsors(domain):
        return domain.contacts
    return [(role, c) for role, c in domain.contacts if role in PUBLIC_ROLES]


def shows(contact: ContactData, field: str, full: bool) -> bool:
    """Whether `field` of `contact` is published (True) or withheld (False)."""
    if full or field in ALWAYS_PUBLIC:
        return True
    return any(d in contact.disclosed for d in DISCLOSE.get(field, ()))
