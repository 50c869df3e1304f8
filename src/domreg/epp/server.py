"""EPP over TLS (RFC 5734): TLS 1.2+, 4-byte length framing, frame size and idle limits.

Each connection gets a greeting, then frames are read and answered one at a time. A frame
longer than the limit, a malformed length header, a client idle for too long or one that
stalls in the middle of a frame is answered (where possible) and disconnected; nothing a
client sends can crash the server or reach another session.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import struct
from dataclasses import dataclass

from domreg.epp import render
from domreg.epp.session import Registry, Session
from domreg.model.results import Result

log = logging.getLogger("domreg.epp")

HEADER = struct.Struct("!I")


@dataclass(frozen=True)
class Limits:
    max_frame: int = 65536  # bytes, header included
    idle_timeout: float = 600.0  # seconds without a new frame
    frame_timeout: float = 30.0  # seconds to receive the rest of a started frame


def server_tls_context(
    cert_file: str, key_file: str, client_ca: str | None = None
) -> ssl.SSLContext:
    """TLS 1.2 or 1.3 only. Client certificates are requested, and verified against
    `client_ca` when one is configured; the registrar's pinned fingerprints are checked at login."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload) + HEADER.size) + payload


class EppServer:
    """Accepts EPP connections and runs one `Session` per connection."""

    def __init__(
        self, registry: Registry, tls: ssl.SSLContext, limits: Limits | None = None
    ) -> None:
        self.registry = registry
        self.tls = tls
        self.limits = limits or Limits()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, reuse_port: bool = False) -> asyncio.Server:
        self._server = await asyncio.start_server(
            self._accept,
            host,
            port,
            ssl=self.tls,
            reuse_port=reuse_port,
            backlog=1024,
            ssl_handshake_timeout=self.limits.frame_timeout,
        )
        return self._server

    @property
    def ports(self) -> list[int]:
        assert self._server is not None
        return [s.getsockname()[1] for s in self._server.sockets]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("EPP connection failed")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        peer_ip = peer[0] if peer else None
        sslobj = writer.get_extra_info("ssl_object")
        cert = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        fingerprint = hashlib.sha256(cert).hexdigest() if cert else None
        session = Session(self.registry, peer_ip, fingerprint)
        limits = self.limits
        writer.write(frame(self.registry.greeting()))
        await writer.drain()
        while True:
            try:
                header = await asyncio.wait_for(
                    reader.readexactly(HEADER.size), limits.idle_timeout
                )
            except TimeoutError:
                await self._refuse(writer, "session idle for too long")
                return
            (length,) = HEADER.unpack(header)
            if length <= HEADER.size:
                await self._refuse(writer, f"invalid frame length {length}")
                return
            if length > limits.max_frame:
                await self._refuse(
                    writer, f"frame of {length} bytes exceeds the limit of {limits.max_frame}"
                )
                return
            try:
                data = await asyncio.wait_for(
                    reader.readexactly(length - HEADER.size), limits.frame_timeout
                )
            except TimeoutError:
                await self._refuse(writer, "frame not received in time")
                return
            response, close = await session.handle(data)
            writer.write(frame(response))
            await writer.drain()
            if close:
                return

    async def _refuse(self, writer: asyncio.StreamWriter, reason: str) -> None:
        svtrid = self.registry.svtrids.next()
        code = Result.COMMAND_FAILED_CLOSING
        writer.write(frame(render.response(code, svtrid, msg=f"{code.message}: {reason}")))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.drain(), 5.0)
