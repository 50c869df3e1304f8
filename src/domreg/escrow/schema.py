"""The RDE schemas (RFC 9022; `xsd/`, shipped with the package) compiled once per process,
with the EPP schemas they import (the package's copies in `epp/xsd/`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent / "xsd"
EPP_XSD = Path(__file__).resolve().parent.parent / "epp" / "xsd"

#: Namespace -> schema file; the EPP ones first, so the RDE schemas' relative imports of
#: `eppcom.xsd`, `domain.xsd`... find them already loaded.
FILES = {
    "urn:ietf:params:xml:ns:eppcom-1.0": EPP_XSD / "eppcom-1.0.xsd",
    "urn:ietf:params:xml:ns:epp-1.0": EPP_XSD / "epp-1.0.xsd",
    "urn:ietf:params:xml:ns:host-1.0": EPP_XSD / "host-1.0.xsd",
    "urn:ietf:params:xml:ns:domain-1.0": EPP_XSD / "domain-1.0.xsd",
    "urn:ietf:params:xml:ns:contact-1.0": EPP_XSD / "contact-1.0.xsd",
    "urn:ietf:params:xml:ns:secDNS-1.1": EPP_XSD / "secDNS-1.1.xsd",
    "urn:ietf:params:xml:ns:rgp-1.0": EPP_XSD / "rgp-1.0.xsd",
    "urn:ietf:params:xml:ns:rde-1.0": HERE / "rde.xsd",
    "urn:ietf:params:xml:ns:rdeIDN-1.0": HERE / "rde-idn.xsd",
    "urn:ietf:params:xml:ns:rdeHeader-1.0": HERE / "rde-header.xsd",
    "urn:ietf:params:xml:ns:rdeDomain-1.0": HERE / "rde-domain.xsd",
    "urn:ietf:params:xml:ns:rdeHost-1.0": HERE / "rde-host.xsd",
    "urn:ietf:params:xml:ns:rdeContact-1.0": HERE / "rde-contact.xsd",
    "urn:ietf:params:xml:ns:rdeRegistrar-1.0": HERE / "rde-registrar.xsd",
    "urn:ietf:params:xml:ns:rdeEppParams-1.0": HERE / "rde-eppparams.xsd",
    "urn:ietf:params:xml:ns:rdePolicy-1.0": HERE / "rde-policy.xsd",
    "urn:ietf:params:xml:ns:rdeNNDN-1.0": HERE / "rde-nndn.xsd",
    "urn:ietf:params:xml:ns:rdeReport-1.0": HERE / "rde-report.xsd",
}


def build(files: dict[str, Path]) -> etree.XMLSchema:
    """One schema importing every file of `files` (namespace -> path), in that order."""
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{path.as_uri()}"/>'
        for ns, path in files.items()
    )
    driver = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:domreg:rde-driver">{imports}</xs:schema>'
    )
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.fromstring(driver.encode(), parser, base_url=HERE.as_uri() + "/"))


@cache
def schema() -> etree.XMLSchema:
    """Every RDE schema: deposits (`rde:deposit`) and deposit reports (`rdeReport:report`)."""
    return build(FILES)
