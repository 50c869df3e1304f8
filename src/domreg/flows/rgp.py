"""RGP restore (RFC 3915) as one typed command: a `<domain:update>` carrying
`<rgp:update><rgp:restore op="request|report">` is a restore, not an update.

`restore` runs `lifecycle.restore_request` or `lifecycle.restore_report` and returns the RGP
statuses for `<rgp:upData>`. The update it arrived in must change nothing (RFC 3915 section
4.2.5: its `<domain:add>`, `<domain:rem>` or `<domain:chg>` is empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domreg.flows import billing, fees, lifecycle
from domreg.flows.base import Context
from domreg.flows.lookup import require_domain
from domreg.model.errors import EppError
from domreg.model.results import Result

REQUEST = "request"
REPORT = "report"


@dataclass(frozen=True, slots=True)
class DomainRestore:
    """A restore request (no report) or a restore report, for the domain `name`.

    `op` is "" while only other extensions (the fee statement) have been read: an update
    that carries them without `<rgp:update>` is refused by `restore` (2306).
    """

    name: str
    op: str
    report: lifecycle.RestoreReport | None = None
    changes: bool = False  # the update also asked to change the domain (refused: 2306)
    fee: fees.FeeStatement | None = None  # the fee the client agrees to (RFC 8748)
    dnssec: Any = None  # secDNS on a restore: refused (2306)


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did: the RGP statuses after it (`<rgp:upData>`, empty after a report)
    and the fee charged (fees.Charged, RFC 8748 `<fee:updData>`), if any."""

    name: str
    rgp_statuses: tuple[str, ...]
    charged: fees.Charged | None = None


def restore(ctx: Context, cmd: DomainRestore) -> Restored:
    """A restore request or report.

    2306 the update also changes the domain, or carries only a fee statement (no restore);
    2004 (request) a stated fee below the restore price, or none for a premium name
    (`fees.agree`: checked after the charge, the transaction is rolled back);
    otherwise the codes of `lifecycle.restore_request` (2303, 2201, 2105, 2304, 2104) and
    `lifecycle.restore_report` (2303, 2201, 2306, 2304, 2104).
    """
    if cmd.op not in (REQUEST, REPORT):
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            "a fee on <domain:update> is only accepted with an RGP restore (<rgp:update>)",
        )
    if cmd.changes or cmd.dnssec is not None:
        raise EppError(
            Result.PARAMETER_VALUE_POLICY_ERROR,
            "a restore cannot change the domain: its <domain:add>, <domain:rem> or "
            "<domain:chg> must be empty (RFC 3915 section 4.2.5)",
        )
    if cmd.op == REQUEST:
        status = lifecycle.restore_request(ctx, cmd.name)
        return Restored(cmd.name, (status,), _restore_fee(ctx, cmd))
    assert cmd.report is not None  # the codec requires <rgp:report> with op="report"
    lifecycle.restore_report(ctx, cmd.name, cmd.report)
    return Restored(cmd.name, ())


def _restore_fee(ctx: Context, cmd: DomainRestore) -> fees.Charged | None:
    """The restore price just charged, checked against the client's stated fee."""
    conn = ctx.conn
    row = require_domain(conn, cmd.name)
    ledger_id = billing.charge_id(ctx, row.roid, "restore")
    assert ledger_id is not None  # restore_request charged it in this command
    label = row.name.split(".", 1)[0]
    price_class = billing.quote(conn, row.registrar_id, row.tld_id, label, "restore").price_class
    price = fees.price_of_charge(conn, ledger_id, price_class)
    fees.agree(price, cmd.fee)
    return fees.charged(conn, row.registrar_id, price, None) if cmd.fee else None
