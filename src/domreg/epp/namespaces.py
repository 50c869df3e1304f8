"""XML namespaces of EPP and of the object mappings and extensions domreg implements."""

from __future__ import annotations

EPP = "urn:ietf:params:xml:ns:epp-1.0"
EPPCOM = "urn:ietf:params:xml:ns:eppcom-1.0"
DOMAIN = "urn:ietf:params:xml:ns:domain-1.0"
HOST = "urn:ietf:params:xml:ns:host-1.0"
CONTACT = "urn:ietf:params:xml:ns:contact-1.0"

#: Object mappings announced in the greeting, in greeting order.
OBJECTS = (DOMAIN, HOST, CONTACT)
OBJECT_NAMES = {DOMAIN: "domain", HOST: "host", CONTACT: "contact"}

# EXTENSIONS, the extension URIs announced in the greeting, comes from the registry of
# extension modules (domreg.epp.extensions.URIS), read when first used: those modules import
# this one.

E = "{" + EPP + "}"
D = "{" + DOMAIN + "}"
H = "{" + HOST + "}"
C = "{" + CONTACT + "}"


def __getattr__(name: str) -> tuple[str, ...]:
    if name == "EXTENSIONS":
        from domreg.epp.extensions import URIS

        return URIS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
