"""Checking a deposit as the escrow agent and ICANN's Registry System Testing (RST rde-01 to
rde-15) do: the file name, the signature by the registry's key, decryption, the XML against
the RDE schemas, and the content rules: header and menu name the same object URIs, the counts
match what the deposit holds, every object has its required properties, and every contact,
host and registrar an object refers to is in the deposit.

`check_xml` reads the XML as a stream; what it must remember to check references (handles,
host names, registrar ids) grows with the registry, not with the deposit's size in bytes.
Problems are reported with RST's error codes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from domreg.escrow import model as m
from domreg.escrow import parse, reader, ryde

#: ISO 3166 alpha-2 shape (the code list itself is not shipped) and an addr-spec's shape.
_COUNTRY = re.compile(r"[A-Z]{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

#: Extensions the EPP parameters must name (RST rde-13).
REQUIRED_EXTENSIONS = ("urn:ietf:params:xml:ns:secDNS-1.1", "urn:ietf:params:xml:ns:rgp-1.0")


@dataclass
class Verified:
    tld: str = ""
    deposit_id: str = ""
    type: str = ""
    watermark: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_xml(fh: IO[bytes], expected_tld: str | None = None) -> Verified:
    """Validate the deposit XML read from `fh` (schemas and content rules)."""
    out = Verified()
    envelope = reader.Envelope()
    held: Counter[str] = Counter()
    registrars: set[str] = set()
    contacts: set[str] = set()
    hosts: set[str] = set()
    wanted_registrars: set[str] = set()
    wanted_contacts: set[str] = set()
    wanted_hosts: set[str] = set()
    names: set[str] = set()
    roids: set[str] = set()
    ext_uris: set[str] = set()
    problems = out.problems
    try:
        for section, el in reader.read(fh, envelope, validate=True):
            if section != "content":
                continue
            kind = parse.KIND.get(el.tag)
            if kind is None:
                problems.append(f"RDE_UNEXPECTED_OBJECT: {el.tag}")
                continue
            held[parse.URI[kind]] += 1
            if kind == "eppParams":
                ext_uris.update((u.text or "").strip() for u in el.iter("{" + m.EPP + "}extURI"))
                continue
            if kind == "policy":
                continue
            obj = parse.PARSERS[kind](el)
            if kind == "registrar":
                if obj["clid"] in registrars:
                    problems.append(f"RDE_REGISTRAR_HAS_NON_UNIQUE_ID: {obj['clid']}")
                registrars.add(obj["clid"])
                if not obj["iana_id"]:
                    problems.append(f"RDE_REGISTRAR_HAS_MISSING_GURID: {obj['clid']}")
                continue
            roid = obj["roid"]
            if roid in roids:
                problems.append(f"RDE_{kind.upper()}_HAS_NON_UNIQUE_ROID: {roid}")
            roids.add(roid)
            wanted_registrars.update(
                r for r in (obj["sponsor"], obj["creator"], obj.get("updater")) if r
            )
            if kind == "contact":
                if obj["id"] in contacts:
                    problems.append(f"RDE_CONTACT_HAS_NON_UNIQUE_ID: {obj['id']}")
                contacts.add(obj["id"])
                types = [p["type"] for p in obj["postal"]]
                if len(types) != len(set(types)):
                    problems.append(f"RDE_CONTACT_HAS_MULTIPLE_POSTALINFO_TYPES: {obj['id']}")
                for p in obj["postal"]:
                    if not _COUNTRY.fullmatch(p["cc"] or ""):
                        problems.append(f"RDE_CONTACT_HAS_INVALID_CC: {obj['id']}: {p['cc']}")
                if not _EMAIL.fullmatch(obj["email"] or ""):
                    problems.append(f"RDE_CONTACT_HAS_INVALID_EMAIL: {obj['id']}: {obj['email']}")
            elif kind == "host":
                if obj["name"] in hosts:
                    problems.append(f"RDE_HOST_HAS_NON_UNIQUE_NAME: {obj['name']}")
                hosts.add(obj["name"])
                if (
                    expected_tld
                    and obj["name"].endswith("." + expected_tld)
                    and not obj["addresses"]
                ):
                    problems.append(f"RDE_HOST_HAS_MISSING_IP_ADDRESS: {obj['name']}")
            else:
                name = obj["name"]
                if name in names:
                    problems.append(f"RDE_DOMAIN_HAS_NON_UNIQUE_NAME: {name}")
                names.add(name)
                if expected_tld and not name.endswith("." + str(expected_tld)):
                    problems.append(
                        f"RDE_DOMAIN_HAS_INVALID_NAME: {name} is not under {expected_tld}"
                    )
                if obj["registrant"]:
                    wanted_contacts.add(obj["registrant"])
                wanted_contacts.update(h for _, h in obj["contacts"])
                wanted_hosts.update(obj["ns"])
                if envelope.watermark:
                    wm = m.parse_time(envelope.watermark)
                    if obj["created_at"] and obj["created_at"] >= wm:
                        problems.append(f"RDE_DOMAIN_HAS_INVALID_CRDATE: {name}")
                    pending_delete = any(s == "pendingDelete" for s, _, _ in obj["statuses"])
                    if obj["expires_at"] and obj["expires_at"] <= wm and not pending_delete:
                        problems.append(f"RDE_DOMAIN_HAS_INVALID_EXDATE: {name}")
    except m.DepositError as exc:
        problems.append(f"RDE_SCHEMA_VALIDATION_ERROR: {exc}")
        return out
    out.tld, out.deposit_id, out.type = envelope.tld, envelope.id, envelope.type
    out.watermark = envelope.watermark
    out.counts = dict(envelope.counts)
    if expected_tld and envelope.tld != expected_tld:
        problems.append(
            f"RDE_INVALID_FILENAME: the header is for {envelope.tld}, the file for {expected_tld}"
        )
    menu = {u for u in envelope.menu if u != m.HEADER}
    if menu != set(envelope.counts):
        problems.append(
            f"RDE_MENU_AND_HEADER_URIS_DIFFER: menu {sorted(menu)}, header {sorted(envelope.counts)}"
        )
    for uri in (m.DOMAIN, m.REGISTRAR, m.EPP_PARAMS):
        if (
            uri not in menu
            and envelope.type == "FULL"
            and not (uri == m.EPP_PARAMS and menu <= set(m.THIN_URIS))
        ):
            problems.append(f"RDE_MISSING_OBJECT_URI: {uri}")
    for uri, count in envelope.counts.items():
        if held.get(uri, 0) != count:
            problems.append(
                f"RDE_OBJECT_COUNT_MISMATCH: header counts {count} of {uri}, deposit holds {held.get(uri, 0)}"
            )
    for uri in set(held) - set(envelope.counts):
        problems.append(
            f"RDE_OBJECT_COUNT_MISMATCH: {held[uri]} objects of {uri} not in the header"
        )
    if envelope.type == "FULL":
        if not held.get(m.DOMAIN):
            problems.append("RDE_DOMAIN_OBJECT_MISSING")
        if not held.get(m.REGISTRAR):
            problems.append("RDE_REGISTRAR_OBJECT_MISSING")
        if m.CONTACT in menu:
            for handle in sorted(wanted_contacts - contacts):
                problems.append(f"RDE_DOMAIN_HAS_MISSING_CONTACT: {handle}")
        if m.HOST in menu:
            for name in sorted(wanted_hosts - hosts):
                problems.append(f"RDE_DOMAIN_HAS_MISSING_NAMESERVER: {name}")
        for clid in sorted(wanted_registrars - registrars):
            problems.append(f"RDE_DOMAIN_HAS_INVALID_CLID: registrar {clid} is not in the deposit")
        if m.EPP_PARAMS in menu:
            if held.get(m.EPP_PARAMS, 0) != 1:
                problems.append(f"RDE_MULTIPLE_EPP_PARAMS_OBJECTS: {held.get(m.EPP_PARAMS, 0)}")
            for uri in REQUIRED_EXTENSIONS:
                if uri not in ext_uris:
                    problems.append(f"RDE_EPP_PARAMS_MISSING_EXTURI: {uri}")
    return out


def verify(
    ryde_path: Path,
    signing_key: str,
    decryption_key: str,
    signature: Path | None = None,
    passphrase: str = "",
) -> Verified:
    """Every check of a RyDE deposit: name, signature (`.sig` beside it unless given),
    decryption, schemas, content. Problems are in the result; nothing raises for a bad file."""
    out = Verified()
    try:
        spec = m.parse_name(ryde_path.name)
    except m.DepositError as exc:
        out.problems.append(f"RDE_INVALID_FILENAME: {exc}")
        return out
    if spec.kind != m.FULL:
        out.problems.append(f"RDE_INVALID_FILENAME: the deposit type must be full, not {spec.kind}")
    sig = signature or ryde_path.with_suffix(".sig")
    try:
        with (
            ryde.open_deposit(ryde_path, decryption_key, sig, signing_key, passphrase) as opened,
            opened.xml() as fh,
        ):
            found = check_xml(fh, expected_tld=spec.tld)
    except m.DepositError as exc:
        text = str(exc)
        code = "RDE_INVALID_SIGNATURE" if "signature" in text else "RDE_DECRYPTION_FAILED"
        out.problems.append(f"{code}: {text}")
        return out
    found.problems[:0] = out.problems
    if found.watermark and m.parse_time(found.watermark) != spec.watermark:
        found.problems.append(
            f"RDE_INVALID_FILENAME: watermark {found.watermark} is not the file's date {spec.day}"
        )
    return found
