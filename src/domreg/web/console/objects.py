"""Console contacts and hosts: lists and create forms (through the contact and host flows),
host deletion."""

from __future__ import annotations

import ipaddress
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import contact, host, webusers
from domreg.model.names import NameError_
from domreg.web.auth import page
from domreg.web.console import queries
from domreg.web.core import Form, Problem, Web, redirect
from domreg.web.names import to_registry_name


def routes(web: Web) -> list[BaseRoute]:
    async def contacts_page(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        rid = user.registrar_id
        assert rid is not None
        rows = await web.read(lambda conn: queries.contacts(conn, rid))
        return web.render(
            request,
            "console/contacts.html",
            400 if errors else 200,
            title="Contacts",
            rows=rows,
            errors=errors or {},
            form=form or {},
        )

    async def contacts_get(request: Request, user: webusers.WebUser) -> Response:
        return await contacts_page(request, user)

    async def contact_create(request: Request, user: webusers.WebUser) -> Response:
        form = Form(await request.form())
        handle = form.text("handle", label="Handle", max_len=16)
        name = form.text("name", label="Name", max_len=255)
        org = form.text("org", label="Organisation", required=False, max_len=255)
        street = form.text("street", label="Street", required=False, max_len=255)
        city = form.text("city", label="City", max_len=255)
        pc = form.text("pc", label="Postal code", required=False, max_len=16)
        cc = form.text("cc", label="Country code", max_len=2).upper()
        email = form.text("email", label="E-mail", max_len=255)
        voice = form.text("voice", label="Phone", required=False, max_len=17)
        if cc and (len(cc) != 2 or not cc.isalpha()):
            form.errors["cc"] = "Two letters, like DE or US."
        if email and ("@" not in email or " " in email):
            form.errors["email"] = "An e-mail address like name@example.org."
        values = {k: v for k, v in form.data.items() if isinstance(v, str) and k != "csrf"}
        try:
            form.check()
            cmd = contact.ContactCreate(
                id=handle,
                postal=(
                    contact.PostalInfo(
                        "int",
                        name,
                        org or None,
                        (street,) if street else (),
                        city,
                        None,
                        pc or None,
                        cc,
                    ),
                ),
                email=email,
                auth_info=secrets.token_urlsafe(12),
                voice=voice or None,
            )
            await web.act(
                request,
                user,
                "contact.create",
                handle,
                lambda ctx: contact.create(ctx, cmd),
                "handle",
            )
        except Problem as exc:
            errs = _contact_field(exc.errors)
            return await contacts_page(request, user, errs, values)
        return redirect("/console/contacts", "contact")

    async def hosts_page(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        rid = user.registrar_id
        assert rid is not None
        rows = await web.read(lambda conn: queries.hosts(conn, rid))
        return web.render(
            request,
            "console/hosts.html",
            400 if errors else 200,
            title="Hosts",
            rows=rows,
            errors=errors or {},
            form=form or {},
        )

    async def hosts_get(request: Request, user: webusers.WebUser) -> Response:
        return await hosts_page(request, user)

    async def host_create(request: Request, user: webusers.WebUser) -> Response:
        form = Form(await request.form())
        raw = form.text("name", label="Host name", max_len=253)
        addr_text = form.text(
            "addresses", label="Addresses", required=False, max_len=2000, multiline=True
        )
        name = ""
        if raw:
            try:
                name = to_registry_name(raw)
            except NameError_ as exc:
                form.errors["name"] = f"Not a host name: {exc}"
        addresses: list[tuple[str, str]] = []
        for a in addr_text.replace(",", " ").split():
            try:
                ip = ipaddress.ip_address(a)
                addresses.append((str(ip), f"v{ip.version}"))
            except ValueError:
                form.errors.setdefault("addresses", f"Not an IP address: {a[:60]!r}")
        values = {k: v for k, v in form.data.items() if isinstance(v, str) and k != "csrf"}
        try:
            form.check()
            cmd = host.HostCreate(name, tuple(addresses))
            await web.act(
                request, user, "host.create", name, lambda ctx: host.create(ctx, cmd), "name"
            )
        except Problem as exc:
            errs = dict(exc.errors)
            if "name" in errs and "address" in errs["name"].lower():
                errs = {"addresses": errs["name"]}
            return await hosts_page(request, user, errs, values)
        return redirect("/console/hosts", "host")

    async def host_delete(request: Request, user: webusers.WebUser) -> Response:
        form = Form(await request.form())
        name = form.text("name", label="Host name", max_len=253)
        try:
            form.check()
            await web.act(request, user, "host.delete", name, lambda ctx: host.delete_(ctx, name))
        except Problem as exc:
            return await hosts_page(request, user, exc.errors)
        return redirect("/console/hosts", "host-deleted")

    return [
        Route("/console/contacts", page(web, "registrar", contacts_get), methods=["GET"]),
        Route("/console/contacts", page(web, "registrar", contact_create), methods=["POST"]),
        Route("/console/hosts", page(web, "registrar", hosts_get), methods=["GET"]),
        Route("/console/hosts", page(web, "registrar", host_create), methods=["POST"]),
        Route("/console/hosts/delete", page(web, "registrar", host_delete), methods=["POST"]),
    ]


def _contact_field(errors: dict[str, str]) -> dict[str, str]:
    """Put a flow's refusal next to the field it is about."""
    out: dict[str, str] = {}
    for k, v in errors.items():
        low = v.lower()
        field = k
        for key, words in (
            ("email", ("e-mail", "email")),
            ("voice", ("voice", "phone")),
            ("cc", ("country",)),
            ("pc", ("postal code",)),
            ("city", ("city",)),
            ("name", ("name ",)),
            ("handle", ("id ", "handle", "exists")),
        ):
            if any(w in low for w in words):
                field = key
                break
        out[field] = v
    return out
