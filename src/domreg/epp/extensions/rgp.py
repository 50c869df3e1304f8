"""rgp-1.0 (RFC 3915): the domain's registry grace period statuses in info, and restore
(request and report) through `<domain:update>`.

Extends `<domain:update>` (`<rgp:update><rgp:restore op="request|report">`: the command
becomes a `flows.rgp.DomainRestore`, run by `flows.rgp.restore` instead of the update); adds
`<rgp:infData>` to a full domain info with RGP statuses (DomainInfo.rgp, from
`lifecycle.rgp_statuses`; only for clients that announced rgp at login, dropped for the
others rather than moved into `<extValue>`: they did not ask for it) and `<rgp:upData>` to the answer of a restore request
(`flows.rgp.Restored`; a report's answer has none, RFC 3915 section 4.2.5).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from domreg.epp.extensions.base import Command, Extend, Part, Render, expect
from domreg.epp.render import esc
from domreg.flows import domain, lifecycle
from domreg.flows import rgp as rgp_flow
from domreg.model.errors import EppError
from domreg.model.results import Result

URI = "urn:ietf:params:xml:ns:rgp-1.0"
SCHEMAS = {URI: "rgp-1.0.xsd"}
R = "{" + URI + "}"
_NS = f'xmlns:rgp="{URI}"'


# ---------------------------------------------------------------- commands


def _mixed(el: etree._Element | None) -> str:
    """The content of a mixed element (text and XML markup) as text, markup kept."""
    if el is None:
        return ""
    inner = (el.text or "") + "".join(
        etree.tostring(child, encoding="unicode", with_tail=True) for child in el
    )
    return inner.strip()


def _time(el: etree._Element | None, what: str) -> datetime:
    """A schema-valid xs:dateTime as naive UTC (the registry's time); 2005 if unreadable."""
    text = (el.text or "").strip() if el is not None else ""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR, f"<rgp:{what}> is not a date and time: {text}"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _report(el: etree._Element) -> lifecycle.RestoreReport:
    other = el.find(R + "other")
    return lifecycle.RestoreReport(
        pre_data=_mixed(el.find(R + "preData")),
        post_data=_mixed(el.find(R + "postData")),
        del_time=_time(el.find(R + "delTime"), "delTime"),
        res_time=_time(el.find(R + "resTime"), "resTime"),
        res_reason=_mixed(el.find(R + "resReason")),
        statements=tuple(_mixed(s) for s in el.findall(R + "statement")),
        other=_mixed(other) if other is not None else None,
    )


def changes(cmd: domain.DomainUpdate) -> bool:
    """True if the update changes the domain (a restore must not, RFC 3915 section 4.2.5)."""
    return bool(
        cmd.add_ns
        or cmd.rem_ns
        or cmd.add_contacts
        or cmd.rem_contacts
        or cmd.add_statuses
        or cmd.rem_statuses
        or cmd.registrant is not None
        or cmd.auth_info is not None
        or cmd.dnssec is not None
    )


def _update(el: etree._Element, cmd: Any) -> rgp_flow.DomainRestore:
    expect(el, "update", "rgp", ("domain", "update"))
    restore = el.find(R + "restore")
    assert restore is not None  # the schema requires it
    op = (restore.get("op") or "").strip()
    report = restore.find(R + "report")
    if op == rgp_flow.REQUEST and report is not None:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            '<rgp:restore op="request"> must not carry <rgp:report> (RFC 3915 section 4.2.5)',
        )
    if op == rgp_flow.REPORT and report is None:
        raise EppError(
            Result.REQUIRED_PARAMETER_MISSING,
            '<rgp:restore op="report"> needs <rgp:report> (RFC 3915 section 4.2.5)',
        )
    parsed = _report(report) if report is not None else None
    if isinstance(cmd, rgp_flow.DomainRestore):  # another extension (fee) came first
        return replace(cmd, op=op, report=parsed)
    return rgp_flow.DomainRestore(
        name=cmd.name, op=op, report=parsed, changes=changes(cmd), dnssec=cmd.dnssec
    )


COMMANDS: dict[Command, Extend] = {("domain", "update"): _update}


# ---------------------------------------------------------------- responses


def status_xml(statuses: Any) -> str:
    return "".join(f'<rgp:rgpStatus s="{esc(s)}"/>' for s in statuses)


def _info(info: Any) -> Part | None:
    """`<rgp:infData>` for a full domain info of a domain with RGP statuses."""
    if not isinstance(info, domain.DomainInfo) or not info.full or not info.rgp:
        return None
    # Only for clients that logged in with rgp (RFC 3915 adds it to info unasked).
    return Part(URI, f"<rgp:infData {_NS}>{status_xml(info.rgp)}</rgp:infData>", True)


def _updated(result: Any) -> Part | None:
    """`<rgp:upData>` after a restore request (pendingRestore)."""
    if not isinstance(result, rgp_flow.Restored) or not result.rgp_statuses:
        return None
    return Part(URI, f"<rgp:upData {_NS}>{status_xml(result.rgp_statuses)}</rgp:upData>")


RESPONSES: dict[Command, Render] = {("domain", "info"): _info, ("domain", "update"): _updated}
