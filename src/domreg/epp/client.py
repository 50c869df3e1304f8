"""An asynchronous EPP client (RFC 5734 transport): used by tests, benchmarks and `domreg epp`."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import struct
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

from domreg.epp import namespaces as ns

HEADER = struct.Struct("!I")
_ids = itertools.count(1)


@dataclass
class Reply:
    """A server response: its raw bytes, first result code and message, and the parsed tree."""

    raw: bytes
    code: int
    msg: str
    tree: etree._Element

    def find(self, path: str) -> etree._Element | None:
        return self.tree.find(path, NSMAP)

    def findtext(self, path: str) -> str | None:
        return self.tree.findtext(path, namespaces=NSMAP)

    def findall(self, path: str) -> list[etree._Element]:
        return self.tree.findall(path, NSMAP)


NSMAP = {"epp": ns.EPP, "domain": ns.DOMAIN, "host": ns.HOST, "contact": ns.CONTACT}


def client_tls_context(
    ca_file: str | None = None,
    cert_file: str | None = None,
    key_file: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        ctx.load_verify_locations(ca_file)
    elif verify:
        ctx.load_default_certs()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


class EppClient:
    """One EPP connection. `await EppClient.connect(...)`, then `login`, `command`, `logout`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, greeting: bytes
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = greeting

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        tls: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float = 30.0,
    ) -> EppClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=tls, server_hostname=server_hostname or host, limit=2**22
            ),
            timeout,
        )
        client = cls(reader, writer, b"")
        client.greeting = await client.read_frame()
        return client

    async def read_frame(self) -> bytes:
        (length,) = HEADER.unpack(await self.reader.readexactly(HEADER.size))
        return await self.reader.readexactly(length - HEADER.size)

    async def send_raw(self, payload: bytes) -> bytes:
        """Send one frame (payload without header) and return the answer frame's payload."""
        self.writer.write(HEADER.pack(len(payload) + HEADER.size) + payload)
        await self.writer.drain()
        return await self.read_frame()

    async def request(self, xml: str | bytes) -> Reply:
        raw = await self.send_raw(xml.encode() if isinstance(xml, str) else xml)
        return parse_reply(raw)

    async def command(self, body: str, cltrid: str | None = None, extension: str = "") -> Reply:
        """Send `<command>body<extension/>clTRID</command>`; body is the verb element."""
        cltrid = cltrid or f"CL-{next(_ids)}"
        ext = f"<extension>{extension}</extension>" if extension else ""
        return await self.request(
            f'<?xml version="1.0" encoding="UTF-8"?><epp xmlns="{ns.EPP}"><command>{body}{ext}'
            f"<clTRID>{escape(cltrid)}</clTRID></command></epp>"
        )

    async def login(
        self,
        clid: str,
        password: str,
        new_password: str | None = None,
        objects: tuple[str, ...] = ns.OBJECTS,
        extensions: tuple[str, ...] = (),
    ) -> Reply:
        objs = "".join(f"<objURI>{o}</objURI>" for o in objects)
        exts = "".join(f"<extURI>{e}</extURI>" for e in extensions)
        svc_ext = f"<svcExtension>{exts}</svcExtension>" if exts else ""
        new = f"<newPW>{escape(new_password)}</newPW>" if new_password else ""
        return await self.command(
            f"<login><clID>{escape(clid)}</clID><pw>{escape(password)}</pw>{new}"
            f"<options><version>1.0</version><lang>en</lang></options>"
            f"<svcs>{objs}{svc_ext}</svcs></login>"
        )

    async def logout(self) -> Reply:
        return await self.command("<logout/>")

    async def hello(self) -> bytes:
        return await self.send_raw(
            f'<?xml version="1.0" encoding="UTF-8"?><epp xmlns="{ns.EPP}"><hello/></epp>'.encode()
        )

    # Convenience commands for the common cases; anything else goes through `command`.

    async def domain_check(self, *names: str) -> Reply:
        items = "".join(f"<domain:name>{escape(n)}</domain:name>" for n in names)
        return await self.command(
            f'<check><domain:check xmlns:domain="{ns.DOMAIN}">{items}</domain:check></check>'
        )

    async def domain_info(self, name: str, auth_info: str | None = None) -> Reply:
        auth = (
            f"<domain:authInfo><domain:pw>{escape(auth_info)}</domain:pw></domain:authInfo>"
            if auth_info
            else ""
        )
        return await self.command(
            f'<info><domain:info xmlns:domain="{ns.DOMAIN}"><domain:name>{escape(name)}</domain:name>{auth}</domain:info></info>'
        )

    async def domain_create(
        self,
        name: str,
        years: int = 1,
        ns_hosts: tuple[str, ...] = (),
        registrant: str | None = None,
        contacts: tuple[tuple[str, str], ...] = (),
        auth_info: str = "secret-Auth1",
    ) -> Reply:
        nsx = "".join(f"<domain:hostObj>{escape(h)}</domain:hostObj>" for h in ns_hosts)
        nsx = f"<domain:ns>{nsx}</domain:ns>" if nsx else ""
        reg = f"<domain:registrant>{escape(registrant)}</domain:registrant>" if registrant else ""
        cts = "".join(
            f'<domain:contact type="{t}">{escape(h)}</domain:contact>' for t, h in contacts
        )
        return await self.command(
            f'<create><domain:create xmlns:domain="{ns.DOMAIN}"><domain:name>{escape(name)}</domain:name>'
            f'<domain:period unit="y">{years}</domain:period>{nsx}{reg}{cts}'
            f"<domain:authInfo><domain:pw>{escape(auth_info)}</domain:pw></domain:authInfo>"
            "</domain:create></create>"
        )

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def parse_reply(raw: bytes) -> Reply:
    tree = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    result = tree.find(f"{{{ns.EPP}}}response/{{{ns.EPP}}}result")
    if result is None:
        return Reply(raw, 0, "", tree)
    return Reply(raw, int(result.get("code", "0")), result.findtext(f"{{{ns.EPP}}}msg") or "", tree)
