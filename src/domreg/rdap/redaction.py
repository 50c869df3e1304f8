"""Contact entities with RFC 9537 redaction, as ICANN's RDAP Response Profile 2.7 asks: inside
domain answers, and as the answer to an entity lookup of a contact (the same redaction, its
paths from the topmost object).

What is withheld is decided by `rdds/policy.py` (shared with WHOIS); this module writes the
jCard and, for each withheld field that has a value, one entry of the "redacted" member
naming it with the Profile's Appendix E names: the required `fn` is kept with an empty value
("emptyValue", `postPath`), optional properties are removed ("removal", `prePath`), the
handle (the contact's ROID) is removed. The registrant's state/province and country stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domreg.rdds.policy import shows
from domreg.rdds.query import ContactData

if TYPE_CHECKING:
    from domreg.rdap.render import Links

RDAP_ROLE = {
    "registrant": "registrant",
    "admin": "administrative",
    "tech": "technical",
    "billing": "billing",
}
#: Appendix E's names start with these words for each role.
LABEL = {"registrant": "Registrant", "tech": "Tech", "admin": "Admin", "billing": "Billing"}
ID_NAME = {"registrant": "Registry Registrant ID", "tech": "Registry Tech ID"}
REASON = {"type": "Server policy"}


def _tel(number: str, ext: str | None, kind: str) -> list[Any]:
    uri = "tel:" + number + (f";ext={ext}" if ext else "")
    return ["tel", {"type": [kind]}, "uri", uri]


def _entry(name: str, method: str, path: str) -> dict[str, Any]:
    key = "prePath" if method == "removal" else "postPath"
    return {
        "name": {"type": name},
        key: path,
        "pathLang": "jsonpath",
        "method": method,
        "reason": REASON,
    }


def contact_entity(
    role: str,
    c: ContactData,
    full: bool,
    redacted: list[dict[str, Any]],
    links: Links,
    contact_uri: str | None = None,
    roles: list[str] | None = None,
) -> dict[str, Any]:
    """The entity of contact `c` in `role`; appends its redactions to `redacted`.

    A withheld email is replaced by `contact_uri` (the registrar's web site, where the
    contact can be reached through the registrar; Profile 2.7.8.2) when there is one, and
    removed otherwise. `roles`: the entity is the answer to a lookup of the contact (the
    topmost object, its paths from `$`) holding these roles (`role` the first of them,
    which decides what is published; none for a contact on no domain, published as a
    registrant would be), instead of one of a domain's entities."""
    rdap_role = RDAP_ROLE[role]
    label = LABEL[role]
    at = f"$.entities[?(@.roles[0]=='{rdap_role}')]" if roles is None else "$"
    card: list[list[Any]] = [["version", {}, "text", "4.0"]]

    def withheld(field: str, value: object) -> bool:
        return bool(value) and not shows(c, field, full)

    if withheld("name", c.name):
        card.append(["fn", {}, "text", ""])
        redacted.append(
            _entry(f"{label} Name", "emptyValue", f"{at}.vcardArray[1][?(@[0]=='fn')][3]")
        )
    else:
        card.append(["fn", {}, "text", c.name or ""])
    if c.org:
        if withheld("org", c.org):
            redacted.append(
                _entry(f"{label} Organization", "removal", f"{at}.vcardArray[1][?(@[0]=='org')]")
            )
        else:
            card.append(["org", {}, "text", c.org])
    if role == "registrant" or full or any(shows(c, f, False) for f in ("street", "city", "pc")):
        adr_path = f"{at}.vcardArray[1][?(@[0]=='adr')][3]"
        street: Any = list(c.street) if len(c.street) > 1 else (c.street[0] if c.street else "")
        if withheld("street", c.street):
            street = ""
            redacted.append(_entry(f"{label} Street", "emptyValue", adr_path + "[:3]"))
        city = c.city or ""
        if withheld("city", c.city):
            city = ""
            redacted.append(_entry(f"{label} City", "emptyValue", adr_path + "[3]"))
        pc = c.pc or ""
        if withheld("pc", c.pc):
            pc = ""
            redacted.append(_entry(f"{label} Postal Code", "emptyValue", adr_path + "[5]"))
        params = {"cc": c.cc} if c.cc else {}
        card.append(["adr", params, "text", ["", "", street, city, c.sp or "", pc, ""]])
    if c.voice:
        if withheld("voice", c.voice):
            redacted.append(
                _entry(f"{label} Phone", "removal", f"{at}.vcardArray[1][?(@[1].type=='voice')]")
            )
            if c.voice_ext:
                redacted.append(
                    _entry(
                        f"{label} Phone Ext",
                        "removal",
                        f"{at}.vcardArray[1][?(@[1].type=='voice')]",
                    )
                )
        else:
            card.append(_tel(c.voice, c.voice_ext, "voice"))
    if c.fax:
        if withheld("fax", c.fax):
            redacted.append(
                _entry(f"{label} Fax", "removal", f"{at}.vcardArray[1][?(@[1].type=='fax')]")
            )
            if c.fax_ext:
                redacted.append(
                    _entry(
                        f"{label} Fax Ext", "removal", f"{at}.vcardArray[1][?(@[1].type=='fax')]"
                    )
                )
        else:
            card.append(_tel(c.fax, c.fax_ext, "fax"))
    if withheld("email", c.email):
        email_path = f"{at}.vcardArray[1][?(@[0]=='email')]"
        if contact_uri:
            card.append(["contact-uri", {}, "uri", contact_uri])
            entry = _entry(f"{label} Email", "removal", email_path)
            entry["method"] = "replacementValue"
            entry["replacementPath"] = f"{at}.vcardArray[1][?(@[0]=='contact-uri')]"
            redacted.append(entry)
        else:
            redacted.append(_entry(f"{label} Email", "removal", email_path))
    else:
        card.append(["email", {}, "text", c.email])
    entity: dict[str, Any] = {"objectClassName": "entity"}
    if full:
        entity["handle"] = c.roid
    elif role in ID_NAME:
        redacted.append(_entry(ID_NAME[role], "removal", f"{at}.handle"))
    if roles is None:
        entity["roles"] = [rdap_role]
    elif roles:  # a contact on no domain has none: roles relate an entity to another object
        entity["roles"] = [RDAP_ROLE[r] for r in roles]
    entity["vcardArray"] = ["vcard", card]
    if full:
        events = [
            {
                "eventAction": "registration",
                "eventDate": c.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ]
        if c.updated_at is not None:
            events.append(
                {
                    "eventAction": "last changed",
                    "eventDate": c.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        entity["events"] = events
    return entity
