"""The deposit's XML (RFC 9022 XML model), written incrementally: one object element at a time
through `lxml.etree.xmlfile`, so memory stays flat whatever the registry's size.

A full deposit holds every contact, host and domain live at the watermark, the registrars, the
EPP parameters and the policy object; a diff holds what changed since the previous watermark
(`<rde:deletes>` for what went away); a thin one (BRDA) holds domains without contact data and
their registrars. The header, with the count of every object type, is written last, once
the counts are known (RFC 9022 lets contents come in any order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import IO, Any

from lxml import etree
from sqlalchemy import Connection, select

from domreg.epp import namespaces
from domreg.escrow import model as m
from domreg.escrow.source import Source
from domreg.store import schema as t

E = etree.Element
S = etree.SubElement


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _ns(*uris: str) -> dict[str | None, str]:
    inverse = {v: k for k, v in m.PREFIXES.items()}
    return {inverse[u]: u for u in uris}


_DOMAIN_NS = _ns(m.DOMAIN, m.EPP_DOMAIN, m.SECDNS, m.RGP)
_HOST_NS = _ns(m.HOST, m.EPP_HOST)
_CONTACT_NS = _ns(m.CONTACT, m.EPP_CONTACT)
_REGISTRAR_NS = _ns(m.REGISTRAR)

D = "{" + m.DOMAIN + "}"
H = "{" + m.HOST + "}"
C = "{" + m.CONTACT + "}"
CC = "{" + m.EPP_CONTACT + "}"
R = "{" + m.REGISTRAR + "}"
DN = "{" + m.EPP_DOMAIN + "}"
SEC = "{" + m.SECDNS + "}"


def _text(parent: Any, tag: str, value: Any, **attrs: str) -> Any:
    el = S(parent, tag, attrs) if attrs else S(parent, tag)
    el.text = str(value)
    return el


def _status(parent: Any, tag: str, status: tuple[str, str | None, str | None]) -> None:
    s, lang, message = status
    el = S(parent, tag, s=s)
    if lang:
        el.set("lang", lang)
    if message:
        el.text = message


def _rr(parent: Any, tag: str, clid: str) -> None:
    S(parent, tag).text = clid


def _trn(parent: Any, prefix: str, trn: dict[str, Any], with_expiry: bool) -> None:
    el = S(parent, prefix + "trnData")
    _text(el, prefix + "trStatus", trn["status"])
    _text(el, prefix + "reRr", trn["gaining"])
    _text(el, prefix + "reDate", m.xml_time(trn["requested_at"]))
    _text(el, prefix + "acRr", trn["losing"])
    _text(el, prefix + "acDate", m.xml_time(trn["action_at"]))
    if with_expiry and trn.get("expires_at"):
        _text(el, prefix + "exDate", m.xml_time(trn["expires_at"]))


def domain_element(obj: dict[str, Any]) -> Any:
    el = E(D + "domain", nsmap=_DOMAIN_NS)
    S(el, D + "name").text = obj["name"]
    S(el, D + "roid").text = obj["roid"]
    for status in obj["statuses"]:
        _status(el, D + "status", status)
    for rgp in obj["rgp"]:
        S(el, D + "rgpStatus", s=rgp)
    if obj["registrant"]:
        S(el, D + "registrant").text = obj["registrant"]
    for kind, handle in obj["contacts"]:
        S(el, D + "contact", type=kind).text = handle
    if obj["ns"]:
        ns = S(el, D + "ns")
        for name in obj["ns"]:
            S(ns, DN + "hostObj").text = name
    S(el, D + "clID").text = obj["sponsor"]
    S(el, D + "crRr").text = obj["creator"]
    S(el, D + "crDate").text = m.xml_time(obj["created_at"])
    S(el, D + "exDate").text = m.xml_time(obj["expires_at"])
    if obj["updated_at"]:
        if obj["updater"]:
            S(el, D + "upRr").text = obj["updater"]
        S(el, D + "upDate").text = m.xml_time(obj["updated_at"])
    if obj["ds"]:
        sec = S(el, D + "secDNS")
        for key_tag, alg, digest_type, digest, flags, protocol, key_alg, pub in obj["ds"]:
            ds = S(sec, SEC + "dsData")
            S(ds, SEC + "keyTag").text = str(key_tag)
            S(ds, SEC + "alg").text = str(alg)
            S(ds, SEC + "digestType").text = str(digest_type)
            S(ds, SEC + "digest").text = digest
            if pub is not None:
                key = S(ds, SEC + "keyData")
                S(key, SEC + "flags").text = str(flags)
                S(key, SEC + "protocol").text = str(protocol)
                S(key, SEC + "alg").text = str(key_alg)
                S(key, SEC + "pubKey").text = pub
    if obj["transferred_at"]:
        S(el, D + "trDate").text = m.xml_time(obj["transferred_at"])
    if obj.get("trn"):
        _trn(el, D, obj["trn"], with_expiry=True)
    return el


def host_element(obj: dict[str, Any]) -> Any:
    el = E(H + "host", nsmap=_HOST_NS)
    S(el, H + "name").text = obj["name"]
    S(el, H + "roid").text = obj["roid"]
    for status in obj["statuses"]:
        _status(el, H + "status", status)
    for address, version in obj["addresses"]:
        S(el, H + "addr", ip=version).text = address
    S(el, H + "clID").text = obj["sponsor"]
    S(el, H + "crRr").text = obj["creator"]
    S(el, H + "crDate").text = m.xml_time(obj["created_at"])
    if obj["updated_at"]:
        if obj["updater"]:
            S(el, H + "upRr").text = obj["updater"]
        S(el, H + "upDate").text = m.xml_time(obj["updated_at"])
    if obj["transferred_at"]:
        S(el, H + "trDate").text = m.xml_time(obj["transferred_at"])
    return el


def _phone(parent: Any, tag: str, number: str | None, ext: str | None) -> None:
    if number:
        el = S(parent, tag)
        el.text = number
        if ext:
            el.set("x", ext)


#: Disclose fields (stored as in flows/contact.py) in the order of contact:discloseType.
_DISCLOSE_ORDER = ("name_int", "name_loc", "org_int", "org_loc", "addr_int", "addr_loc")


def contact_element(obj: dict[str, Any]) -> Any:
    el = E(C + "contact", nsmap=_CONTACT_NS)
    S(el, C + "id").text = obj["id"]
    S(el, C + "roid").text = obj["roid"]
    for status in obj["statuses"]:
        _status(el, C + "status", status)
    for p in obj["postal"]:
        info = S(el, C + "postalInfo", type=p["type"])
        S(info, CC + "name").text = p["name"]
        if p.get("org"):
            S(info, CC + "org").text = p["org"]
        addr = S(info, CC + "addr")
        for line in p.get("street") or []:
            S(addr, CC + "street").text = line
        S(addr, CC + "city").text = p["city"]
        if p.get("sp"):
            S(addr, CC + "sp").text = p["sp"]
        if p.get("pc"):
            S(addr, CC + "pc").text = p["pc"]
        S(addr, CC + "cc").text = p["cc"]
    _phone(el, C + "voice", obj["voice"], obj["voice_ext"])
    _phone(el, C + "fax", obj["fax"], obj["fax_ext"])
    S(el, C + "email").text = obj["email"]
    S(el, C + "clID").text = obj["sponsor"]
    S(el, C + "crRr").text = obj["creator"]
    S(el, C + "crDate").text = m.xml_time(obj["created_at"])
    if obj["updated_at"]:
        if obj["updater"]:
            S(el, C + "upRr").text = obj["updater"]
        S(el, C + "upDate").text = m.xml_time(obj["updated_at"])
    if obj["transferred_at"]:
        S(el, C + "trDate").text = m.xml_time(obj["transferred_at"])
    if obj.get("trn"):
        _trn(el, C, obj["trn"], with_expiry=False)
    disclose = obj.get("disclose")
    if disclose:
        d = S(el, C + "disclose", flag="1" if disclose["flag"] else "0")
        fields = set(disclose["fields"])
        for f in _DISCLOSE_ORDER:
            if f in fields:
                kind, where = f.split("_")
                S(d, CC + kind, type=where)
        for f in ("voice", "fax", "email"):
            if f in fields:
                S(d, CC + f)
    return el


_REGISTRAR_STATUS = {"ok": "ok", "terminated": "terminated"}


def registrar_element(obj: dict[str, Any]) -> Any:
    el = E(R + "registrar", nsmap=_REGISTRAR_NS)
    S(el, R + "id").text = obj["clid"]
    S(el, R + "name").text = obj["name"]
    if obj["iana_id"]:
        S(el, R + "gurid").text = str(obj["iana_id"])
    S(el, R + "status").text = _REGISTRAR_STATUS.get(obj["status"], "readonly")
    # domreg keeps no postal address for registrars; the schema requires one.
    info = S(el, R + "postalInfo", type="int")
    addr = S(info, R + "addr")
    S(addr, R + "city").text = "not recorded"
    S(addr, R + "cc").text = "ZZ"
    S(el, R + "email").text = obj["email"] or f"{obj['clid'].lower()}@registrar.invalid"
    S(el, R + "crDate").text = m.xml_time(obj["created_at"])
    if obj["updated_at"]:
        S(el, R + "upDate").text = m.xml_time(obj["updated_at"])
    return el


def epp_params_element() -> Any:
    P = "{" + m.EPP_PARAMS + "}"
    EP = "{" + m.EPP + "}"
    el = E(P + "eppParams", nsmap=_ns(m.EPP_PARAMS, m.EPP))
    S(el, P + "version").text = "1.0"
    S(el, P + "lang").text = "en"
    for uri in namespaces.OBJECTS:
        S(el, P + "objURI").text = uri
    ext = S(el, P + "svcExtension")
    for uri in namespaces.EXTENSIONS:
        S(ext, EP + "extURI").text = uri
    dcp = S(el, P + "dcp")
    S(S(dcp, EP + "access"), EP + "all")
    statement = S(dcp, EP + "statement")
    purpose = S(statement, EP + "purpose")
    S(purpose, EP + "admin")
    S(purpose, EP + "prov")
    recipient = S(statement, EP + "recipient")
    S(recipient, EP + "ours")
    S(recipient, EP + "public")
    S(S(statement, EP + "retention"), EP + "stated")
    return el


#: Elements the registry's policy requires of every domain (rdePolicy, RFC 9022 section 5.10).
POLICIES = (("//rde:deposit/rde:contents/rdeDomain:domain", "rdeDomain:registrant"),)


def policy_elements() -> list[Any]:
    return [
        E(_q(m.POLICY, "policy"), scope=scope, element=element, nsmap=_ns(m.POLICY))
        for scope, element in POLICIES
    ]


def header_element(tld: str, counts: dict[str, int], uris: Iterable[str]) -> Any:
    HD = "{" + m.HEADER + "}"
    el = E(HD + "header", nsmap=_ns(m.HEADER))
    S(el, HD + "tld").text = tld
    for uri in uris:
        if uri != m.HEADER:
            S(el, HD + "count", uri=uri).text = str(counts.get(uri, 0))
    return el


def _deletes(source: Source, start: Any) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """For a diff: names (hosts: roids) of objects gone since `start`, and those to include."""
    gone: dict[str, list[str]] = {"domain": [], "host": [], "contact": []}
    keep: list[tuple[str, str]] = []
    for kind, roid in source.changed_between(start):
        if kind not in gone:
            continue
        found = source.as_of(roid)
        if found is None:
            continue
        snap = found[0]
        if snap.get("deleted_at"):
            before = source.as_of(roid, start)
            if before is not None and not before[0].get("deleted_at"):
                gone[kind].append(
                    snap["roid"] if kind == "host" else snap.get("name") or snap["id"]
                )
        else:
            keep.append((kind, roid))
    return gone, keep


def _changed_objects(source: Source, keep: list[tuple[str, str]]) -> Iterator[tuple[str, Any]]:
    conn: Connection = source.conn
    for kind, roid in keep:
        if kind == "domain":
            row = conn.execute(select(t.domains).where(t.domains.c.roid == roid)).first()
            if row is None:
                continue
            periods = list(
                conn.execute(
                    select(
                        t.grace_periods.c.kind,
                        t.grace_periods.c.starts_at,
                        t.grace_periods.c.ends_at,
                    ).where(t.grace_periods.c.domain_id == row.id)
                )
            )
            if row.tld_id != source.tld.id:
                continue
            obj = source._domain_as_of(row, periods)
            if obj is not None:
                yield m.DOMAIN, domain_element(obj)
        else:
            if kind == "host":
                for obj in source.hosts(only=roid):
                    yield m.HOST, host_element(obj)
            else:
                for obj in source.contacts(only=roid):
                    yield m.CONTACT, contact_element(obj)


def write(
    conn: Connection, spec: m.Spec, out: IO[bytes], prev_id: str | None = None
) -> dict[str, int]:
    """Write the deposit `spec` read on `conn` (a `source.snapshot`) to `out`; returns the
    count of each object URI."""
    source = Source(conn, spec.tld, spec.watermark)
    uris = m.THIN_URIS if spec.kind == m.THIN else m.FULL_URIS
    counts: Counter[str] = Counter()
    gone: dict[str, list[str]] = {}
    keep: list[tuple[str, str]] = []
    if spec.kind == m.DIFF:
        gone, keep = _deletes(source, spec.watermark - timedelta(days=1))
    attrs = {"type": m.DEPOSIT_TYPE[spec.kind], "id": spec.deposit_id}
    if prev_id:
        attrs["prevId"] = prev_id
    if spec.resend:
        attrs["resend"] = str(spec.resend)
    RD = "{" + m.RDE + "}"
    with etree.xmlfile(out, encoding="UTF-8", buffered=True) as xf:
        xf.write_declaration()
        with xf.element(RD + "deposit", attrs, nsmap={"rde": m.RDE}):
            wm = E(RD + "watermark")
            wm.text = m.xml_time(spec.watermark)
            xf.write(wm)
            menu = E(RD + "rdeMenu")
            S(menu, RD + "version").text = "1.0"
            for uri in uris:
                S(menu, RD + "objURI").text = uri
            xf.write(menu)
            if spec.kind == m.DIFF:
                deletes = E(RD + "deletes")
                for kind, names in gone.items():
                    if not names:
                        continue
                    ns = {"domain": m.DOMAIN, "host": m.HOST, "contact": m.CONTACT}[kind]
                    d = S(deletes, _q(ns, "delete"), nsmap=_ns(ns))
                    tag = {"domain": "name", "host": "roid", "contact": "id"}[kind]
                    for name in names:
                        S(d, _q(ns, tag)).text = name
                xf.write(deletes)
            with xf.element(RD + "contents"):
                # Registrars first, then contacts and hosts, then the domains referring to
                # them: a restore can load the deposit as a stream.
                for obj in source.registrars():
                    xf.write(registrar_element(obj))
                    counts[m.REGISTRAR] += 1
                if spec.kind == m.DIFF:
                    for uri, el in _changed_objects(source, keep):
                        xf.write(el)
                        counts[uri] += 1
                elif spec.kind == m.FULL:
                    for obj in source.contacts():
                        xf.write(contact_element(obj))
                        counts[m.CONTACT] += 1
                    for obj in source.hosts():
                        xf.write(host_element(obj))
                        counts[m.HOST] += 1
                if spec.kind != m.DIFF:
                    for obj in source.domains(thin=spec.kind == m.THIN):
                        xf.write(domain_element(obj))
                        counts[m.DOMAIN] += 1
                if spec.kind != m.THIN:
                    xf.write(epp_params_element())
                    counts[m.EPP_PARAMS] += 1
                    for el in policy_elements():
                        xf.write(el)
                        counts[m.POLICY] += 1
                xf.write(header_element(source.tld.name, counts, uris))
    return {uri: counts.get(uri, 0) for uri in uris if uri != m.HEADER}
