"""JSON schemas (draft 2020-12) of RDAP answers, written from RFC 9083 (the object classes,
common data structures, errors, help and search results), RFC 9537 (the "redacted" member)
and ICANN's RDAP Response Profile and Technical Implementation Guide (2024): what every
answer of a gTLD registry must carry. Tests validate answers with the `jsonschema` library.
"""

from __future__ import annotations

from typing import Any

import jsonschema

DATE = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"}
#: The IANA RDAP JSON values registry (status, role, event action) as far as domreg uses them.
STATUSES = [
    "validated", "renew prohibited", "update prohibited", "transfer prohibited",
    "delete prohibited", "proxy", "private", "removed", "obscured", "associated", "active",
    "inactive", "locked", "pending create", "pending renew", "pending transfer",
    "pending update", "pending delete", "add period", "auto renew period", "client delete prohibited",
    "client hold", "client renew prohibited", "client transfer prohibited",
    "client update prohibited", "pending restore", "redemption period", "renew period",
    "server delete prohibited", "server renew prohibited", "server transfer prohibited",
    "server update prohibited", "server hold", "transfer period",
]  # fmt: skip
ROLES = [
    "registrant", "technical", "administrative", "abuse", "billing", "registrar", "reseller",
    "sponsor", "proxy", "notifications", "noc",
]  # fmt: skip
EVENT_ACTIONS = [
    "registration", "reregistration", "last changed", "expiration", "deletion",
    "reinstantiation", "transfer", "locked", "unlocked", "last update of RDAP database",
    "registrar expiration", "enum validation expiration",
]  # fmt: skip

DEFS: dict[str, Any] = {
    "link": {
        "type": "object",
        "required": ["href"],
        "properties": {
            "value": {"type": "string"},
            "rel": {"type": "string"},
            "href": {"type": "string", "minLength": 1},
            "type": {"type": "string"},
            "hreflang": {},
            "title": {"type": "string"},
            "media": {"type": "string"},
        },
    },
    "links": {"type": "array", "items": {"$ref": "#/$defs/link"}},
    "notice": {
        "type": "object",
        "required": ["description"],
        "properties": {
            "title": {"type": "string"},
            "type": {"type": "string"},
            "description": {"type": "array", "items": {"type": "string"}},
            "links": {"$ref": "#/$defs/links"},
        },
    },
    "notices": {"type": "array", "items": {"$ref": "#/$defs/notice"}},
    "event": {
        "type": "object",
        "required": ["eventAction", "eventDate"],
        "properties": {
            "eventAction": {"enum": EVENT_ACTIONS},
            "eventActor": {"type": "string"},
            "eventDate": DATE,
            "links": {"$ref": "#/$defs/links"},
        },
    },
    "events": {"type": "array", "items": {"$ref": "#/$defs/event"}},
    "status": {"type": "array", "items": {"enum": STATUSES}, "minItems": 1},
    "publicIds": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type", "identifier"],
            "properties": {"type": {"type": "string"}, "identifier": {"type": "string"}},
        },
    },
    "conformance": {
        "type": "array",
        "items": {"type": "string"},
        "contains": {"const": "rdap_level_0"},
    },
    "jcard": {
        "type": "array",
        "prefixItems": [{"const": "vcard"}, {"type": "array"}],
        "minItems": 2,
        "maxItems": 2,
        "items": False,
    },
    "jcardProperty": {
        "type": "array",
        "minItems": 4,
        "prefixItems": [
            {"type": "string"},
            {"type": "object"},
            {"type": "string"},
        ],
    },
    "redacted": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name", "method"],
            "properties": {
                "name": {
                    "type": "object",
                    "oneOf": [{"required": ["type"]}, {"required": ["description"]}],
                },
                "prePath": {"type": "string", "pattern": r"^\$"},
                "postPath": {"type": "string", "pattern": r"^\$"},
                "replacementPath": {"type": "string", "pattern": r"^\$"},
                "pathLang": {"const": "jsonpath"},
                "method": {"enum": ["removal", "emptyValue", "partialValue", "replacementValue"]},
                "reason": {"type": "object"},
            },
            "not": {"required": ["prePath", "postPath"]},
        },
    },
    "entity": {
        "type": "object",
        "required": ["objectClassName"],
        "properties": {
            "objectClassName": {"const": "entity"},
            "handle": {"type": "string"},
            "vcardArray": {"$ref": "#/$defs/jcard"},
            "roles": {"type": "array", "items": {"enum": ROLES}, "minItems": 1},
            "publicIds": {"$ref": "#/$defs/publicIds"},
            "entities": {"type": "array", "items": {"$ref": "#/$defs/embeddedEntity"}},
            "remarks": {"$ref": "#/$defs/notices"},
            "links": {"$ref": "#/$defs/links"},
            "events": {"$ref": "#/$defs/events"},
            "status": {"$ref": "#/$defs/status"},
            "port43": {"type": "string"},
        },
    },
    # An entity inside another object says how it relates to it (RFC 9083 section 5.1).
    "embeddedEntity": {"allOf": [{"$ref": "#/$defs/entity"}, {"required": ["roles"]}]},
    "ipAddresses": {
        "type": "object",
        "properties": {
            "v4": {"type": "array", "items": {"type": "string", "format": "ipv4"}},
            "v6": {"type": "array", "items": {"type": "string", "format": "ipv6"}},
        },
        "additionalProperties": False,
    },
    "nameserver": {
        "type": "object",
        "required": ["objectClassName", "ldhName"],
        "properties": {
            "objectClassName": {"const": "nameserver"},
            "handle": {"type": "string"},
            "ldhName": {"type": "string", "pattern": r"^[a-z0-9.-]+$"},
            "unicodeName": {"type": "string"},
            "ipAddresses": {"$ref": "#/$defs/ipAddresses"},
            "entities": {"type": "array", "items": {"$ref": "#/$defs/embeddedEntity"}},
            "status": {"$ref": "#/$defs/status"},
            "remarks": {"$ref": "#/$defs/notices"},
            "links": {"$ref": "#/$defs/links"},
            "events": {"$ref": "#/$defs/events"},
        },
    },
    "dsData": {
        "type": "object",
        "required": ["keyTag", "algorithm", "digestType", "digest"],
        "properties": {
            "keyTag": {"type": "integer", "minimum": 0, "maximum": 65535},
            "algorithm": {"type": "integer", "minimum": 0, "maximum": 255},
            "digestType": {"type": "integer", "minimum": 0, "maximum": 255},
            "digest": {"type": "string", "pattern": "^[0-9A-Fa-f]+$"},
        },
    },
    "domain": {
        "type": "object",
        "required": [
            "objectClassName",
            "handle",
            "ldhName",
            "status",
            "events",
            "entities",
            "secureDNS",
            "links",
        ],
        "properties": {
            "objectClassName": {"const": "domain"},
            "handle": {"type": "string"},
            "ldhName": {"type": "string", "pattern": r"^[a-z0-9.-]+$"},
            "unicodeName": {"type": "string"},
            "nameservers": {"type": "array", "items": {"$ref": "#/$defs/nameserver"}},
            "secureDNS": {
                "type": "object",
                "required": ["delegationSigned"],
                "properties": {
                    "zoneSigned": {"type": "boolean"},
                    "delegationSigned": {"type": "boolean"},
                    "maxSigLife": {"type": "integer"},
                    "dsData": {"type": "array", "items": {"$ref": "#/$defs/dsData"}},
                },
            },
            "entities": {"type": "array", "items": {"$ref": "#/$defs/embeddedEntity"}},
            "status": {"$ref": "#/$defs/status"},
            "publicIds": {"$ref": "#/$defs/publicIds"},
            "remarks": {"$ref": "#/$defs/notices"},
            "links": {"$ref": "#/$defs/links"},
            "port43": {"type": "string"},
            "events": {"$ref": "#/$defs/events"},
            "redacted": {"$ref": "#/$defs/redacted"},
        },
    },
}

#: What the topmost object of every answer holds (RFC 9083 section 4.1; TIG 1.2, 1.3;
#: Profile 1.2, 1.5; TIG 3.3).
TOP = {
    "required": ["rdapConformance", "notices", "events"],
    "properties": {
        "rdapConformance": {
            "allOf": [
                {"$ref": "#/$defs/conformance"},
                {"contains": {"const": "icann_rdap_response_profile_1"}},
                {"contains": {"const": "icann_rdap_technical_implementation_guide_1"}},
            ]
        },
        "notices": {
            "allOf": [
                {"$ref": "#/$defs/notices"},
                {
                    "contains": {
                        "properties": {
                            "links": {
                                "contains": {
                                    "properties": {"rel": {"const": "terms-of-service"}},
                                    "required": ["rel"],
                                }
                            }
                        },
                        "required": ["links"],
                    }
                },
            ]
        },
        "events": {
            "contains": {"properties": {"eventAction": {"const": "last update of RDAP database"}}}
        },
    },
}


def _schema(kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": DEFS,
    }
    if kind in ("domain", "nameserver", "entity"):
        body["allOf"] = [{"$ref": f"#/$defs/{kind}"}, TOP]
    elif kind == "help":
        body["allOf"] = [TOP]
    elif kind == "error":
        body.update(
            {
                "type": "object",
                "required": ["errorCode", "title", "description", "rdapConformance"],
                "properties": {
                    "errorCode": {"type": "integer", "minimum": 400, "maximum": 599},
                    "title": {"type": "string"},
                    "description": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "rdapConformance": {"$ref": "#/$defs/conformance"},
                },
            }
        )
    else:  # domainSearchResults, nameserverSearchResults, entitySearchResults
        item = {"domainSearchResults": "domain", "nameserverSearchResults": "nameserver"}.get(
            kind, "entity"
        )
        body["allOf"] = [
            TOP,
            {
                "required": [kind],
                "properties": {
                    kind: {"type": "array", "items": {"$ref": f"#/$defs/{item}"}},
                    "paging_metadata": {
                        "type": "object",
                        "properties": {
                            "pageSize": {"type": "integer"},
                            "links": {"$ref": "#/$defs/links"},
                        },
                    },
                },
            },
        ]
    return body


SCHEMAS = {
    k: _schema(k)
    for k in (
        "domain",
        "nameserver",
        "entity",
        "help",
        "error",
        "domainSearchResults",
        "nameserverSearchResults",
        "entitySearchResults",
    )
}
_VALIDATORS = {
    k: jsonschema.Draft202012Validator(
        s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for k, s in SCHEMAS.items()
}
for _s in SCHEMAS.values():
    jsonschema.Draft202012Validator.check_schema(_s)


def validate(kind: str, answer: Any) -> None:
    """Raise jsonschema.ValidationError unless `answer` is a valid `kind` answer."""
    _VALIDATORS[kind].validate(answer)


def kind_of(answer: dict[str, Any]) -> str:
    """The schema an answer should validate against."""
    if "errorCode" in answer:
        return "error"
    for key in ("domainSearchResults", "nameserverSearchResults", "entitySearchResults"):
        if key in answer:
            return key
    return str(answer.get("objectClassName", "help"))
