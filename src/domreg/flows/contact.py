"""Contact flows (RFC 5733): check, info, create, update, delete, transfer.

Personal data is shown in full only to the sponsor or to a client that gives the contact's
authInfo. Anyone else sees the contact's identity and dates, plus only the personal fields
the contact chose to disclose (`<disclose flag="1">`): this server's default policy is to
disclose nothing.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from domreg.flows import transfer as trn
from domreg.flows.base import (
    Context,
    check_auth_info,
    check_status_update,
    enqueue_poll,
    forbid,
    hash_auth_info,
    record,
    registrar_clids,
    statuses_of,
)
from domreg.flows.lookup import live_contact, require_contact
from domreg.model import statuses as st
from domreg.model.countries import COUNTRIES
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store import schema as t

#: Repository id in contact ROIDs (contacts belong to no TLD).
CONTACT_REPOSITORY = "CONT"
POSTAL_TYPES = ("int", "loc")
#: The elements `<contact:disclose>` can name, as stored in `contacts.disclose`.
DISCLOSE_FIELDS = frozenset(
    {"name_int", "name_loc", "org_int", "org_loc", "addr_int", "addr_loc", "voice", "fax", "email"}
)
MIN_ID, MAX_ID = 3, 16  # eppcom:clIDType
MAX_LINE = 255  # contact:postalLineType
MAX_PC = 16  # contact:pcType
MAX_STREET_LINES = 3
MAX_EXT = 16  # contacts.voice_ext / fax_ext
MAX_EMAIL = 255  # contacts.email
MAX_AUTH_INFO = 255  # contacts.auth_info

_E164 = re.compile(r"\+[0-9]{1,3}\.[0-9]{1,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class CheckItem:
    id: str
    avail: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PostalInfo:
    type: str  # "int" or "loc"
    name: str
    org: str | None
    street: tuple[str, ...]  # 0 to 3 lines
    city: str
    sp: str | None
    pc: str | None
    cc: str


@dataclass(frozen=True, slots=True)
class Disclose:
    """RFC 5733 section 2.9: flag 1 = disclose these fields, 0 = do not disclose them.

    fields: subset of name_int, name_loc, org_int, org_loc, addr_int, addr_loc, voice, fax, email.
    """

    flag: bool
    fields: frozenset[str]


@dataclass(slots=True)
class ContactInfo:
    id: str
    roid: str
    sponsor: str
    full: bool  # False: a non-sponsor without authInfo; only disclosed fields are filled
    statuses: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    postal: list[PostalInfo] = field(default_factory=list)
    voice: str | None = None
    voice_ext: str | None = None
    fax: str | None = None
    fax_ext: str | None = None
    email: str | None = None
    creator: str | None = None
    created_at: datetime | None = None
    updater: str | None = None
    updated_at: datetime | None = None
    transferred_at: datetime | None = None
    auth_info: str | None = None
    disclose: Disclose | None = None


@dataclass(frozen=True, slots=True)
class ContactCreate:
    id: str
    postal: tuple[PostalInfo, ...]
    email: str
    auth_info: str
    voice: str | None = None
    voice_ext: str | None = None
    fax: str | None = None
    fax_ext: str | None = None
    disclose: Disclose | None = None


@dataclass(frozen=True, slots=True)
class ContactCreated:
    id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ContactUpdate:
    """None means unchanged. For voice/fax, "" removes the number."""

    id: str
    add_statuses: tuple[tuple[str, str | None, str | None], ...] = ()
    rem_statuses: tuple[str, ...] = ()
    postal: tuple[PostalInfo, ...] = ()  # merged into the postalInfo of the same type; see update
    voice: str | None = None
    voice_ext: str | None = None
    fax: str | None = None
    fax_ext: str | None = None
    email: str | None = None
    auth_info: str | None = None
    disclose: Disclose | None = None


@dataclass(frozen=True, slots=True)
class ContactTransfer:
    op: str  # query, request, approve, reject, cancel
    id: str
    auth_info: str | None = None


# ---------------------------------------------------------------- input rules


def _syntax(reason: str) -> EppError:
    return EppError(Result.PARAMETER_VALUE_SYNTAX_ERROR, reason)


def _id_problem(handle: object) -> str | None:
    """Why `handle` is not a valid contact id (eppcom:clIDType: a 3 to 16 character token)."""
    if not isinstance(handle, str):
        return "is not text"
    if not MIN_ID <= len(handle) <= MAX_ID:
        return f"must be {MIN_ID} to {MAX_ID} characters"
    if _CONTROL.search(handle) or handle != handle.strip() or "  " in handle:
        return "must not have control characters, or leading, trailing or double spaces"
    return None


def _line(value: str, what: str, max_len: int = MAX_LINE, ascii_only: bool = False) -> None:
    if len(value) > max_len:
        raise _syntax(f"{what} is longer than {max_len} characters")
    if _CONTROL.search(value):
        raise _syntax(f"{what} has a control character")
    if ascii_only and not value.isascii():
        raise _syntax(f'{what} must be ASCII in a postalInfo of type "int"')


def _postal(p: PostalInfo) -> PostalInfo:
    """A validated postalInfo, its country code upper-cased; 2005 on a bad value."""
    if p.type not in POSTAL_TYPES:
        raise _syntax(f"postalInfo type {p.type[:8]!r} is not int or loc")
    ascii_only = p.type == "int"
    where = f"postalInfo {p.type}"
    for required, what in ((p.name, "name"), (p.city, "city")):
        if not required or not required.strip():
            raise _syntax(f"{where} {what} must not be empty")
    if len(p.street) > MAX_STREET_LINES:
        raise _syntax(f"{where} has more than {MAX_STREET_LINES} street lines")
    lines = [(p.name, "name"), (p.org, "org"), (p.city, "city"), (p.sp, "sp")]
    lines += [(s, "street") for s in p.street]
    for value, what in lines:
        if value is not None:
            _line(value, f"{where} {what}", ascii_only=ascii_only)
    if p.pc is not None:
        _line(p.pc, f"{where} pc", max_len=MAX_PC, ascii_only=ascii_only)
    cc = p.cc.upper() if isinstance(p.cc, str) else ""
    if cc not in COUNTRIES:
        raise _syntax(f"{where} cc {p.cc!r:.8} is not an ISO 3166 country code")
    return PostalInfo(
        p.type, p.name, p.org or None, tuple(p.street), p.city, p.sp or None, p.pc or None, cc
    )


def _check_types(given: tuple[PostalInfo, ...]) -> None:
    """2005 a type other than int or loc; 2306 one type given twice."""
    seen: set[str] = set()
    for p in given:
        if p.type not in POSTAL_TYPES:
            raise _syntax(f"postalInfo type {p.type[:8]!r} is not int or loc")
        if p.type in seen:
            raise EppError(
                Result.PARAMETER_VALUE_POLICY_ERROR, f"postalInfo type {p.type} is given twice"
            )
        seen.add(p.type)


def _postals(given: tuple[PostalInfo, ...]) -> list[PostalInfo]:
    """Validated postalInfos for create."""
    _check_types(given)
    return [_postal(p) for p in given]


def _has_address(p: PostalInfo) -> bool:
    return bool(p.street or p.city or p.cc or p.sp is not None or p.pc is not None)


def _merge(change: PostalInfo, stored: PostalInfo | None) -> PostalInfo:
    """A `<chg>` postalInfo applied to the stored one of its type (RFC 5733 section 3.2.5).

    An omitted name (""), org (None) or address (no address part) keeps the stored value; an
    empty org ("") removes it; a given address replaces the whole stored address. A type the
    contact does not have yet needs a name and an address (2003).
    """
    if stored is None:
        if not change.name:
            raise EppError(
                Result.REQUIRED_PARAMETER_MISSING, f"new postalInfo {change.type} needs a name"
            )
        if not _has_address(change):
            raise EppError(
                Result.REQUIRED_PARAMETER_MISSING, f"new postalInfo {change.type} needs an address"
            )
        return change
    org = stored.org if change.org is None else change.org
    where = change if _has_address(change) else stored
    return PostalInfo(
        change.type,
        change.name or stored.name,
        org,
        where.street,
        where.city,
        where.sp,
        where.pc,
        where.cc,
    )


def _phone(number: str | None, ext: str | None, what: str) -> tuple[str | None, str | None]:
    """(number, extension) checked: E.164 `+CC.NUMBER`; no or empty number means none."""
    if not number:
        if ext:
            raise EppError(
                Result.REQUIRED_PARAMETER_MISSING, f"{what} extension given without a number"
            )
        return None, None
    if not _E164.fullmatch(number):
        raise _syntax(f"{what} {number[:32]!r} is not an E.164 number (+CC.NUMBER)")
    if ext:
        if len(ext) > MAX_EXT or not ext.isascii() or not ext.isprintable() or " " in ext:
            raise _syntax(f"{what} extension must be up to {MAX_EXT} printable characters")
    return number, ext or None


def _email(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise EppError(Result.REQUIRED_PARAMETER_MISSING, "email must not be empty")
    if len(value) > MAX_EMAIL:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"email is longer than {MAX_EMAIL} characters"
        )
    if not _EMAIL.fullmatch(value):
        raise _syntax(f"email {value[:64]!r} is not an address of the form local@domain")
    return value


def _auth_info(value: str) -> str | None:
    """The authInfo as stored (RFC 9154): hashed, or None ("unset") for an empty value."""
    if len(value) > MAX_AUTH_INFO:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"authInfo is longer than {MAX_AUTH_INFO} characters",
        )
    return hash_auth_info(value)


def _disclose_json(d: Disclose | None) -> str | None:
    """The stored form of a disclose preference; 2005 for a field RFC 5733 does not define."""
    if d is None:
        return None
    unknown = sorted(set(d.fields) - DISCLOSE_FIELDS)
    if unknown:
        raise _syntax(f"disclose field {unknown[0][:32]!r} is not one of RFC 5733")
    return orjson.dumps({"flag": 1 if d.flag else 0, "fields": sorted(d.fields)}).decode()


def _disclose_of(stored: str | None) -> Disclose | None:
    if stored is None:
        return None
    data = orjson.loads(stored)
    return Disclose(bool(data["flag"]), frozenset(data["fields"]))


# ---------------------------------------------------------------- queries


def check(ctx: Context, ids: list[str]) -> list[CheckItem]:
    """Availability of each id. Never fails for one bad id: it is reported unavailable."""
    items: list[CheckItem] = []
    valid: set[str] = set()
    for handle in ids:
        problem = _id_problem(handle)
        if problem is not None:
            items.append(CheckItem(handle, False, f"Invalid contact id: {problem}"))
            continue
        valid.add(handle)
        items.append(CheckItem(handle, True))
    if valid:
        taken = {
            r.handle
            for r in ctx.conn.execute(
                select(t.contacts.c.handle).where(
                    t.contacts.c.handle.in_(valid), t.contacts.c.deleted_at.is_(None)
                )
            )
        }
        items = [CheckItem(i.id, False, "In use") if i.id in taken else i for i in items]
    return items


def info(ctx: Context, id: str, auth_info: str | None = None) -> ContactInfo:
    """Contact info. 2303 unknown id; 2202 wrong authInfo from a non-sponsor.

    2201 a non-sponsor without authInfo (ICANN RST epp-08). The sponsor, or a client giving
    the right authInfo, sees everything but the authInfo's value (RFC 9154: it is stored
    hashed; the sponsor sees an empty one while it is set, others nothing).
    `render_info(full=False)` is the public view (only the fields the contact disclosed) for
    RDAP and WHOIS.
    """
    conn = ctx.conn
    row = require_contact(conn, id)
    if row.registrar_id != ctx.actor.id:
        if auth_info is None:
            # ICANN RST epp-08: a non-sponsor's contact <info> without authInfo is rejected.
            raise EppError(
                Result.AUTHORIZATION_ERROR, "contact info is for the sponsor or with authInfo"
            )
        if not check_auth_info(row.auth_info, auth_info):
            raise EppError(Result.INVALID_AUTHORIZATION_INFORMATION, "authInfo does not match")
        view = render_info(conn, row, full=True)
        view.auth_info = None  # RFC 9154 section 5.3: no hint to a non-sponsor
        return view
    return render_info(conn, row, full=True)


def _linked_domain(conn: Connection, contact_id: int) -> str | None:
    """The name of one live domain that uses the contact (registrant or other role), or None."""
    registrant = conn.execute(
        select(t.domains.c.name)
        .where(t.domains.c.registrant_id == contact_id, t.domains.c.deleted_at.is_(None))
        .order_by(t.domains.c.name)
        .limit(1)
    ).scalar_one_or_none()
    if registrant is not None:
        return registrant
    return conn.execute(
        select(t.domains.c.name)
        .join(t.domain_contacts, t.domain_contacts.c.domain_id == t.domains.c.id)
        .where(t.domain_contacts.c.contact_id == contact_id, t.domains.c.deleted_at.is_(None))
        .order_by(t.domains.c.name)
        .limit(1)
    ).scalar_one_or_none()


def _stored_postal(conn: Connection, contact_id: int) -> list[PostalInfo]:
    rows = conn.execute(
        select(t.contact_postal)
        .where(t.contact_postal.c.contact_id == contact_id)
        .order_by(t.contact_postal.c.type)
    )
    return [
        PostalInfo(
            type=r.type,
            name=r.name,
            org=r.org,
            street=tuple(s for s in (r.street1, r.street2, r.street3) if s is not None),
            city=r.city,
            sp=r.sp,
            pc=r.pc,
            cc=r.cc,
        )
        for r in rows
    ]


def render_info(conn: Connection, row: Row, full: bool) -> ContactInfo:
    """The info view of a contact row: everything if `full`, else only what it disclosed."""
    clids = registrar_clids(conn, {row.registrar_id, row.creator_id, row.updater_id})
    stored = statuses_of(conn, row.roid)
    shown = st.object_display(set(stored), _linked_domain(conn, row.id) is not None)
    result = ContactInfo(
        id=row.handle,
        roid=row.roid,
        sponsor=clids[row.registrar_id],
        full=full,
        statuses=[(s, *stored.get(s, (None, None))) for s in shown],
        creator=clids[row.creator_id],
        created_at=row.created_at,
        updater=clids.get(row.updater_id) if row.updater_id else None,
        updated_at=row.updated_at,
        transferred_at=row.transferred_at,
    )
    postal = _stored_postal(conn, row.id)
    disclose = _disclose_of(row.disclose)
    if full:
        result.postal = postal
        result.voice, result.voice_ext = row.voice, row.voice_ext
        result.fax, result.fax_ext = row.fax, row.fax_ext
        result.email = row.email
        result.auth_info = "" if row.auth_info else None  # set or not; never the value
        result.disclose = disclose
        return result
    shared = disclose.fields if disclose is not None and disclose.flag else frozenset()
    for p in postal:
        if {f"name_{p.type}", f"addr_{p.type}"} <= shared:
            org = p.org if f"org_{p.type}" in shared else None
            result.postal.append(
                PostalInfo(p.type, p.name, org, p.street, p.city, p.sp, p.pc, p.cc)
            )
    if "voice" in shared:
        result.voice, result.voice_ext = row.voice, row.voice_ext
    if "fax" in shared:
        result.fax, result.fax_ext = row.fax, row.fax_ext
    if "email" in shared:
        result.email = row.email
    return result


def snapshot(conn: Connection, contact_id: int) -> dict[str, Any]:
    row = conn.execute(select(t.contacts).where(t.contacts.c.id == contact_id)).one()
    view = render_info(conn, row, full=True)
    return {
        "id": view.id,
        "roid": view.roid,
        "sponsor": view.sponsor,
        "statuses": [s for s, _, _ in view.statuses],
        "postal": [asdict(p) for p in view.postal],
        "voice": view.voice,
        "voice_ext": view.voice_ext,
        "fax": view.fax,
        "fax_ext": view.fax_ext,
        "email": view.email,
        "disclose": (
            {"flag": view.disclose.flag, "fields": sorted(view.disclose.fields)}
            if view.disclose
            else None
        ),
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "transferred_at": view.transferred_at,
        "deleted_at": row.deleted_at,
    }


# ---------------------------------------------------------------- transforms


def _postal_row(contact_id: int, p: PostalInfo) -> dict[str, Any]:
    street = [*p.street, None, None, None]
    return {
        "contact_id": contact_id,
        "type": p.type,
        "name": p.name,
        "org": p.org,
        "street1": street[0],
        "street2": street[1],
        "street3": street[2],
        "city": p.city,
        "sp": p.sp,
        "pc": p.pc,
        "cc": p.cc,
    }


def create(ctx: Context, cmd: ContactCreate) -> ContactCreated:
    """Create a contact.

    2005 bad id, a bad postalInfo value (including non-ASCII in type "int", or a country code
    outside ISO 3166), a voice or fax number not in E.164 form, a malformed email, or an
    unknown disclose field; 2003 no postalInfo, no email, or a phone extension without a
    number; 2306 a postalInfo type given twice, or an email or authInfo longer than 255
    characters; 2302 the id is in use. An empty authInfo leaves it unset (RFC 9154).
    """
    conn = ctx.conn
    problem = _id_problem(cmd.id)
    if problem is not None:
        raise _syntax(f"contact id {str(cmd.id)[:32]!r} {problem}")
    if not cmd.postal:
        raise EppError(Result.REQUIRED_PARAMETER_MISSING, "a contact needs a postalInfo")
    postal = _postals(cmd.postal)
    email = _email(cmd.email)
    voice, voice_ext = _phone(cmd.voice, cmd.voice_ext, "voice")
    fax, fax_ext = _phone(cmd.fax, cmd.fax_ext, "fax")
    auth_info = _auth_info(cmd.auth_info)
    disclose = _disclose_json(cmd.disclose)
    if live_contact(conn, cmd.id) is not None:
        raise EppError(Result.OBJECT_EXISTS, f"contact {cmd.id} already exists")

    contact_roid = f"C{secrets.token_hex(6).upper()}-{CONTACT_REPOSITORY}"
    try:
        with conn.begin_nested():
            contact_id = conn.execute(
                insert(t.contacts)
                .values(
                    roid=contact_roid,
                    handle=cmd.id,
                    registrar_id=ctx.actor.id,
                    creator_id=ctx.actor.id,
                    created_at=ctx.now,
                    voice=voice,
                    voice_ext=voice_ext,
                    fax=fax,
                    fax_ext=fax_ext,
                    email=email,
                    auth_info=auth_info,
                    disclose=disclose,
                )
                .returning(t.contacts.c.id)
            ).scalar_one()
    except IntegrityError:
        # Another session created the id between our check and our insert.
        raise EppError(Result.OBJECT_EXISTS, f"contact {cmd.id} already exists") from None
    conn.execute(insert(t.contact_postal), [_postal_row(contact_id, p) for p in postal])
    record(
        ctx,
        object_type="contact",
        roid_=contact_roid,
        name=cmd.id,
        command="contact:create",
        snapshot=snapshot(conn, contact_id),
    )
    return ContactCreated(cmd.id, ctx.now)


def _sponsored(ctx: Context, handle: str, what: str) -> Row:
    row = require_contact(ctx.conn, handle, for_update=True)
    if row.registrar_id != ctx.actor.id:
        raise EppError(Result.AUTHORIZATION_ERROR, f"{what} is for the sponsoring registrar only")
    return row


def update(ctx: Context, cmd: ContactUpdate) -> None:
    """Update a contact's statuses, postalInfo, phone numbers, email, authInfo or disclose.

    A postalInfo is merged into the stored one of its type (omitted parts are kept; an empty
    org removes it); voice or fax "" removes the number; other given fields replace.

    2303 unknown; 2201 not the sponsor; 2304 status prohibits update (removing only
    clientUpdateProhibited is allowed); 2306 a status not settable by clients, a status
    added twice, a status language tag longer than 16 characters, a
    postalInfo type given twice, or an email or authInfo longer than 255 characters; 2003 a
    new postalInfo type without a name or address; 2005 and 2003 a bad value as for create.
    An empty authInfo unsets it (RFC 9154).
    """
    conn = ctx.conn
    row = _sponsored(ctx, cmd.id, "update")
    stored = statuses_of(conn, row.roid)
    changes_data = bool(cmd.postal) or any(
        v is not None
        for v in (
            cmd.voice,
            cmd.voice_ext,
            cmd.fax,
            cmd.fax_ext,
            cmd.email,
            cmd.auth_info,
            cmd.disclose,
        )
    )
    check_status_update(
        stored, cmd.add_statuses, cmd.rem_statuses, st.CONTACT_CLIENT_SETTABLE, changes_data
    )

    values: dict[str, Any] = {"updater_id": ctx.actor.id, "updated_at": ctx.now}
    _check_types(cmd.postal)
    stored_postal = {p.type: p for p in _stored_postal(conn, row.id)}
    postal = [_postal(_merge(p, stored_postal.get(p.type))) for p in cmd.postal]
    for what, number, ext in (
        ("voice", cmd.voice, cmd.voice_ext),
        ("fax", cmd.fax, cmd.fax_ext),
    ):
        if number is not None:
            values[what], values[f"{what}_ext"] = _phone(number, ext, what)
        elif ext is not None:
            raise EppError(
                Result.REQUIRED_PARAMETER_MISSING, f"{what} extension given without a number"
            )
    if cmd.email is not None:
        values["email"] = _email(cmd.email)
    if cmd.auth_info is not None:
        values["auth_info"] = _auth_info(cmd.auth_info)
    if cmd.disclose is not None:
        values["disclose"] = _disclose_json(cmd.disclose)

    conn.execute(sql_update(t.contacts).where(t.contacts.c.id == row.id).values(**values))
    for p in postal:
        conn.execute(
            delete(t.contact_postal).where(
                t.contact_postal.c.contact_id == row.id, t.contact_postal.c.type == p.type
            )
        )
        conn.execute(insert(t.contact_postal).values(**_postal_row(row.id, p)))
    if cmd.rem_statuses:
        conn.execute(
            delete(t.statuses).where(
                t.statuses.c.roid == row.roid, t.statuses.c.status.in_(cmd.rem_statuses)
            )
        )
    if cmd.add_statuses:
        conn.execute(
            insert(t.statuses),
            [
                {"roid": row.roid, "status": s, "lang": lang, "message": msg}
                for s, lang, msg in cmd.add_statuses
            ],
        )
    record(
        ctx,
        object_type="contact",
        roid_=row.roid,
        name=row.handle,
        command="contact:update",
        snapshot=snapshot(conn, row.id),
    )


def delete_(ctx: Context, id: str) -> None:
    """Delete a contact (purged at once; its postal rows stay with the deleted row for history).

    2303 unknown; 2201 not the sponsor; 2304 status prohibits delete (including a pending
    transfer); 2305 a domain still uses it.
    """
    conn = ctx.conn
    row = _sponsored(ctx, id, "delete")
    forbid(statuses_of(conn, row.roid), st.DELETE_PROHIBITED, "delete")
    linked = _linked_domain(conn, row.id)
    if linked is not None:
        raise EppError(
            Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION,
            f"contact {row.handle} is used by domain {linked}",
        )
    conn.execute(
        sql_update(t.contacts)
        .where(t.contacts.c.id == row.id)
        .values(deleted_at=ctx.now, updated_at=ctx.now, updater_id=ctx.actor.id)
    )
    snap = snapshot(conn, row.id)
    conn.execute(delete(t.statuses).where(t.statuses.c.roid == row.roid))
    record(
        ctx,
        object_type="contact",
        roid_=row.roid,
        name=row.handle,
        command="contact:delete",
        snapshot=snap,
    )


def transfer(ctx: Context, cmd: ContactTransfer) -> trn.TransferData:
    """Transfer query, request, approve, reject and cancel.

    query: 2303 unknown; 2201 neither party and no authInfo; 2202 wrong authInfo;
    2301 no transfer ever. request: 2106 already the sponsor; 2202 missing or wrong authInfo;
    2300 already pending; 2304 status prohibits transfer. approve/reject: 2301 not pending;
    2201 not the sponsor. cancel: 2301 not pending; 2201 not the requester.
    """
    conn = ctx.conn
    if cmd.op == "query":
        row = require_contact(conn, cmd.id)
        trn.check_query(
            ctx.actor.id, row, cmd.auth_info, lambda given: check_auth_info(row.auth_info, given)
        )
        return trn.transfer_data(conn, "contact", row.handle, row)
    if cmd.op == "request":
        return _request(ctx, cmd)
    row = require_contact(conn, cmd.id, for_update=True)
    status, notify = trn.client_action(ctx.actor.id, row, cmd.op, f"contact {row.handle}")
    if notify is None:
        return complete_transfer(ctx, row, status)
    return _finish(ctx, row, status, notify=notify)


def _request(ctx: Context, cmd: ContactTransfer) -> trn.TransferData:
    conn = ctx.conn
    row = require_contact(conn, cmd.id, for_update=True)
    if row.registrar_id == ctx.actor.id:
        raise EppError(Result.OBJECT_NOT_ELIGIBLE_FOR_TRANSFER, "the contact is already yours")
    if not check_auth_info(row.auth_info, cmd.auth_info):
        raise EppError(Result.INVALID_AUTHORIZATION_INFORMATION, "authInfo does not match")
    if row.trn_status == trn.PENDING:
        raise EppError(Result.OBJECT_PENDING_TRANSFER, "a transfer is already pending")
    forbid(statuses_of(conn, row.roid), st.TRANSFER_PROHIBITED, "transfer")
    conn.execute(
        sql_update(t.contacts)
        .where(t.contacts.c.id == row.id)
        .values(
            trn_status=trn.PENDING,
            trn_gaining_id=ctx.actor.id,
            trn_losing_id=row.registrar_id,
            trn_requested_at=ctx.now,
            trn_action_at=ctx.now + timedelta(days=trn.DEFAULT_PENDING_DAYS),
        )
    )
    conn.execute(insert(t.statuses).values(roid=row.roid, status=st.PENDING_TRANSFER))
    fresh = conn.execute(select(t.contacts).where(t.contacts.c.id == row.id)).one()
    data = trn.transfer_data(conn, "contact", row.handle, fresh)
    enqueue_poll(ctx, row.registrar_id, "transfer", "Transfer requested.", trn.poll_payload(data))
    record(
        ctx,
        object_type="contact",
        roid_=row.roid,
        name=row.handle,
        command="contact:transfer-request",
        snapshot=snapshot(conn, row.id),
        publish=False,
    )
    return data


def _finish(ctx: Context, row: Row, status: str, notify: int) -> trn.TransferData:
    conn = ctx.conn
    conn.execute(
        sql_update(t.contacts)
        .where(t.contacts.c.id == row.id)
        .values(trn_status=status, trn_action_at=ctx.now)
    )
    conn.execute(
        delete(t.statuses).where(
            t.statuses.c.roid == row.roid, t.statuses.c.status == st.PENDING_TRANSFER
        )
    )
    fresh = conn.execute(select(t.contacts).where(t.contacts.c.id == row.id)).one()
    data = trn.transfer_data(conn, "contact", row.handle, fresh)
    messages = {
        trn.CLIENT_REJECTED: "Transfer rejected.",
        trn.CLIENT_CANCELLED: "Transfer cancelled.",
        trn.SERVER_CANCELLED: "Transfer cancelled by the registry.",
    }
    enqueue_poll(ctx, notify, "transfer", messages[status], trn.poll_payload(data))
    record(
        ctx,
        object_type="contact",
        roid_=row.roid,
        name=row.handle,
        command=f"contact:transfer-{status}",
        snapshot=snapshot(conn, row.id),
        publish=False,
    )
    return data


def complete_transfer(ctx: Context, row: Row, status: str) -> trn.TransferData:
    """Move the contact to the gaining registrar, its authInfo unset (RFC 9154 section 5.4);
    both sides polled."""
    conn = ctx.conn
    gaining = row.trn_gaining_id
    conn.execute(
        sql_update(t.contacts)
        .where(t.contacts.c.id == row.id)
        .values(
            registrar_id=gaining,
            transferred_at=ctx.now,
            auth_info=None,
            trn_status=status,
            trn_action_at=ctx.now,
            updated_at=ctx.now,
            updater_id=ctx.actor.id or None,  # None: the registry (server approval)
        )
    )
    conn.execute(
        delete(t.statuses).where(
            t.statuses.c.roid == row.roid, t.statuses.c.status == st.PENDING_TRANSFER
        )
    )
    fresh = conn.execute(select(t.contacts).where(t.contacts.c.id == row.id)).one()
    data = trn.transfer_data(conn, "contact", row.handle, fresh)
    payload = trn.poll_payload(data)
    # Both sides are told, whoever approved (as for domains).
    enqueue_poll(ctx, gaining, "transfer", "Transfer approved.", payload)
    enqueue_poll(ctx, row.trn_losing_id, "transfer", "Transfer approved.", payload)
    record(
        ctx,
        object_type="contact",
        roid_=row.roid,
        name=row.handle,
        command=f"contact:transfer-{status}",
        snapshot=snapshot(conn, row.id),
    )
    return data
