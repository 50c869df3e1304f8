"""Trademark Clearinghouse material: signed marks (RFC 7848) decoded and verified, and the
TMCH's list files (the SMD revocation list, the DNL of claims labels) parsed.

`verify(data, now, trust)` checks a signed mark the way RFC 7848 section 2.3 asks:
the document is a `<smd:signedMark>` valid against the signedMark/mark schemas, its XML
signature (XMLDSig, enveloped, verified with `signxml`) verifies with a certificate that chains
to the TMCH CA configured for the registry (`Trust.ca_file`, PEM), at `now`; that certificate
is not on the TMCH CRL (`Trust.crl_file`, if configured); and the mark is valid at `now`
(`notBefore <= now < notAfter`). Everything is read from what the signature covers (signxml's
`signed_xml`), never from the unsigned document, so nothing can be slipped in beside a
signature. The result is typed data (`SignedMark`): id, validity, labels and the mark's XML.

Errors are `MarkError`s with the EPP code RFC 8334 leaves to policy: 2005 for a mark that
cannot be read (bad base64, not XML, not schema-valid) and 2202 "Invalid authorization
information" for one that does not prove a right (signature, chain, CRL, validity).
The caller (flows/launch.py) checks revocation by SMD id and that the labels cover the name.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from lxml import etree

from domreg.model.errors import EppError
from domreg.model.results import Result

SMD = "urn:ietf:params:xml:ns:signedMark-1.0"
MARK = "urn:ietf:params:xml:ns:mark-1.0"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
S = "{" + SMD + "}"
M = "{" + MARK + "}"

#: The largest decoded signed mark accepted (real SMDs are 10-20 kB).
MAX_SMD_BYTES = 64 * 1024

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class MarkError(EppError):
    """A signed mark that cannot be used, with its EPP code and the precise reason."""


@dataclass(frozen=True, slots=True)
class Trust:
    """Where the TMCH trust anchors are: the CA certificate (PEM) and, optionally, its CRL."""

    ca_file: str | None
    crl_file: str | None = None


@dataclass(frozen=True, slots=True)
class SignedMark:
    """A verified signed mark: what the signature covers."""

    id: str
    not_before: datetime
    not_after: datetime
    labels: frozenset[str]
    mark_xml: str  # the <mark:mark> element, serialised with its namespace


def _syntax(reason: str) -> MarkError:
    return MarkError(Result.PARAMETER_VALUE_SYNTAX_ERROR, reason)


def _invalid(reason: str) -> MarkError:
    return MarkError(Result.INVALID_AUTHORIZATION_INFORMATION, reason)


def _misconfigured(key: str, path: str, exc: Exception) -> MarkError:
    """The registry's own TMCH files cannot be used: the command fails (2400), saying why."""
    return MarkError(
        Result.COMMAND_FAILED,
        f"signed marks cannot be verified: the configured {key} {path} cannot be used ({exc})",
    )


def decode(encoded: str) -> bytes:
    """The signed mark in an `<smd:encodedSignedMark>` (base64; the SMD file's
    `-----BEGIN ENCODED SMD-----` lines, if present, are left out). 2005 if it is not base64."""
    lines = [line.strip() for line in encoded.strip().splitlines()]
    if any(line.startswith("-----BEGIN") for line in lines):
        start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN"))
        end = next((i for i, line in enumerate(lines) if line.startswith("-----END")), len(lines))
        lines = lines[start + 1 : end]
    text = "".join("".join(lines).split())
    if len(text) > MAX_SMD_BYTES * 4 // 3 + 4:
        raise _syntax(f"the encoded signed mark is larger than {MAX_SMD_BYTES} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _syntax("the encoded signed mark is not valid base64") from None


def _time(el: etree._Element, tag: str) -> datetime:
    text = (el.findtext(tag) or "").strip()
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def parse(data: bytes) -> etree._Element:
    """The `<smd:signedMark>` document, parsed without DTDs or entities and schema-checked;
    2005 otherwise."""
    if len(data) > MAX_SMD_BYTES:
        raise _syntax(f"the signed mark is larger than {MAX_SMD_BYTES} bytes")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise _syntax(f"the signed mark is not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _syntax("the signed mark may not carry a document type declaration")
    if root.tag != S + "signedMark":
        raise _syntax(f"the signed mark's root element is {root.tag}, not <smd:signedMark>")
    from domreg.epp.xsd import schema  # the EPP schemas include signedMark, mark and xmldsig

    xsd = schema()
    if not xsd.validate(root):
        error = xsd.error_log.last_error
        raise _syntax(f"the signed mark is not schema-valid: {error.message if error else ''}")
    return root


def _signing_certificate(signature: etree._Element, key_der: bytes) -> x509.Certificate | None:
    """The certificate in the signature's KeyInfo whose public key made the signature."""
    for el in signature.iter("{" + DSIG + "}X509Certificate"):
        try:
            cert = x509.load_der_x509_certificate(
                base64.b64decode("".join((el.text or "").split()))
            )
        except ValueError:
            continue
        public = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if public == key_der:
            return cert
    return None


def _revoked_by_crl(cert: x509.Certificate, trust: Trust) -> bool:
    """True if the TMCH CRL (verified against the CA) lists the certificate."""
    if not trust.crl_file or not trust.ca_file:
        return False
    try:
        raw = Path(trust.crl_file).read_bytes()
        crl = (
            x509.load_pem_x509_crl(raw)
            if raw.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(raw)
        )
    except (OSError, ValueError) as exc:
        raise _misconfigured("tmch_crl", trust.crl_file, exc) from None
    cas = x509.load_pem_x509_certificates(Path(trust.ca_file).read_bytes())
    if not any(crl.is_signature_valid(ca.public_key()) for ca in cas):  # type: ignore[arg-type]
        raise _invalid("the TMCH CRL configured for this registry is not signed by its TMCH CA")
    return crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


def verify(data: bytes, now: datetime, trust: Trust) -> SignedMark:
    """Verify one signed mark (RFC 7848) at `now` (naive UTC). See the module docstring."""
    from signxml import SignatureConfiguration, XMLVerifier
    from signxml.exceptions import InvalidCertificate, InvalidInput, InvalidSignature

    root = parse(data)
    if not trust.ca_file:
        raise MarkError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            "signed marks cannot be verified: no TMCH CA certificate is configured (tmch_ca_cert)",
        )
    config = SignatureConfiguration(verification_time=now.replace(tzinfo=UTC))
    try:
        result = XMLVerifier().verify(root, ca_pem_file=trust.ca_file, expect_config=config)
    except OSError as exc:
        raise _misconfigured("tmch_ca_cert", trust.ca_file, exc) from None
    except (InvalidSignature, InvalidCertificate, InvalidInput) as exc:
        raise _invalid(f"the signed mark's signature does not verify: {exc}") from None
    except (ValueError, etree.LxmlError) as exc:
        raise _invalid(f"the signed mark's signature cannot be checked: {exc}") from None
    assert not isinstance(result, list)  # one reference expected
    signed = result.signed_xml
    if signed is None or signed.tag != S + "signedMark" or signed.get("id") != root.get("id"):
        raise _invalid("the signature does not cover the whole <smd:signedMark>")
    key_der = load_pem_public_key(result.signature_key).public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    assert result.signature_xml is not None
    cert = _signing_certificate(result.signature_xml, key_der)
    if cert is not None and _revoked_by_crl(cert, trust):
        raise _invalid(
            f"the signed mark is signed with a revoked certificate (serial {cert.serial_number})"
        )
    smd_id = (signed.findtext(S + "id") or "").strip()
    not_before, not_after = _time(signed, S + "notBefore"), _time(signed, S + "notAfter")
    if now < not_before:
        raise _invalid(f"signed mark {smd_id} is not valid before {not_before.isoformat()}Z")
    if now >= not_after:
        raise _invalid(f"signed mark {smd_id} expired at {not_after.isoformat()}Z")
    mark = signed.find(M + "mark")
    assert mark is not None  # the schema requires it
    labels = frozenset((el.text or "").strip().lower() for el in mark.iter(M + "label"))
    mark_xml = etree.tostring(mark, encoding="unicode")
    return SignedMark(smd_id, not_before, not_after, labels, mark_xml)


# ---------------------------------------------------------------- TMCH list files


def _rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text)) if any(row)]


def _utc(text: str) -> datetime:
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def parse_smdrl(text: str) -> list[tuple[str, datetime]]:
    """The TMCH SMD revocation list: a `1,<time>` line, the `smd-id,insertion-datetime`
    header, then one `smd-id,time` row per revoked signed mark. ValueError on bad lines."""
    rows = _rows(text)
    if rows and rows[0][0] == "1" and len(rows[0]) == 2:
        rows = rows[1:]
    if rows and rows[0][0].lower() == "smd-id":
        rows = rows[1:]
    out = []
    for number, row in enumerate(rows, 1):
        if len(row) != 2 or not row[0]:
            raise ValueError(f"revocation list row {number}: expected smd-id,time: {row}")
        try:
            out.append((row[0], _utc(row[1])))
        except ValueError:
            raise ValueError(f"revocation list row {number}: bad time {row[1]!r}") from None
    return out


def parse_dnl(text: str) -> list[tuple[str, str]]:
    """(label, claim key) pairs from the TMCH DNL (`1,<time>` line, the
    `DNL,lookup-key,insertion-datetime` header, `label,key,time` rows) or from a plain
    `label,claim_key` CSV. ValueError on bad lines."""
    rows = _rows(text)
    if rows and rows[0][0] == "1" and len(rows[0]) == 2:
        rows = rows[1:]
    if rows and rows[0][0].upper() in ("DNL", "LABEL"):
        rows = rows[1:]
    out = []
    for number, row in enumerate(rows, 1):
        if len(row) not in (2, 3) or not row[0] or not row[1]:
            raise ValueError(f"claims row {number}: expected label,claim_key: {row}")
        out.append((row[0].lower(), row[1]))
    return out
