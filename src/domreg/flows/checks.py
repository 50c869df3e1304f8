"""Domain check with the data extensions add to it: the fee check (RFC 8748) and an
allocation token (RFC 8495). Typed command in, typed result out; `domain.check` does the
availability, this module what the extensions change or add (a reserved name is available
with an allocation token that allows it).
"""

from __future__ import annotations

from dataclasses import dataclass

from domreg.flows import domain, fees, launch, tokens
from domreg.flows.base import Context
from domreg.flows.lookup import tld_for
from domreg.model.names import parse_name


@dataclass(frozen=True, slots=True)
class DomainCheck:
    names: tuple[str, ...]
    fee: fees.FeeCheck | None = None
    allocation_token: str | None = None
    launch: launch.LaunchCheck | None = None  # RFC 8334 check forms


@dataclass(frozen=True, slots=True)
class Checked:
    items: list[domain.CheckItem]
    fees: fees.FeeCheckResult | None = None
    #: The claims or trademark form's answer (RFC 8334 section 3.1.1, 3.1.3), which replaces
    #: the availability (`items` is then empty and not rendered).
    claims: launch.ClaimsChecked | None = None


def of(command: object) -> DomainCheck:
    """The check command an extension adds to: the codec's list of names, or one already
    extended by another extension."""
    if isinstance(command, DomainCheck):
        return command
    assert isinstance(command, list)
    return DomainCheck(tuple(command))


#: The reason a reserved name is unavailable with a token that does not apply to it (RFC 8495
#: section 3.1.1's wording; `<domain:reason>` is at most 32 characters).
TOKEN_MISMATCH = "Allocation Token mismatch"


def _with_token(ctx: Context, items: list[domain.CheckItem], given: str) -> list[domain.CheckItem]:
    """RFC 8495 section 3.1.1: a reserved name (one that needs a token) is available if the
    token applies to it (valid for this registrar, TLD and name, and allowing reserved
    names), otherwise unavailable with "Allocation Token mismatch". Other names are as
    `domain.check` found them."""
    token = tokens.find(ctx.conn, given)
    out: list[domain.CheckItem] = []
    for item in items:
        if item.avail or item.reason != "Reserved":
            out.append(item)
            continue
        dn = parse_name(item.name)  # `domain.check` parsed it (it is reserved)
        tld = tld_for(ctx.conn, dn)
        assert tld is not None
        why = tokens.problem(token, ctx.now, ctx.actor.id, tld.id, dn.name, given)
        if why is None and token is not None and token.allows_reserved:
            out.append(domain.CheckItem(item.name, True))
        else:
            out.append(domain.CheckItem(item.name, False, TOKEN_MISMATCH))
    return out


def check(ctx: Context, cmd: DomainCheck) -> Checked:
    """Availability of each name (`domain.check`, with an allocation token: `_with_token`)
    and, if asked, each one's fees (`fees.check`: 2004 for a currency other than the
    registrar's); with a launch check form, `launch.check` (the claims and trademark forms
    answer claims instead of availability)."""
    if cmd.launch is not None:
        claims = launch.check(ctx, list(cmd.names), cmd.launch)
        if claims is not None:
            fee = fees.check(ctx, list(cmd.names), cmd.fee) if cmd.fee is not None else None
            return Checked([], fee, claims)
    items = domain.check(ctx, list(cmd.names))
    if cmd.allocation_token is not None:
        items = _with_token(ctx, items, cmd.allocation_token)
    fee = fees.check(ctx, list(cmd.names), cmd.fee) if cmd.fee is not None else None
    return Checked(items, fee)
