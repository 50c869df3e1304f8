"""Console domains: the list (search, filters, keyset paging), the domain page (status,
dates, contacts, nameservers, DS, history) and its actions: renew, nameservers, DS, client
statuses, new auth code, delete, restore, transfer approve/reject. Each action is one flow
call (`Web.act`); a domain of another registrar answers 404."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from domreg.flows import dnssec, domain, host, lifecycle, rgp, webusers
from domreg.flows.base import Context
from domreg.flows.lookup import live_domain, live_host, served_suffix
from domreg.model import statuses as st
from domreg.model.errors import EppError
from domreg.model.names import NameError_, parse_name
from domreg.model.periods import Period
from domreg.store import schema as t
from domreg.web.auth import page
from domreg.web.console import locks, queries
from domreg.web.core import Form, Problem, Web, not_found, redirect
from domreg.web.names import split_names, to_registry_name

CLIENT_STATUSES = (
    "clientTransferProhibited",
    "clientDeleteProhibited",
    "clientUpdateProhibited",
    "clientRenewProhibited",
    "clientHold",
)
DS_ALGORITHMS = (8, 10, 13, 14, 15, 16)
DS_DIGESTS = (2, 4)


def _filter(request: Request, tlds: list[str]) -> tuple[queries.DomainFilter, dict[str, str]]:
    p = request.query_params
    errors: dict[str, str] = {}
    q = p.get("q", "").strip()
    if len(q) > 253:
        errors["q"] = "At most 253 characters."
        q = ""
    elif q and not q.isascii():
        try:
            from domreg.model.names import to_ascii

            q = to_ascii(q)
        except NameError_:
            errors["q"] = "Not a valid name fragment."
            q = ""
    status = p.get("status", "")
    if len(status) > 32 or (status and not status.isalpha()):
        errors["status"] = "Choose a status from the list."
        status = ""
    tld = p.get("tld", "")
    if tld and tld not in tlds:
        errors["tld"] = "Choose a TLD from the list."
        tld = ""
    before = None
    raw = p.get("before", "")
    if raw:
        try:
            before = datetime.fromisoformat(raw[:10])
        except ValueError:
            errors["before"] = "A date like 2027-01-31."
    after = p.get("after", "")[:253]
    return queries.DomainFilter(q.lower(), status, tld, before, after), errors


async def _owned(web: Web, user: webusers.WebUser, name: str) -> Any | None:
    """The live domain `name` if the user's registrar sponsors it, else None (→ 404)."""
    try:
        name = to_registry_name(name)
    except NameError_:
        return None

    def load(conn: Connection) -> Any:
        row = live_domain(conn, name)
        return row if row is not None and row.registrar_id == user.registrar_id else None

    return await web.read(load)


def routes(web: Web) -> list[BaseRoute]:
    async def listing(request: Request, user: webusers.WebUser) -> Response:
        rid = user.registrar_id
        assert rid is not None
        tlds = await web.read(queries.tld_names)
        f, errors = _filter(request, tlds)
        rows, next_after = await web.read(lambda conn: queries.domains_page(conn, rid, f))
        args = {k: v for k, v in request.query_params.items() if k != "after"}
        return web.render(
            request,
            "console/domains.html",
            400 if errors else 200,
            title="Domains",
            rows=rows,
            next_after=next_after,
            args=args,
            tlds=tlds,
            statuses=[
                "ok",
                *sorted(st.DOMAIN_CLIENT_SETTABLE | st.DOMAIN_SERVER_SETTABLE),
                "pendingDelete",
                "pendingTransfer",
            ],
            errors=errors,
            form=dict(request.query_params),
        )

    async def detail(
        request: Request,
        user: webusers.WebUser,
        errors: dict[str, str] | None = None,
        status: int = 200,
        form: dict[str, str] | None = None,
        shown_code: str = "",
    ) -> Response:
        row = await _owned(web, user, request.path_params["name"])
        if row is None:
            return not_found(web, request, "domain")
        now = web.now()

        def load(conn: Connection) -> tuple[Any, ...]:
            fresh = live_domain(conn, row.name)
            assert fresh is not None
            info = domain.render_info(conn, fresh, "all", full=True, show_auth=True)
            info.auth_info = "" if domain.check_auth_live(fresh, now) else None
            rgps = lifecycle.rgp_statuses(conn, fresh.id, now)
            history = queries.history_of(conn, fresh.roid)
            trn = fresh
            gaining = losing = ""
            if fresh.trn_status:
                ids = {fresh.trn_gaining_id, fresh.trn_losing_id}
                names = dict(
                    conn.execute(
                        select(t.registrars.c.id, t.registrars.c.clid).where(
                            t.registrars.c.id.in_(ids)
                        )
                    ).all()
                )
                gaining, losing = (
                    names.get(fresh.trn_gaining_id, ""),
                    names.get(fresh.trn_losing_id, ""),
                )
            return info, rgps, history, trn, gaining, losing

        info, rgps, history, trn, gaining, losing = await web.read(load)
        stored = {s for s, _, _ in info.statuses}
        return web.render(
            request,
            "console/domain.html",
            status,
            title=info.name,
            d=info,
            rgp=rgps,
            history=history,
            trn=trn,
            gaining=gaining,
            losing=losing,
            client_statuses=[(s, s in stored) for s in CLIENT_STATUSES],
            ds_rows=list(zip(info.ds, dnssec.presentation(info.ds), strict=True)),
            errors=errors or {},
            form=form or {},
            shown_code=shown_code,
            ns_text="\n".join(info.ns or []),
        )

    async def show(request: Request, user: webusers.WebUser) -> Response:
        return await detail(request, user)

    def action(name_: str, handler: Any) -> Route:
        async def endpoint(request: Request, user: webusers.WebUser) -> Response:
            row = await _owned(web, user, request.path_params["name"])
            if row is None:
                return not_found(web, request, "domain")
            form = Form(await request.form())
            try:
                return await handler(request, user, row, form)
            except Problem as exc:
                values = {k: v for k, v in form.data.items() if isinstance(v, str) and k != "csrf"}
                return await detail(request, user, exc.errors, 400, values)

        return Route(
            f"/console/domains/{{name}}/{name_}", page(web, "registrar", endpoint), methods=["POST"]
        )

    def here(row: Any) -> str:
        return f"/console/domains/{row.name}"

    async def renew(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        years = form.integer("years", label="Years", low=1, high=10)
        form.check()
        cmd = domain.DomainRenew(row.name, row.expires_at.date().isoformat(), Period(years, "y"))
        await web.act(
            request, user, "domain.renew", row.name, lambda ctx: domain.renew(ctx, cmd), "years"
        )
        return redirect(here(row), "renewed")

    async def nameservers(
        request: Request, user: webusers.WebUser, row: Any, form: Form
    ) -> Response:
        text = form.text(
            "nameservers", label="Nameservers", required=False, max_len=4000, multiline=True
        )
        wanted: list[str] = []
        for raw in split_names(text):
            try:
                wanted.append(to_registry_name(raw))
            except NameError_ as exc:
                form.errors.setdefault("nameservers", f"{raw[:80]!r} is not a host name: {exc}")
        if len(set(wanted)) > domain.MAX_NAMESERVERS:
            form.errors.setdefault("nameservers", f"At most {domain.MAX_NAMESERVERS} nameservers.")
        if len(set(wanted)) != len(wanted):
            form.errors.setdefault("nameservers", "A nameserver is listed twice.")
        form.check()

        def change(ctx: Context) -> None:
            current = set(domain.render_info(ctx.conn, row, "del", True, False).ns or [])
            for ns in wanted:
                if ns not in current and live_host(ctx.conn, ns) is None:
                    served = served_suffix(ctx.conn, parse_name(ns))
                    if served is not None:
                        raise Problem(
                            {
                                "nameservers": f"{ns} is under this registry: create it with its addresses on the Hosts page first."
                            }
                        )
                    # its own history row, so its own server transaction id
                    host.create(replace(ctx, svtrid=web.svtrids.next()), host.HostCreate(ns))
            add = tuple(n for n in wanted if n not in current)
            rem = tuple(sorted(current - set(wanted)))
            if not add and not rem:
                raise Problem({"nameservers": "These are already the nameservers."})
            domain.update(ctx, domain.DomainUpdate(row.name, add_ns=add, rem_ns=rem))

        await web.act(request, user, "domain.nameservers", row.name, change, "nameservers")
        return redirect(here(row), "nameservers")

    async def ds_add(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        key_tag = form.integer("key_tag", label="Key tag", low=0, high=65535)
        alg = form.integer("alg", label="Algorithm", low=0, high=255)
        digest_type = form.integer("digest_type", label="Digest type", low=0, high=255)
        digest = form.text("digest", label="Digest", max_len=128).replace(" ", "").upper()
        if digest and any(c not in "0123456789ABCDEF" for c in digest):
            form.errors.setdefault("digest", "Digest is hexadecimal (0-9, A-F).")
        form.check()
        ds = dnssec.DsData(key_tag, alg, digest_type, digest)
        try:
            dnssec.check_ds(ds)
        except EppError as exc:
            raise Problem({"digest": exc.text}) from None
        cmd = domain.DomainUpdate(row.name, dnssec=dnssec.DnssecUpdate(add_ds=(ds,)))
        await web.act(
            request, user, "domain.ds.add", row.name, lambda ctx: domain.update(ctx, cmd), "digest"
        )
        return redirect(here(row), "ds")

    async def ds_remove(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        raw = form.text("record", label="DS record", max_len=300)
        parts = raw.split()
        if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
            form.errors.setdefault("", "Choose a DS record to remove.")
        form.check()
        ds = dnssec.DsData(int(parts[0]), int(parts[1]), int(parts[2]), parts[3].upper())
        cmd = domain.DomainUpdate(row.name, dnssec=dnssec.DnssecUpdate(rem_ds=(ds,)))
        await web.act(
            request, user, "domain.ds.remove", row.name, lambda ctx: domain.update(ctx, cmd)
        )
        return redirect(here(row), "ds")

    async def statuses(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        target = locks.wanted(form, CLIENT_STATUSES)

        def update(ctx: Context, add: locks.Added, rem: tuple[str, ...]) -> None:
            domain.update(ctx, domain.DomainUpdate(row.name, add_statuses=add, rem_statuses=rem))

        change = locks.change(web, row.roid, CLIENT_STATUSES, target, update)
        await web.act(request, user, "domain.statuses", row.name, change)
        return redirect(here(row), "statuses")

    async def auth_code(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        code = secrets.token_urlsafe(18)
        cmd = domain.DomainUpdate(row.name, auth_info=code)
        try:
            await web.act(
                request, user, "domain.authinfo", row.name, lambda ctx: domain.update(ctx, cmd)
            )
        except Problem as exc:
            return await detail(request, user, exc.errors, 400)
        return await detail(request, user, shown_code=code)

    async def delete(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        confirm = form.text("confirm", label="Confirmation", max_len=253)
        if confirm and confirm.lower() != row.name:
            form.errors["confirm"] = f"Type {row.name} to confirm."
        form.check()
        await web.act(
            request,
            user,
            "domain.delete",
            row.name,
            lambda ctx: domain.delete_(ctx, row.name),
            "confirm",
        )
        live = await _owned(web, user, row.name)
        return redirect(here(row) if live else "/console/domains", "deleted")

    async def restore(request: Request, user: webusers.WebUser, row: Any, form: Form) -> Response:
        cmd = rgp.DomainRestore(row.name, rgp.REQUEST)
        await web.act(
            request, user, "domain.restore.request", row.name, lambda ctx: rgp.restore(ctx, cmd)
        )
        return redirect(here(row), "restore-requested")

    async def restore_report(
        request: Request, user: webusers.WebUser, row: Any, form: Form
    ) -> Response:
        reason = form.text("reason", label="Reason", max_len=1000, multiline=True)
        if form.data.get("statements") != "on":
            form.errors["statements"] = "Both statements must be confirmed."
        form.check()

        def report(ctx: Context) -> None:
            deleted = (
                ctx.conn.execute(
                    select(t.history.c.at)
                    .where(t.history.c.roid == row.roid, t.history.c.command == "domain:delete")
                    .order_by(t.history.c.at.desc())
                    .limit(1)
                ).scalar_one_or_none()
                or ctx.now
            )
            snap = domain.snapshot(ctx.conn, row.id)
            rep = lifecycle.RestoreReport(
                pre_data=str(snap),
                post_data=str(snap),
                del_time=deleted,
                res_time=ctx.now,
                res_reason=reason,
                statements=(
                    "This registrar has not restored the domain in order to assume the rights to use or sell it for itself or for any third party.",
                    "The information in this report is true to best of this registrar's knowledge.",
                ),
            )
            rgp.restore(ctx, rgp.DomainRestore(row.name, rgp.REPORT, report=rep))

        await web.act(request, user, "domain.restore.report", row.name, report, "reason")
        return redirect(here(row), "restored")

    async def transfer_answer(
        request: Request, user: webusers.WebUser, row: Any, form: Form
    ) -> Response:
        op = form.choice("op", label="Answer", options=("approve", "reject"))
        form.check()
        cmd = domain.DomainTransfer(op, row.name)
        await web.act(
            request, user, f"domain.transfer.{op}", row.name, lambda ctx: domain.transfer(ctx, cmd)
        )
        if op == "approve":
            return redirect("/console/transfers", "transfer-approved")
        return redirect(here(row), "transfer-rejected")

    return [
        Route("/console/domains", page(web, "registrar", listing), methods=["GET"]),
        Route("/console/domains/{name}", page(web, "registrar", show), methods=["GET"]),
        action("renew", renew),
        action("nameservers", nameservers),
        action("ds/add", ds_add),
        action("ds/remove", ds_remove),
        action("statuses", statuses),
        action("authcode", auth_code),
        action("delete", delete),
        action("restore", restore),
        action("restore/report", restore_report),
        action("transfer", transfer_answer),
    ]
