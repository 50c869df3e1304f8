"""Deposit elements back into the deposit model (the dicts `source` produces and `writer`
renders): the inverse of `writer`, used by `restore` and `verify`."""

from __future__ import annotations

from typing import Any

from domreg.escrow import model as m
from domreg.escrow.writer import CC, NO_CC, NO_CITY, SEC, C, D, H, R

KIND = {
    "{" + m.DOMAIN + "}domain": "domain",
    "{" + m.HOST + "}host": "host",
    "{" + m.CONTACT + "}contact": "contact",
    "{" + m.REGISTRAR + "}registrar": "registrar",
    "{" + m.EPP_PARAMS + "}eppParams": "eppParams",
    "{" + m.POLICY + "}policy": "policy",
}
URI = {
    "domain": m.DOMAIN,
    "host": m.HOST,
    "contact": m.CONTACT,
    "registrar": m.REGISTRAR,
    "eppParams": m.EPP_PARAMS,
    "policy": m.POLICY,
}


def _t(el: Any, tag: str) -> str | None:
    found = el.find(tag)
    return None if found is None or found.text is None else found.text.strip()


class _Kids:
    """The children of an element by tag, read in one pass (find() per field costs more)."""

    __slots__ = ("all", "first")

    def __init__(self, el: Any) -> None:
        self.all: dict[str, list[Any]] = {}
        self.first: dict[str, Any] = {}
        for child in el:
            tag = child.tag
            if tag in self.first:
                self.all[tag].append(child)
            else:
                self.first[tag] = child
                self.all[tag] = [child]

    def text(self, tag: str) -> str | None:
        found = self.first.get(tag)
        return None if found is None or found.text is None else found.text.strip()

    def time(self, tag: str) -> Any:
        text = self.text(tag)
        return None if text is None else m.parse_time(text)

    def each(self, tag: str) -> list[Any]:
        return self.all.get(tag, [])


def _time(el: Any, tag: str) -> Any:
    text = _t(el, tag)
    return None if text is None else m.parse_time(text)


def _statuses(k: _Kids, tag: str) -> list[tuple[str, str | None, str | None]]:
    return [(s.get("s"), s.get("lang"), (s.text or "").strip() or None) for s in k.each(tag)]


def _provenance(k: _Kids, prefix: str) -> dict[str, Any]:
    """What every object records of its sponsor and its changes (RFC 9022: clID, crRr,
    crDate, upRr, upDate, trDate)."""
    return {
        "sponsor": k.text(prefix + "clID"),
        "creator": k.text(prefix + "crRr"),
        "created_at": k.time(prefix + "crDate"),
        "updater": k.text(prefix + "upRr"),
        "updated_at": k.time(prefix + "upDate"),
        "transferred_at": k.time(prefix + "trDate"),
    }


def _trn(k: _Kids, prefix: str) -> dict[str, Any] | None:
    """The pending or last transfer (`<trnData>`), if the object has one."""
    trn = k.first.get(prefix + "trnData")
    if trn is None:
        return None
    return {
        "status": _t(trn, prefix + "trStatus"),
        "gaining": _t(trn, prefix + "reRr"),
        "requested_at": _time(trn, prefix + "reDate"),
        "losing": _t(trn, prefix + "acRr"),
        "action_at": _time(trn, prefix + "acDate"),
        "expires_at": _time(trn, prefix + "exDate"),
    }


def domain(el: Any) -> dict[str, Any]:
    k = _Kids(el)
    ds = []
    sec = k.first.get(D + "secDNS")
    if sec is not None:
        for d in sec.iter(SEC + "dsData"):
            key = d.find(SEC + "keyData")
            ds.append(
                (
                    int(_t(d, SEC + "keyTag") or 0),
                    int(_t(d, SEC + "alg") or 0),
                    int(_t(d, SEC + "digestType") or 0),
                    _t(d, SEC + "digest"),
                    *(
                        (
                            int(_t(key, SEC + "flags") or 0),
                            int(_t(key, SEC + "protocol") or 0),
                            int(_t(key, SEC + "alg") or 0),
                            _t(key, SEC + "pubKey"),
                        )
                        if key is not None
                        else (None, None, None, None)
                    ),
                )
            )
    ns = k.first.get(D + "ns")
    return {
        "name": k.text(D + "name"),
        "roid": k.text(D + "roid"),
        "statuses": _statuses(k, D + "status"),
        "rgp": [r.get("s") for r in k.each(D + "rgpStatus")],
        "registrant": k.text(D + "registrant"),
        "contacts": [(c.get("type"), (c.text or "").strip()) for c in k.each(D + "contact")],
        "ns": [] if ns is None else [(h.text or "").strip() for h in ns],
        **_provenance(k, D),
        "expires_at": k.time(D + "exDate"),
        "ds": ds,
        "trn": _trn(k, D),
    }


def host(el: Any) -> dict[str, Any]:
    k = _Kids(el)
    return {
        "name": k.text(H + "name"),
        "roid": k.text(H + "roid"),
        "statuses": _statuses(k, H + "status"),
        "addresses": [((a.text or "").strip(), a.get("ip", "v4")) for a in k.each(H + "addr")],
        **_provenance(k, H),
    }


def _phone(k: _Kids, tag: str) -> tuple[str | None, str | None]:
    found = k.first.get(tag)
    if found is None:
        return None, None
    return (found.text or "").strip() or None, found.get("x")


def contact(el: Any) -> dict[str, Any]:
    k = _Kids(el)
    postal = []
    for p in k.each(C + "postalInfo"):
        addr = p.find(CC + "addr")
        postal.append(
            {
                "type": p.get("type"),
                "name": _t(p, CC + "name"),
                "org": _t(p, CC + "org"),
                "street": []
                if addr is None
                else [(s.text or "") for s in addr.iter(CC + "street")],
                "city": None if addr is None else _t(addr, CC + "city"),
                "sp": None if addr is None else _t(addr, CC + "sp"),
                "pc": None if addr is None else _t(addr, CC + "pc"),
                "cc": None if addr is None else _t(addr, CC + "cc"),
            }
        )
    voice, voice_ext = _phone(k, C + "voice")
    fax, fax_ext = _phone(k, C + "fax")
    disclose = None
    d = k.first.get(C + "disclose")
    if d is not None:
        fields = []
        for child in d:
            local = child.tag.split("}", 1)[1]
            fields.append(f"{local}_{child.get('type')}" if child.get("type") else local)
        disclose = {"flag": 1 if d.get("flag") in ("1", "true") else 0, "fields": sorted(fields)}
    return {
        "id": k.text(C + "id"),
        "roid": k.text(C + "roid"),
        "statuses": _statuses(k, C + "status"),
        "postal": postal,
        "voice": voice,
        "voice_ext": voice_ext,
        "fax": fax,
        "fax_ext": fax_ext,
        "email": k.text(C + "email"),
        **_provenance(k, C),
        "trn": _trn(k, C),
        "disclose": disclose,
    }


def registrar(el: Any) -> dict[str, Any]:
    gurid = _t(el, R + "gurid")
    addr = f"{R}postalInfo/{R}addr"  # the first postalInfo (domreg writes one, "int")
    city, cc = _t(el, f"{addr}/{R}city"), _t(el, f"{addr}/{R}cc")
    return {
        "clid": _t(el, R + "id"),
        "name": _t(el, R + "name"),
        "iana_id": int(gurid) if gurid else None,
        "status": _t(el, R + "status"),
        "email": _t(el, R + "email"),
        "created_at": _time(el, R + "crDate"),
        "updated_at": _time(el, R + "upDate"),
        "url": _t(el, R + "url"),
        "whois_server": _t(el, R + "whoisInfo/" + R + "name"),
        "phone": _t(el, R + "voice"),
        "fax": _t(el, R + "fax"),
        "street": [(s.text or "").strip() for s in el.iterfind(f"{addr}/{R}street")],
        "city": None if city == NO_CITY else city,
        "sp": _t(el, f"{addr}/{R}sp"),
        "pc": _t(el, f"{addr}/{R}pc"),
        "cc": None if cc == NO_CC else cc,
    }


PARSERS = {"domain": domain, "host": host, "contact": contact, "registrar": registrar}
