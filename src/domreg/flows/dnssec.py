"""DNSSEC delegation signer data of domains (RFC 5910, secDNS-1.1): the DS data interface.

The domain create and update flows call these functions inside their transaction; they
validate typed DS data, write `domain_ds` and read it back for info and history. Nothing here
knows XML: the secDNS extension module (epp/extensions/secdns.py) builds the typed commands.

Policy (named constants below):
- DS algorithms: those RFC 8624 does not forbid for signing (`DS_ALGORITHMS`); 2306 otherwise.
- Digest types: SHA-256 and SHA-384 (`DIGEST_TYPES`); SHA-1 and GOST are refused (RFC 8624
  section 3.3: MUST NOT for delegation); 2306. The digest must have the type's length: 2005.
- Optional key data inside dsData: protocol 3 (RFC 4034 section 2.1.2) else 2005, the zone
  key flag set and the same algorithm as the DS record, else 2306.
- The key data interface (`<secDNS:keyData>` alone) is refused: 2306 when the TLD's
  `dnssec_interface` is "ds"; 2102 otherwise (not implemented: `domain_ds` cannot record
  which interface a row came from).
- `maxSigLife` and urgent updates are not supported: 2102 (RFC 5910 sections 5.2.1, 5.2.5).
- At most `MAX_DS` records per domain: 2306.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query

#: DNSSEC algorithm numbers accepted in DS records, with their IANA mnemonics.
DS_ALGORITHMS = {
    5: "RSASHA1",
    7: "RSASHA1-NSEC3-SHA1",
    8: "RSASHA256",
    10: "RSASHA512",
    13: "ECDSAP256SHA256",
    14: "ECDSAP384SHA384",
    15: "ED25519",
    16: "ED448",
}
#: Assigned algorithms refused, and why.
REFUSED_ALGORITHMS = {
    1: "RSAMD5 is forbidden by RFC 8624",
    2: "Diffie-Hellman is not a zone signing algorithm",
    3: "DSA is forbidden by RFC 8624",
    6: "DSA-NSEC3-SHA1 is forbidden by RFC 8624",
    12: "ECC-GOST is forbidden by RFC 8624",
    252: "INDIRECT is not a zone signing algorithm",
    253: "private algorithms cannot be validated by resolvers",
    254: "private algorithms cannot be validated by resolvers",
}
#: Digest types accepted, with their digest length in bytes.
DIGEST_TYPES = {2: ("SHA-256", 32), 4: ("SHA-384", 48)}
REFUSED_DIGEST_TYPES = {
    1: "SHA-1 is forbidden for DS records by RFC 8624",
    3: "GOST R 34.11-94 is forbidden for DS records by RFC 8624",
}
#: DNSKEY protocol field: always 3 (RFC 4034 section 2.1.2).
DNSKEY_PROTOCOL = 3
#: DNSKEY flags bit 7 (value 256): the key is a zone key (RFC 4034 section 2.1.1).
ZONE_KEY_FLAG = 0x0100
MAX_DS = 8


@dataclass(frozen=True, slots=True)
class KeyData:
    """A DNSKEY (RFC 5910 section 4.2): flags, protocol, algorithm, base64 public key."""

    flags: int
    protocol: int
    alg: int
    public_key: str


@dataclass(frozen=True, slots=True)
class DsData:
    """A DS record (RFC 5910 section 4.1); `digest` is upper-case hex. `key`: optional DNSKEY."""

    key_tag: int
    alg: int
    digest_type: int
    digest: str
    key: KeyData | None = None

    @property
    def identity(self) -> tuple[int, int, int, str]:
        """The four fields that identify a DS record (RFC 5910 section 5.2.5)."""
        return (self.key_tag, self.alg, self.digest_type, self.digest.upper())


@dataclass(frozen=True, slots=True)
class DnssecCreate:
    """secDNS data of a domain create."""

    ds: tuple[DsData, ...] = ()
    keys: tuple[KeyData, ...] = ()  # the key data interface
    max_sig_life: int | None = None


@dataclass(frozen=True, slots=True)
class DnssecUpdate:
    """secDNS changes of a domain update: removals first, then additions."""

    rem_all: bool = False
    rem_ds: tuple[DsData, ...] = ()
    rem_keys: tuple[KeyData, ...] = ()
    add_ds: tuple[DsData, ...] = ()
    add_keys: tuple[KeyData, ...] = ()
    max_sig_life: int | None = None
    urgent: bool = False


def _policy_error(reason: str) -> EppError:
    return EppError(Result.PARAMETER_VALUE_POLICY_ERROR, reason)


def _check_unsupported(max_sig_life: int | None, keys: bool, tld_id: int, conn: Connection) -> None:
    if max_sig_life is not None:
        raise EppError(
            Result.UNIMPLEMENTED_OPTION,
            "maxSigLife is not supported: DS signatures follow the registry's signing policy",
        )
    if keys:
        interface = conn.execute(
            select(t.tlds.c.dnssec_interface).where(t.tlds.c.id == tld_id)
        ).scalar_one()
        if interface == "ds":
            raise _policy_error(
                "this TLD uses the DS data interface: send <secDNS:dsData>, not <secDNS:keyData>"
            )
        raise EppError(
            Result.UNIMPLEMENTED_OPTION, "the key data interface is not implemented; send DS data"
        )


def check_ds(ds: DsData) -> None:
    """Validate one DS record against the registry's policy (2306, 2005 for the digest)."""
    if ds.alg not in DS_ALGORITHMS:
        why = REFUSED_ALGORITHMS.get(ds.alg, "it is not an assigned DNSSEC algorithm")
        accepted = ", ".join(str(a) for a in DS_ALGORITHMS)
        raise _policy_error(f"DS algorithm {ds.alg} is not accepted: {why} (use {accepted})")
    if ds.digest_type not in DIGEST_TYPES:
        why = REFUSED_DIGEST_TYPES.get(ds.digest_type, "it is not an assigned digest type")
        raise _policy_error(
            f"DS digest type {ds.digest_type} is not accepted: {why} (use 2 SHA-256 or 4 SHA-384)"
        )
    name, length = DIGEST_TYPES[ds.digest_type]
    try:
        raw = bytes.fromhex(ds.digest)
    except ValueError:
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR, f"DS digest of key tag {ds.key_tag} is not hex"
        ) from None
    if len(raw) != length:
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR,
            f"a {name} digest is {length} bytes ({2 * length} hex digits); "
            f"the digest of key tag {ds.key_tag} has {len(raw)}",
        )
    key = ds.key
    if key is not None:
        if key.protocol != DNSKEY_PROTOCOL:
            raise EppError(
                Result.PARAMETER_VALUE_SYNTAX_ERROR,
                f"keyData protocol must be {DNSKEY_PROTOCOL} (RFC 4034), not {key.protocol}",
            )
        if not key.flags & ZONE_KEY_FLAG:
            raise _policy_error(f"keyData flags {key.flags} lack the zone key bit (256)")
        if key.alg != ds.alg:
            raise _policy_error(
                f"keyData algorithm {key.alg} differs from the DS algorithm {ds.alg}"
            )


def _check_unique(records: tuple[DsData, ...]) -> None:
    seen: set[tuple[int, int, int, str]] = set()
    for ds in records:
        if ds.identity in seen:
            raise _policy_error(f"DS record with key tag {ds.key_tag} is given twice")
        seen.add(ds.identity)


def _check_count(count: int) -> None:
    if count > MAX_DS:
        raise _policy_error(f"a domain has at most {MAX_DS} DS records")


def check_create(conn: Connection, tld_id: int, cmd: DnssecCreate) -> None:
    """Validate the secDNS data of a create before anything is written."""
    _check_unsupported(cmd.max_sig_life, bool(cmd.keys), tld_id, conn)
    for ds in cmd.ds:
        check_ds(ds)
    _check_unique(cmd.ds)
    _check_count(len(cmd.ds))


def _insert(conn: Connection, domain_id: int, records: tuple[DsData, ...]) -> None:
    if not records:
        return
    conn.execute(
        insert(t.domain_ds),
        [
            {
                "domain_id": domain_id,
                "key_tag": ds.key_tag,
                "alg": ds.alg,
                "digest_type": ds.digest_type,
                "digest": ds.digest.upper(),
                "key_flags": ds.key.flags if ds.key else None,
                "key_protocol": ds.key.protocol if ds.key else None,
                "key_alg": ds.key.alg if ds.key else None,
                "public_key": ds.key.public_key if ds.key else None,
            }
            for ds in records
        ],
    )


def store_create(conn: Connection, domain_id: int, cmd: DnssecCreate) -> None:
    """Write the DS records of a new domain (validated by `check_create`)."""
    _insert(conn, domain_id, cmd.ds)


RECORDS = Query(
    select(t.domain_ds)
    .where(t.domain_ds.c.domain_id == bindparam("domain_id"))
    .order_by(
        t.domain_ds.c.key_tag,
        t.domain_ds.c.alg,
        t.domain_ds.c.digest_type,
        t.domain_ds.c.digest,
    )
)


def records(conn: Connection, domain_id: int) -> list[DsData]:
    """The domain's DS records, in a stable order (every domain info reads them)."""
    return records_of(RECORDS.all(conn, domain_id=domain_id))


def records_of(rows: list[Any]) -> list[DsData]:
    """DS records from the rows of `RECORDS`."""
    return [
        DsData(
            r.key_tag,
            r.alg,
            r.digest_type,
            r.digest,
            KeyData(r.key_flags, r.key_protocol, r.key_alg, r.public_key)
            if r.public_key is not None
            else None,
        )
        for r in rows
    ]


def update(conn: Connection, domain_id: int, tld_id: int, cmd: DnssecUpdate) -> None:
    """Apply secDNS changes: removals (all, or each named record), then additions.

    2102 urgent or maxSigLife; 2306 key data, a record removed that is not on the domain or
    added that already is, a record given twice, too many records, or policy (`check_ds`);
    2005 a digest of the wrong length.
    """
    if cmd.urgent:
        raise EppError(
            Result.UNIMPLEMENTED_OPTION, "urgent DNSSEC updates are not supported by this registry"
        )
    _check_unsupported(cmd.max_sig_life, bool(cmd.rem_keys or cmd.add_keys), tld_id, conn)
    for ds in cmd.add_ds:
        check_ds(ds)
    _check_unique(cmd.add_ds)
    current = {ds.identity: ds for ds in records(conn, domain_id)}
    removed: set[tuple[int, int, int, str]] = set()
    if cmd.rem_all:
        removed = set(current)
    for ds in cmd.rem_ds:
        if ds.identity not in current:
            raise _policy_error(f"DS record with key tag {ds.key_tag} is not on the domain")
        removed.add(ds.identity)
    remaining = set(current) - removed
    for ds in cmd.add_ds:
        if ds.identity in remaining:
            raise _policy_error(f"DS record with key tag {ds.key_tag} is already on the domain")
    _check_count(len(remaining) + len(cmd.add_ds))
    for key_tag, alg, digest_type, digest in removed:
        conn.execute(
            delete(t.domain_ds).where(
                t.domain_ds.c.domain_id == domain_id,
                t.domain_ds.c.key_tag == key_tag,
                t.domain_ds.c.alg == alg,
                t.domain_ds.c.digest_type == digest_type,
                t.domain_ds.c.digest == digest,
            )
        )
    _insert(conn, domain_id, cmd.add_ds)


def presentation(records_: list[DsData]) -> list[str]:
    """DS records in DNS presentation form (`key_tag alg digest_type DIGEST`), for history."""
    return [f"{d.key_tag} {d.alg} {d.digest_type} {d.digest}" for d in records_]
