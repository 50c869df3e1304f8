"""The deposit's vocabulary (RFC 8909, RFC 9022): namespaces, kinds, ids, the watermark and
the standard file names of ICANN's registry agreement (Specification 2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

RDE = "urn:ietf:params:xml:ns:rde-1.0"
HEADER = "urn:ietf:params:xml:ns:rdeHeader-1.0"
DOMAIN = "urn:ietf:params:xml:ns:rdeDomain-1.0"
HOST = "urn:ietf:params:xml:ns:rdeHost-1.0"
CONTACT = "urn:ietf:params:xml:ns:rdeContact-1.0"
REGISTRAR = "urn:ietf:params:xml:ns:rdeRegistrar-1.0"
EPP_PARAMS = "urn:ietf:params:xml:ns:rdeEppParams-1.0"
POLICY = "urn:ietf:params:xml:ns:rdePolicy-1.0"
REPORT = "urn:ietf:params:xml:ns:rdeReport-1.0"
EPP = "urn:ietf:params:xml:ns:epp-1.0"
EPP_DOMAIN = "urn:ietf:params:xml:ns:domain-1.0"
EPP_HOST = "urn:ietf:params:xml:ns:host-1.0"
EPP_CONTACT = "urn:ietf:params:xml:ns:contact-1.0"
SECDNS = "urn:ietf:params:xml:ns:secDNS-1.1"
RGP = "urn:ietf:params:xml:ns:rgp-1.0"

#: Prefixes used in the files domreg writes.
PREFIXES = {
    "rde": RDE,
    "rdeHeader": HEADER,
    "rdeDomain": DOMAIN,
    "rdeHost": HOST,
    "rdeContact": CONTACT,
    "rdeRegistrar": REGISTRAR,
    "rdeEppParams": EPP_PARAMS,
    "rdePolicy": POLICY,
    "rdeReport": REPORT,
    "epp": EPP,
    "domain": EPP_DOMAIN,
    "host": EPP_HOST,
    "contact": EPP_CONTACT,
    "secDNS": SECDNS,
    "rgp": RGP,
}

#: Object URIs of a full deposit, in menu order; each one (but the header) has a count.
FULL_URIS = (HEADER, CONTACT, HOST, DOMAIN, REGISTRAR, EPP_PARAMS, POLICY)
#: BRDA ("thin"): domains and their registrars only.
THIN_URIS = (HEADER, DOMAIN, REGISTRAR)

FULL, DIFF, THIN = "full", "diff", "thin"
#: The `type` attribute of `<rde:deposit>` for each kind (BRDA deposits are FULL).
DEPOSIT_TYPE = {FULL: "FULL", DIFF: "DIFF", THIN: "FULL"}

#: RyDE specification versions named in the deposit report.
RYDE_SPEC_ESCROW = "RFC8909"
RYDE_SPEC_MAPPING = "RFC9022"

_FILE = re.compile(
    r"^(?P<tld>[a-z0-9-]+(?:\.[a-z0-9-]+)*)_(?P<date>\d{4}-\d{2}-\d{2})_"
    r"(?P<kind>full|diff|thin)_S(?P<seq>\d+)_R(?P<resend>\d+)\.(?P<ext>ryde|sig|xml|tar|rep)$"
)


class DepositError(ValueError):
    """A deposit that cannot be made, read or trusted; the message says why."""


@dataclass(frozen=True, slots=True)
class Spec:
    """One deposit: TLD, watermark day, kind, resend number."""

    tld: str
    day: date
    kind: str = FULL
    resend: int = 0

    @property
    def watermark(self) -> datetime:
        """00:00:00 UTC of the deposit's day (naive UTC, as the store keeps times)."""
        return datetime.combine(self.day, time())

    @property
    def deposit_id(self) -> str:
        """`\\w{1,13}`, unique per TLD, day and kind: YYYYMMDD plus the kind's letter."""
        return f"{self.day:%Y%m%d}{self.kind[0].upper()}{self.resend:03d}"

    def name(self, ext: str) -> str:
        """Standard file name: `TLD_YYYY-MM-DD_full_S1_R0.ryde` (ext: ryde, sig, xml, tar, rep)."""
        tld = self.tld.encode("idna").decode() if not self.tld.isascii() else self.tld
        return f"{tld}_{self.day.isoformat()}_{self.kind}_S1_R{self.resend}.{ext}"


def parse_name(filename: str) -> Spec:
    """The deposit a standard file name names (ICANN RST rde-01); DepositError if malformed."""
    m = _FILE.match(filename)
    if m is None:
        raise DepositError(
            f"{filename}: not a standard deposit file name (TLD_YYYY-MM-DD_full_S1_R0.ryde)"
        )
    try:
        day = date.fromisoformat(m["date"])
    except ValueError:
        raise DepositError(f"{filename}: invalid date {m['date']}") from None
    return Spec(m["tld"], day, m["kind"], int(m["resend"]))


def xml_time(value: Any) -> str:
    """RFC 3339 with Z from a naive UTC datetime or a stored ISO string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text + "Z"


def parse_time(text: str) -> datetime:
    """A dateTime of the deposit as a naive UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
