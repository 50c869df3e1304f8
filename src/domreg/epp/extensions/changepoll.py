"""changePoll-1.0 (RFC 8590): what the registry changed, by whom and why, in poll messages.

Extends no command. A poll message of kind "change" (queued by
`flows.poll.enqueue_change_poll`) is answered with the domain's `<domain:infData>` (render.py)
and this module's `<changePoll:changeData>` (operation, date, svTRID, who, reason).
"""

from __future__ import annotations

from typing import Any

from domreg.epp.extensions.base import Command, Extend, Part, Render
from domreg.epp.render import esc, when
from domreg.flows.poll import ChangeData, PollMessage, change_notice

URI = "urn:ietf:params:xml:ns:changePoll-1.0"
SCHEMAS = {URI: "changePoll-1.0.xsd"}
_NS = f'xmlns:changePoll="{URI}"'
#: changePoll:whoType is 1 to 255 characters; eppcom:reasonType at most 32.
MAX_WHO = 255
MAX_REASON = 32

COMMANDS: dict[Command, Extend] = {}


def change_xml(c: ChangeData) -> str:
    op = f' op="{esc(c.op)}"' if c.op else ""
    case = ""
    if c.case_id:
        case = f'<changePoll:caseId type="{esc(c.case_type or "custom")}">{esc(c.case_id)}'
        case += "</changePoll:caseId>"
    reason = (
        f"<changePoll:reason>{esc(c.reason[:MAX_REASON])}</changePoll:reason>" if c.reason else ""
    )
    return (
        f'<changePoll:changeData {_NS} state="{esc(c.state)}">'
        f"<changePoll:operation{op}>{esc(c.operation)}</changePoll:operation>"
        f"<changePoll:date>{when(c.date)}</changePoll:date>"
        f"<changePoll:svTRID>{esc(c.svtrid)}</changePoll:svTRID>"
        f"<changePoll:who>{esc(c.who[:MAX_WHO])}</changePoll:who>{case}{reason}"
        "</changePoll:changeData>"
    )


def _poll(message: Any) -> Part | None:
    notice = change_notice(message) if isinstance(message, PollMessage) else None
    if notice is None:
        return None
    return Part(URI, change_xml(notice.change))


RESPONSES: dict[Command, Render] = {(None, "poll"): _poll}
