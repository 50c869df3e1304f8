"""Transfer state shared by domains and contacts (RFC 5730 section 2.9.3.4 and 2.9.3.5).

A transfer's last state stays on the object row (trn_* columns), so `<transfer op="query">`
can report the most recent transfer even after it completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from domreg.flows.base import registrar_clids
from domreg.model.errors import EppError
from domreg.model.results import Result

PENDING = "pending"
CLIENT_APPROVED = "clientApproved"
CLIENT_REJECTED = "clientRejected"
CLIENT_CANCELLED = "clientCancelled"
SERVER_APPROVED = "serverApproved"
SERVER_CANCELLED = "serverCancelled"

#: Days the losing registrar of a contact has to act before the server approves. Domains use
#: their TLD's `transfer_pending_days` (`lifecycle.transfer_action_at`).
DEFAULT_PENDING_DAYS = 5


@dataclass(frozen=True, slots=True)
class TransferData:
    """What `<trnData>` reports about an object's last transfer."""

    object_type: str  # "domain" or "contact"
    name: str
    status: str
    gaining: str
    requested_at: datetime
    losing: str
    action_at: datetime
    expires_at: datetime | None = None
    fee: Any = None  # fees.Charged: a domain transfer request's price (RFC 8748 <fee:trnData>)


def transfer_data(conn: Connection, object_type: str, name: str, row: Row) -> TransferData:
    if row.trn_status is None:
        raise EppError(Result.OBJECT_NOT_PENDING_TRANSFER, f"{object_type} {name} has no transfer")
    clids = registrar_clids(conn, {row.trn_gaining_id, row.trn_losing_id})
    return TransferData(
        object_type=object_type,
        name=name,
        status=row.trn_status,
        gaining=clids[row.trn_gaining_id],
        requested_at=row.trn_requested_at,
        losing=clids[row.trn_losing_id],
        action_at=row.trn_action_at,
        expires_at=getattr(row, "trn_expires_at", None),
    )


def poll_payload(data: TransferData) -> dict[str, Any]:
    """The JSON kept with a transfer poll message; the EPP adapter renders it as trnData."""
    return {
        "object_type": data.object_type,
        "name": data.name,
        "status": data.status,
        "gaining": data.gaining,
        "requested_at": data.requested_at.isoformat(),
        "losing": data.losing,
        "action_at": data.action_at.isoformat(),
        "expires_at": data.expires_at.isoformat() if data.expires_at else None,
    }
