"""Launch phases (RFC 8334) with signed marks and claims notices (RFC 7848), XML-free.

A TLD's phases are `tld_phases` rows (sunrise, landrush, claims, open, or custom with a
name), each from `starts_at` until `ends_at` (open-ended when NULL); they never overlap, so
at most one is active. A TLD without any phase row is simply open; a TLD with phase rows of
which none is active is not open for registration.

This registry makes launch *registrations* (RFC 8334 section 1: first come, first served):
a create in a launch phase returns the domain at once (1000) and records the phase, the signed
mark or the claims notice in `domain_launch`. Launch applications are not supported:
`type="application"` is 2306, and `<launch:update>` / `<launch:delete>` are 2102 (section
3.4, 3.5: the MUST for servers without applications).

Creates (`admit`, in the create's transaction):
- a `<launch:phase>` that is not the TLD's active phase (or sub-phase): 2306 (section 2.3);
- no phase active on a TLD that has phases: 2306;
- sunrise: at least one signed mark is required (2306 without); every one must verify
  (`tmch.verify`: 2005 unreadable, 2202 signature, chain, CRL or validity), must not be on the
  SMD revocation list (2202) and one of them must cover the name's label (2202 otherwise);
  a create without the extension is 2306; claims notices are 2306;
- claims: a name with a trademark claim (`trademark_claims`) needs a claims notice (2306
  without, also without the extension at all); the notice must be the TMCH's
  (validatorID "tmch", 2306 otherwise), its id well formed (27 characters: an 8 hex digit
  checksum and 19 digits; 2005) with the checksum of label + notAfter (epoch seconds) + id
  digits (CRC-32, the TMCH functional specification; 2306), not expired (notAfter, 2306) and
  accepted in the last 48 hours and not in the future (2306); a notice for a name without a
  claim is 2306;
- `<launch:codeMark>` (code and mark validation models) is 2102: signed marks only;
- signed marks outside sunrise are 2306.

Checks (`check`): the claims form answers, per name, whether a claims notice is needed in the
given (active) phase and the claim keys; the trademark form answers whether claims exist in
any phase; the availability form validates the phase and then checks as usual.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, exists, insert, or_, select

from domreg import tmch
from domreg.flows.base import Context
from domreg.flows.lookup import Tld, tld_for
from domreg.flows.registry import RegistryError
from domreg.model.errors import EppError
from domreg.model.names import NameError_, parse_name
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query

PHASES = ("sunrise", "landrush", "claims", "open", "custom")
CHECK_FORMS = ("claims", "avail", "trademark")
#: The only trademark validator this registry knows (RFC 8334 section 2.2).
TMCH = "tmch"
#: A claims notice must have been accepted this recently (ICANN TMCH functional specification).
ACCEPTANCE_WINDOW = timedelta(hours=48)
_NOTICE_ID = re.compile(r"[0-9A-Fa-f]{8}[0-9]{19}")


# ---------------------------------------------------------------- typed data


@dataclass(frozen=True, slots=True)
class Phase:
    """A launch phase as `<launch:phase name="...">` states it."""

    name: str
    sub_phase: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.sub_phase})" if self.sub_phase else self.name

    def matches(self, given: Phase) -> bool:
        """RFC 8334 section 2.3: the phase must be the active one; a sub-phase, when the
        client states one, must be the active one's (for "custom", the name is the phase and
        must always be stated)."""
        if self.name != given.name:
            return False
        if given.sub_phase is None:
            return self.name != "custom"
        return given.sub_phase == self.sub_phase


@dataclass(frozen=True, slots=True)
class Notice:
    """A claims notice the registrant accepted (`<launch:notice>`)."""

    notice_id: str
    validator: str
    not_after: datetime
    accepted_at: datetime


@dataclass(frozen=True, slots=True)
class SignedMarkInput:
    """A signed mark as sent: the `<smd:signedMark>` document, or the base64 text of an
    `<smd:encodedSignedMark>`."""

    xml: bytes | None = None
    encoded: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchCreate:
    phase: Phase
    type: str | None = None  # "application", "registration" or None
    marks: tuple[SignedMarkInput, ...] = ()
    code_marks: int = 0  # <launch:codeMark> elements (not supported)
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class Admitted:
    """What a create in a launch phase is recorded with."""

    phase: Phase
    mark: tmch.SignedMark | None = None
    notice: Notice | None = None


@dataclass(frozen=True, slots=True)
class LaunchCheck:
    form: str  # claims, avail, trademark
    phase: Phase | None = None


@dataclass(frozen=True, slots=True)
class ClaimItem:
    name: str
    exists: bool
    claim_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimsChecked:
    """The answer of a claims or trademark check (`<launch:chkData>`)."""

    phase: Phase | None
    items: tuple[ClaimItem, ...]


@dataclass(frozen=True, slots=True)
class LaunchInfo:
    phase: Phase
    application_id: str | None = None
    include_mark: bool = False


@dataclass(frozen=True, slots=True)
class LaunchData:
    """`<launch:infData>` of a launch registration."""

    phase: Phase
    marks: tuple[str, ...] = ()  # <mark:mark> XML, when asked for (includeMark)


@dataclass(frozen=True, slots=True)
class PhaseView:
    tld: str
    name: str
    sub_phase: str | None
    starts_at: datetime
    ends_at: datetime | None


# ---------------------------------------------------------------- phases


@dataclass(frozen=True, slots=True)
class Active:
    phase: Phase
    explicit: bool  # a phase row (False: a TLD without phases, open)


def phase_columns(tld_id: Any, now: Any) -> tuple[Any, Any, Any]:
    """The columns that tell a TLD's phase at `now`, for a statement on its row
    (`domain_create.create` reads them with the rest of its facts) or alone (`active_phase`):
    `phased`, whether the TLD has phase rows, and the active phase's `phase` and `sub_phase`
    (NULL: none is active).
    Phases never overlap; were two active, the one that started first would count."""
    p = t.tld_phases
    active = (
        select(p.c.name)
        .where(
            p.c.tld_id == tld_id,
            p.c.starts_at <= now,
            or_(p.c.ends_at.is_(None), p.c.ends_at > now),
        )
        .order_by(p.c.starts_at)
        .limit(1)
    )
    return (
        exists().where(p.c.tld_id == tld_id).label("phased"),
        active.scalar_subquery().label("phase"),
        active.with_only_columns(p.c.sub_phase).scalar_subquery().label("sub_phase"),
    )


def active_of(row: Any) -> Active | None:
    """The phase a row with `phase_columns` tells: open without phase rows, else the active
    one, None if none is."""
    if not row.phased:
        return Active(Phase("open"), False)
    if row.phase is None:
        return None
    return Active(Phase(row.phase, row.sub_phase), True)


_ACTIVE = Query(
    select(
        *phase_columns(bindparam("tld_id"), bindparam("now", type_=t.tld_phases.c.starts_at.type))
    )
)


def active_phase(conn: Connection, tld_id: int, now: datetime) -> Active | None:
    """The TLD's phase at `now`; None if it has phases but none is active. One statement:
    a TLD has a handful of phase rows at most."""
    return active_of(_ACTIVE.first(conn, tld_id=tld_id, now=now))


def _closed(tld: Tld) -> EppError:
    return EppError(
        Result.PARAMETER_VALUE_POLICY_ERROR,
        f"no launch phase of .{tld.name} is active: it is not open for registration",
    )


def _require(tld: Tld, active: Active | None, given: Phase) -> Active:
    if active is None:
        raise _closed(tld)
    if not active.phase.matches(given):
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"the launch phase of .{tld.name} is {active.phase}, not {given}",
        )
    return active


def claim_keys(conn: Connection, tld_id: int, label: str) -> tuple[str, ...]:
    rows = conn.execute(
        select(t.trademark_claims.c.claim_key).where(
            t.trademark_claims.c.tld_id == tld_id, t.trademark_claims.c.label == label
        )
    ).all()
    return tuple(r.claim_key for r in rows)


# ---------------------------------------------------------------- create


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def notice_checksum(label: str, not_after: datetime, digits: str) -> str:
    """The TMCH claims notice id checksum: CRC-32 of label + notAfter (epoch seconds) + the
    id's 19 digits, as 8 hex digits."""
    seconds = int(_aware(not_after).timestamp())
    return f"{zlib.crc32(f'{label}{seconds}{digits}'.encode()):08x}"


def check_notice(notice: Notice, label: str, now: datetime) -> None:
    """A claims notice for `label`, accepted at or before `now`; the codes of `admit`."""
    policy = Result.PARAMETER_VALUE_POLICY_ERROR
    if notice.validator != TMCH:
        raise EppError(
            policy,
            f"claims notices of validator {notice.validator!r} are not accepted here: "
            f'only the ICANN TMCH ("{TMCH}")',
        )
    if not _NOTICE_ID.fullmatch(notice.notice_id):
        raise EppError(
            Result.PARAMETER_VALUE_SYNTAX_ERROR,
            f"claims notice id {notice.notice_id!r} is not 8 hex digits and 19 digits",
        )
    expected = notice_checksum(label, notice.not_after, notice.notice_id[8:])
    if notice.notice_id[:8].lower() != expected:
        raise EppError(
            policy,
            f"claims notice {notice.notice_id} is not the notice for {label} with notAfter "
            f"{notice.not_after.isoformat()}Z: its checksum does not match",
        )
    if now >= notice.not_after:
        raise EppError(
            policy, f"claims notice {notice.notice_id} expired at {notice.not_after.isoformat()}Z"
        )
    if notice.accepted_at > now:
        raise EppError(policy, f"claims notice {notice.notice_id} is accepted in the future")
    if notice.accepted_at < now - ACCEPTANCE_WINDOW:
        raise EppError(
            policy,
            f"claims notice {notice.notice_id} was accepted more than 48 hours ago "
            f"({notice.accepted_at.isoformat()}Z)",
        )


def revoked(conn: Connection, smd_id: str) -> bool:
    r = t.smd_revocations
    return conn.execute(select(r.c.smd_id).where(r.c.smd_id == smd_id)).first() is not None


def _verify_marks(ctx: Context, label: str, marks: tuple[SignedMarkInput, ...]) -> tmch.SignedMark:
    trust = tmch.Trust(ctx.policy.tmch_ca, ctx.policy.tmch_crl)
    verified = []
    for given in marks:
        data = given.xml if given.xml is not None else tmch.decode(given.encoded or "")
        mark = tmch.verify(data, ctx.now, trust)
        if revoked(ctx.conn, mark.id):
            raise EppError(
                Result.INVALID_AUTHORIZATION_INFORMATION, f"signed mark {mark.id} is revoked"
            )
        verified.append(mark)
    covering = [m for m in verified if label in m.labels]
    if not covering:
        labels = ", ".join(sorted({x for m in verified for x in m.labels}))
        raise EppError(
            Result.INVALID_AUTHORIZATION_INFORMATION,
            f"no signed mark covers the label {label!r} (they cover: {labels})",
        )
    return covering[0]


def admit(
    ctx: Context, tld: Tld, label: str, launch: LaunchCreate | None, active: Active | None
) -> Admitted | None:
    """May `label` under `tld` be created now, with this launch data? What to record (None:
    nothing, the TLD has no phases). `active`: the TLD's phase now (`active_phase`; the create
    reads it with its other facts). Raises with the codes in the module docstring."""
    conn, policy = ctx.conn, Result.PARAMETER_VALUE_POLICY_ERROR
    name = f"{label}.{tld.name}"
    if launch is None:
        if active is None:
            raise _closed(tld)
        if not active.explicit:
            return None
        if active.phase.name == "sunrise":
            raise EppError(
                policy,
                f".{tld.name} is in its sunrise phase: a create needs <launch:create> with a "
                "signed mark (RFC 8334 section 3.3.1)",
            )
        if active.phase.name == "claims" and claim_keys(conn, tld.id, label):
            raise EppError(
                policy,
                f"{name} has a trademark claim: a create in the claims phase needs "
                "<launch:create> with the claims notice (RFC 8334 section 3.3.2)",
            )
        return Admitted(active.phase)
    active = _require(tld, active, launch.phase)
    if launch.type == "application":
        raise EppError(
            policy,
            'this registry makes launch registrations, not applications (type="application")',
        )
    if launch.code_marks:
        raise EppError(
            Result.UNIMPLEMENTED_OPTION,
            "<launch:codeMark> is not supported: this registry accepts signed marks only "
            "(<smd:signedMark> or <smd:encodedSignedMark>)",
        )
    phase = active.phase
    if phase.name == "sunrise":
        if launch.notices:
            raise EppError(policy, "a claims notice is not used in the sunrise phase")
        if not launch.marks:
            raise EppError(
                policy,
                "a sunrise create needs a signed mark (<smd:signedMark> or "
                "<smd:encodedSignedMark>)",
            )
        return Admitted(phase, mark=_verify_marks(ctx, label, launch.marks))
    if launch.marks:
        raise EppError(policy, f"signed marks are used in the sunrise phase, not in {phase}")
    keys = claim_keys(conn, tld.id, label) if phase.name == "claims" else ()
    if keys:
        if not launch.notices:
            raise EppError(
                policy,
                f"{name} has a trademark claim: the create needs the claims notice the "
                "registrant accepted (<launch:notice>)",
            )
        for notice in launch.notices:
            check_notice(notice, label, ctx.now)
        return Admitted(phase, notice=launch.notices[0])
    if launch.notices:
        raise EppError(
            policy, f"{name} has no trademark claim in the {phase} phase: no notice is expected"
        )
    return Admitted(phase)


def record(conn: Connection, domain_id: int, admitted: Admitted) -> None:
    """The launch data of a created domain (in the create's transaction)."""
    mark, notice = admitted.mark, admitted.notice
    conn.execute(
        insert(t.domain_launch).values(
            domain_id=domain_id,
            phase=admitted.phase.name,
            sub_phase=admitted.phase.sub_phase,
            smd_id=mark.id if mark else None,
            mark_xml=mark.mark_xml if mark else None,
            notice_id=notice.notice_id if notice else None,
            notice_not_after=notice.not_after if notice else None,
            notice_accepted_at=notice.accepted_at if notice else None,
        )
    )


# ---------------------------------------------------------------- check and info


def check(ctx: Context, names: list[str], cmd: LaunchCheck) -> ClaimsChecked | None:
    """The claims or trademark check of `names` (None for the availability form, after its
    phase is validated: the caller checks availability as usual). 2306 for a phase that is not
    active for a name's TLD; 2003 for the claims and availability forms without a phase."""
    if cmd.form != "trademark" and cmd.phase is None:
        raise EppError(
            Result.REQUIRED_PARAMETER_MISSING,
            f"the {cmd.form} check form needs <launch:phase> (RFC 8334 section 2.3)",
        )
    items = []
    for raw in names:
        try:
            dn = parse_name(raw)
        except NameError_:
            items.append(ClaimItem(raw, False))
            continue
        tld = tld_for(ctx.conn, dn)
        if tld is None:
            items.append(ClaimItem(raw, False))
            continue
        active = (
            _require(tld, active_phase(ctx.conn, tld.id, ctx.now), cmd.phase)
            if cmd.phase is not None
            else None
        )
        keys = claim_keys(ctx.conn, tld.id, dn.labels[0])
        if cmd.form == "claims" and (active is None or active.phase.name != "claims"):
            keys = ()  # no claims notice is needed outside the claims phase
        items.append(ClaimItem(raw, bool(keys), keys))
    if cmd.form == "avail":
        return None
    return ClaimsChecked(cmd.phase if cmd.form == "claims" else None, tuple(items))


def info(conn: Connection, domain: Row, query: LaunchInfo) -> LaunchData:
    """`<launch:info>` of a domain: the phase it was registered in (2306 if it was not, or in
    another phase), and its mark if asked; 2303 for an application id (no applications)."""
    if query.application_id is not None:
        raise EppError(
            Result.OBJECT_DOES_NOT_EXIST,
            f"no launch application {query.application_id}: this registry makes launch "
            "registrations, which have no application id",
        )
    row = conn.execute(
        select(t.domain_launch).where(t.domain_launch.c.domain_id == domain.id)
    ).first()
    if row is None:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"{domain.name} was not registered in a launch phase",
        )
    phase = Phase(row.phase, row.sub_phase)
    if not phase.matches(query.phase):
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            f"{domain.name} was registered in the {phase} phase, not {query.phase}",
        )
    marks = (row.mark_xml,) if query.include_mark and row.mark_xml else ()
    return LaunchData(phase, marks)


# ---------------------------------------------------------------- operators


def _tld_id(conn: Connection, tld: str) -> int:
    row = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == tld.lower().strip("."))).first()
    if row is None:
        raise RegistryError(f"TLD {tld} does not exist")
    return int(row.id)


def add_phase(
    conn: Connection,
    tld: str,
    name: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    sub_phase: str | None = None,
) -> PhaseView:
    """Add a phase to a TLD; RegistryError (one line) for a bad value or an overlap."""
    tld_id = _tld_id(conn, tld)
    if name not in PHASES:
        raise RegistryError(f"phase {name!r} is not one of {', '.join(PHASES)}")
    if name == "custom" and not sub_phase:
        raise RegistryError("a custom phase needs its name (--sub-phase NAME)")
    if sub_phase is not None and not 1 <= len(sub_phase) <= 64:
        raise RegistryError("a sub-phase name is 1 to 64 characters")
    if ends_at is not None and ends_at <= starts_at:
        raise RegistryError("the phase must end after it starts")
    for other in list_phases(conn, tld):
        other_end = other.ends_at or datetime.max
        if starts_at < other_end and other.starts_at < (ends_at or datetime.max):
            end = other.ends_at.isoformat() + "Z" if other.ends_at else "open-ended"
            raise RegistryError(
                f"the phase overlaps .{other.tld}'s {other.name} phase "
                f"({other.starts_at.isoformat()}Z to {end})"
            )
    conn.execute(
        insert(t.tld_phases).values(
            tld_id=tld_id, name=name, sub_phase=sub_phase, starts_at=starts_at, ends_at=ends_at
        )
    )
    return PhaseView(tld.lower().strip("."), name, sub_phase, starts_at, ends_at)


def list_phases(conn: Connection, tld: str) -> list[PhaseView]:
    tld_id = _tld_id(conn, tld)
    p = t.tld_phases
    rows = conn.execute(select(p).where(p.c.tld_id == tld_id).order_by(p.c.starts_at)).all()
    name = tld.lower().strip(".")
    return [PhaseView(name, r.name, r.sub_phase, r.starts_at, r.ends_at) for r in rows]


def load_claims(
    conn: Connection, tld: str, claims: list[tuple[str, str]], replace: bool = False
) -> int:
    """Set the claim keys of labels under a TLD (the DNL); `replace` drops unlisted labels.
    Returns the number of labels loaded."""
    tld_id = _tld_id(conn, tld)
    keys: dict[str, str] = {}
    for label, key in claims:
        if not 1 <= len(label) <= 63 or len(key) > 255:
            raise RegistryError(f"claim {label!r}: a label of 1 to 63 and a key of up to 255")
        keys[label] = key
    tc = t.trademark_claims
    if replace:
        conn.execute(delete(tc).where(tc.c.tld_id == tld_id))
    elif keys:
        conn.execute(delete(tc).where(tc.c.tld_id == tld_id, tc.c.label.in_(list(keys))))
    if keys:
        conn.execute(
            insert(tc), [{"tld_id": tld_id, "label": k, "claim_key": v} for k, v in keys.items()]
        )
    return len(keys)


def load_revocations(conn: Connection, revocations: list[tuple[str, datetime]]) -> int:
    """Add revoked SMD ids (the SMD revocation list; ids already listed are kept). Returns
    how many were new."""
    r = t.smd_revocations
    known = {row.smd_id for row in conn.execute(select(r.c.smd_id))}
    new = {smd_id: at for smd_id, at in revocations if smd_id not in known}
    if any(len(smd_id) > 128 for smd_id in new):
        raise RegistryError("an SMD id is at most 128 characters")
    if new:
        conn.execute(insert(r), [{"smd_id": k, "revoked_at": v} for k, v in new.items()])
    return len(new)
