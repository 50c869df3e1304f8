"""The deposit's XML (RFC 9022 XML model), written incrementally: one object at a time, as it
is read, in 1 MiB chunks, so memory stays flat whatever the registry's size. Objects are
rendered by escaped text templates (as `epp/render.py` renders responses): the root element
declares every prefix once and no object redeclares one.

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

#: The root element declares every prefix; objects use them without redeclaring.
ROOT_NS = " ".join(f'xmlns:{p}="{u}"' for p, u in m.PREFIXES.items() if p != "rdeReport")

D = "{" + m.DOMAIN + "}"
H = "{" + m.HOST + "}"
C = "{" + m.CONTACT + "}"
CC = "{" + m.EPP_CONTACT + "}"
R = "{" + m.REGISTRAR + "}"
DN = "{" + m.EPP_DOMAIN + "}"
SEC = "{" + m.SECDNS + "}"


def esc(value: Any) -> str:
    """Text or attribute value, escaped for XML (& < > and double quotes)."""
    text = str(value)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    return text


_TIMES: dict[Any, str] = {}


def _time(value: Any) -> str:
    """`model.xml_time`, memoised: objects share dates (bulk-created registries many)."""
    found = _TIMES.get(value)
    if found is None:
        if len(_TIMES) > 100_000:
            _TIMES.clear()
        found = _TIMES[value] = m.xml_time(value)
    return found


def _status(prefix: str, status: tuple[str, str | None, str | None]) -> str:
    s, lang, message = status
    lang_attr = f' lang="{esc(lang)}"' if lang else ""
    if message:
        return f'<{prefix}:status s="{s}"{lang_attr}>{esc(message)}</{prefix}:status>'
    return f'<{prefix}:status s="{s}"{lang_attr}/>'


def _trn(prefix: str, trn: dict[str, Any], with_expiry: bool) -> str:
    exp = (
        f"<{prefix}:exDate>{_time(trn['expires_at'])}</{prefix}:exDate>"
        if with_expiry and trn.get("expires_at")
        else ""
    )
    return (
        f"<{prefix}:trnData><{prefix}:trStatus>{trn['status']}</{prefix}:trStatus>"
        f"<{prefix}:reRr>{esc(trn['gaining'])}</{prefix}:reRr>"
        f"<{prefix}:reDate>{_time(trn['requested_at'])}</{prefix}:reDate>"
        f"<{prefix}:acRr>{esc(trn['losing'])}</{prefix}:acRr>"
        f"<{prefix}:acDate>{_time(trn['action_at'])}</{prefix}:acDate>{exp}</{prefix}:trnData>"
    )


def _updated(prefix: str, obj: dict[str, Any]) -> str:
    if not obj["updated_at"]:
        return ""
    rr = f"<{prefix}:upRr>{esc(obj['updater'])}</{prefix}:upRr>" if obj["updater"] else ""
    return f"{rr}<{prefix}:upDate>{_time(obj['updated_at'])}</{prefix}:upDate>"


def domain_xml(obj: dict[str, Any]) -> str:
    parts = [
        f"<rdeDomain:domain><rdeDomain:name>{obj['name']}</rdeDomain:name>"
        f"<rdeDomain:roid>{obj['roid']}</rdeDomain:roid>"
    ]
    parts.extend(_status("rdeDomain", s) for s in obj["statuses"])
    parts.extend(f'<rdeDomain:rgpStatus s="{r}"/>' for r in obj["rgp"])
    if obj["registrant"]:
        parts.append(f"<rdeDomain:registrant>{esc(obj['registrant'])}</rdeDomain:registrant>")
    parts.extend(
        f'<rdeDomain:contact type="{kind}">{esc(handle)}</rdeDomain:contact>'
        for kind, handle in obj["contacts"]
    )
    if obj["ns"]:
        hosts = "".join(f"<domain:hostObj>{name}</domain:hostObj>" for name in obj["ns"])
        parts.append(f"<rdeDomain:ns>{hosts}</rdeDomain:ns>")
    parts.append(
        f"<rdeDomain:clID>{esc(obj['sponsor'])}</rdeDomain:clID>"
        f"<rdeDomain:crRr>{esc(obj['creator'])}</rdeDomain:crRr>"
        f"<rdeDomain:crDate>{_time(obj['created_at'])}</rdeDomain:crDate>"
        f"<rdeDomain:exDate>{_time(obj['expires_at'])}</rdeDomain:exDate>"
    )
    parts.append(_updated("rdeDomain", obj))
    if obj["ds"]:
        parts.append("<rdeDomain:secDNS>")
        for key_tag, alg, digest_type, digest, flags, protocol, key_alg, pub in obj["ds"]:
            key = (
                f"<secDNS:keyData><secDNS:flags>{flags}</secDNS:flags>"
                f"<secDNS:protocol>{protocol}</secDNS:protocol><secDNS:alg>{key_alg}</secDNS:alg>"
                f"<secDNS:pubKey>{esc(pub)}</secDNS:pubKey></secDNS:keyData>"
                if pub is not None
                else ""
            )
            parts.append(
                f"<secDNS:dsData><secDNS:keyTag>{key_tag}</secDNS:keyTag>"
                f"<secDNS:alg>{alg}</secDNS:alg><secDNS:digestType>{digest_type}</secDNS:digestType>"
                f"<secDNS:digest>{esc(digest)}</secDNS:digest>{key}</secDNS:dsData>"
            )
        parts.append("</rdeDomain:secDNS>")
    if obj["transferred_at"]:
        parts.append(f"<rdeDomain:trDate>{_time(obj['transferred_at'])}</rdeDomain:trDate>")
    if obj.get("trn"):
        parts.append(_trn("rdeDomain", obj["trn"], with_expiry=True))
    parts.append("</rdeDomain:domain>")
    return "".join(parts)


def host_xml(obj: dict[str, Any]) -> str:
    parts = [
        f"<rdeHost:host><rdeHost:name>{obj['name']}</rdeHost:name>"
        f"<rdeHost:roid>{obj['roid']}</rdeHost:roid>"
    ]
    parts.extend(_status("rdeHost", s) for s in obj["statuses"])
    parts.extend(
        f'<rdeHost:addr ip="{version}">{address}</rdeHost:addr>'
        for address, version in obj["addresses"]
    )
    parts.append(
        f"<rdeHost:clID>{esc(obj['sponsor'])}</rdeHost:clID>"
        f"<rdeHost:crRr>{esc(obj['creator'])}</rdeHost:crRr>"
        f"<rdeHost:crDate>{_time(obj['created_at'])}</rdeHost:crDate>"
    )
    parts.append(_updated("rdeHost", obj))
    if obj["transferred_at"]:
        parts.append(f"<rdeHost:trDate>{_time(obj['transferred_at'])}</rdeHost:trDate>")
    parts.append("</rdeHost:host>")
    return "".join(parts)


def _phone(tag: str, number: str | None, ext: str | None) -> str:
    if not number:
        return ""
    x = f' x="{esc(ext)}"' if ext else ""
    return f"<{tag}{x}>{esc(number)}</{tag}>"


def _opt(tag: str, value: Any) -> str:
    return f"<{tag}>{esc(value)}</{tag}>" if value else ""


#: Disclose fields (stored as in flows/contact.py) in the order of contact:discloseType.
_DISCLOSE_ORDER = ("name_int", "name_loc", "org_int", "org_loc", "addr_int", "addr_loc")


def contact_xml(obj: dict[str, Any]) -> str:
    parts = [
        f"<rdeContact:contact><rdeContact:id>{esc(obj['id'])}</rdeContact:id>"
        f"<rdeContact:roid>{obj['roid']}</rdeContact:roid>"
    ]
    parts.extend(_status("rdeContact", s) for s in obj["statuses"])
    for p in obj["postal"]:
        street = "".join(
            f"<contact:street>{esc(line)}</contact:street>" for line in p.get("street") or []
        )
        parts.append(
            f'<rdeContact:postalInfo type="{p["type"]}"><contact:name>{esc(p["name"])}</contact:name>'
            f"{_opt('contact:org', p.get('org'))}<contact:addr>{street}"
            f"<contact:city>{esc(p['city'])}</contact:city>{_opt('contact:sp', p.get('sp'))}"
            f"{_opt('contact:pc', p.get('pc'))}<contact:cc>{esc(p['cc'])}</contact:cc>"
            "</contact:addr></rdeContact:postalInfo>"
        )
    parts.append(_phone("rdeContact:voice", obj["voice"], obj["voice_ext"]))
    parts.append(_phone("rdeContact:fax", obj["fax"], obj["fax_ext"]))
    parts.append(
        f"<rdeContact:email>{esc(obj['email'])}</rdeContact:email>"
        f"<rdeContact:clID>{esc(obj['sponsor'])}</rdeContact:clID>"
        f"<rdeContact:crRr>{esc(obj['creator'])}</rdeContact:crRr>"
        f"<rdeContact:crDate>{_time(obj['created_at'])}</rdeContact:crDate>"
    )
    parts.append(_updated("rdeContact", obj))
    if obj["transferred_at"]:
        parts.append(f"<rdeContact:trDate>{_time(obj['transferred_at'])}</rdeContact:trDate>")
    if obj.get("trn"):
        parts.append(_trn("rdeContact", obj["trn"], with_expiry=False))
    disclose = obj.get("disclose")
    if disclose:
        fields = set(disclose["fields"])
        inner = "".join(
            f'<contact:{f.split("_")[0]} type="{f.split("_")[1]}"/>'
            for f in _DISCLOSE_ORDER
            if f in fields
        ) + "".join(f"<contact:{f}/>" for f in ("voice", "fax", "email") if f in fields)
        flag = 1 if disclose["flag"] else 0
        parts.append(f'<rdeContact:disclose flag="{flag}">{inner}</rdeContact:disclose>')
    parts.append("</rdeContact:contact>")
    return "".join(parts)


_REGISTRAR_STATUS = {"ok": "ok", "terminated": "terminated"}
NO_CITY, NO_CC = "not recorded", "ZZ"  # placeholders for a registrar without an address


def registrar_xml(obj: dict[str, Any]) -> str:
    gurid = f"<rdeRegistrar:gurid>{obj['iana_id']}</rdeRegistrar:gurid>" if obj["iana_id"] else ""
    email = obj["email"] or f"{obj['clid'].lower()}@registrar.invalid"
    updated = (
        f"<rdeRegistrar:upDate>{_time(obj['updated_at'])}</rdeRegistrar:upDate>"
        if obj["updated_at"]
        else ""
    )
    status = _REGISTRAR_STATUS.get(obj["status"], "readonly")
    # The schema requires a city and a country: a registrar without them gets the
    # placeholders NO_CITY and NO_CC, which restore reads back as unset.
    addr = "".join(
        f"<rdeRegistrar:street>{esc(line)}</rdeRegistrar:street>" for line in obj["street"][:3]
    )
    addr += f"<rdeRegistrar:city>{esc(obj['city'] or NO_CITY)}</rdeRegistrar:city>"
    if obj["sp"]:
        addr += f"<rdeRegistrar:sp>{esc(obj['sp'])}</rdeRegistrar:sp>"
    if obj["pc"]:
        addr += f"<rdeRegistrar:pc>{esc(obj['pc'])}</rdeRegistrar:pc>"
    addr += f"<rdeRegistrar:cc>{esc(obj['cc'] or NO_CC)}</rdeRegistrar:cc>"
    phones = "".join(
        f"<rdeRegistrar:{tag}>{esc(obj[key])}</rdeRegistrar:{tag}>"
        for tag, key in (("voice", "phone"), ("fax", "fax"))
        if obj[key]
    )
    url = f"<rdeRegistrar:url>{esc(obj['url'])}</rdeRegistrar:url>" if obj["url"] else ""
    whois = (
        "<rdeRegistrar:whoisInfo>"
        f"<rdeRegistrar:name>{esc(obj['whois_server'])}</rdeRegistrar:name>"
        "</rdeRegistrar:whoisInfo>"
        if obj["whois_server"]
        else ""
    )
    return (
        f"<rdeRegistrar:registrar><rdeRegistrar:id>{esc(obj['clid'])}</rdeRegistrar:id>"
        f"<rdeRegistrar:name>{esc(obj['name'])}</rdeRegistrar:name>{gurid}"
        f"<rdeRegistrar:status>{status}</rdeRegistrar:status>"
        f'<rdeRegistrar:postalInfo type="int"><rdeRegistrar:addr>{addr}'
        f"</rdeRegistrar:addr></rdeRegistrar:postalInfo>{phones}"
        f"<rdeRegistrar:email>{esc(email)}</rdeRegistrar:email>{url}{whois}"
        f"<rdeRegistrar:crDate>{_time(obj['created_at'])}</rdeRegistrar:crDate>{updated}"
        "</rdeRegistrar:registrar>"
    )


def epp_params_xml() -> str:
    objs = "".join(f"<rdeEppParams:objURI>{u}</rdeEppParams:objURI>" for u in namespaces.OBJECTS)
    exts = "".join(f"<epp:extURI>{u}</epp:extURI>" for u in namespaces.EXTENSIONS)
    return (
        "<rdeEppParams:eppParams><rdeEppParams:version>1.0</rdeEppParams:version>"
        f"<rdeEppParams:lang>en</rdeEppParams:lang>{objs}"
        f"<rdeEppParams:svcExtension>{exts}</rdeEppParams:svcExtension>"
        "<rdeEppParams:dcp><epp:access><epp:all/></epp:access><epp:statement>"
        "<epp:purpose><epp:admin/><epp:prov/></epp:purpose>"
        "<epp:recipient><epp:ours/><epp:public/></epp:recipient>"
        "<epp:retention><epp:stated/></epp:retention></epp:statement></rdeEppParams:dcp>"
        "</rdeEppParams:eppParams>"
    )


#: Elements the registry's policy requires of every domain (rdePolicy, RFC 9022 section 5.10).
POLICIES = (("//rde:deposit/rde:contents/rdeDomain:domain", "rdeDomain:registrant"),)


def policy_xml() -> list[str]:
    return [f'<rdePolicy:policy scope="{s}" element="{e}"/>' for s, e in POLICIES]


def header_xml(tld: str, counts: dict[str, int], uris: Iterable[str]) -> str:
    rows = "".join(
        f'<rdeHeader:count uri="{uri}">{counts.get(uri, 0)}</rdeHeader:count>'
        for uri in uris
        if uri != m.HEADER
    )
    return f"<rdeHeader:header><rdeHeader:tld>{esc(tld)}</rdeHeader:tld>{rows}</rdeHeader:header>"


def header_element(tld: str, counts: dict[str, int], uris: Iterable[str]) -> Any:
    """The header as an lxml element (for the deposit report)."""
    wrapped = f'<x xmlns:rdeHeader="{m.HEADER}">{header_xml(tld, counts, uris)}</x>'
    return etree.fromstring(wrapped)[0]


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
                yield m.DOMAIN, domain_xml(obj)
        else:
            if kind == "host":
                for obj in source.hosts(only=roid):
                    yield m.HOST, host_xml(obj)
            else:
                for obj in source.contacts(only=roid):
                    yield m.CONTACT, contact_xml(obj)


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
    attrs = f'type="{m.DEPOSIT_TYPE[spec.kind]}" id="{spec.deposit_id}"'
    if prev_id:
        attrs += f' prevId="{prev_id}"'
    if spec.resend:
        attrs += f' resend="{spec.resend}"'
    buffer: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        buffer.append(text)
        size += len(text)
        if size > 1 << 20:
            out.write("".join(buffer).encode())
            buffer.clear()
            size = 0

    menu = "".join(f"<rde:objURI>{u}</rde:objURI>" for u in uris)
    emit(
        f"<?xml version='1.0' encoding='UTF-8'?>\n<rde:deposit {ROOT_NS} {attrs}>"
        f"<rde:watermark>{m.xml_time(spec.watermark)}</rde:watermark>"
        f"<rde:rdeMenu><rde:version>1.0</rde:version>{menu}</rde:rdeMenu>"
    )
    if spec.kind == m.DIFF:
        emit("<rde:deletes>")
        for kind, names in gone.items():
            if names:
                prefix = {"domain": "rdeDomain", "host": "rdeHost", "contact": "rdeContact"}[kind]
                tag = {"domain": "name", "host": "roid", "contact": "id"}[kind]
                inner = "".join(f"<{prefix}:{tag}>{esc(n)}</{prefix}:{tag}>" for n in names)
                emit(f"<{prefix}:delete>{inner}</{prefix}:delete>")
        emit("</rde:deletes>")
    emit("<rde:contents>")
    # Registrars first, then contacts and hosts, then the domains referring to them: a
    # restore can load the deposit as a stream.
    for obj in source.registrars():
        emit(registrar_xml(obj))
        counts[m.REGISTRAR] += 1
    if spec.kind == m.DIFF:
        for uri, text in _changed_objects(source, keep):
            emit(text)
            counts[uri] += 1
    elif spec.kind == m.FULL:
        n = 0
        for obj in source.contacts():
            emit(contact_xml(obj))
            n += 1
        counts[m.CONTACT] = n
        n = 0
        for obj in source.hosts():
            emit(host_xml(obj))
            n += 1
        counts[m.HOST] = n
    if spec.kind != m.DIFF:
        n = 0
        for obj in source.domains(thin=spec.kind == m.THIN):
            emit(domain_xml(obj))
            n += 1
        counts[m.DOMAIN] = n
    if spec.kind != m.THIN:
        emit(epp_params_xml())
        counts[m.EPP_PARAMS] += 1
        for text in policy_xml():
            emit(text)
            counts[m.POLICY] += 1
    emit(header_xml(source.tld.name, counts, uris))
    emit("</rde:contents></rde:deposit>\n")
    out.write("".join(buffer).encode())
    return {uri: counts.get(uri, 0) for uri in uris if uri != m.HEADER}
