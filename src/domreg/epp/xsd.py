"""The EPP XML Schemas, shipped with the package and compiled once per process.

The .xsd files in `xsd/` are the official schemas (RFC 5730-5733 and registered extensions).
Their `<import>` elements carry no schemaLocation, so a small driver schema imports each one
by namespace and location. Besides the core, it imports the schemas each extension module
declares (epp/extensions/).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from domreg.epp import extensions

XSD_DIR = Path(__file__).with_name("xsd")

#: namespace -> file, in dependency order: the core, then the extension modules' schemas.
SCHEMAS = {
    "urn:ietf:params:xml:ns:eppcom-1.0": "eppcom-1.0.xsd",
    "urn:ietf:params:xml:ns:epp-1.0": "epp-1.0.xsd",
    "urn:ietf:params:xml:ns:host-1.0": "host-1.0.xsd",
    "urn:ietf:params:xml:ns:domain-1.0": "domain-1.0.xsd",
    "urn:ietf:params:xml:ns:contact-1.0": "contact-1.0.xsd",
    **extensions.SCHEMAS,
}


def _driver(schemas: dict[str, str]) -> bytes:
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(XSD_DIR / f).as_uri()}"/>'
        for ns, f in schemas.items()
    )
    return (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'targetNamespace="urn:domreg:driver" elementFormDefault="qualified">'
        f"{imports}</xs:schema>"
    ).encode()


@cache
def schema() -> etree.XMLSchema:
    """The compiled schema for every namespace domreg speaks (built once per process)."""
    # The schema files are trusted package data: DTDs in them (xmldsig) may be read, but
    # nothing is fetched from the network.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    doc = etree.fromstring(_driver(SCHEMAS), parser, base_url=XSD_DIR.as_uri() + "/")
    return etree.XMLSchema(doc)
