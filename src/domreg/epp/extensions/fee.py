"""fee-1.0 (RFC 8748): fees in domain check, the fee a client agrees to on create, renew,
transfer request and restore, and the fee charged in their answers.

Extends `<domain:check>` (`<fee:check>`: a `flows.checks.DomainCheck` with a `fees.FeeCheck`),
`<domain:create>`, `<domain:renew>`, `<domain:transfer>` (`<fee:create>` ...: a
`fees.FeeStatement` on the command) and `<domain:update>` (`<fee:update>`, only with an RGP
restore: on the `flows.rgp.DomainRestore`). Answers: `<fee:chkData>` (each name's class,
"standard" or its premium class, and each command's fee), `<fee:creData>`, `<fee:renData>`,
`<fee:trnData>` (the fee charged when the transfer completes) and `<fee:updData>` (the
restore fee), each with the currency and the registrar's balance and credit limit.

The fee agreement check and its policy (2004) are the flows' (`flows/fees.py`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lxml import etree

from domreg.epp.extensions.base import Command, Extend, Part, Render, expect
from domreg.epp.render import esc
from domreg.flows import checks, domain, fees
from domreg.flows import rgp as rgp_flow
from domreg.flows.transfer import TransferData
from domreg.model.errors import EppError
from domreg.model.results import Result

URI = "urn:ietf:params:xml:ns:epp:fee-1.0"
SCHEMAS = {URI: "fee-1.0.xsd"}
F = "{" + URI + "}"
DOMAIN_NS = "{urn:ietf:params:xml:ns:domain-1.0}"
_NS = f'xmlns:fee="{URI}"'


# ---------------------------------------------------------------- commands


def _statement(el: etree._Element) -> fees.FeeStatement:
    """The fee a transform's `<fee:create>` (etc.) states: its fees minus its credits."""
    total = sum(fees.minor_units(f.text or "0") for f in el.findall(F + "fee"))
    total += sum(fees.minor_units(c.text or "0") for c in el.findall(F + "credit"))
    currency = el.findtext(F + "currency")
    return fees.FeeStatement(total, currency.strip() if currency else None)


def _query(el: etree._Element) -> fees.FeeQuery:
    name = el.get("name", "")
    period_el = el.find(F + "period")
    if period_el is None:
        return fees.FeeQuery(name)
    period = int((period_el.text or "0").strip())
    unit = period_el.get("unit", "y")
    whole = period if unit == "y" else (period // 12 if period % 12 == 0 else None)
    years = whole
    return fees.FeeQuery(name, years, unit, period)


def _check(el: etree._Element, cmd: Any) -> checks.DomainCheck:
    expect(el, "check", "fee", ("domain", "check"))
    currency = el.findtext(F + "currency")
    request = fees.FeeCheck(
        currency.strip() if currency else None,
        tuple(_query(c) for c in el.findall(F + "command")),
    )
    return replace(checks.of(cmd), fee=request)


def _transform(verb: str) -> Extend:
    def extend(el: etree._Element, cmd: Any) -> Any:
        expect(el, verb, "fee", ("domain", verb))
        return replace(cmd, fee=_statement(el))

    return extend


def _transfer(el: etree._Element, cmd: domain.DomainTransfer) -> domain.DomainTransfer:
    expect(el, "transfer", "fee", ("domain", "transfer"))
    if cmd.op != "request":
        raise EppError(
            Result.COMMAND_USE_ERROR,
            '<fee:transfer> is only used with <transfer op="request"> (RFC 8748 section 5.2.4)',
        )
    return replace(cmd, fee=_statement(el))


def _update(el: etree._Element, cmd: Any) -> rgp_flow.DomainRestore:
    """`<fee:update>`: the fee of an RGP restore (the update becomes a restore, which
    `<rgp:update>` completes; without it, `rgp.restore` refuses it)."""
    from domreg.epp.extensions.rgp import changes

    expect(el, "update", "fee", ("domain", "update"))
    if isinstance(cmd, rgp_flow.DomainRestore):
        return replace(cmd, fee=_statement(el))
    return rgp_flow.DomainRestore(
        name=cmd.name, op="", changes=changes(cmd), fee=_statement(el), dnssec=cmd.dnssec
    )


COMMANDS: dict[Command, Extend] = {
    ("domain", "check"): _check,
    ("domain", "create"): _transform("create"),
    ("domain", "renew"): _transform("renew"),
    ("domain", "transfer"): _transfer,
    ("domain", "update"): _update,
}


# ---------------------------------------------------------------- responses


def _command_xml(c: fees.FeeCommand) -> str:
    standard = ' standard="1"' if c.standard else ""
    period = f'<fee:period unit="{esc(c.unit)}">{c.period}</fee:period>' if c.period else ""
    fee = f"<fee:fee>{fees.decimal(c.amount)}</fee:fee>" if c.amount is not None else ""
    reason = f"<fee:reason>{esc(c.reason)}</fee:reason>" if c.reason else ""
    return f'<fee:command name="{esc(c.command)}"{standard}>{period}{fee}{reason}</fee:command>'


def _item_xml(item: fees.FeeItem) -> str:
    klass = f"<fee:class>{esc(item.price_class)}</fee:class>" if item.price_class else ""
    commands = "".join(_command_xml(c) for c in item.commands)
    reason = f"<fee:reason>{esc(item.reason)}</fee:reason>" if item.reason else ""
    return (
        f'<fee:cd avail="{int(item.avail)}"><fee:objID>{esc(item.name)}</fee:objID>'
        f"{klass}{commands}{reason}</fee:cd>"
    )


def _checked(result: Any) -> Part | None:
    if not isinstance(result, checks.Checked) or result.fees is None:
        return None
    body = "".join(_item_xml(i) for i in result.fees.items)
    return Part(
        URI,
        f"<fee:chkData {_NS}><fee:currency>{esc(result.fees.currency)}</fee:currency>"
        f"{body}</fee:chkData>",
    )


def charged_xml(tag: str, c: fees.Charged) -> str:
    period = f'<fee:period unit="y">{c.years}</fee:period>' if c.years else ""
    return (
        f"<fee:{tag} {_NS}><fee:currency>{esc(c.currency)}</fee:currency>{period}"
        f"<fee:fee>{fees.decimal(c.amount)}</fee:fee>"
        f"<fee:balance>{fees.decimal(c.balance)}</fee:balance>"
        f"<fee:creditLimit>{fees.decimal(c.credit_limit)}</fee:creditLimit></fee:{tag}>"
    )


def _charged(tag: str, kind: type, attr: str) -> Render:
    def render(result: Any) -> Part | None:
        if not isinstance(result, kind):
            return None
        charged = getattr(result, attr)
        if charged is None:
            return None
        return Part(URI, charged_xml(tag, charged))

    return render


RESPONSES: dict[Command, Render] = {
    ("domain", "check"): _checked,
    ("domain", "create"): _charged("creData", domain.DomainCreated, "charged"),
    ("domain", "renew"): _charged("renData", domain.DomainRenewed, "charged"),
    ("domain", "transfer"): _charged("trnData", TransferData, "fee"),
    ("domain", "update"): _charged("updData", rgp_flow.Restored, "charged"),
}
