"""Host flows (RFC 5732): check, info, create, update (including rename), delete.

A host under a TLD this registry serves is *subordinate*: its superordinate domain must be
live and sponsored by the same registrar, and it needs at least one address. Any other host
is *external* and must not have addresses. The sponsor of a subordinate host is always the
sponsor of its superordinate domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domreg.flows.base import Context


@dataclass(frozen=True, slots=True)
class CheckItem:
    name: str
    avail: bool
    reason: str | None = None


@dataclass(slots=True)
class HostInfo:
    name: str
    roid: str
    statuses: list[tuple[str, str | None, str | None]]  # (status, lang, message)
    addresses: list[tuple[str, str]]  # (address, "v4"|"v6")
    sponsor: str
    creator: str
    created_at: datetime
    updater: str | None = None
    updated_at: datetime | None = None
    transferred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HostCreate:
    name: str
    addresses: tuple[tuple[str, str], ...] = ()  # (address, "v4"|"v6") as given by the client


@dataclass(frozen=True, slots=True)
class HostCreated:
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HostUpdate:
    name: str
    add_addresses: tuple[tuple[str, str], ...] = ()
    rem_addresses: tuple[tuple[str, str], ...] = ()
    add_statuses: tuple[tuple[str, str | None, str | None], ...] = ()
    rem_statuses: tuple[str, ...] = ()
    new_name: str | None = None


def check(ctx: Context, names: list[str]) -> list[CheckItem]:
    raise NotImplementedError


def info(ctx: Context, name: str) -> HostInfo:
    raise NotImplementedError


def create(ctx: Context, cmd: HostCreate) -> HostCreated:
    raise NotImplementedError


def update(ctx: Context, cmd: HostUpdate) -> None:
    raise NotImplementedError


def delete_(ctx: Context, name: str) -> None:
    raise NotImplementedError


__all__ = ["field"]
