"""Client statuses ("locks") set from the console, for domains and contacts alike: the ticked
checkboxes of a locks form, and the flow calls that bring an object's client statuses there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from domreg.flows.base import Context, statuses_of
from domreg.web.core import Form, Problem, Web

#: Statuses to add (status, lang, message) and to remove, as the update flows take them.
Added = tuple[tuple[str, str | None, str | None], ...]
Update = Callable[[Context, Added, tuple[str, ...]], None]


def wanted(form: Form, allowed: Sequence[str]) -> set[str]:
    """The client statuses ticked in `form` (field errors for anything else)."""
    ticked = {s for s in allowed if form.data.get(s) == "on"}
    if any(k not in (*allowed, "csrf") for k in form.data):
        form.errors[""] = "Unknown field in the form."
    form.check()
    return ticked


def change(
    web: Web, roid: str, allowed: Sequence[str], target: set[str], update: Update
) -> Callable[[Context], None]:
    """The action that moves object `roid`'s client statuses to `target` through `update`
    (the object's EPP update flow)."""

    def run(ctx: Context) -> None:
        stored = set(statuses_of(ctx.conn, roid)) & set(allowed)
        add = tuple((s, None, None) for s in sorted(target - stored))
        rem = tuple(sorted(stored - target))
        if not add and not rem:
            raise Problem({"": "Nothing to change."})
        if "clientUpdateProhibited" in rem and add:
            # Unlocking first: an update of a locked object may only remove
            # clientUpdateProhibited (RFC 5731 and RFC 5733).
            update(replace(ctx, svtrid=web.svtrids.next()), (), ("clientUpdateProhibited",))
            rem = tuple(s for s in rem if s != "clientUpdateProhibited")
        update(ctx, add, rem)

    return run
