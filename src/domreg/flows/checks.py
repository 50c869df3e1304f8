"""Domain check with the data extensions add to it: the fee check (RFC 8748) and an
allocation token (RFC 8495). Typed command in, typed result out; `domain.check` does the
availability, this module what the extensions change or add.
"""

from __future__ import annotations

from dataclasses import dataclass

from domreg.flows import domain, fees
from domreg.flows.base import Context


@dataclass(frozen=True, slots=True)
class DomainCheck:
    names: tuple[str, ...]
    fee: fees.FeeCheck | None = None
    allocation_token: str | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    items: list[domain.CheckItem]
    fees: fees.FeeCheckResult | None = None


def of(command: object) -> DomainCheck:
    """The check command an extension adds to: the codec's list of names, or one already
    extended by another extension."""
    if isinstance(command, DomainCheck):
        return command
    assert isinstance(command, list)
    return DomainCheck(tuple(command))


def check(ctx: Context, cmd: DomainCheck) -> Checked:
    """Availability of each name (`domain.check`) and, if asked, each one's fees
    (`fees.check`: 2004 for a currency other than the registrar's)."""
    items = domain.check(ctx, list(cmd.names))
    fee = fees.check(ctx, list(cmd.names), cmd.fee) if cmd.fee is not None else None
    return Checked(items, fee)
