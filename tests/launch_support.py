"""What the launch phase tests (test_ext_launch.py, test_launch_rules.py) share.

Test TMCH material made on the spot (the real TMCH pilot CA and SMDs are not available
offline): a TMCH CA, signing certificates (one later revoked on the CA's CRL), a CA nobody
trusts, signed marks (RFC 7848) signed with signxml the way the TMCH signs them (enveloped,
exclusive C14N, RSA-SHA256), and claims notice ids with the TMCH checksum.

The registry they run against (fixtures `tmch`, `policy`, `clock`, `db`; a test module takes
them with `db = launch_support.db_fixture` etc.): TLD "example" with sunrise from 2026-01-01,
claims from 2026-04-01 and open from 2026-07-01, claims for "domain2", "domain3" and
"domain"; the test TMCH's CA and CRL configured as `tmch_ca_cert` and `tmch_crl`. And the EPP
helpers: commands, launch extension elements, and readers of the answers.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from sqlalchemy import select

from domreg.clock import FixedClock
from domreg.flows import launch
from domreg.flows.base import Policy
from domreg.flows.launch import notice_checksum
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support
from tests.support import assert_schema_valid

SMD = "urn:ietf:params:xml:ns:signedMark-1.0"
MARK = "urn:ietf:params:xml:ns:mark-1.0"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)
VALID_TO = datetime(2040, 1, 1, tzinfo=UTC)


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_ca(cn: str) -> Signer:
    key = _key()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_TO)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return Signer(key, cert)


def make_signer(ca: Signer, cn: str) -> Signer:
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_TO)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Signer(key, cert)


def make_crl(ca: Signer, revoked: list[Signer]) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(VALID_FROM)
        .next_update(VALID_TO)
    )
    for signer in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(signer.cert.serial_number)
            .revocation_date(VALID_FROM)
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@dataclass
class Tmch:
    """The test TMCH: its CA (trusted by the registry under test), a signer, a revoked
    signer, and an impostor (a signer under a CA nobody trusts); files in `directory`."""

    ca: Signer
    signer: Signer
    revoked_signer: Signer
    impostor: Signer
    ca_file: Path
    crl_file: Path


def make_tmch(directory: Path) -> Tmch:
    ca = make_ca("Test TMCH CA")
    signer = make_signer(ca, "Test TMCH signer")
    revoked = make_signer(ca, "Test TMCH revoked signer")
    impostor = make_signer(make_ca("Impostor CA"), "Impostor signer")
    ca_file = directory / "tmch-ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    crl_file = directory / "tmch.crl"
    crl_file.write_bytes(make_crl(ca, [revoked]))
    return Tmch(ca, signer, revoked, impostor, ca_file, crl_file)


def _utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.0Z")


def smd_xml(
    signer: Signer,
    labels: list[str],
    smd_id: str = "0000001761376042759136-65535",
    not_before: datetime = datetime(2025, 1, 1),
    not_after: datetime = datetime(2030, 1, 1),
    mark_name: str = "Test & Validate",
) -> bytes:
    """A signed mark (RFC 7848 section 2.3), signed by `signer` (its certificate in KeyInfo)."""
    from signxml import XMLSigner, methods

    ident = "_" + secrets.token_hex(8)
    label_xml = "".join(f"<mark:label>{label}</mark:label>" for label in labels)
    name = mark_name.replace("&", "&amp;")
    doc = f"""<smd:signedMark xmlns:smd="{SMD}" id="{ident}">
  <smd:id>{smd_id}</smd:id>
  <smd:issuerInfo issuerID="65535">
    <smd:org>ICANN TMCH TESTING TMV</smd:org>
    <smd:email>notavailable@example.com</smd:email>
  </smd:issuerInfo>
  <smd:notBefore>{_utc(not_before)}</smd:notBefore>
  <smd:notAfter>{_utc(not_after)}</smd:notAfter>
  <mark:mark xmlns:mark="{MARK}">
    <mark:trademark>
      <mark:id>00052013734689731373468973-65535</mark:id>
      <mark:markName>{name}</mark:markName>
      <mark:holder entitlement="owner">
        <mark:org>Ag corporation</mark:org>
        <mark:addr>
          <mark:street>1305 Bright Avenue</mark:street>
          <mark:city>Arcadia</mark:city>
          <mark:sp>CA</mark:sp>
          <mark:pc>90028</mark:pc>
          <mark:cc>US</mark:cc>
        </mark:addr>
      </mark:holder>
      <mark:jurisdiction>US</mark:jurisdiction>
      <mark:class>15</mark:class>
      {label_xml}
      <mark:goodsAndServices>Musical instruments.</mark:goodsAndServices>
      <mark:regNum>1234</mark:regNum>
      <mark:regDate>2012-12-31T23:00:00.000Z</mark:regDate>
    </mark:trademark>
  </mark:mark>
</smd:signedMark>"""
    root = etree.fromstring(doc.encode())
    signed = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm=EXC_C14N,
    ).sign(root, key=signer.key, cert=[signer.cert_pem.decode()], reference_uri=f"#{ident}")
    return etree.tostring(signed)


def encoded(smd: bytes) -> str:
    """An SMD file's encoded form (the `<smd:encodedSignedMark>` content)."""
    body = base64.encodebytes(smd).decode()
    return f"-----BEGIN ENCODED SMD-----\n{body}-----END ENCODED SMD-----\n"


def notice_id(label: str, not_after: datetime, digits: str = "0000000000000012345") -> str:
    """A TMCH claims notice id for `label` expiring at `not_after` (naive UTC)."""
    return notice_checksum(label, not_after, digits) + digits


def tampered(smd: bytes, old: str, new: str) -> bytes:
    """The signed mark with its text changed after signing (the signature no longer holds)."""
    return smd.replace(old.encode(), new.encode())


def day(n: int) -> timedelta:
    return timedelta(days=n)


# ---------------------------------------------------------------- the launch tests' registry

URI = "urn:ietf:params:xml:ns:launch-1.0"
START = datetime(2026, 2, 1, 12, 0, 0)  # in sunrise
SUNRISE, CLAIMS, OPEN = datetime(2026, 1, 1), datetime(2026, 4, 1), datetime(2026, 7, 1)
IN_CLAIMS = datetime(2026, 5, 1, 12, 0, 0)
HOUR = timedelta(hours=1)
D = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
LNS = f'xmlns:launch="{URI}"'
SMD_NS = f'xmlns:smd="{SMD}"'
NS = {"launch": URI, "domain": "urn:ietf:params:xml:ns:domain-1.0", "mark": MARK}
#: The claim key of the RFC 8334 claims check example.
KEY = "2013041500/2/6/9/rJ1NrDO92vDsAzf7EQzgjX4R0000000001"


@pytest.fixture(name="tmch", scope="module")
def tmch_fixture(tmp_path_factory: pytest.TempPathFactory) -> Tmch:
    return make_tmch(tmp_path_factory.mktemp("tmch"))


@pytest.fixture(name="policy")
def policy_fixture(tmch: Tmch) -> Policy:
    return Policy(tmch_ca=str(tmch.ca_file), tmch_crl=str(tmch.crl_file))


@pytest.fixture(name="clock")
def clock_fixture() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(name="db")
def db_fixture(shared_db: Database) -> Iterator[Database]:
    support.empty(shared_db)
    support.setup_registry(shared_db, START, tlds=("example", "test"))
    with shared_db.write() as conn:
        launch.add_phase(conn, "example", "sunrise", SUNRISE, CLAIMS)
        launch.add_phase(conn, "example", "claims", CLAIMS, OPEN)
        launch.add_phase(conn, "example", "open", OPEN)
        launch.load_claims(conn, "example", [("domain2", KEY), ("domain3", KEY), ("domain", KEY)])
    yield shared_db


async def client(connect: Any, clid: str = "ClientX") -> Any:
    client = await connect()
    reply = await client.login(clid, support.PASSWORDS[clid], extensions=(URI,))
    assert reply.code == 1000, reply.raw
    return client


async def send(client: Any, body: str, code: int, extension: str = "") -> Any:
    reply = await client.command(body, extension=extension)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


async def request(client: Any, xml: str, code: int) -> Any:
    reply = await client.request(xml)
    assert_schema_valid(reply.raw)
    assert reply.code == code, reply.raw.decode()
    return reply


def create_cmd(name: str) -> str:
    return (
        f"<create><domain:create {D}><domain:name>{name}</domain:name>"
        "<domain:authInfo><domain:pw>2fooBAR</domain:pw></domain:authInfo>"
        "</domain:create></create>"
    )


def check_cmd(*names: str) -> str:
    inner = "".join(f"<domain:name>{n}</domain:name>" for n in names)
    return f"<check><domain:check {D}>{inner}</domain:check></check>"


def info_cmd(name: str) -> str:
    return f"<info><domain:info {D}><domain:name>{name}</domain:name></domain:info></info>"


def phase_el(phase: str, name: str | None = None) -> str:
    attr = f' name="{name}"' if name else ""
    return f"<launch:phase{attr}>{phase}</launch:phase>"


def launch_ext(phase: str, inner: str = "", attrs: str = "") -> str:
    return f"<launch:create {LNS}{attrs}>{phase_el(phase)}{inner}</launch:create>"


def signed_mark(smd: bytes) -> str:
    """The signed mark inline: the `<smd:signedMark>` element as signed (no XML declaration)."""
    return smd.decode()


def encoded_mark(smd: bytes) -> str:
    return f"<smd:encodedSignedMark {SMD_NS}>{encoded(smd)}</smd:encodedSignedMark>"


def notice_ext(notice_id: str, not_after: datetime, accepted: datetime, validator: str = "") -> str:
    v = f' validatorID="{validator}"' if validator else ""
    return (
        f"<launch:notice><launch:noticeID{v}>{notice_id}</launch:noticeID>"
        f"<launch:notAfter>{not_after.isoformat()}Z</launch:notAfter>"
        f"<launch:acceptedDate>{accepted.isoformat()}Z</launch:acceptedDate></launch:notice>"
    )


def claims_of(reply: Any) -> list[tuple[str, str, list[str]]]:
    return [
        (
            (cd.findtext("launch:name", namespaces=NS) or "").strip(),
            cd.find("launch:name", NS).get("exists"),
            [(k.text or "").strip() for k in cd.findall("launch:claimKey", NS)],
        )
        for cd in reply.tree.findall(".//launch:cd", NS)
    ]


def msg(reply: Any) -> str:
    """The result's message (unescaped)."""
    return reply.tree.findtext(".//{urn:ietf:params:xml:ns:epp-1.0}msg") or ""


def launch_row(db: Database, name: str) -> Any:
    with db.read() as conn:
        return conn.execute(
            select(t.domain_launch)
            .join(t.domains, t.domains.c.id == t.domain_launch.c.domain_id)
            .where(t.domains.c.name == name, t.domains.c.deleted_at.is_(None))
        ).first()


def contact_cmd(handle: str) -> str:
    c = 'xmlns:contact="urn:ietf:params:xml:ns:contact-1.0"'
    return (
        f"<create><contact:create {c}><contact:id>{handle}</contact:id>"
        '<contact:postalInfo type="int"><contact:name>John Doe</contact:name>'
        "<contact:addr><contact:city>Dulles</contact:city><contact:cc>US</contact:cc>"
        "</contact:addr></contact:postalInfo><contact:email>jdoe@example.com</contact:email>"
        "<contact:authInfo><contact:pw>2fooBAR</contact:pw></contact:authInfo>"
        "</contact:create></create>"
    )
