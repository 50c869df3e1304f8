"""The EPP session state machine (RFC 5730 section 2): greeting, login, commands, logout.

One `Session` per connection. `handle(frame)` returns the response bytes and whether the
server must close the connection afterwards; `handle_now(frame)` is the same run to its end
in one call, for a database whose work never suspends (SQLite), so the transport can answer
from its data callback. A frame is parsed by `fastpath` when it is a plain domain:check,
domain:info or domain:create (the codec's `Frame` without lxml or the XSD), else by
`codec.parse_frame`; from there every command takes the same dispatch: metrics (in the TLD
of the names the typed command holds, `command_subject`; the plain check with the names it
extracted), login state, the objURIs announced at login, the flow, rendering. Database work
runs through `Database.run`, one transaction per command, with one `now` from the registry
clock (for a read, the one the command was counted at); on PostgreSQL the plain domain check
and info are read from the event loop instead, in batches (`Registry.loop_reads`,
`flows/loopreads.py`), and on SQLite the plain domain check runs its statement on the driver
directly (`Registry.inline_checks`, `flows/inlinechecks.py`); both are rendered the same
way. On PostgreSQL a domain:create with nothing to link is run from the event loop
(`Registry.loop_writes`, `flows/loopwrites.py`), or by its flow when it needs more.
Extension parts of a response come from the extension modules (`extensions.respond`): only
those the client announced at login go into `<extension>`, the others into `<extValue>`
(RFC 9038).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from domreg import metrics
from domreg.clock import Clock
from domreg.epp import codec, extensions, fastpath, render
from domreg.epp import namespaces as ns
from domreg.epp.extensions import unhandled
from domreg.flows import checks, contact, domain, domain_create, host, poll, rgp, session
from domreg.flows.base import Actor, Context, Policy, SvTrIds
from domreg.flows.inlinechecks import InlineChecks
from domreg.flows.loopreads import LoopReads
from domreg.flows.loopwrites import LoopWrites
from domreg.model.errors import EppError
from domreg.model.results import Result
from domreg.store.db import Database
from domreg.store.loop import settle

log = logging.getLogger("domreg.epp")

MAX_FAILED_LOGINS = 3

#: Commands that only read: they run in a read-only transaction.
QUERIES = frozenset({"check", "info"})
#: Object kind ("domain"...) -> its namespace URI.
OBJECT_URIS = {name: uri for uri, name in ns.OBJECT_NAMES.items()}
_DOMAIN_URI = OBJECT_URIS["domain"]


@dataclass
class Registry:
    """What every session of a server shares."""

    db: Database
    clock: Clock = field(default_factory=Clock)
    server_id: str = "domreg EPP server"
    svtrids: SvTrIds = field(default_factory=SvTrIds)
    policy: Policy = field(default_factory=Policy)
    #: Recognise the common domain:check, info and create frames without the codec
    #: (`fastpath`); off, every frame goes through `codec.parse_frame` (the tests compare).
    fast_paths: bool = True
    #: PostgreSQL: plain domain check and info answered from the event loop in batches
    #: (`flows/loopreads.py`) instead of the flows in the thread pool; None: the flows.
    loop_reads: LoopReads | None = None
    #: SQLite: plain domain checks answered on the driver connection of `InlineChecks`
    #: (`flows/inlinechecks.py`) instead of the flow in a `Database.read`; None: the flow.
    inline_checks: InlineChecks | None = None
    #: PostgreSQL: domain:create with nothing to link run from the event loop
    #: (`flows/loopwrites.py`), handed to the flow when it needs more; None: the flow.
    loop_writes: LoopWrites | None = None

    def greeting(self) -> bytes:
        return render.greeting(self.server_id, self.clock.now())


#: A handler returns (code, resData content) or (code, resData content, typed result); the
#: typed result is what the extension modules render their response parts from.
Handler = Callable[[Context, Any], tuple[Any, ...]]


def _domain_check(ctx: Context, names: Any) -> tuple[Any, ...]:
    if isinstance(names, checks.DomainCheck):  # extended (fee, allocation token)
        checked = checks.check(ctx, names)
        if checked.claims is not None:  # RFC 8334 claims/trademark form: no availability
            return Result.SUCCESS, "", checked
        return Result.SUCCESS, render.domain_check(checked.items), checked
    return _checked(domain.check(ctx, names))


def _checked(items: list[domain.CheckItem]) -> tuple[Any, ...]:
    return Result.SUCCESS, render.domain_check(items)


def _domain_info(ctx: Context, a: dict[str, Any]) -> tuple[Any, ...]:
    return _informed(domain.info(ctx, **a))


def _informed(info: domain.DomainInfo) -> tuple[Any, ...]:
    return Result.SUCCESS, render.domain_info(info), info


#: How the typed results of `Registry.loop_reads` (plain domain check and info) are answered.
LOOP_ANSWERS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "check": _checked,
    "info": _informed,
}


def _domain_create(ctx: Context, cmd: domain.DomainCreate) -> tuple[Any, ...]:
    created = domain_create.create(ctx, cmd, sole=True)  # the command is its transaction
    return Result.SUCCESS, render.domain_created(created), created


def _domain_update(ctx: Context, cmd: Any) -> tuple[Any, ...]:
    if isinstance(cmd, rgp.DomainRestore):  # RFC 3915: an update carrying <rgp:restore>
        return Result.SUCCESS, "", rgp.restore(ctx, cmd)
    domain.update(ctx, cmd)
    return Result.SUCCESS, ""


def _domain_delete(ctx: Context, name: str) -> tuple[Result, str]:
    return domain.delete_(ctx, name), ""  # 1001 when the name goes into redemption


def _domain_renew(ctx: Context, cmd: domain.DomainRenew) -> tuple[Any, ...]:
    renewed = domain.renew(ctx, cmd)
    return Result.SUCCESS, render.domain_renewed(renewed), renewed


def _transfer_result(data: Any, op: str) -> tuple[Result, str]:
    code = Result.SUCCESS_PENDING if op == "request" else Result.SUCCESS
    return code, render.transfer(data)


def _domain_transfer(ctx: Context, cmd: domain.DomainTransfer) -> tuple[Any, ...]:
    data = domain.transfer(ctx, cmd)
    return (*_transfer_result(data, cmd.op), data)


def _host_check(ctx: Context, names: list[str]) -> tuple[Result, str]:
    return Result.SUCCESS, render.host_check(host.check(ctx, names))


def _host_info(ctx: Context, name: str) -> tuple[Result, str]:
    return Result.SUCCESS, render.host_info(host.info(ctx, name))


def _host_create(ctx: Context, cmd: host.HostCreate) -> tuple[Result, str]:
    return Result.SUCCESS, render.host_created(host.create(ctx, cmd))


def _host_update(ctx: Context, cmd: host.HostUpdate) -> tuple[Result, str]:
    host.update(ctx, cmd)
    return Result.SUCCESS, ""


def _host_delete(ctx: Context, name: str) -> tuple[Result, str]:
    host.delete_(ctx, name)
    return Result.SUCCESS, ""


def _contact_check(ctx: Context, ids: list[str]) -> tuple[Result, str]:
    return Result.SUCCESS, render.contact_check(contact.check(ctx, ids))


def _contact_info(ctx: Context, a: dict[str, Any]) -> tuple[Result, str]:
    return Result.SUCCESS, render.contact_info(contact.info(ctx, a["id"], a["auth_info"]))


def _contact_create(ctx: Context, cmd: contact.ContactCreate) -> tuple[Result, str]:
    return Result.SUCCESS, render.contact_created(contact.create(ctx, cmd))


def _contact_update(ctx: Context, cmd: contact.ContactUpdate) -> tuple[Result, str]:
    contact.update(ctx, cmd)
    return Result.SUCCESS, ""


def _contact_delete(ctx: Context, handle: str) -> tuple[Result, str]:
    contact.delete_(ctx, handle)
    return Result.SUCCESS, ""


def _contact_transfer(ctx: Context, cmd: contact.ContactTransfer) -> tuple[Result, str]:
    return _transfer_result(contact.transfer(ctx, cmd), cmd.op)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("domain", "check"): _domain_check,
    ("domain", "info"): _domain_info,
    ("domain", "create"): _domain_create,
    ("domain", "update"): _domain_update,
    ("domain", "delete"): _domain_delete,
    ("domain", "renew"): _domain_renew,
    ("domain", "transfer"): _domain_transfer,
    ("host", "check"): _host_check,
    ("host", "info"): _host_info,
    ("host", "create"): _host_create,
    ("host", "update"): _host_update,
    ("host", "delete"): _host_delete,
    ("contact", "check"): _contact_check,
    ("contact", "info"): _contact_info,
    ("contact", "create"): _contact_create,
    ("contact", "update"): _contact_update,
    ("contact", "delete"): _contact_delete,
    ("contact", "transfer"): _contact_transfer,
}


def command_name(cmd: Any) -> str:
    """The name an EPP command is counted under (`metrics`): "domain:info",
    "domain:transfer-request", "domain:rgp-restore-request", "login", "poll:req"..."""
    if isinstance(cmd, codec.ObjectCmd):
        if cmd.verb == "transfer":
            return f"{cmd.object}:transfer-{getattr(cmd.data, 'op', '')}"
        if isinstance(cmd.data, rgp.DomainRestore):
            return f"domain:rgp-restore-{cmd.data.op or 'request'}"
        return f"{cmd.object}:{cmd.verb}"
    if isinstance(cmd, codec.PollCmd):
        return f"poll:{cmd.op}"
    if isinstance(cmd, codec.LoginCmd):
        return "login"
    return "logout" if isinstance(cmd, codec.LogoutCmd) else "hello"


def command_subject(cmd: Any) -> Any:
    """What an EPP command is counted about (`metrics.epp_command`), taken from the typed
    command the session already has: the domain or host name of a domain or host command (an
    info's, a create's, an update's current one...), the list or tuple of names of a check;
    None for contact commands, login, logout, hello and poll (no TLD). A few type checks: it
    runs on every command."""
    if type(cmd) is not codec.ObjectCmd or cmd.object == "contact":
        return None
    data = cmd.data
    kind = type(data)
    if kind is list or kind is str:  # a plain check's names; a delete's, host info's name
        return data
    if kind is dict:  # domain info
        return data.get("name")
    if kind is checks.DomainCheck:  # an extended check (fee, allocation token, launch)
        return data.names
    return getattr(data, "name", None)  # DomainCreate, DomainUpdate, HostCreate...


def _failed(svtrid: str, cltrid: str | None, exc: BaseException | None = None) -> bytes:
    """The 2400 of a command that failed in the server (logged with its svTRID), with the
    exception being handled or `exc`."""
    log.error("command failed: svTRID %s", svtrid, exc_info=exc or True)
    return render.response(Result.COMMAND_FAILED, svtrid, cltrid, msg=_internal(svtrid))


def _internal(svtrid: str) -> str:
    return f"Command failed: internal error, logged as {svtrid}"


def _check_response(
    svtrid: str, cltrid: str | None, items: list[domain.CheckItem] | BaseException
) -> bytes:
    """The response to a plain check: its items, or a 2400 if the read failed (`items` is
    the exception) or the answer could not be made."""
    if isinstance(items, BaseException):
        return _failed(svtrid, cltrid, items)
    try:
        res_data = render.domain_check(items)
        return render.response(Result.SUCCESS, svtrid, cltrid, res_data=res_data)
    except Exception as exc:
        return _failed(svtrid, cltrid, exc)


def _answer_check(
    answered: Callable[[bytes], Any],
    svtrid: str,
    cltrid: str | None,
    items: list[domain.CheckItem] | BaseException,
) -> None:
    """`answered` with the response to a plain check read by `LoopReads.check` (always
    called, with a 2400 if the read failed)."""
    answered(_check_response(svtrid, cltrid, items))


class Session:
    """One client connection's EPP state."""

    def __init__(
        self, registry: Registry, peer_ip: str | None, cert_fingerprint: str | None
    ) -> None:
        self.registry = registry
        self.peer_ip = peer_ip
        self.cert_fingerprint = cert_fingerprint
        self.actor: Actor | None = None
        self.objects: frozenset[str] = frozenset()
        self.extensions: frozenset[str] = frozenset()
        self.failed_logins = 0

    def handle_now(self, data: bytes) -> tuple[bytes, bool]:
        """`handle`, run to its end in this call: for a database whose work never suspends
        (`Database.inline`: SQLite), where `handle` completes without waiting on anything.
        The transport answers frames with it from its data callback (`server.Connection`).

        A plain check (`_plain_check`) goes straight to `Registry.inline_checks` when there
        is one (`_check_now`), without the coroutines."""
        inline = self.registry.inline_checks
        if inline is not None and (check := self._plain_check(data)) is not None:
            return self._check_now(inline, *check), False
        steps = self.handle(data)
        try:
            steps.send(None)
        except StopIteration as done:
            result: tuple[bytes, bool] = done.value
            return result
        steps.close()
        raise RuntimeError("Session.handle waited, on a database whose work runs inline")

    # ---------------------------------------------------------------- the plain check
    #
    # A plain domain:check of a logged-in session that announced the domain objURI is most
    # of a registry's traffic. Where the registry has a faster way to read it (SQLite's
    # `inline_checks`, PostgreSQL's `loop_reads`) it is answered here: what `handle` does
    # for it (svTRID, one clock read, metrics, the check, rendering) without the typed
    # frame, the dispatch and the coroutines of `_object`, which cost as much as the check
    # (`tests/test_epp_fastpath.py` holds both paths to the same answers and counts).

    def _plain_check(self, data: bytes) -> tuple[list[str], str | None] | None:
        """The names and clTRID of `data` if it is a plain domain:check this session may send
        (`fastpath.check_names`); None: `handle` it."""
        if self.actor is None or not self.registry.fast_paths:
            return None
        check = fastpath.check_names(data)
        if check is None or (self.objects and _DOMAIN_URI not in self.objects):
            return None
        return check

    def _count_check(self, names: list[str]) -> tuple[str, datetime]:
        """The svTRID and `now` of a plain check of `names`, counted as `handle` counts it
        (in the TLDs of its names)."""
        assert self.actor is not None
        registry = self.registry
        svtrid, now = registry.svtrids.next(), registry.clock.now()
        metrics.epp_command("domain:check", self.actor.clid, now, names)
        return svtrid, now

    def _check_now(self, inline: InlineChecks, names: list[str], cltrid: str | None) -> bytes:
        svtrid, _ = self._count_check(names)
        try:
            items: list[domain.CheckItem] | BaseException = inline.check(names)
        except Exception as exc:
            items = exc
        return _check_response(svtrid, cltrid, items)

    async def _check_loop(self, reads: LoopReads, names: list[str], cltrid: str | None) -> bytes:
        svtrid, _ = self._count_check(names)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        reads.check(
            names, functools.partial(_answer_check, functools.partial(settle, fut), svtrid, cltrid)
        )
        return await fut

    def check_soon(self, data: bytes, answered: Callable[[bytes], None]) -> bool:
        """Where the plain check is read from the event loop (PostgreSQL's `loop_reads`):
        True when `data` is one (`_plain_check`), which is then answered by calling
        `answered` with the response from the loop's callback that read it, not from this
        call (`LoopReads.check`); False: `handle` the frame. The transport answers frames
        with it from its data callback, without the connection's task
        (`server.Connection`)."""
        reads = self.registry.loop_reads
        if reads is None or (check := self._plain_check(data)) is None:
            return False
        names, cltrid = check
        svtrid, _ = self._count_check(names)
        reads.check(names, functools.partial(_answer_check, answered, svtrid, cltrid))
        return True

    # ---------------------------------------------------------------- every frame

    async def handle(self, data: bytes) -> tuple[bytes, bool]:
        """Answer one frame: (response bytes, close the connection after sending)."""
        reads = self.registry.loop_reads
        if reads is not None and (check := self._plain_check(data)) is not None:
            return await self._check_loop(reads, *check), False
        svtrid = self.registry.svtrids.next()
        try:
            # The common domain:check, info and create frames are recognised without lxml
            # (`fastpath`): the same Frame as the codec's, or None and the codec parses it.
            fast = fastpath.parse(data) if self.registry.fast_paths else None
            frame = fast or codec.parse_frame(data)
        except codec.FrameError as err:
            return render.response(
                err.code, svtrid, err.cltrid, msg=err.text, values=err.values
            ), False
        except Exception:
            log.exception("frame could not be parsed: svTRID %s", svtrid)
            return render.response(Result.COMMAND_FAILED, svtrid, msg=_internal(svtrid)), False
        cmd = frame.command
        clid = self.actor.clid if self.actor else None
        now = self.registry.clock.now()
        metrics.epp_command(command_name(cmd), clid, now, command_subject(cmd))
        try:
            if isinstance(cmd, codec.Hello):
                return self.registry.greeting(), False
            if isinstance(cmd, codec.LoginCmd):
                return await self._login(cmd, frame.cltrid, svtrid)
            if self.actor is None:
                raise EppError(Result.COMMAND_USE_ERROR, "log in first")
            if isinstance(cmd, codec.LogoutCmd):
                self.actor = None
                return render.response(Result.SUCCESS_ENDING_SESSION, svtrid, frame.cltrid), True
            if isinstance(cmd, codec.PollCmd):
                return await self._poll(cmd, frame.cltrid, svtrid, now), False
            return await self._object(cmd, frame.cltrid, svtrid, now), False
        except EppError as err:
            close = err.code.closes_session
            return render.response(
                err.code, svtrid, frame.cltrid, msg=err.text, values=err.values
            ), close
        except Exception:
            return _failed(svtrid, frame.cltrid), False

    async def _login(
        self, cmd: codec.LoginCmd, cltrid: str | None, svtrid: str
    ) -> tuple[bytes, bool]:
        if self.actor is not None:
            raise EppError(Result.COMMAND_USE_ERROR, "already logged in")
        if cmd.version != "1.0":
            raise EppError(
                Result.UNIMPLEMENTED_PROTOCOL_VERSION, f"version {cmd.version} is not supported"
            )
        if cmd.lang != "en":
            raise EppError(Result.UNIMPLEMENTED_OPTION, f"language {cmd.lang} is not supported")
        for uri in cmd.obj_uris:
            if uri not in ns.OBJECT_NAMES:
                raise EppError(
                    Result.UNIMPLEMENTED_OBJECT_SERVICE, f"object service {uri} is not implemented"
                )
        if not cmd.login_security and session.LOGIN_SECURITY in (cmd.password, cmd.new_password):
            # Without <loginSec:loginSec> (which replaces it), the placeholder is no password.
            raise EppError(
                Result.REQUIRED_PARAMETER_MISSING,
                f"{session.LOGIN_SECURITY} needs the loginSec extension with the password",
            )
        request = session.Login(
            cmd.clid, cmd.password, cmd.new_password, self.peer_ip, self.cert_fingerprint
        )
        db, clock, policy = self.registry.db, self.registry.clock, self.registry.policy
        # Extensions the client announces but we do not implement are ignored (RFC 5730
        # leaves this to the server); responses only use extensions the client announced.
        announced = frozenset(cmd.ext_uris) & frozenset(ns.EXTENSIONS)

        def work() -> session.LoginResult:
            with db.write() as conn:
                return session.login(conn, clock.now(), request, policy)

        try:
            outcome = await db.run(work)
        except EppError as err:
            self.failed_logins += 1
            code = err.code
            if self.failed_logins >= MAX_FAILED_LOGINS:
                code = Result.AUTHENTICATION_ERROR_CLOSING
            events = err.events if isinstance(err, session.LoginRefused) else []
            ext, moved = extensions.respond((None, "login"), events, announced)
            failed = EppError(code, err.reason)
            return render.response(
                code, svtrid, cltrid, msg=failed.text, values=moved, extension=ext
            ), code.closes_session
        self.actor = outcome.actor
        self.objects = frozenset(cmd.obj_uris)
        self.extensions = announced
        log.info("login %s from %s (%s)", cmd.clid, self.peer_ip, cmd.user_agent or "no agent")
        ext, moved = extensions.respond((None, "login"), outcome.events, announced)
        return render.response(Result.SUCCESS, svtrid, cltrid, values=moved, extension=ext), False

    def _context(
        self, conn: Any, cltrid: str | None, svtrid: str, now: datetime | None = None
    ) -> Context:
        """The flow's context. Reads run at `now`, the time the command was counted at (one
        clock read per command); writes read the clock inside their transaction, so their
        times follow the order in which they take the database (SQLite's write lock)."""
        assert self.actor is not None
        if now is None:
            now = self.registry.clock.now()
        return Context(conn, now, self.actor, cltrid, svtrid, self.registry.policy)

    async def _poll(
        self, cmd: codec.PollCmd, cltrid: str | None, svtrid: str, now: datetime
    ) -> bytes:
        db = self.registry.db
        if cmd.op == "req":

            def req() -> poll.Queue:
                with db.read() as conn:
                    return poll.request(self._context(conn, cltrid, svtrid, now))

            queue = await db.run(req)
            if queue.head is None:
                return render.response(Result.SUCCESS_NO_MESSAGES, svtrid, cltrid)
            q, res = render.poll_message(queue)
            # RFC 9038 section 6: object data and extensions the client did not announce at
            # login are moved into <extValue>, never dropped.
            kind = (queue.head.payload or {}).get("object_type", "domain")
            object_uri = OBJECT_URIS.get(kind, ns.DOMAIN)
            res, moved = unhandled.object_data(res, object_uri, self.objects)
            ext, moved_ext = extensions.respond((None, "poll"), queue.head, self.extensions)
            return render.response(
                Result.SUCCESS_ACK_TO_DEQUEUE,
                svtrid,
                cltrid,
                msgq=q,
                res_data=res,
                values=[*moved, *moved_ext],
                extension=ext,
            )
        if cmd.msg_id is None:
            raise EppError(Result.REQUIRED_PARAMETER_MISSING, "poll ack needs msgID")
        msg_id = cmd.msg_id

        def ack() -> poll.Queue:
            with db.write() as conn:
                return poll.ack(self._context(conn, cltrid, svtrid), msg_id)

        queue = await db.run(ack)
        q = f'<msgQ count="{queue.count}" id="{render.esc(msg_id)}"/>'
        return render.response(Result.SUCCESS, svtrid, cltrid, msgq=q)

    async def _object(
        self, cmd: codec.ObjectCmd, cltrid: str | None, svtrid: str, now: datetime
    ) -> bytes:
        uri = OBJECT_URIS[cmd.object]
        if self.objects and uri not in self.objects:
            raise EppError(Result.UNIMPLEMENTED_OBJECT_SERVICE, f"{uri} was not announced at login")
        inline = self.registry.inline_checks
        if inline is not None:
            if cmd.verb == "check" and cmd.object == "domain" and type(cmd.data) is list:
                # A plain check (names only): no transaction object.
                return self._answer(cmd, cltrid, svtrid, _checked(inline.check(cmd.data)))
            inline.fresh()  # checks after this command see what it writes
        loop_reads = self.registry.loop_reads
        if loop_reads is not None and cmd.object == "domain":
            assert self.actor is not None
            pending = loop_reads.submit(cmd.verb, cmd.data, self.actor, now)
            if pending is not None:
                return self._answer(cmd, cltrid, svtrid, LOOP_ANSWERS[cmd.verb](await pending))
        loop_writes = self.registry.loop_writes
        if loop_writes is not None and type(cmd.data) is domain.DomainCreate:
            assert self.actor is not None
            registry = self.registry
            ctx = Context(
                cast(Any, None), registry.clock.now(), self.actor, cltrid, svtrid, registry.policy
            )
            created = await loop_writes.create(ctx, cmd.data)
            if created is not None:
                done = Result.SUCCESS, render.domain_created(created), created
                return self._answer(cmd, cltrid, svtrid, done)
        handler = HANDLERS[(cmd.object, cmd.verb)]
        db = self.registry.db
        read_only = cmd.verb in QUERIES or (
            cmd.verb == "transfer" and getattr(cmd.data, "op", "") == "query"
        )

        def work() -> tuple[Any, ...]:
            if read_only:
                with db.read() as conn:
                    return handler(self._context(conn, cltrid, svtrid, now), cmd.data)
            with db.write() as conn:
                return handler(self._context(conn, cltrid, svtrid), cmd.data)

        return self._answer(cmd, cltrid, svtrid, await db.run(work))

    def _answer(
        self, cmd: codec.ObjectCmd, cltrid: str | None, svtrid: str, done: tuple[Any, ...]
    ) -> bytes:
        """The response of a handler's (code, resData content[, typed result])."""
        code, res_data, *typed = done
        if not typed:
            return render.response(code, svtrid, cltrid, res_data=res_data)
        ext, moved = extensions.respond((cmd.object, cmd.verb), typed[0], self.extensions)
        return render.response(code, svtrid, cltrid, res_data=res_data, values=moved, extension=ext)
