"""secDNS-1.1 (RFC 5910): DNSSEC delegation signer data on domain create and update, and the
domain's DS records in its info response.

Extends `<domain:create>` (`<secDNS:create>`: DomainCreate.dnssec) and `<domain:update>`
(`<secDNS:update>`: DomainUpdate.dnssec); adds `<secDNS:infData>` to a full domain info
(DomainInfo.ds). The rules (algorithms, digests, key data, maxSigLife, urgent) are the flow's:
flows/dnssec.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lxml import etree

from domreg.epp.extensions.base import Command, Extend, Part, Render, boolean, expect, integer
from domreg.epp.render import esc
from domreg.flows import domain
from domreg.flows.dnssec import DnssecCreate, DnssecUpdate, DsData, KeyData
from domreg.model.errors import EppError
from domreg.model.results import Result

URI = "urn:ietf:params:xml:ns:secDNS-1.1"
SCHEMAS = {URI: "secDNS-1.1.xsd"}
S = "{" + URI + "}"
_NS = f'xmlns:secDNS="{URI}"'


# ---------------------------------------------------------------- commands


def _key(el: etree._Element) -> KeyData:
    return KeyData(
        flags=integer(el, S + "flags"),
        protocol=integer(el, S + "protocol"),
        alg=integer(el, S + "alg"),
        public_key="".join((el.findtext(S + "pubKey") or "").split()),
    )


def _ds(el: etree._Element) -> DsData:
    key = el.find(S + "keyData")
    return DsData(
        key_tag=integer(el, S + "keyTag"),
        alg=integer(el, S + "alg"),
        digest_type=integer(el, S + "digestType"),
        digest=(el.findtext(S + "digest") or "").strip().upper(),
        key=_key(key) if key is not None else None,
    )


def _children(parent: etree._Element | None) -> tuple[tuple[DsData, ...], tuple[KeyData, ...]]:
    """(dsData, keyData) children of a dsOrKeyType or remType element."""
    if parent is None:
        return (), ()
    return (
        tuple(_ds(e) for e in parent.findall(S + "dsData")),
        tuple(_key(e) for e in parent.findall(S + "keyData")),
    )


def _max_sig_life(*parents: etree._Element | None) -> int | None:
    for parent in parents:
        if parent is not None and parent.find(S + "maxSigLife") is not None:
            return integer(parent, S + "maxSigLife")
    return None


def _create(el: etree._Element, cmd: domain.DomainCreate) -> domain.DomainCreate:
    expect(el, "create", "secDNS", ("domain", "create"))
    ds, keys = _children(el)
    return replace(cmd, dnssec=DnssecCreate(ds=ds, keys=keys, max_sig_life=_max_sig_life(el)))


def _update(el: etree._Element, cmd: domain.DomainUpdate) -> domain.DomainUpdate:
    expect(el, "update", "secDNS", ("domain", "update"))
    rem, add, chg = el.find(S + "rem"), el.find(S + "add"), el.find(S + "chg")
    if rem is None and add is None and chg is None:
        raise EppError(
            Result.REQUIRED_PARAMETER_MISSING,
            "<secDNS:update> needs <secDNS:rem>, <secDNS:add> or <secDNS:chg> (RFC 5910)",
        )
    rem_ds, rem_keys = _children(rem)
    add_ds, add_keys = _children(add)
    return replace(
        cmd,
        dnssec=DnssecUpdate(
            rem_all=rem is not None and boolean(rem.findtext(S + "all")),
            rem_ds=rem_ds,
            rem_keys=rem_keys,
            add_ds=add_ds,
            add_keys=add_keys,
            max_sig_life=_max_sig_life(chg, add),
            urgent=boolean(el.get("urgent")),
        ),
    )


COMMANDS: dict[Command, Extend] = {("domain", "create"): _create, ("domain", "update"): _update}


# ---------------------------------------------------------------- responses


def _key_xml(key: KeyData) -> str:
    return (
        f"<secDNS:keyData><secDNS:flags>{key.flags}</secDNS:flags>"
        f"<secDNS:protocol>{key.protocol}</secDNS:protocol><secDNS:alg>{key.alg}</secDNS:alg>"
        f"<secDNS:pubKey>{esc(key.public_key)}</secDNS:pubKey></secDNS:keyData>"
    )


def ds_xml(ds: DsData) -> str:
    key = _key_xml(ds.key) if ds.key is not None else ""
    return (
        f"<secDNS:dsData><secDNS:keyTag>{ds.key_tag}</secDNS:keyTag>"
        f"<secDNS:alg>{ds.alg}</secDNS:alg><secDNS:digestType>{ds.digest_type}</secDNS:digestType>"
        f"<secDNS:digest>{esc(ds.digest)}</secDNS:digest>{key}</secDNS:dsData>"
    )


def _info(info: Any) -> Part | None:
    """`<secDNS:infData>` for a full domain info of a domain with DS records."""
    if not isinstance(info, domain.DomainInfo) or not info.full or not info.ds:
        return None
    records = "".join(ds_xml(ds) for ds in info.ds)
    return Part(URI, f"<secDNS:infData {_NS}>{records}</secDNS:infData>")


RESPONSES: dict[Command, Render] = {("domain", "info"): _info}
