"""Contact flows (RFC 5733): check, info, create, update, delete, transfer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domreg.flows import transfer as trn
from domreg.flows.base import Context


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
    postal: tuple[PostalInfo, ...] = ()  # replaces the postalInfo of the same type
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


def check(ctx: Context, ids: list[str]) -> list[CheckItem]:
    raise NotImplementedError


def info(ctx: Context, id: str, auth_info: str | None = None) -> ContactInfo:
    raise NotImplementedError


def create(ctx: Context, cmd: ContactCreate) -> ContactCreated:
    raise NotImplementedError


def update(ctx: Context, cmd: ContactUpdate) -> None:
    raise NotImplementedError


def delete_(ctx: Context, id: str) -> None:
    raise NotImplementedError


def transfer(ctx: Context, cmd: ContactTransfer) -> trn.TransferData:
    raise NotImplementedError
