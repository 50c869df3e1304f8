"""The registration lifecycle (RFC 3915): grace periods, delete with refunds, redemption,
restore, purge, and the server-side transitions the jobs (`domreg.jobs`) run when they fall due.

State lives in `grace_periods`, one row per period: its kind, [starts_at, ends_at), the
registrar it belongs to and the ledger charge a delete inside it refunds. Lengths come from the
TLD's columns (add_grace_days ... pending_delete_days, transfer_pending_days).

- Refund grace periods, "add", "renew", "autoRenew", "transfer": active while
  starts_at <= now < ends_at. A delete inside one refunds its charge (and, but for "add",
  takes the years it paid for back off the expiry). A completed transfer ends the losing
  registrar's ones.
- RGP states, "redemption", "pendingRestore", "pendingDelete": a domain in any of them carries
  the EPP status pendingDelete, which forbids update, renew, transfer and delete (2304); only
  a restore moves it back. Each row is the to-do of the job that ends it at `ends_at`.

Policies (the choices RFC 3915 leaves to the registry):

- A delete inside the add grace period purges the name at once (result 1000); any other
  delete puts it into redemption (1001).
- An auto-renew the sponsor cannot pay (2104 from billing) deletes the name into redemption
  instead (a pending transfer is cancelled by the server); the sponsor is told by poll and may
  restore it. Renew prohibitions (client/serverRenewProhibited) govern the renew command, not
  the registry's auto-renew.
- A restore request costs the TLD's restore price (not refunded if no report follows); the
  report must come within RESTORE_REPORT_DAYS, else the name returns to redemption, whose end
  is pushed to that moment if it had passed. A report on a name whose expiry has passed (it
  was deleted after expiring) also renews it, for the years needed, billed as "renew".
- A transfer completed inside the auto-renew grace period refunds the auto-renew to the losing
  registrar and the transfer's years replace that year (ICANN's rule); an auto-renew while a
  transfer is pending carries the extra year into the transfer's new expiry.
- Purging a name also purges its subordinate hosts (only a server-side deletion can leave any:
  a registrar's delete needs them gone, 2305), removing them from the domains they serve.
- Server-side events run as `base.registry_actor`: their history rows name no registrar.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from domreg.dns import delegation
from domreg.flows import billing
from domreg.flows import domain as dom
from domreg.flows import transfer as trn
from domreg.flows.base import Context, enqueue_poll, forbid, record, statuses_of
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.periods import MAX_YEARS, add_months
from domreg.model.results import Result
from domreg.store import schema as t
from domreg.store.db import Query

# Kinds of grace_periods rows.
ADD = "add"
RENEW = "renew"
AUTO_RENEW = "autoRenew"
TRANSFER = "transfer"
REDEMPTION = "redemption"
PENDING_RESTORE = "pendingRestore"
PENDING_DELETE = "pendingDelete"

#: Grace periods a delete refunds.
REFUND_KINDS = (ADD, RENEW, AUTO_RENEW, TRANSFER)
#: Redemption grace period states; each keeps the EPP status pendingDelete on the domain.
RGP_KINDS = (REDEMPTION, PENDING_RESTORE, PENDING_DELETE)

#: The RGP status (RFC 3915 section 3.1) each kind shows as, in display order.
RGP_STATUS = {
    ADD: "addPeriod",
    RENEW: "renewPeriod",
    AUTO_RENEW: "autoRenewPeriod",
    TRANSFER: "transferPeriod",
    REDEMPTION: "redemptionPeriod",
    PENDING_RESTORE: "pendingRestore",
    PENDING_DELETE: "pendingDelete",
}

#: How long a registrar has to send the restore report after the request (ICANN's RGP).
RESTORE_REPORT_DAYS = 7

#: Statuses that forbid a restore request or report besides the RGP state itself.
RESTORE_PROHIBITED = frozenset({st.SERVER_UPDATE_PROHIBITED})


@dataclass(frozen=True, slots=True)
class TldPolicy:
    """A TLD's lifecycle periods."""

    add_grace: timedelta
    renew_grace: timedelta
    autorenew_grace: timedelta
    transfer_grace: timedelta
    transfer_pending: timedelta
    redemption: timedelta
    pending_delete: timedelta

    def grace(self, kind: str) -> timedelta:
        return {
            ADD: self.add_grace,
            RENEW: self.renew_grace,
            AUTO_RENEW: self.autorenew_grace,
            TRANSFER: self.transfer_grace,
            REDEMPTION: self.redemption,
            PENDING_RESTORE: timedelta(days=RESTORE_REPORT_DAYS),
            PENDING_DELETE: self.pending_delete,
        }[kind]


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """An RGP restore report (RFC 3915 section 4.2.5): what the registrar states and why."""

    pre_data: str
    post_data: str
    del_time: datetime
    res_time: datetime
    res_reason: str
    statements: tuple[str, ...]
    other: str | None = None


def tld_policy(conn: Connection, tld_id: int) -> TldPolicy:
    row = conn.execute(select(t.tlds).where(t.tlds.c.id == tld_id)).one()
    return TldPolicy(
        add_grace=timedelta(days=row.add_grace_days),
        renew_grace=timedelta(days=row.renew_grace_days),
        autorenew_grace=timedelta(days=row.autorenew_grace_days),
        transfer_grace=timedelta(days=row.transfer_grace_days),
        transfer_pending=timedelta(days=row.transfer_pending_days),
        redemption=timedelta(days=row.redemption_days),
        pending_delete=timedelta(days=row.pending_delete_days),
    )


def transfer_action_at(conn: Connection, tld_id: int, now: datetime) -> datetime:
    """When a transfer requested `now` is approved by the server if nobody acts."""
    return now + tld_policy(conn, tld_id).transfer_pending


# ---------------------------------------------------------------- reading the state


PERIODS = Query(
    select(t.grace_periods)
    .where(t.grace_periods.c.domain_id == bindparam("domain_id"))
    .order_by(t.grace_periods.c.id)
)


def _periods(conn: Connection, domain_id: int) -> list[Row]:
    """The domain's grace periods, oldest first (every domain info reads them)."""
    rows: list[Row] = PERIODS.all(conn, domain_id=domain_id)
    return rows


def _active(period: Row, now: datetime) -> bool:
    """A refund grace period counts while now is inside it; an RGP state until its job ends it."""
    if period.kind in RGP_KINDS:
        return bool(period.starts_at <= now)
    return bool(period.starts_at <= now < period.ends_at)


def rgp_statuses(conn: Connection, domain_id: int, now: datetime) -> list[str]:
    """The domain's RGP statuses at `now` (RFC 3915 section 3.1), for `<rgp:infData>`.

    Several refund grace periods can be active at once (a renew inside the add grace period);
    pendingRestore hides the redemption period it suspends. Empty: no RGP status to show.
    """
    return rgp_statuses_of(_periods(conn, domain_id), now)


def rgp_statuses_of(periods: list[Row], now: datetime) -> list[str]:
    """`rgp_statuses` from the domain's grace period rows (those of `PERIODS`)."""
    kinds = {p.kind for p in periods if _active(p, now)}
    if PENDING_RESTORE in kinds:
        kinds.discard(REDEMPTION)
    return [RGP_STATUS[k] for k in RGP_STATUS if k in kinds]


def _period(conn: Connection, domain_id: int, kind: str) -> Row | None:
    return conn.execute(
        select(t.grace_periods)
        .where(t.grace_periods.c.domain_id == domain_id, t.grace_periods.c.kind == kind)
        .order_by(t.grace_periods.c.id.desc())
        .limit(1)
    ).first()


def _lock_domain(conn: Connection, domain_id: int) -> Row | None:
    """The live domain row, locked for the transaction (PostgreSQL; SQLite writers are serial)."""
    q = select(t.domains).where(t.domains.c.id == domain_id, t.domains.c.deleted_at.is_(None))
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def _reload(conn: Connection, domain_id: int) -> Row:
    return conn.execute(select(t.domains).where(t.domains.c.id == domain_id)).one()


# ---------------------------------------------------------------- opening grace periods


_OPEN_GRACE = Query(
    insert(t.grace_periods).values(
        {
            c: bindparam(c)
            for c in ("domain_id", "kind", "starts_at", "ends_at", "registrar_id", "ledger_id")
        }
    )
)


def open_grace(
    ctx: Context,
    domain_id: int,
    kind: str,
    ledger_id: int | None,
    *,
    registrar_id: int | None = None,
    length: timedelta | None = None,
) -> None:
    """Start a `kind` period now for the domain's sponsor, as long as its TLD says.

    A caller that has just written the domain row passes its sponsor (`registrar_id`) and the
    period's `length` from the TLD row it read, and the domain and TLD are not read again.
    """
    if registrar_id is None or length is None:
        row = _reload(ctx.conn, domain_id)
        registrar_id = row.registrar_id
        length = tld_policy(ctx.conn, row.tld_id).grace(kind)
    _OPEN_GRACE.execute(
        ctx.conn,
        domain_id=domain_id,
        kind=kind,
        starts_at=ctx.now,
        ends_at=ctx.now + length,
        registrar_id=registrar_id,
        ledger_id=ledger_id,
    )


def created(
    ctx: Context,
    domain_id: int,
    ledger_id: int | None,
    *,
    registrar_id: int | None = None,
    add_grace_days: int | None = None,
) -> None:
    """After a create: the add grace period (a delete inside it refunds `ledger_id`).

    `registrar_id` and `add_grace_days` (the new domain's sponsor and its TLD's add grace
    period), when the caller has them, save reading the domain and the TLD back."""
    length = timedelta(days=add_grace_days) if add_grace_days is not None else None
    open_grace(ctx, domain_id, ADD, ledger_id, registrar_id=registrar_id, length=length)


def renewed(ctx: Context, domain_id: int, ledger_id: int | None) -> None:
    """After an explicit renew: the renew grace period."""
    open_grace(ctx, domain_id, RENEW, ledger_id)


def before_transfer_completes(ctx: Context, row: Row) -> Row:
    """Called by `domain.complete_transfer` first; returns the (possibly changed) domain row.

    Inside the auto-renew grace period the auto-renew is refunded to the losing registrar and
    its year comes off the transfer's new expiry: the transfer's years replace it.
    """
    conn = ctx.conn
    period = _period(conn, row.id, AUTO_RENEW)
    if period is None or not _active(period, ctx.now) or period.ledger_id is None:
        return row
    if period.registrar_id != row.registrar_id:
        return row
    refunded = billing.refund(
        ctx, period.ledger_id, f"auto-renew of {row.name} refunded: transferred in its grace period"
    )
    conn.execute(delete(t.grace_periods).where(t.grace_periods.c.id == period.id))
    if refunded is None or row.trn_expires_at is None:
        return row
    conn.execute(
        update(t.domains)
        .where(t.domains.c.id == row.id)
        .values(trn_expires_at=add_months(row.trn_expires_at, -12))
    )
    return _reload(conn, row.id)


def transfer_completed(ctx: Context, domain_id: int, ledger_id: int | None) -> None:
    """Called by `domain.complete_transfer` last: the losing registrar's grace periods end and
    the gaining registrar's transfer grace period starts (a delete inside it refunds
    `ledger_id`, the transfer charge)."""
    ctx.conn.execute(
        delete(t.grace_periods).where(
            t.grace_periods.c.domain_id == domain_id, t.grace_periods.c.kind.in_(REFUND_KINDS)
        )
    )
    open_grace(ctx, domain_id, TRANSFER, ledger_id)


# ---------------------------------------------------------------- delete, redemption, purge


def delete_domain(ctx: Context, row: Row) -> Result:
    """The lifecycle part of `domain.delete_`, once the sponsor, statuses and subordinate hosts
    have been checked: refunds, then an immediate purge or redemption.

    Every active refund grace period of the sponsor is refunded (create, renew, auto-renew,
    transfer charges) and the years refunded come off the expiry. Inside the add grace period
    the name is purged at once: 1000. Otherwise it enters redemption (EPP status
    pendingDelete, RGP redemptionPeriod for the TLD's redemption_days): 1001.
    """
    conn = ctx.conn
    in_add_grace = False
    years_back = 0
    for period in _periods(conn, row.id):
        if period.kind not in REFUND_KINDS or not _active(period, ctx.now):
            continue
        if period.kind == ADD:
            in_add_grace = True
        if period.ledger_id is None or period.registrar_id != row.registrar_id:
            continue
        refunded = billing.refund(
            ctx, period.ledger_id, f"{row.name} deleted in its {RGP_STATUS[period.kind]}"
        )
        if refunded is not None and period.kind != ADD:
            years = conn.execute(
                select(t.ledger.c.years).where(t.ledger.c.id == period.ledger_id)
            ).scalar_one()
            years_back += int(years or 0)
    conn.execute(
        delete(t.grace_periods).where(
            t.grace_periods.c.domain_id == row.id, t.grace_periods.c.kind.in_(REFUND_KINDS)
        )
    )
    if in_add_grace:
        purge(ctx, row, "domain:delete")
        return Result.SUCCESS
    expires = add_months(row.expires_at, -12 * years_back) if years_back else row.expires_at
    _enter_redemption(ctx, row, expires, "domain:delete")
    return Result.SUCCESS_PENDING


def _enter_redemption(ctx: Context, row: Row, expires_at: datetime, command: str) -> datetime:
    """Status pendingDelete, RGP redemptionPeriod; returns when the redemption period ends."""
    conn = ctx.conn
    values: dict[str, Any] = {"expires_at": expires_at, "updated_at": ctx.now}
    if ctx.actor.id:
        values["updater_id"] = ctx.actor.id
    conn.execute(update(t.domains).where(t.domains.c.id == row.id).values(**values))
    if st.PENDING_DELETE not in statuses_of(conn, row.roid):
        conn.execute(insert(t.statuses).values(roid=row.roid, status=st.PENDING_DELETE))
    open_grace(ctx, row.id, REDEMPTION, None)
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command=command,
        snapshot=dom.snapshot(conn, row.id),
        tld=dom._tld_name(conn, row.tld_id),
    )
    return ctx.now + tld_policy(conn, row.tld_id).redemption


def purge(ctx: Context, row: Row, command: str) -> None:
    """Purge the name: deleted_at set, its links, statuses, DS data and grace periods removed,
    its subordinate hosts purged with it; the row and the history stay. The name is available
    again at once."""
    conn = ctx.conn
    values: dict[str, Any] = {"deleted_at": ctx.now, "updated_at": ctx.now}
    if ctx.actor.id:
        values["updater_id"] = ctx.actor.id
    conn.execute(update(t.domains).where(t.domains.c.id == row.id).values(**values))
    snap = dom.snapshot(conn, row.id)
    users = _purge_subordinate_hosts(ctx, row)
    conn.execute(delete(t.domain_hosts).where(t.domain_hosts.c.domain_id == row.id))
    conn.execute(delete(t.domain_contacts).where(t.domain_contacts.c.domain_id == row.id))
    conn.execute(delete(t.domain_ds).where(t.domain_ds.c.domain_id == row.id))
    # Its delegation text goes; the domains that used its hosts lose those nameservers.
    delegation.refresh(conn, users | {row.id})
    conn.execute(delete(t.grace_periods).where(t.grace_periods.c.domain_id == row.id))
    conn.execute(delete(t.statuses).where(t.statuses.c.roid == row.roid))
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command=command,
        snapshot=snap,
        tld=dom._tld_name(conn, row.tld_id),
    )


def _purge_subordinate_hosts(ctx: Context, row: Row) -> set[int]:
    """Purge the domain's subordinate hosts; returns the ids of the domains that used them."""
    conn = ctx.conn
    users: set[int] = set()
    hosts = conn.execute(
        select(t.hosts)
        .where(t.hosts.c.parent_domain_id == row.id, t.hosts.c.deleted_at.is_(None))
        .order_by(t.hosts.c.name)
    ).all()
    for n, host in enumerate(hosts, start=1):
        conn.execute(
            update(t.hosts)
            .where(t.hosts.c.id == host.id)
            .values(deleted_at=ctx.now, updated_at=ctx.now)
        )
        users.update(delegation.linked_domain_ids(conn, host.id))
        conn.execute(delete(t.domain_hosts).where(t.domain_hosts.c.host_id == host.id))
        conn.execute(delete(t.host_addresses).where(t.host_addresses.c.host_id == host.id))
        conn.execute(delete(t.statuses).where(t.statuses.c.roid == host.roid))
        # One history row per svTRID: each host gets a derived one.
        record(
            dataclasses.replace(ctx, svtrid=f"{ctx.svtrid}.{n}"),
            object_type="host",
            roid_=host.roid,
            name=host.name,
            command="host:purge",
            snapshot={"name": host.name, "roid": host.roid, "deleted_at": ctx.now},
            tld=dom._tld_name(conn, row.tld_id),
        )
    return users


# ---------------------------------------------------------------- restore (RFC 3915)


def restore_request(ctx: Context, name: str) -> str:
    """Restore request (`<rgp:restore op="request">`): redemptionPeriod -> pendingRestore.

    Charges the TLD's restore price (`billing.charge`, operation "restore"); the registrar
    then has RESTORE_REPORT_DAYS to send the report (`restore_report`), else the name goes
    back to redemption. Returns the new RGP status, "pendingRestore" (`<rgp:upData>`).

    2303 unknown domain; 2201 not the sponsor; 2105 the name is not in its redemption period
    (not deleted, or past redemption: pendingDelete); 2304 a restore is already pending, or
    serverUpdateProhibited; 2104 the sponsor cannot pay the restore price.
    """
    conn = ctx.conn
    row = dom._sponsored(ctx, name, "restore")
    forbid(statuses_of(conn, row.roid), RESTORE_PROHIBITED, "restore")
    pending = _period(conn, row.id, PENDING_RESTORE)
    if pending is not None:
        raise EppError(
            Result.OBJECT_STATUS_PROHIBITS_OPERATION,
            f"a restore of {row.name} is pending its report",
        )
    redemption = _period(conn, row.id, REDEMPTION)
    if redemption is None or not redemption.starts_at <= ctx.now < redemption.ends_at:
        raise EppError(
            Result.OBJECT_NOT_ELIGIBLE_FOR_RENEWAL,
            f"{row.name} is not in its redemption period and cannot be restored",
        )
    ledger_id = billing.charge(
        ctx,
        registrar_id=row.registrar_id,
        tld_id=row.tld_id,
        label=row.name.split(".", 1)[0],
        domain_name=row.name,
        roid=row.roid,
        operation="restore",
    )
    open_grace(ctx, row.id, PENDING_RESTORE, ledger_id)
    conn.execute(
        update(t.domains)
        .where(t.domains.c.id == row.id)
        .values(updated_at=ctx.now, updater_id=ctx.actor.id)
    )
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:restore-request",
        snapshot=dom.snapshot(conn, row.id),
        tld=dom._tld_name(conn, row.tld_id),
        publish=False,
    )
    return RGP_STATUS[PENDING_RESTORE]


def _check_report(report: RestoreReport, now: datetime) -> None:
    missing = [
        what
        for what, value in (
            ("preData", report.pre_data),
            ("postData", report.post_data),
            ("resReason", report.res_reason),
        )
        if not value.strip()
    ]
    if missing:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, f"restore report: {missing[0]} is empty"
        )
    if len([s for s in report.statements if s.strip()]) < 2:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            "restore report: both statements (RFC 3915 section 4.2.5) are required",
        )
    if report.res_time < report.del_time:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR, "restore report: resTime is before delTime"
        )
    if report.del_time > now or report.res_time > now:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            "restore report: delTime or resTime is in the future",
        )


def restore_report(ctx: Context, name: str, report: RestoreReport) -> None:
    """Restore report (`<rgp:restore op="report">`): completes a pending restore.

    The name leaves the RGP (pendingDelete removed; its other statuses are as before the
    delete). If its expiry has passed, it is renewed for the years needed to put it in the
    future, charged as "renew". The report is kept in the history row's snapshot.

    2303 unknown domain; 2201 not the sponsor; 2306 an empty preData, postData or resReason,
    fewer than two statements, resTime before delTime, or either in the future; 2304 no
    restore request is pending (none made, its RESTORE_REPORT_DAYS passed, or the restore
    already completed), or serverUpdateProhibited; 2104 the sponsor cannot pay the renewal
    an expired name needs.
    """
    conn = ctx.conn
    row = dom._sponsored(ctx, name, "restore")
    _check_report(report, ctx.now)
    forbid(statuses_of(conn, row.roid), RESTORE_PROHIBITED, "restore")
    pending = _period(conn, row.id, PENDING_RESTORE)
    if pending is None or not pending.starts_at <= ctx.now < pending.ends_at:
        raise EppError(
            Result.OBJECT_STATUS_PROHIBITS_OPERATION,
            f"no restore request of {row.name} is pending a report",
        )
    values: dict[str, Any] = {"updated_at": ctx.now, "updater_id": ctx.actor.id}
    if row.expires_at <= ctx.now:
        years = 1
        while add_months(row.expires_at, 12 * years) <= ctx.now:
            years += 1
        billing.charge(
            ctx,
            registrar_id=row.registrar_id,
            tld_id=row.tld_id,
            label=row.name.split(".", 1)[0],
            domain_name=row.name,
            roid=row.roid,
            operation="renew",
            years=years,
        )
        values["expires_at"] = add_months(row.expires_at, 12 * years)
    conn.execute(update(t.domains).where(t.domains.c.id == row.id).values(**values))
    conn.execute(
        delete(t.grace_periods).where(
            t.grace_periods.c.domain_id == row.id, t.grace_periods.c.kind.in_(RGP_KINDS)
        )
    )
    conn.execute(
        delete(t.statuses).where(
            t.statuses.c.roid == row.roid, t.statuses.c.status == st.PENDING_DELETE
        )
    )
    snap = dom.snapshot(conn, row.id)
    snap["restore_report"] = dataclasses.asdict(report)
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:restore-report",
        snapshot=snap,
        tld=dom._tld_name(conn, row.tld_id),
    )


# ---------------------------------------------------------------- server-side transitions
#
# Each runs in its own transaction with `ctx.now` the moment the event fell due and the
# registry's actor; each locks its object, re-checks that the event is still due and returns
# False (changing nothing) if not, so running it twice is harmless.


def _poll(ctx: Context, row: Row, kind: str, message: str, **extra: Any) -> None:
    payload = {"name": row.name, "roid": row.roid, "event": kind, **extra}
    enqueue_poll(ctx, row.registrar_id, kind, message, payload)


def auto_renew(ctx: Context, domain_id: int) -> bool:
    """At expiry: renew for one year billed to the sponsor (ledger kind "autorenew"), open the
    auto-renew grace period, poll the sponsor. If the sponsor cannot pay, the name is deleted
    into redemption instead (`server_delete`)."""
    conn = ctx.conn
    row = _lock_domain(conn, domain_id)
    if row is None or row.expires_at > ctx.now:
        return False
    if st.PENDING_DELETE in statuses_of(conn, row.roid):
        return False
    try:
        with conn.begin_nested():
            ledger_id = billing.charge(
                ctx,
                registrar_id=row.registrar_id,
                tld_id=row.tld_id,
                label=row.name.split(".", 1)[0],
                domain_name=row.name,
                roid=row.roid,
                operation="renew",
                years=1,
                kind="autorenew",
            )
    except EppError as exc:
        if exc.code != Result.BILLING_FAILURE:
            raise
        server_delete(ctx, row, f"it could not be auto-renewed ({exc.reason})")
        return True
    new_expiry = add_months(row.expires_at, 12)
    values: dict[str, Any] = {"expires_at": new_expiry, "updated_at": ctx.now}
    if row.trn_status == trn.PENDING and row.trn_expires_at is not None:
        values["trn_expires_at"] = min(
            add_months(row.trn_expires_at, 12), add_months(ctx.now, 12 * MAX_YEARS)
        )
    conn.execute(update(t.domains).where(t.domains.c.id == row.id).values(**values))
    open_grace(ctx, row.id, AUTO_RENEW, ledger_id)
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:autorenew",
        snapshot=dom.snapshot(conn, row.id),
        tld=dom._tld_name(conn, row.tld_id),
    )
    _poll(
        ctx,
        row,
        "autorenew",
        f"Domain {row.name} was auto-renewed until {new_expiry.date().isoformat()}.",
        expires_at=new_expiry.isoformat(),
        ledger_id=ledger_id,
    )
    return True


def server_delete(ctx: Context, row: Row, why: str) -> None:
    """The registry deletes a name into redemption (its sponsor polled); a pending transfer is
    cancelled by the server first (the gaining registrar polled)."""
    conn = ctx.conn
    if row.trn_status == trn.PENDING:
        cancel_ctx = dataclasses.replace(ctx, svtrid=f"{ctx.svtrid}.1")
        dom._finish(cancel_ctx, row, trn.SERVER_CANCELLED, notify=row.trn_gaining_id)
        row = _reload(conn, row.id)
    ends = _enter_redemption(ctx, row, row.expires_at, "domain:server-delete")
    _poll(
        ctx,
        row,
        "redemption",
        f"Domain {row.name} was deleted because {why}; it can be restored until "
        f"{ends.isoformat()}Z.",
        redemption_ends_at=ends.isoformat(),
    )


def approve_transfer(ctx: Context, domain_id: int) -> bool:
    """After the TLD's transfer_pending_days: the server approves the pending transfer
    (`domain.complete_transfer`, status serverApproved; both sides polled there). If the gaining
    registrar can no longer pay, the server cancels it instead (both sides polled)."""
    conn = ctx.conn
    row = _lock_domain(conn, domain_id)
    if row is None or row.trn_status != trn.PENDING or row.trn_action_at > ctx.now:
        return False
    try:
        with conn.begin_nested():
            dom.complete_transfer(ctx, row, trn.SERVER_APPROVED)
    except EppError as exc:
        if exc.code != Result.BILLING_FAILURE:
            raise
        data = dom._finish(ctx, row, trn.SERVER_CANCELLED, notify=row.trn_gaining_id)
        enqueue_poll(
            ctx,
            row.trn_losing_id,
            "transfer",
            "Transfer cancelled by the registry.",
            trn.poll_payload(data),
        )
    return True


def approve_contact_transfer(ctx: Context, contact_id: int) -> bool:
    """Contacts have no TLD: the server approves after `transfer.DEFAULT_PENDING_DAYS`."""
    from domreg.flows import contact

    conn = ctx.conn
    q = select(t.contacts).where(t.contacts.c.id == contact_id, t.contacts.c.deleted_at.is_(None))
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None or row.trn_status != trn.PENDING or row.trn_action_at > ctx.now:
        return False
    contact.complete_transfer(ctx, row, trn.SERVER_APPROVED)
    return True


def end_redemption(ctx: Context, domain_id: int) -> bool:
    """Redemption over without a restore: RGP pendingDelete for the TLD's pending_delete_days,
    then the purge. The sponsor is polled: the name can no longer be restored."""
    conn = ctx.conn
    row = _lock_domain(conn, domain_id)
    if row is None:
        return False
    redemption = _period(conn, row.id, REDEMPTION)
    if redemption is None or redemption.ends_at > ctx.now:
        return False
    if _period(conn, row.id, PENDING_RESTORE) is not None:
        return False
    conn.execute(delete(t.grace_periods).where(t.grace_periods.c.id == redemption.id))
    open_grace(ctx, row.id, PENDING_DELETE, None)
    purge_at = ctx.now + tld_policy(conn, row.tld_id).pending_delete
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:pending-delete",
        snapshot=dom.snapshot(conn, row.id),
        tld=dom._tld_name(conn, row.tld_id),
        publish=False,
    )
    _poll(
        ctx,
        row,
        "pending_delete",
        f"Domain {row.name} left its redemption period without a restore; it will be purged "
        f"at {purge_at.isoformat()}Z.",
        purge_at=purge_at.isoformat(),
    )
    return True


def lapse_restore(ctx: Context, domain_id: int) -> bool:
    """No restore report within RESTORE_REPORT_DAYS: back to redemption (RFC 3915 step 6),
    which ends no earlier than now. The sponsor is polled."""
    conn = ctx.conn
    row = _lock_domain(conn, domain_id)
    if row is None:
        return False
    pending = _period(conn, row.id, PENDING_RESTORE)
    if pending is None or pending.ends_at > ctx.now:
        return False
    conn.execute(delete(t.grace_periods).where(t.grace_periods.c.id == pending.id))
    redemption = _period(conn, row.id, REDEMPTION)
    if redemption is None:  # not expected: the request needed one
        open_grace(ctx, row.id, REDEMPTION, None)
        ends = ctx.now + tld_policy(conn, row.tld_id).redemption
    else:
        ends = max(redemption.ends_at, ctx.now)
        conn.execute(
            update(t.grace_periods)
            .where(t.grace_periods.c.id == redemption.id)
            .values(ends_at=ends)
        )
    record(
        ctx,
        object_type="domain",
        roid_=row.roid,
        name=row.name,
        command="domain:restore-lapsed",
        snapshot=dom.snapshot(conn, row.id),
        tld=dom._tld_name(conn, row.tld_id),
        publish=False,
    )
    _poll(
        ctx,
        row,
        "restore_lapsed",
        f"No restore report for {row.name} arrived in time; it is back in its redemption "
        f"period, which ends at {ends.isoformat()}Z.",
        redemption_ends_at=ends.isoformat(),
    )
    return True


def purge_deleted(ctx: Context, domain_id: int) -> bool:
    """End of pendingDelete: the name is purged and available again; the sponsor is polled."""
    conn = ctx.conn
    row = _lock_domain(conn, domain_id)
    if row is None:
        return False
    pending = _period(conn, row.id, PENDING_DELETE)
    if pending is None or pending.ends_at > ctx.now:
        return False
    purge(ctx, row, "domain:purge")
    _poll(ctx, row, "purge", f"Domain {row.name} was purged; the name is available again.")
    return True
