"""EPP frame -> typed command. Hardened parsing, schema validation, precise result codes.

Order of checks, each with its RFC 5730 result code:
1. well-formed XML without a DTD (2001); nothing is ever fetched or expanded;
2. `<hello>`, or a `<command>` whose verb is known (2000 otherwise);
3. the command's object namespace is one we implement (2307) and its extensions too (2103);
4. the whole document validates against the EPP schemas (2001, with the offending element);
5. values the schema cannot judge (name syntax: 2005; unsupported options: 2102);
6. each `<extension>` child is applied by its extension module (epp/extensions/) to the typed
   command: 2002 for an extension that does not extend this command, or given twice.

The session tries `fastpath.parse` first: plain domain:check and domain:info frames matched
by byte patterns that give this module's `Frame` for them without lxml; everything else,
every error included, is this module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from domreg.epp import extensions
from domreg.epp import namespaces as ns
from domreg.epp.namespaces import C, D, E, H
from domreg.epp.xsd import schema
from domreg.flows import contact, domain, host
from domreg.model.errors import EppError, ErrorValue
from domreg.model.names import NameError_, parse_name
from domreg.model.periods import Period
from domreg.model.results import Result

VERBS = frozenset(
    {"login", "logout", "check", "info", "poll", "transfer", "create", "delete", "renew", "update"}
)
#: Verbs that need an object element (all but the session ones and poll).
OBJECT_VERBS = VERBS - {"login", "logout", "poll"}

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)


@dataclass(frozen=True, slots=True)
class Hello:
    pass


@dataclass(frozen=True, slots=True)
class LoginCmd:
    clid: str
    password: str
    new_password: str | None
    version: str
    lang: str
    obj_uris: tuple[str, ...]
    ext_uris: tuple[str, ...]
    user_agent: str | None = None  # loginSec (RFC 8807)
    login_security: bool = False  # the passwords came through <loginSec:loginSec>


@dataclass(frozen=True, slots=True)
class LogoutCmd:
    pass


@dataclass(frozen=True, slots=True)
class PollCmd:
    op: str
    msg_id: str | None


@dataclass(frozen=True, slots=True)
class ObjectCmd:
    """A command on an object: verb, object kind ("domain", "host", "contact") and its data."""

    verb: str
    object: str
    data: Any


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed client frame: the command, its client transaction id, and its extensions."""

    command: Any
    cltrid: str | None
    extensions: tuple[etree._Element, ...] = ()


class FrameError(EppError):
    """A frame that cannot be turned into a command; carries the clTRID when it was readable."""

    cltrid: str | None = None


def _error(
    code: Result, reason: str, element: etree._Element | None = None, cltrid: str | None = None
) -> FrameError:
    values = [ErrorValue(_value_xml(element), reason)] if element is not None else []
    err = FrameError(code, reason, values)
    err.cltrid = cltrid
    return err


def _value_xml(element: etree._Element) -> str:
    """The offending element, alone and with its namespace, for `<extValue><value>`."""
    namespace = etree.QName(element).namespace
    nsmap: Any = {None: namespace} if namespace else None
    copy = etree.Element(element.tag, nsmap=nsmap)
    copy.text = (element.text or "")[:256]
    for k, v in element.attrib.items():
        copy.set(k, v[:256])
    for child in element:
        copy.append(_shallow(child))
    return etree.tostring(copy, encoding="unicode")


def _shallow(element: etree._Element) -> etree._Element:
    copy = etree.Element(element.tag)
    copy.text = (element.text or "")[:256]
    return copy


def parse_frame(data: bytes) -> Frame:
    """Parse and validate one client frame. Raises FrameError with the precise result code."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _error(Result.SYNTAX_ERROR, f"XML is not well-formed: {exc.msg}") from None
    except ValueError as exc:
        raise _error(Result.SYNTAX_ERROR, f"XML cannot be parsed: {exc}") from None
    tree = root.getroottree()
    docinfo: Any = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _error(Result.SYNTAX_ERROR, "document type declarations are not allowed")
    if root.tag != E + "epp":
        raise _error(Result.SYNTAX_ERROR, "the root element must be <epp> in namespace " + ns.EPP)
    children = [c for c in root if isinstance(c.tag, str)]
    if len(children) != 1:
        raise _error(Result.SYNTAX_ERROR, "<epp> must contain exactly one element")
    top = children[0]
    cltrid = _cltrid(top)
    if top.tag == E + "hello":
        _validate(root, cltrid)
        return Frame(Hello(), None)
    if top.tag != E + "command":
        if top.tag in (E + "greeting", E + "response", E + "extension"):
            raise _error(
                Result.COMMAND_USE_ERROR,
                f"a client cannot send <{etree.QName(top).localname}>",
                cltrid=cltrid,
            )
        raise _error(Result.UNKNOWN_COMMAND, f"unknown element {top.tag}", cltrid=cltrid)
    elements = [c for c in top if isinstance(c.tag, str)]
    if not elements:
        raise _error(Result.SYNTAX_ERROR, "<command> is empty", cltrid=cltrid)
    verb_el = elements[0]
    verb_q = etree.QName(verb_el)
    if verb_q.namespace != ns.EPP or verb_q.localname not in VERBS:
        raise _error(
            Result.UNKNOWN_COMMAND, f"unknown command <{verb_q.localname}>", verb_el, cltrid
        )
    verb = verb_q.localname
    exts: tuple[etree._Element, ...] = ()
    for el in elements[1:]:
        if el.tag == E + "extension":
            exts = tuple(c for c in el if isinstance(c.tag, str))
            for ext in exts:
                uri = etree.QName(ext).namespace
                if uri not in ns.EXTENSIONS:
                    raise _error(
                        Result.UNIMPLEMENTED_EXTENSION,
                        f"extension {uri} is not implemented",
                        ext,
                        cltrid,
                    )
    obj = None
    if verb in OBJECT_VERBS:
        objs = [c for c in verb_el if isinstance(c.tag, str)]
        if objs:
            uri = etree.QName(objs[0]).namespace
            if uri not in ns.OBJECT_NAMES:
                raise _error(
                    Result.UNIMPLEMENTED_OBJECT_SERVICE,
                    f"object service {uri} is not implemented",
                    objs[0],
                    cltrid,
                )
            obj = objs[0]
    _validate(root, cltrid)
    if verb == "login":
        return Frame(_extend((None, verb), _login(verb_el), exts, cltrid), cltrid, exts)
    if verb == "logout":
        return Frame(_extend((None, verb), LogoutCmd(), exts, cltrid), cltrid, exts)
    if verb == "poll":
        poll = PollCmd(verb_el.get("op", ""), verb_el.get("msgID"))
        return Frame(_extend((None, verb), poll, exts, cltrid), cltrid, exts)
    assert obj is not None  # the schema requires the object element
    kind = ns.OBJECT_NAMES[etree.QName(obj).namespace]
    data = _OBJECT_PARSERS[(kind, verb)](obj, verb_el, cltrid)
    data = _extend((kind, verb), data, exts, cltrid)
    return Frame(ObjectCmd(verb, kind, data), cltrid, exts)


def _extend(
    command: tuple[str | None, str],
    typed: Any,
    exts: tuple[etree._Element, ...],
    cltrid: str | None,
) -> Any:
    """Apply each `<extension>` child to the typed command (its module's `COMMANDS`)."""
    seen: set[str] = set()
    for ext in exts:
        uri = etree.QName(ext).namespace or ""
        if uri in seen:
            raise _error(Result.COMMAND_USE_ERROR, f"extension {uri} is given twice", ext, cltrid)
        seen.add(uri)
        try:
            typed = extensions.extend(command, typed, ext)
        except EppError as err:
            raise _error(err.code, err.reason, ext, cltrid) from None
    return typed


def _cltrid(top: etree._Element) -> str | None:
    el = top.find(E + "clTRID")
    if el is not None and el.text and 3 <= len(el.text) <= 64:
        return el.text
    return None


def _validate(root: etree._Element, cltrid: str | None) -> None:
    xsd = schema()
    if xsd.validate(root):
        return
    errors = list(xsd.error_log)
    err = errors[0] if errors else None
    message = err.message if err is not None else "schema validation failed"
    element = None
    if err is not None and err.path:
        # The path names elements by the document's own prefixes (e.g. secDNS:digest).
        prefixes = {p: u for el in root.iter() for p, u in el.nsmap.items() if p}
        try:
            found = root.getroottree().xpath(err.path, namespaces=prefixes)
        except etree.XPathError:  # the path uses prefixes the document does not declare
            found = None
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            element = found[0]
    raise _error(Result.SYNTAX_ERROR, f"schema violation: {message}", element, cltrid)


def _login(el: etree._Element) -> LoginCmd:
    opts = el.find(E + "options")
    svcs = el.find(E + "svcs")
    assert opts is not None and svcs is not None
    return LoginCmd(
        clid=el.findtext(E + "clID") or "",
        password=el.findtext(E + "pw") or "",
        new_password=el.findtext(E + "newPW"),
        version=opts.findtext(E + "version") or "",
        lang=opts.findtext(E + "lang") or "",
        obj_uris=tuple(x.text or "" for x in svcs.iter(E + "objURI")),
        ext_uris=tuple(x.text or "" for x in svcs.iter(E + "extURI")),
    )


# ---------------------------------------------------------------- helpers


def _name(el: etree._Element, cltrid: str | None, what: str = "name") -> str:
    """A domain or host name element, syntax-checked (2005 with the element otherwise)."""
    try:
        return parse_name(el.text or "").name
    except NameError_ as exc:
        raise _error(
            Result.PARAMETER_VALUE_SYNTAX_ERROR, f"invalid {what}: {exc}", el, cltrid
        ) from None


def _period(el: etree._Element | None) -> Period | None:
    if el is None:
        return None
    return Period(int(el.text or "0"), el.get("unit", "y"))


def _statuses_add(
    parent: etree._Element | None, tag: str
) -> tuple[tuple[str, str | None, str | None], ...]:
    if parent is None:
        return ()
    return tuple((s.get("s", ""), s.get("lang"), s.text) for s in parent.iter(tag))


def _statuses_rem(parent: etree._Element | None, tag: str) -> tuple[str, ...]:
    if parent is None:
        return ()
    return tuple(s.get("s", "") for s in parent.iter(tag))


def _auth(parent: etree._Element | None, prefix: str) -> tuple[str | None, str | None]:
    """(password, roid) from an <authInfo> element, or (None, None).

    Leading and trailing whitespace is not part of an authInfo (RFC 9154's examples wrap the
    value over lines); `<pw/>` is the empty authInfo.
    """
    if parent is None:
        return None, None
    auth = parent.find(prefix + "authInfo")
    if auth is None:
        return None, None
    pw = auth.find(prefix + "pw")
    if pw is None:
        return None, None
    return (pw.text or "").strip(), pw.get("roid")


# ---------------------------------------------------------------- domain


def _ns_list(parent: etree._Element | None, cltrid: str | None) -> tuple[str, ...]:
    if parent is None:
        return ()
    nsel = parent.find(D + "ns")
    if nsel is None:
        return ()
    attr = nsel.find(D + "hostAttr")
    if attr is not None:
        raise _error(
            Result.UNIMPLEMENTED_OPTION,
            "this registry uses host objects; give nameservers as <domain:hostObj>",
            attr,
            cltrid,
        )
    return tuple(_name(h, cltrid, "host name") for h in nsel.iter(D + "hostObj"))


def _contacts(parent: etree._Element | None) -> tuple[tuple[str, str], ...]:
    if parent is None:
        return ()
    return tuple((c.get("type", ""), c.text or "") for c in parent.findall(D + "contact"))


def _domain_names(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> list[str]:
    return [n.text or "" for n in obj.iter(D + "name")]


def _domain_info(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> dict[str, Any]:
    name_el = obj.find(D + "name")
    assert name_el is not None
    pw, roid = _auth(obj, D)
    return {
        "name": _name(name_el, cltrid),
        "hosts": name_el.get("hosts", "all"),
        "auth_info": pw,
        "auth_roid": roid,
    }


def _domain_create(
    obj: etree._Element, verb: etree._Element, cltrid: str | None
) -> domain.DomainCreate:
    name_el = obj.find(D + "name")
    assert name_el is not None
    pw, _ = _auth(obj, D)
    return domain.DomainCreate(
        name=_name(name_el, cltrid),
        auth_info=pw or "",
        period=_period(obj.find(D + "period")),
        ns=_ns_list(obj, cltrid),
        registrant=obj.findtext(D + "registrant"),
        contacts=_contacts(obj),
    )


def _domain_update(
    obj: etree._Element, verb: etree._Element, cltrid: str | None
) -> domain.DomainUpdate:
    name_el = obj.find(D + "name")
    assert name_el is not None
    add, rem, chg = obj.find(D + "add"), obj.find(D + "rem"), obj.find(D + "chg")
    registrant = None
    auth_info = None
    if chg is not None:
        reg_el = chg.find(D + "registrant")
        if reg_el is not None:
            registrant = reg_el.text or ""
        auth_el = chg.find(D + "authInfo")
        if auth_el is not None:
            auth_info = auth_el.findtext(D + "pw")
            # <domain:null/> or <domain:pw/>: unset the authInfo (RFC 9154 section 5.2)
            auth_info = (auth_info or "").strip()
    return domain.DomainUpdate(
        name=_name(name_el, cltrid),
        add_ns=_ns_list(add, cltrid),
        rem_ns=_ns_list(rem, cltrid),
        add_contacts=_contacts(add),
        rem_contacts=_contacts(rem),
        add_statuses=_statuses_add(add, D + "status"),
        rem_statuses=_statuses_rem(rem, D + "status"),
        registrant=registrant,
        auth_info=auth_info,
    )


def _domain_delete(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> str:
    name_el = obj.find(D + "name")
    assert name_el is not None
    return _name(name_el, cltrid)


def _domain_renew(
    obj: etree._Element, verb: etree._Element, cltrid: str | None
) -> domain.DomainRenew:
    name_el = obj.find(D + "name")
    assert name_el is not None
    return domain.DomainRenew(
        name=_name(name_el, cltrid),
        current_expiry=obj.findtext(D + "curExpDate") or "",
        period=_period(obj.find(D + "period")),
    )


def _domain_transfer(
    obj: etree._Element, verb: etree._Element, cltrid: str | None
) -> domain.DomainTransfer:
    name_el = obj.find(D + "name")
    assert name_el is not None
    pw, roid = _auth(obj, D)
    return domain.DomainTransfer(
        op=verb.get("op", ""),
        name=_name(name_el, cltrid),
        auth_info=pw,
        auth_roid=roid,
        period=_period(obj.find(D + "period")),
    )


# ---------------------------------------------------------------- host


def _addresses(parent: etree._Element | None) -> tuple[tuple[str, str], ...]:
    if parent is None:
        return ()
    return tuple(((a.text or "").strip(), a.get("ip", "v4")) for a in parent.findall(H + "addr"))


def _host_names(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> list[str]:
    return [n.text or "" for n in obj.iter(H + "name")]


def _host_name(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> str:
    name_el = obj.find(H + "name")
    assert name_el is not None
    return _name(name_el, cltrid, "host name")


def _host_create(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> host.HostCreate:
    return host.HostCreate(name=_host_name(obj, verb, cltrid), addresses=_addresses(obj))


def _host_update(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> host.HostUpdate:
    add, rem, chg = obj.find(H + "add"), obj.find(H + "rem"), obj.find(H + "chg")
    new_name = None
    if chg is not None:
        new_el = chg.find(H + "name")
        if new_el is not None:
            new_name = _name(new_el, cltrid, "host name")
    return host.HostUpdate(
        name=_host_name(obj, verb, cltrid),
        add_addresses=_addresses(add),
        rem_addresses=_addresses(rem),
        add_statuses=_statuses_add(add, H + "status"),
        rem_statuses=_statuses_rem(rem, H + "status"),
        new_name=new_name,
    )


# ---------------------------------------------------------------- contact


def _contact_ids(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> list[str]:
    return [n.text or "" for n in obj.iter(C + "id")]


def _contact_id(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> str:
    return obj.findtext(C + "id") or ""


def _postal(parent: etree._Element | None) -> tuple[contact.PostalInfo, ...]:
    if parent is None:
        return ()
    out = []
    for p in parent.findall(C + "postalInfo"):
        addr = p.find(C + "addr")
        out.append(
            contact.PostalInfo(
                type=p.get("type", ""),
                name=p.findtext(C + "name") or "",
                org=p.findtext(C + "org"),
                street=tuple(s.text or "" for s in addr.findall(C + "street"))
                if addr is not None
                else (),
                city=(addr.findtext(C + "city") or "") if addr is not None else "",
                sp=addr.findtext(C + "sp") if addr is not None else None,
                pc=addr.findtext(C + "pc") if addr is not None else None,
                cc=(addr.findtext(C + "cc") or "") if addr is not None else "",
            )
        )
    return tuple(out)


def _disclose(parent: etree._Element | None) -> contact.Disclose | None:
    if parent is None:
        return None
    el = parent.find(C + "disclose")
    if el is None:
        return None
    fields = set()
    for child in el:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local in ("name", "org", "addr"):
            fields.add(f"{local}_{child.get('type', 'int')}")
        else:
            fields.add(local)
    return contact.Disclose(flag=el.get("flag") in ("1", "true"), fields=frozenset(fields))


def _phone(parent: etree._Element | None, tag: str) -> tuple[str | None, str | None]:
    if parent is None:
        return None, None
    el = parent.find(C + tag)
    if el is None:
        return None, None
    return (el.text or ""), el.get("x")


def _contact_create(
    obj: etree._Element, verb: etree._Element, cltrid: str | None
) -> contact.ContactCreate:
    voice, voice_x = _phone(obj, "voice")
    fax, fax_x = _phone(obj, "fax")
    pw, _ = _auth(obj, C)
    return contact.ContactCreate(
        id=obj.findtext(C + "id") or "",
        postal=_postal(obj),
        email=obj.findtext(C + "email") or "",
        auth_info=pw or "",
        voice=voice,
        voice_ext=voice_x,
        fax=fax,
        fax_ext=fax_x,
        disclose=_disclose(obj),
    )


def _contact_info(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> dict[str, Any]:
    pw, _ = _auth(obj, C)
    return {"id": obj.findtext(C + "id") or "", "auth_info": pw}


def _contact_update(
    obj: etree._Element, verb: etree._Element, cltrid: str | None
) -> contact.ContactUpdate:
    add, rem, chg = obj.find(C + "add"), obj.find(C + "rem"), obj.find(C + "chg")
    voice, voice_x = _phone(chg, "voice")
    fax, fax_x = _phone(chg, "fax")
    pw = None
    if chg is not None and chg.find(C + "authInfo") is not None:
        pw, _ = _auth(chg, C)
    return contact.ContactUpdate(
        id=obj.findtext(C + "id") or "",
        add_statuses=_statuses_add(add, C + "status"),
        rem_statuses=_statuses_rem(rem, C + "status"),
        postal=_postal(chg),
        voice=voice,
        voice_ext=voice_x,
        fax=fax,
        fax_ext=fax_x,
        email=chg.findtext(C + "email") if chg is not None else None,
        auth_info=pw,
        disclose=_disclose(chg),
    )


def _contact_transfer(
    obj: etree._Element, verb: etree._Element, cltrid: str | None
) -> contact.ContactTransfer:
    pw, _ = _auth(obj, C)
    return contact.ContactTransfer(
        op=verb.get("op", ""), id=obj.findtext(C + "id") or "", auth_info=pw
    )


def _unimplemented(obj: etree._Element, verb: etree._Element, cltrid: str | None) -> Any:
    raise _error(
        Result.UNIMPLEMENTED_COMMAND,
        f"<{etree.QName(verb).localname}> is not defined for {etree.QName(obj).localname} objects",
        cltrid=cltrid,
    )


_OBJECT_PARSERS = {
    ("domain", "check"): _domain_names,
    ("domain", "info"): _domain_info,
    ("domain", "create"): _domain_create,
    ("domain", "update"): _domain_update,
    ("domain", "delete"): _domain_delete,
    ("domain", "renew"): _domain_renew,
    ("domain", "transfer"): _domain_transfer,
    ("host", "check"): _host_names,
    ("host", "info"): _host_name,
    ("host", "create"): _host_create,
    ("host", "update"): _host_update,
    ("host", "delete"): _host_name,
    ("host", "renew"): _unimplemented,
    ("host", "transfer"): _unimplemented,
    ("contact", "check"): _contact_ids,
    ("contact", "info"): _contact_info,
    ("contact", "create"): _contact_create,
    ("contact", "update"): _contact_update,
    ("contact", "delete"): _contact_id,
    ("contact", "renew"): _unimplemented,
    ("contact", "transfer"): _contact_transfer,
}
