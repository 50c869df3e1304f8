"""RDAP objects (RFC 9083) from registration data, shaped by ICANN's RDAP Response Profile.

Each object class has one function building its JSON (plain dicts and lists, dumped once
with orjson by the caller): `domain`, `nameserver`, `registrar`, and the contact entities in
`rdap/redaction.py`. `top` turns an object into a response: rdapConformance, notices, and
the "last update of RDAP database" event (Profile 1.5; TIG 3.7: the time of the answer,
since the database is read directly).

`Links` carries the base URL (absolute, from the configuration or the request) and the
request URL that every link's "value" must hold (Profile 2.6.3, 2.10; TIG 3.3.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from domreg.model.names import to_unicode
from domreg.rdap.redaction import contact_entity
from domreg.rdds.policy import Viewer, visible_roles
from domreg.rdds.query import ContactData, DomainData, HostData, RegistrarData

MEDIA_TYPE = "application/rdap+json"
CONFORMANCE = [
    "rdap_level_0",
    "icann_rdap_response_profile_1",
    "icann_rdap_technical_implementation_guide_1",
    "redacted",
]
PAGING = "paging"

#: EPP status -> RDAP status (RFC 8056 section 2).
STATUS = {
    "ok": "active",
    "inactive": "inactive",
    "linked": "associated",
    "pendingCreate": "pending create",
    "pendingDelete": "pending delete",
    "pendingRenew": "pending renew",
    "pendingTransfer": "pending transfer",
    "pendingUpdate": "pending update",
    "clientDeleteProhibited": "client delete prohibited",
    "clientHold": "client hold",
    "clientRenewProhibited": "client renew prohibited",
    "clientTransferProhibited": "client transfer prohibited",
    "clientUpdateProhibited": "client update prohibited",
    "serverDeleteProhibited": "server delete prohibited",
    "serverHold": "server hold",
    "serverRenewProhibited": "server renew prohibited",
    "serverTransferProhibited": "server transfer prohibited",
    "serverUpdateProhibited": "server update prohibited",
    "addPeriod": "add period",
    "autoRenewPeriod": "auto renew period",
    "renewPeriod": "renew period",
    "transferPeriod": "transfer period",
    "redemptionPeriod": "redemption period",
    "pendingRestore": "pending restore",
}

EPP_STATUS_URL = "https://icann.org/epp"
WICF_URL = "https://icann.org/wicf"


@dataclass(frozen=True, slots=True)
class Links:
    """`base`: the service's base URL ending in "/"; `value`: the URL of this request."""

    base: str
    value: str
    tos: str

    def self_link(self, path: str) -> dict[str, str]:
        return {"value": self.value, "rel": "self", "href": self.base + path, "type": MEDIA_TYPE}


def rfc3339(when: datetime) -> str:
    """UTC, second precision, with `Z` (every stored time is naive UTC)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def statuses(epp: list[str]) -> list[str]:
    return [STATUS.get(s, s) for s in epp]


def _names(obj: dict[str, Any], name: str) -> None:
    obj["ldhName"] = name
    if "xn--" in name:
        obj["unicodeName"] = to_unicode(name)


def _event(action: str, when: datetime) -> dict[str, str]:
    return {"eventAction": action, "eventDate": rfc3339(when)}


def registrar(
    r: RegistrarData, links: Links, full: bool = False, role: str = "registrar"
) -> dict[str, Any]:
    """The registrar entity: inside a domain or nameserver (Profile 2.4, 4.3) or, `full`,
    as the answer to an entity lookup (Profile 3.1: adr, tel, email)."""
    # Profile 2.4.2 and 4.3: the IANA id; without one, "not applicable" inside other objects
    # and the client id as the handle of the entity itself.
    own_handle = str(r.iana_id) if r.iana_id is not None else r.clid
    handle = own_handle if full or r.iana_id is not None else "not applicable"
    card: list[list[Any]] = [["version", {}, "text", "4.0"], ["fn", {}, "text", r.name]]
    if full:
        if r.street or r.city or r.cc:
            street: Any = list(r.street) if len(r.street) > 1 else (r.street[0] if r.street else "")
            card.append(
                [
                    "adr",
                    {"cc": r.cc} if r.cc else {},
                    "text",
                    ["", "", street, r.city or "", r.sp or "", r.pc or "", ""],
                ]
            )
        if r.phone:
            card.append(["tel", {"type": ["voice"]}, "uri", "tel:" + r.phone])
        if r.fax:
            card.append(["tel", {"type": ["fax"]}, "uri", "tel:" + r.fax])
        if r.email:
            card.append(["email", {}, "text", r.email])
    entity: dict[str, Any] = {
        "objectClassName": "entity",
        "handle": handle,
        "roles": [role],
        "vcardArray": ["vcard", card],
        "status": ["active" if r.status == "ok" else "inactive"],
    }
    if r.iana_id is not None:
        entity["publicIds"] = [{"type": "IANA Registrar ID", "identifier": str(r.iana_id)}]
    entity_links = [links.self_link("entity/" + quote(own_handle, safe=""))]
    if r.url:
        entity_links.append(
            {"value": links.value, "rel": "about", "href": r.url, "type": "text/html"}
        )
    entity["links"] = entity_links
    abuse: list[list[Any]] = [["version", {}, "text", "4.0"], ["fn", {}, "text", "Abuse Contact"]]
    if r.abuse_phone:
        abuse.append(["tel", {"type": ["voice"]}, "uri", "tel:" + r.abuse_phone])
    if r.abuse_email:
        abuse.append(["email", {}, "text", r.abuse_email])
    entity["entities"] = [
        {"objectClassName": "entity", "roles": ["abuse"], "vcardArray": ["vcard", abuse]}
    ]
    if full:
        events = [_event("registration", r.created_at)]
        if r.updated_at is not None:
            events.append(_event("last changed", r.updated_at))
        entity["events"] = events
    return entity


def nameserver(h: HostData, links: Links, full: bool = True) -> dict[str, Any]:
    """A nameserver object: in full for a lookup or search (Profile 4), or as it appears in a
    domain (name, addresses, handle and self link; Profile 2.8)."""
    obj: dict[str, Any] = {"objectClassName": "nameserver", "handle": h.roid}
    _names(obj, h.name)
    v4 = [a for a, v in h.addresses if v == "v4"]
    v6 = [a for a, v in h.addresses if v == "v6"]
    if v4 or v6:
        obj["ipAddresses"] = {"v4": v4, "v6": v6}
    if full:
        obj["status"] = statuses(h.statuses)
        if h.registrar is not None:
            obj["entities"] = [registrar(h.registrar, links)]
        events = []
        if h.created_at is not None:
            events.append(_event("registration", h.created_at))
        if h.updated_at is not None:
            events.append(_event("last changed", h.updated_at))
        if h.transferred_at is not None:
            events.append(_event("transfer", h.transferred_at))
        obj["events"] = events
    obj["links"] = [links.self_link("nameserver/" + h.name)]
    return obj


def domain(d: DomainData, viewer: Viewer, links: Links) -> dict[str, Any]:
    """A domain object (RFC 9083 section 5.3; Profile section 2); contacts redacted for
    viewers who do not sponsor the domain (RFC 9537, Profile 2.7); a "related" link to the
    sponsoring registrar's RDAP answer for the domain when its RDAP base URL is known (TIG
    3.2)."""
    obj: dict[str, Any] = {"objectClassName": "domain", "handle": d.roid}
    _names(obj, d.name)
    obj["status"] = statuses(d.statuses)
    events = [_event("registration", d.created_at), _event("expiration", d.expires_at)]
    if d.updated_at is not None and d.updated_at != d.created_at:
        events.append(_event("last changed", d.updated_at))
    if d.transferred_at is not None:
        events.append(_event("transfer", d.transferred_at))
    obj["events"] = events
    entities = [registrar(d.registrar, links)]
    redacted: list[dict[str, Any]] = []
    full = viewer.sponsors(d)
    for role, contact in visible_roles(d, viewer):
        entities.append(contact_entity(role, contact, full, redacted, links, d.registrar.url))
    obj["entities"] = entities
    obj["nameservers"] = [nameserver(h, links, full=False) for h in d.nameservers]
    secure: dict[str, Any] = {"delegationSigned": bool(d.ds)}
    if d.ds:
        secure["dsData"] = [
            {
                "keyTag": ds.key_tag,
                "algorithm": ds.alg,
                "digestType": ds.digest_type,
                "digest": ds.digest,
            }
            for ds in d.ds
        ]
    obj["secureDNS"] = secure
    domain_links = [links.self_link("domain/" + d.name)]
    if d.registrar.rdap_base_url:  # TIG 3.2: the registrar's own answer for this domain
        domain_links.append(
            {
                "value": links.value,
                "rel": "related",
                "href": d.registrar.rdap_base_url + "domain/" + d.name,
                "type": MEDIA_TYPE,
            }
        )
    obj["links"] = domain_links
    if redacted:
        obj["redacted"] = redacted
    return obj


def contact(
    c: ContactData, roles: list[str], viewer: Viewer, links: Links, queried: str
) -> dict[str, Any]:
    """A contact as the answer to the entity lookup of handle `queried`: with the redaction
    of domain answers (RFC 9537, Profile 2.7; decided by its first role), in full for its
    sponsoring registrar only. A contact on no domain has no role, and is redacted as a
    registrant would be.
    The self link names the handle queried (no other, which could be withheld)."""
    full = viewer.registrar_id is not None and viewer.registrar_id == c.registrar_id
    redacted: list[dict[str, Any]] = []
    first = roles[0] if roles else "registrant"
    entity = contact_entity(first, c, full, redacted, links, roles=roles)
    entity["links"] = [links.self_link("entity/" + quote(queried, safe=""))]
    if redacted:
        entity["redacted"] = redacted
    return entity


def terms_notice(links: Links) -> dict[str, Any]:
    """Terms of service (TIG 3.3), in every response."""
    return {
        "title": "Terms of Use",
        "description": [
            "Registration data is provided for lawful purposes only: to learn the status of a "
            "domain name, its sponsoring registrar and how to reach it. Personal data of "
            "contacts is withheld unless the registrar of record authenticates.",
        ],
        "links": [
            {
                "value": links.value,
                "rel": "terms-of-service",
                "href": links.tos,
                "type": "text/html",
            }
        ],
    }


def domain_notices(links: Links) -> list[dict[str, Any]]:
    """The notices every domain answer carries (Profile 2.6.3 and 2.10)."""
    return [
        {
            "title": "Status Codes",
            "description": [
                "For more information on domain status codes, please visit https://icann.org/epp"
            ],
            "links": [
                {
                    "value": links.value,
                    "rel": "glossary",
                    "href": EPP_STATUS_URL,
                    "type": "text/html",
                }
            ],
        },
        {
            "title": "RDDS Inaccuracy Complaint Form",
            "description": [
                "URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf"
            ],
            "links": [{"value": links.value, "rel": "help", "href": WICF_URL, "type": "text/html"}],
        },
    ]


def top(
    obj: dict[str, Any],
    links: Links,
    now: datetime,
    notices: list[dict[str, Any]] | None = None,
    conformance: list[str] = CONFORMANCE,
) -> dict[str, Any]:
    """`obj` as the topmost object of a response."""
    answer: dict[str, Any] = {"rdapConformance": conformance}
    answer.update(obj)
    answer["notices"] = [terms_notice(links), *(notices or ())]
    events = answer.setdefault("events", [])
    answer["events"] = [*events, _event("last update of RDAP database", now)]
    return answer


def search_result(
    kind: str,
    objects: list[dict[str, Any]],
    links: Links,
    now: datetime,
    next_href: str | None,
    truncated: bool,
    notices: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A search answer (RFC 9083 section 8): `kind` is domainSearchResults,
    nameserverSearchResults or entitySearchResults; paging metadata per RFC 8977."""
    answer: dict[str, Any] = {"rdapConformance": [*CONFORMANCE, PAGING]}
    answer[kind] = objects
    paging: dict[str, Any] = {"pageSize": len(objects)}
    all_notices = [terms_notice(links), *(notices or ())]
    if next_href is not None:
        paging["links"] = [
            {"value": links.value, "rel": "next", "href": next_href, "type": MEDIA_TYPE}
        ]
    if truncated:
        all_notices.append(
            {
                "title": "Search Policy",
                "type": "result set truncated due to unexplainable reasons",
                "description": [
                    "Search results are limited to a page; follow the 'next' link for more."
                ],
            }
        )
    answer["paging_metadata"] = paging
    answer["notices"] = all_notices
    answer["events"] = [_event("last update of RDAP database", now)]
    return answer


def help_answer(links: Links, now: datetime) -> dict[str, Any]:
    """The help answer (RFC 9083 section 7, TIG 3.4): what this service offers."""
    return {
        "rdapConformance": CONFORMANCE,
        "notices": [
            terms_notice(links),
            {
                "title": "Help",
                "description": [
                    "This RDAP service answers lookups of domain/<name> (A-label or U-label), "
                    "nameserver/<name> and entity/<registrar IANA id or name, or contact "
                    "handle>, and searches "
                    "domains?name=, domains?nsLdhName=, domains?nsIp=, nameservers?name=, "
                    "nameservers?ip=, entities?fn= and entities?handle= (one '*' wildcard).",
                    "Registrars authenticate with HTTP Basic (EPP client id and password) to "
                    "see their own domains' contact data.",
                ],
                "links": [
                    {
                        "value": links.value,
                        "rel": "help",
                        "href": links.base + "help",
                        "type": MEDIA_TYPE,
                    }
                ],
            },
        ],
        "events": [_event("last update of RDAP database", now)],
    }


def error(status: int, title: str, description: str) -> dict[str, Any]:
    """An RDAP error object (RFC 9083 section 6)."""
    return {
        "rdapConformance": CONFORMANCE,
        "errorCode": status,
        "title": title,
        "description": [description],
    }
