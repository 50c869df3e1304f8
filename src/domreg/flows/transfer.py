"""Transfer state shared by domains and contacts (RFC 5730 section 2.9.3.4 and 2.9.3.5).

A transfer's last state stays on the object row (trn_* columns), so `<transfer op="query">`
can report the most recent transfer even after it completed.
"""

from __future__ import annotations

from collections.abc import Callable
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


def check_query(
    actor_id: int, row: Row, auth_info: str | None, authorised: Callable[[str], bool]
) -> None:
    """Who may query a transfer: either party, or anyone with the object's authInfo.

    2201 a non-party without authInfo; 2202 wrong authInfo.
    """
    if actor_id in (row.registrar_id, row.trn_gaining_id):
        return
    if auth_info is None:
        raise EppError(Result.AUTHORIZATION_ERROR, "transfer query needs authInfo from a non-party")
    if not authorised(auth_info):
        raise EppError(Result.INVALID_AUTHORIZATION_INFORMATION, "authInfo does not match")


def client_action(actor_id: int, row: Row, op: str, what: str) -> tuple[str, int | None]:
    """Who may approve, reject or cancel a pending transfer of `what` ("domain example.test").

    Returns the new transfer status and the registrar to notify (None for an approval, which
    notifies both sides). 2301 nothing pending; 2201 cancel by other than the requester, or
    approve/reject by other than the sponsor.
    """
    if row.trn_status != PENDING:
        raise EppError(Result.OBJECT_NOT_PENDING_TRANSFER, f"{what} has no pending transfer")
    if op == "cancel":
        if actor_id != row.trn_gaining_id:
            raise EppError(Result.AUTHORIZATION_ERROR, "only the requesting registrar can cancel")
        return CLIENT_CANCELLED, row.trn_losing_id
    if actor_id != row.registrar_id:
        raise EppError(
            Result.AUTHORIZATION_ERROR, "only the sponsoring registrar can approve or reject"
        )
    if op == "reject":
        return CLIENT_REJECTED, row.trn_gaining_id
    return CLIENT_APPROVED, None
