"""The two monthly reports of a TLD, computed from the history, the ledger and the query
counters (`service_counters`, see `metrics`), never from running totals.

Transactions report (one row per registrar accredited for the TLD, then "Totals"):

- total-domains, total-nameservers: live at the end of the month (name servers: hosts under
  the TLD), by current sponsor;
- net-adds-N-yr / net-renews-N-yr: ledger charges for creates / renews and auto-renews of N
  years in the month, less those refunded in the month (deleted in their grace period);
- transfer-gaining/losing-successful: approved transfers (history
  `domain:transfer-clientApproved|serverApproved`): the new sponsor gains, the previous one
  loses; -nacked: rejected ones (`domain:transfer-clientRejected`), for the requester and the
  rejecting sponsor;
- deleted-domains-grace / -nograce: deletes inside the add grace period (purged at once) /
  outside it (into redemption);
- restored-domains: restore reports accepted; restored-noreport: restores that lapsed for want
  of a report;
- transfer-disputed-*, agp-*: 0 (domreg has no transfer dispute or AGP exemption process);
- attempted-adds: domain create commands received from the registrar (query counters,
  `metrics.EPP_ADDS`), for a name under the TLD, plus those for names under no TLD of the
  registry (counted with tld "", as the activity report counts them).

Activity report (one row): operational registrars, and the counters: zone file access
passwords, WHOIS port 43 / web / searchable queries, DNS queries, every EPP command by type
(srs-*: every command received, successful or not) and RDAP queries. A TLD's report counts
the rows of `service_counters` of that TLD and those of no TLD (tld ""); `metrics` says what
carries which TLD. RDAP and WHOIS queries are counted per TLD (`metrics.tld_of`): a domain or
name server lookup, or a search by name pattern, counts in the report of the TLD of its name;
the queries about no TLD of the registry (registrar and entity lookups, help, entity
searches, names under other TLDs) count in every TLD's report, since each TLD's RDAP and
WHOIS service answered them (ICANN's specification text is not in the reference set; this is
the rule domreg chose). EPP commands likewise: a domain or host command counts in the report
of the TLD of its name (a name server's: the TLD it is under), a check of names of several
TLDs once in each of those TLDs' reports (one check request of each TLD's SRS), contact
commands (and names under no TLD of the registry) in every TLD's report. Counts flushed
before EPP commands carried a TLD are all of no TLD, so the reports of such months give every
TLD the registry-wide EPP counts. DNS queries and zone file access passwords are counted by
nothing in domreg (Knot DNS answers the queries; there is no zone file access service), so
those columns are 0.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.orm import aliased

from domreg.store import schema as t

YEARS = range(1, 11)
TRANSACTION_COLUMNS = [
    "registrar-name",
    "iana-id",
    "total-domains",
    "total-nameservers",
    *[f"net-adds-{n}-yr" for n in YEARS],
    *[f"net-renews-{n}-yr" for n in YEARS],
    "transfer-gaining-successful",
    "transfer-gaining-nacked",
    "transfer-losing-successful",
    "transfer-losing-nacked",
    "transfer-disputed-won",
    "transfer-disputed-lost",
    "transfer-disputed-nodecision",
    "deleted-domains-grace",
    "deleted-domains-nograce",
    "restored-domains",
    "restored-noreport",
    "agp-exemption-requests",
    "agp-exemptions-granted",
    "agp-exempted-domains",
    "attempted-adds",
]

#: Activity report columns and the EPP command (metrics name) each SRS column counts.
SRS = {
    "srs-dom-check": "domain:check",
    "srs-dom-create": "domain:create",
    "srs-dom-delete": "domain:delete",
    "srs-dom-info": "domain:info",
    "srs-dom-renew": "domain:renew",
    "srs-dom-rgp-restore-report": "domain:rgp-restore-report",
    "srs-dom-rgp-restore-request": "domain:rgp-restore-request",
    "srs-dom-transfer-approve": "domain:transfer-approve",
    "srs-dom-transfer-cancel": "domain:transfer-cancel",
    "srs-dom-transfer-query": "domain:transfer-query",
    "srs-dom-transfer-reject": "domain:transfer-reject",
    "srs-dom-transfer-request": "domain:transfer-request",
    "srs-dom-update": "domain:update",
    "srs-host-check": "host:check",
    "srs-host-create": "host:create",
    "srs-host-delete": "host:delete",
    "srs-host-info": "host:info",
    "srs-host-update": "host:update",
    "srs-cont-check": "contact:check",
    "srs-cont-create": "contact:create",
    "srs-cont-delete": "contact:delete",
    "srs-cont-info": "contact:info",
    "srs-cont-transfer-approve": "contact:transfer-approve",
    "srs-cont-transfer-cancel": "contact:transfer-cancel",
    "srs-cont-transfer-query": "contact:transfer-query",
    "srs-cont-transfer-reject": "contact:transfer-reject",
    "srs-cont-transfer-request": "contact:transfer-request",
    "srs-cont-update": "contact:update",
}
#: Other activity columns: (service, name) counters; name None sums the service.
COUNTED = {
    "zfa-passwords": ("zfa", "passwords"),
    "whois-43-queries": ("whois", "port43"),
    "web-whois-queries": ("whois", "web"),
    "searchable-whois-queries": ("whois", "searchable"),
    "dns-udp-queries-received": ("dns", "udp-received"),
    "dns-udp-queries-responded": ("dns", "udp-responded"),
    "dns-tcp-queries-received": ("dns", "tcp-received"),
    "dns-tcp-queries-responded": ("dns", "tcp-responded"),
}
ACTIVITY_COLUMNS = ["operational-registrars", *COUNTED, *SRS, "rdap-queries"]


class ReportError(ValueError):
    pass


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-11' -> (2026-11-01 00:00, 2026-12-01 00:00)."""
    try:
        start = datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise ReportError(f"invalid month {month!r}: use YYYY-MM") from None
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


def _tld(conn: Connection, tld: str) -> Any:
    row = conn.execute(select(t.tlds).where(t.tlds.c.name == tld.lower())).first()
    if row is None:
        raise ReportError(f"no TLD {tld!r}")
    return row


def _registrars(conn: Connection, tld_id: int) -> list[Any]:
    r = t.registrars
    return list(
        conn.execute(
            select(r.c.id, r.c.clid, r.c.name, r.c.iana_id, r.c.status, r.c.created_at)
            .join(t.registrar_tlds, t.registrar_tlds.c.registrar_id == r.c.id)
            .where(t.registrar_tlds.c.tld_id == tld_id)
            .order_by(r.c.name, r.c.clid)
        )
    )


def _in(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


def transactions(conn: Connection, tld: str, month: str) -> list[dict[str, Any]]:
    """The transactions report's rows (registrars, then Totals), as column -> value."""
    start, end = month_bounds(month)
    row_tld = _tld(conn, tld)
    regs = _registrars(conn, row_tld.id)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    d, h = t.domains, t.hosts
    live_at_end = and_(d.c.created_at < end, or_(d.c.deleted_at.is_(None), d.c.deleted_at >= end))
    for rid, n in conn.execute(
        select(d.c.registrar_id, func.count())
        .where(d.c.tld_id == row_tld.id, live_at_end)
        .group_by(d.c.registrar_id)
    ):
        counts[rid]["total-domains"] = n
    for rid, n in conn.execute(
        select(h.c.registrar_id, func.count())
        .where(
            h.c.name.like(f"%.{row_tld.name}"),
            h.c.created_at < end,
            or_(h.c.deleted_at.is_(None), h.c.deleted_at >= end),
        )
        .group_by(h.c.registrar_id)
    ):
        counts[rid]["total-nameservers"] = n
    # Creates and renews: ledger charges in the month, less refunds of them in the month.
    lg = t.ledger
    original = aliased(t.ledger)
    kinds = {"create": "net-adds", "renew": "net-renews", "autorenew": "net-renews"}
    for rid, kind, years, n in conn.execute(
        select(lg.c.registrar_id, lg.c.kind, lg.c.years, func.count())
        .where(lg.c.tld_id == row_tld.id, lg.c.kind.in_(kinds), _in(lg.c.at, start, end))
        .group_by(lg.c.registrar_id, lg.c.kind, lg.c.years)
    ):
        if years in YEARS:
            counts[rid][f"{kinds[kind]}-{years}-yr"] += n
    for rid, kind, years, n in conn.execute(
        select(lg.c.registrar_id, original.c.kind, original.c.years, func.count())
        .join(original, original.c.id == lg.c.refund_of)
        .where(
            lg.c.kind == "refund",
            original.c.tld_id == row_tld.id,
            original.c.kind.in_(kinds),
            _in(lg.c.at, start, end),
        )
        .group_by(lg.c.registrar_id, original.c.kind, original.c.years)
    ):
        if years in YEARS:
            counts[rid][f"{kinds[kind]}-{years}-yr"] -= n
    _from_history(conn, row_tld.name, start, end, counts)
    # Attempted adds: create commands received (query counters, by registrar clid and TLD).
    by_clid = {r.clid: r.id for r in regs}
    sc = t.service_counters
    for clid, n in conn.execute(
        select(sc.c.name, func.sum(sc.c.count))
        .where(
            sc.c.service == "epp-adds",
            _counted_for(row_tld.name, start, end),
        )
        .group_by(sc.c.name)
    ):
        if clid in by_clid:
            counts[by_clid[clid]]["attempted-adds"] += int(n)
    rows = []
    totals: Counter[str] = Counter()
    for r in regs:
        c = counts.get(r.id, Counter())
        row: dict[str, Any] = {"registrar-name": r.name, "iana-id": r.iana_id or ""}
        for column in TRANSACTION_COLUMNS[2:]:
            row[column] = c.get(column, 0)
            totals[column] += row[column]
        rows.append(row)
    rows.append(
        {
            "registrar-name": "Totals",
            "iana-id": "",
            **{c: totals[c] for c in TRANSACTION_COLUMNS[2:]},
        }
    )
    return rows


def _from_history(
    conn: Connection, tld: str, start: datetime, end: datetime, counts: dict[int, Counter[str]]
) -> None:
    """Transfers, deletes and restores of the TLD's domains, from their history rows."""
    hist = t.history
    watched = (
        "domain:transfer-request",
        "domain:transfer-clientApproved",
        "domain:transfer-serverApproved",
        "domain:transfer-clientRejected",
        "domain:delete",
        "domain:restore-report",
        "domain:restore-lapsed",
    )
    rows = conn.execute(
        select(hist.c.roid, hist.c.command, hist.c.registrar_id, hist.c.at, hist.c.snapshot)
        .where(
            hist.c.object_type == "domain",
            hist.c.object_name.like(f"%.{tld}"),
            hist.c.command.in_(watched),
            _in(hist.c.at, start, end),
        )
        .order_by(hist.c.id)
    )
    clid_ids = {r.clid: r.id for r in conn.execute(select(t.registrars.c.id, t.registrars.c.clid))}
    for roid, command, registrar_id, at, raw in rows:
        snap = orjson.loads(raw)
        if command.endswith("Approved"):
            gaining = clid_ids.get(snap["sponsor"])
            losing = _previous_sponsor(conn, roid, at, clid_ids)
            if gaining is not None:
                counts[gaining]["transfer-gaining-successful"] += 1
            if losing is not None:
                counts[losing]["transfer-losing-successful"] += 1
        elif command == "domain:transfer-clientRejected":
            counts[registrar_id]["transfer-losing-nacked"] += 1
            requester = conn.execute(
                select(hist.c.registrar_id)
                .where(
                    hist.c.roid == roid,
                    hist.c.command == "domain:transfer-request",
                    hist.c.at <= at,
                )
                .order_by(hist.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if requester is not None:
                counts[requester]["transfer-gaining-nacked"] += 1
        elif command == "domain:delete":
            key = "deleted-domains-grace" if snap.get("deleted_at") else "deleted-domains-nograce"
            counts[registrar_id][key] += 1
        elif command == "domain:restore-report":
            counts[registrar_id]["restored-domains"] += 1
        elif command == "domain:restore-lapsed":
            sponsor = clid_ids.get(snap["sponsor"])
            if sponsor is not None:
                counts[sponsor]["restored-noreport"] += 1


def _previous_sponsor(
    conn: Connection, roid: str, at: datetime, clid_ids: dict[str, int]
) -> int | None:
    hist = t.history
    raw = conn.execute(
        select(hist.c.snapshot)
        .where(
            hist.c.roid == roid,
            hist.c.at <= at,
            hist.c.command.notin_(
                ("domain:transfer-clientApproved", "domain:transfer-serverApproved")
            ),
        )
        .order_by(hist.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if raw is None else clid_ids.get(orjson.loads(raw)["sponsor"])


def _counted_for(tld: str, start: datetime, end: datetime) -> Any:
    """The query counters of the month that a TLD's reports count: its own and those of no
    TLD."""
    sc = t.service_counters
    return and_(
        sc.c.day >= start.date().isoformat(),
        sc.c.day < end.date().isoformat(),
        sc.c.tld.in_((tld, "")),
    )


def activity(conn: Connection, tld: str, month: str) -> dict[str, Any]:
    """The activity report's one row, as column -> value."""
    start, end = month_bounds(month)
    row_tld = _tld(conn, tld)
    sc = t.service_counters
    sums: dict[tuple[str, str], int] = {
        (service, name): int(n)
        for service, name, n in conn.execute(
            select(sc.c.service, sc.c.name, func.sum(sc.c.count))
            .where(_counted_for(row_tld.name, start, end))
            .group_by(sc.c.service, sc.c.name)
        )
    }
    out: dict[str, Any] = {
        "operational-registrars": sum(
            1 for r in _registrars(conn, row_tld.id) if r.status == "ok" and r.created_at < end
        )
    }
    for column, key in COUNTED.items():
        out[column] = sums.get(key, 0)
    for column, name in SRS.items():
        out[column] = sums.get(("epp", name), 0)
    out["rdap-queries"] = sum(n for (service, _), n in sums.items() if service == "rdap")
    return out


def _write(path: Path, columns: list[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def write(conn: Connection, tld: str, month: str, out_dir: Path) -> tuple[Path, Path]:
    """Both reports as CSV (RFC 4180) in `out_dir`: `TLD-transactions-YYYYMM.csv` and
    `TLD-activity-YYYYMM.csv`."""
    start, _ = month_bounds(month)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = f"{start:%Y%m}"
    tx = out_dir / f"{tld.lower()}-transactions-{stamp}.csv"
    act = out_dir / f"{tld.lower()}-activity-{stamp}.csv"
    _write(tx, TRANSACTION_COLUMNS, transactions(conn, tld, month))
    _write(act, ACTIVITY_COLUMNS, [activity(conn, tld, month)])
    return tx, act
