"""Console contact page (`/console/contacts/{handle}`): the contact's data, the domains it is
linked to and its history, and its actions: edit (postal info, phone, fax, e-mail, disclose
flags), client locks and delete. Each action is one contact flow call (`Web.act`); a
contact of another registrar, or an unknown handle, answers 404."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import contact, webusers
from domreg.flows.base import Context
from domreg.flows.lookup import live_contact
from domreg.model.countries import COUNTRIES
from domreg.web.auth import page
from domreg.web.console import locks, queries
from domreg.web.core import Form, Problem, Web, not_found, redirect

CLIENT_STATUSES = (
    "clientUpdateProhibited",
    "clientDeleteProhibited",
    "clientTransferProhibited",
)
#: The disclose checkboxes, in the order shown, with their labels.
DISCLOSE = (
    ("name_int", "Name (int)"),
    ("name_loc", "Name (loc)"),
    ("org_int", "Organisation (int)"),
    ("org_loc", "Organisation (loc)"),
    ("addr_int", "Address (int)"),
    ("addr_loc", "Address (loc)"),
    ("voice", "Phone"),
    ("fax", "Fax"),
    ("email", "E-mail"),
)
_PHONE = re.compile(r"\+[0-9]{1,3}\.[0-9]{1,14}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_POSTAL_PART = re.compile(r"postalinfo (int|loc) (name|org|street|city|sp|pc|cc)")


async def _owned(web: Web, user: webusers.WebUser, handle: str) -> Any | None:
    """The live contact `handle` if the user's registrar sponsors it, else None (→ 404)."""
    if not 1 <= len(handle) <= contact.MAX_ID:
        return None

    def load(conn: Connection) -> Any:
        row = live_contact(conn, handle)
        return row if row is not None and row.registrar_id == user.registrar_id else None

    return await web.read(load)


def _postal_form(info: contact.ContactInfo) -> dict[str, str]:
    """The edit form's initial values from the stored contact."""
    values: dict[str, str] = {
        "voice": info.voice or "",
        "fax": info.fax or "",
        "email": info.email or "",
    }
    for p in info.postal:
        k = p.type
        values.update(
            {
                f"{k}_name": p.name,
                f"{k}_org": p.org or "",
                f"{k}_street": "\n".join(p.street),
                f"{k}_city": p.city,
                f"{k}_sp": p.sp or "",
                f"{k}_pc": p.pc or "",
                f"{k}_cc": p.cc,
            }
        )
    return values


def _read_postal(form: Form, kind: str, required: bool) -> contact.PostalInfo | None:
    """The postal info of type `kind` from the form; None for an optional, blank one."""
    names = ("name", "org", "street", "city", "sp", "pc", "cc")
    if not required and not any(str(form.data.get(f"{kind}_{n}", "")).strip() for n in names):
        return None
    label = "International" if kind == "int" else "Local"
    name = form.text(f"{kind}_name", label=f"{label} name", max_len=contact.MAX_LINE)
    org = form.text(f"{kind}_org", label="Organisation", required=False, max_len=contact.MAX_LINE)
    street_text = form.text(
        f"{kind}_street", label="Street", required=False, max_len=800, multiline=True
    )
    street = tuple(s.strip() for s in street_text.splitlines() if s.strip())
    if len(street) > contact.MAX_STREET_LINES:
        form.errors.setdefault(
            f"{kind}_street", f"At most {contact.MAX_STREET_LINES} street lines."
        )
    elif any(len(s) > contact.MAX_LINE for s in street):
        form.errors.setdefault(
            f"{kind}_street", f"A street line is at most {contact.MAX_LINE} characters."
        )
    city = form.text(f"{kind}_city", label="City", max_len=contact.MAX_LINE)
    sp = form.text(f"{kind}_sp", label="State or province", required=False)
    pc = form.text(f"{kind}_pc", label="Postal code", required=False, max_len=contact.MAX_PC)
    cc = form.text(f"{kind}_cc", label="Country code", max_len=2).upper()
    if cc and cc not in COUNTRIES:
        form.errors.setdefault(f"{kind}_cc", "A two-letter ISO 3166 country code, like DE or US.")
    if kind == "int":
        for part, value in (("name", name), ("org", org), ("street", street_text), ("city", city)):
            if value and not value.isascii():
                form.errors.setdefault(f"int_{part}", "International postal info is in ASCII only.")
        for part, value in (("sp", sp), ("pc", pc)):
            if value and not value.isascii():
                form.errors.setdefault(f"int_{part}", "International postal info is in ASCII only.")
    return contact.PostalInfo(kind, name, org, street, city, sp or None, pc or None, cc)


def _field_of(errors: dict[str, str]) -> dict[str, str]:
    """Put a flow's refusal next to the field it is about."""
    out: dict[str, str] = {}
    for k, v in errors.items():
        low = v.lower()
        m = _POSTAL_PART.search(low)
        key = k
        if m:
            key = f"{m.group(1)}_{m.group(2)}"
        elif low.startswith(("voice", "fax", "email")):
            key = low.split()[0]
        elif low.startswith("disclose"):
            key = "disclose"
        out[key] = v
    return out


def routes(web: Web) -> list[BaseRoute]:
    async def detail(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        status: int = 200,
        form: dict[str, str] | None = None,
    ) -> Response:
        row = await _owned(web, user, request.path_params["handle"])
        if row is None:
            return not_found(web, request, "contact")

        def load(conn: Connection) -> tuple[Any, ...]:
            fresh = live_contact(conn, row.handle)
            assert fresh is not None
            info = contact.render_info(conn, fresh, full=True)
            return info, queries.contact_links(conn, fresh.id), queries.history_of(conn, fresh.roid)

        info, links, history = await web.read(load)
        stored = {s for s, _, _ in info.statuses}
        shown = info.disclose.fields if info.disclose and info.disclose.flag else frozenset()
        values = _postal_form(info)
        if form is not None:  # a refused edit: show what was sent
            values = form
            shown = frozenset(f for f, _ in DISCLOSE if form.get(f"disclose_{f}") == "on")
        return web.render(
            request,
            "console/contact.html",
            status,
            title=info.id,
            c=info,
            links=links,
            history=history,
            client_statuses=[(s, s in stored) for s in CLIENT_STATUSES],
            disclose=[(f, label, f in shown) for f, label in DISCLOSE],
            errors=errors or {},
            form=values,
        )

    async def show(request: Request, user: webusers.WebUser) -> Response:
        return await detail(request, user)

    def action(name_: str, handler: Any) -> Route:
        async def endpoint(request: Request, user: webusers.WebUser) -> Response:
            row = await _owned(web, user, request.path_params["handle"])
            if row is None:
                return not_found(web, request, "contact")
            form = Form(await request.form())
            try:
                return await handler(request, user, row, form)
            except Problem as exc:
                values = {k: v for k, v in form.data.items() if isinstance(v, str) and k != "csrf"}
                return await detail(request, user, _field_of(exc.errors), 400, values)

        return Route(
            f"/console/contacts/{{handle}}/{name_}",
            page(web, "registrar", endpoint),
            methods=["POST"],
        )

    def here(row: Any) -> str:
        return f"/console/contacts/{row.handle}"

    async def edit(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        postal = [_read_postal(form, "int", True), _read_postal(form, "loc", False)]
        email = form.text("email", label="E-mail", max_len=contact.MAX_EMAIL)
        if email and not _EMAIL.fullmatch(email):
            form.errors.setdefault("email", "An e-mail address like name@example.org.")
        phones: dict[str, str] = {}
        for what, label in (("voice", "Phone"), ("fax", "Fax")):
            number = form.text(what, label=label, required=False, max_len=20).replace(" ", "")
            if number and not _PHONE.fullmatch(number):
                form.errors.setdefault(what, f"{label}: +CC.NUMBER, like +49.3012345678.")
            phones[what] = number
        chosen = frozenset(f for f, _ in DISCLOSE if form.data.get(f"disclose_{f}") == "on")
        form.check()
        # Nothing ticked: "do not disclose any of these" (the server's default policy).
        disclose = (
            contact.Disclose(True, chosen)
            if chosen
            else contact.Disclose(False, contact.DISCLOSE_FIELDS)
        )
        cmd = contact.ContactUpdate(
            row.handle,
            postal=tuple(p for p in postal if p is not None),
            voice=phones["voice"],  # "" removes the number
            fax=phones["fax"],
            email=email,
            disclose=disclose,
        )
        await web.act(
            request, user, "contact.update", row.handle, lambda ctx: contact.update(ctx, cmd)
        )
        return redirect(here(row), "contact-updated")

    async def statuses(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        target = locks.wanted(form, CLIENT_STATUSES)

        def update(ctx: Context, add: locks.Added, rem: tuple[str, ...]) -> None:
            contact.update(
                ctx, contact.ContactUpdate(row.handle, add_statuses=add, rem_statuses=rem)
            )

        change = locks.change(web, row.roid, CLIENT_STATUSES, target, update)
        await web.act(request, user, "contact.statuses", row.handle, change)
        return redirect(here(row), "statuses")

    async def delete(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        confirm = form.text("confirm", label="Confirmation", max_len=contact.MAX_ID + 10)
        if confirm and confirm != row.handle:
            form.errors["confirm"] = f"Type {row.handle} to confirm."
        form.check()
        await web.act(
            request,
            user,
            "contact.delete",
            row.handle,
            lambda ctx: contact.delete_(ctx, row.handle),
            "confirm",
        )
        return redirect("/console/contacts", "contact-deleted")

    return [
        Route("/console/contacts/{handle}", page(web, "registrar", show), methods=["GET"]),
        action("edit", edit),
        action("statuses", statuses),
        action("delete", delete),
    ]
