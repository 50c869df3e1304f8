"""EPP status values (RFC 5731, 5732, 5733) and the operations each one prohibits."""

from __future__ import annotations

OK = "ok"
LINKED = "linked"
INACTIVE = "inactive"
PENDING_CREATE = "pendingCreate"
PENDING_DELETE = "pendingDelete"
PENDING_RENEW = "pendingRenew"
PENDING_TRANSFER = "pendingTransfer"
PENDING_UPDATE = "pendingUpdate"

CLIENT_DELETE_PROHIBITED = "clientDeleteProhibited"
CLIENT_HOLD = "clientHold"
CLIENT_RENEW_PROHIBITED = "clientRenewProhibited"
CLIENT_TRANSFER_PROHIBITED = "clientTransferProhibited"
CLIENT_UPDATE_PROHIBITED = "clientUpdateProhibited"
SERVER_DELETE_PROHIBITED = "serverDeleteProhibited"
SERVER_HOLD = "serverHold"
SERVER_RENEW_PROHIBITED = "serverRenewProhibited"
SERVER_TRANSFER_PROHIBITED = "serverTransferProhibited"
SERVER_UPDATE_PROHIBITED = "serverUpdateProhibited"

#: Statuses a client may add or remove on a domain (the client* values).
DOMAIN_CLIENT_SETTABLE = frozenset(
    {
        CLIENT_DELETE_PROHIBITED,
        CLIENT_HOLD,
        CLIENT_RENEW_PROHIBITED,
        CLIENT_TRANSFER_PROHIBITED,
        CLIENT_UPDATE_PROHIBITED,
    }
)
#: Statuses a client may add or remove on a host (RFC 5732 has no hold or renew).
HOST_CLIENT_SETTABLE = frozenset({CLIENT_DELETE_PROHIBITED, CLIENT_UPDATE_PROHIBITED})
#: Statuses a client may add or remove on a contact.
CONTACT_CLIENT_SETTABLE = frozenset(
    {CLIENT_DELETE_PROHIBITED, CLIENT_TRANSFER_PROHIBITED, CLIENT_UPDATE_PROHIBITED}
)

DOMAIN_SERVER_SETTABLE = frozenset(
    {
        SERVER_DELETE_PROHIBITED,
        SERVER_HOLD,
        SERVER_RENEW_PROHIBITED,
        SERVER_TRANSFER_PROHIBITED,
        SERVER_UPDATE_PROHIBITED,
    }
)

ALL_DOMAIN = frozenset(
    {OK, INACTIVE, PENDING_CREATE, PENDING_DELETE, PENDING_RENEW, PENDING_TRANSFER, PENDING_UPDATE}
    | DOMAIN_CLIENT_SETTABLE
    | DOMAIN_SERVER_SETTABLE
)
ALL_HOST = frozenset(
    {OK, LINKED, PENDING_CREATE, PENDING_DELETE, PENDING_TRANSFER, PENDING_UPDATE}
    | HOST_CLIENT_SETTABLE
    | {SERVER_DELETE_PROHIBITED, SERVER_UPDATE_PROHIBITED}
)
ALL_CONTACT = frozenset(
    {OK, LINKED, PENDING_CREATE, PENDING_DELETE, PENDING_TRANSFER, PENDING_UPDATE}
    | CONTACT_CLIENT_SETTABLE
    | {SERVER_DELETE_PROHIBITED, SERVER_TRANSFER_PROHIBITED, SERVER_UPDATE_PROHIBITED}
)

# Which stored statuses forbid each transform. The pending* values block everything but
# the matching transfer action; prohibitions are the client* and server* pairs.
UPDATE_PROHIBITED = frozenset(
    {CLIENT_UPDATE_PROHIBITED, SERVER_UPDATE_PROHIBITED, PENDING_DELETE, PENDING_TRANSFER}
)
DELETE_PROHIBITED = frozenset(
    {CLIENT_DELETE_PROHIBITED, SERVER_DELETE_PROHIBITED, PENDING_DELETE, PENDING_TRANSFER}
)
RENEW_PROHIBITED = frozenset(
    {CLIENT_RENEW_PROHIBITED, SERVER_RENEW_PROHIBITED, PENDING_DELETE, PENDING_TRANSFER}
)
TRANSFER_PROHIBITED = frozenset(
    {CLIENT_TRANSFER_PROHIBITED, SERVER_TRANSFER_PROHIBITED, PENDING_DELETE}
)


def domain_display(stored: set[str] | frozenset[str], has_ns: bool) -> list[str]:
    """The statuses shown for a domain: stored ones, plus inactive / ok as RFC 5731 defines them."""
    shown = set(stored)
    if not has_ns:
        shown.add(INACTIVE)
    if not shown:
        shown.add(OK)
    return sorted(shown)


def object_display(stored: set[str] | frozenset[str], linked: bool) -> list[str]:
    """The statuses shown for a host or contact: stored ones, plus linked / ok."""
    shown = set(stored)
    if linked:
        shown.add(LINKED)
    if not (shown - {LINKED}):
        shown.add(OK)
    return sorted(shown)
