"""launch-1.0 (RFC 8334) with mark-1.0 and signedMark-1.0 (RFC 7848): launch phases on
domain check, create and info.

Extends `<domain:check>` (`<launch:check>`: a `flows.checks.DomainCheck` with a
`flows.launch.LaunchCheck`; the claims and trademark forms are answered with
`<launch:chkData>` instead of the availability, section 3.1), `<domain:create>`
(`<launch:create>`: the phase, signed marks as sent, `<launch:codeMark>` counted and refused
by the flow, claims notices: a `flows.launch.LaunchCreate` on `DomainCreate.launch`) and
`<domain:info>` (`<launch:info>`: `launch_info` for `domain.info`, answered with
`<launch:infData>`: the phase, status "allocated" and, with includeMark, the mark).

This registry makes launch registrations, so `<launch:update>` and `<launch:delete>` (which
address launch applications) are 2102, as section 3.4 and 3.5 require, and a create answers
without `<launch:creData>` (section 3.3.5: no application id). The rules are
`flows/launch.py`'s; signed marks are verified by `tmch.py`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from domreg.epp.extensions.base import Command, Extend, Part, Render, boolean, expect, token
from domreg.epp.render import esc
from domreg.flows import checks, domain
from domreg.flows import launch as flow
from domreg.model.errors import EppError
from domreg.model.results import Result

URI = "urn:ietf:params:xml:ns:launch-1.0"
MARK = "urn:ietf:params:xml:ns:mark-1.0"
SMD = "urn:ietf:params:xml:ns:signedMark-1.0"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
#: In dependency order: the mark and XML signature schemas before signedMark, then launch.
SCHEMAS = {
    MARK: "mark-1.0.xsd",
    DSIG: "xmldsig-core-schema.xsd",
    SMD: "signedMark-1.0.xsd",
    URI: "launch-1.0.xsd",
}
L = "{" + URI + "}"
_NS = f'xmlns:launch="{URI}"'


# ---------------------------------------------------------------- commands


def _phase(el: etree._Element | None) -> flow.Phase | None:
    if el is None:
        return None
    return flow.Phase(token(el.text) or "", token(el.get("name")))


def _time(el: etree._Element, tag: str) -> datetime:
    """A schema-validated xs:dateTime child, as naive UTC (no zone: UTC)."""
    text = (el.findtext(tag) or "").strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR, f"<launch:{tag[len(L) :]}> {text!r} is not a time"
        ) from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _check(el: etree._Element, cmd: Any) -> checks.DomainCheck:
    expect(el, "check", "launch", ("domain", "check"))
    form = token(el.get("type")) or "claims"
    return replace(checks.of(cmd), launch=flow.LaunchCheck(form, _phase(el.find(L + "phase"))))


def _notice(el: etree._Element) -> flow.Notice:
    notice_id = el.find(L + "noticeID")
    assert notice_id is not None  # schema-required
    return flow.Notice(
        notice_id=token(notice_id.text) or "",
        validator=token(notice_id.get("validatorID")) or flow.TMCH,
        not_after=_time(el, L + "notAfter"),
        accepted_at=_time(el, L + "acceptedDate"),
    )


def _create(el: etree._Element, cmd: domain.DomainCreate) -> domain.DomainCreate:
    expect(el, "create", "launch", ("domain", "create"))
    phase = _phase(el.find(L + "phase"))
    assert phase is not None  # schema-required
    marks = []
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if etree.QName(child).namespace == SMD:
            if etree.QName(child).localname == "encodedSignedMark":
                marks.append(flow.SignedMarkInput(encoded=child.text or ""))
            else:  # <smd:signedMark>, verified as it was signed (the flow checks the signature)
                marks.append(flow.SignedMarkInput(xml=etree.tostring(child)))
    launch_create = flow.LaunchCreate(
        phase=phase,
        type=token(el.get("type")),
        marks=tuple(marks),
        code_marks=len(el.findall(L + "codeMark")),
        notices=tuple(_notice(n) for n in el.findall(L + "notice")),
    )
    return replace(cmd, launch=launch_create)


def _info(el: etree._Element, cmd: dict[str, Any]) -> dict[str, Any]:
    expect(el, "info", "launch", ("domain", "info"))
    phase = _phase(el.find(L + "phase"))
    assert phase is not None  # schema-required
    query = flow.LaunchInfo(
        phase, token(el.findtext(L + "applicationID")), boolean(el.get("includeMark"))
    )
    return {**cmd, "launch_info": query}


def _applications(verb: str) -> Extend:
    def extend(el: etree._Element, cmd: Any) -> Any:
        expect(el, verb, "launch", ("domain", verb))
        raise EppError(
            Result.UNIMPLEMENTED_OPTION,
            f"<launch:{verb}> addresses launch applications; this registry makes launch "
            f"registrations only (RFC 8334 section {'3.4' if verb == 'update' else '3.5'})",
        )

    return extend


COMMANDS: dict[Command, Extend] = {
    ("domain", "check"): _check,
    ("domain", "create"): _create,
    ("domain", "info"): _info,
    ("domain", "update"): _applications("update"),
    ("domain", "delete"): _applications("delete"),
}


# ---------------------------------------------------------------- responses


def _phase_xml(phase: flow.Phase) -> str:
    name = f' name="{esc(phase.sub_phase)}"' if phase.sub_phase else ""
    return f"<launch:phase{name}>{esc(phase.name)}</launch:phase>"


def _cd(item: flow.ClaimItem) -> str:
    keys = "".join(
        f'<launch:claimKey validatorID="{flow.TMCH}">{esc(k)}</launch:claimKey>'
        for k in item.claim_keys
    )
    return (
        f'<launch:cd><launch:name exists="{int(item.exists)}">{esc(item.name)}</launch:name>'
        f"{keys}</launch:cd>"
    )


def _checked(result: Any) -> Part | None:
    if not isinstance(result, checks.Checked) or result.claims is None:
        return None
    claims = result.claims
    phase = _phase_xml(claims.phase) if claims.phase else ""
    body = "".join(_cd(i) for i in claims.items)
    return Part(URI, f"<launch:chkData {_NS}>{phase}{body}</launch:chkData>")


def _info_data(result: Any) -> Part | None:
    if not isinstance(result, domain.DomainInfo) or result.launch is None:
        return None
    data = result.launch
    marks = "".join(data.marks)
    return Part(
        URI,
        f'<launch:infData {_NS}>{_phase_xml(data.phase)}<launch:status s="allocated"/>'
        f"{marks}</launch:infData>",
    )


RESPONSES: dict[Command, Render] = {
    ("domain", "check"): _checked,
    ("domain", "info"): _info_data,
}
