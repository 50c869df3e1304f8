"""Login is refused (2200) from outside a registrar's IP allow-list, and without the client
certificate a registrar requires; the right certificate is accepted."""

from __future__ import annotations

from domreg import tls
from domreg.clock import Clock
from domreg.epp.client import client_tls_context
from domreg.flows import registry


def add(db, clid: str, **kw) -> None:
    with db.write() as conn:
        registry.add_registrar(
            conn, Clock().now(), clid=clid, name=clid, password="secret-PW1", tlds=["test"], **kw
        )


async def test_login_from_outside_the_allow_list_is_refused(connect, db):
    add(db, "Fenced", allowed_ips=["192.0.2.0/24", "2001:db8::/32"])
    client = await connect()
    reply = await client.login("Fenced", "secret-PW1")
    assert reply.code == 2200
    assert "127.0.0.1" in reply.msg


async def test_login_from_inside_the_allow_list_is_accepted(connect, db):
    add(db, "Local", allowed_ips=["127.0.0.0/8"])
    client = await connect()
    assert (await client.login("Local", "secret-PW1")).code == 1000


async def test_required_client_certificate_missing_is_refused(connect, db, tls_dir):
    add(db, "Pinned", cert_fingerprints=[tls.fingerprint(tls_dir / "clientx.crt")])
    client = await connect()
    reply = await client.login("Pinned", "secret-PW1")
    assert reply.code == 2200
    assert "certificate" in reply.msg


async def test_required_client_certificate_presented_is_accepted(connect, db, tls_dir):
    add(db, "Pinned", cert_fingerprints=[tls.fingerprint(tls_dir / "clientx.crt")])
    ctx = client_tls_context(
        ca_file=str(tls_dir / "ca.crt"),
        cert_file=str(tls_dir / "clientx.crt"),
        key_file=str(tls_dir / "clientx.key"),
    )
    client = await connect(tls_ctx=ctx)
    assert (await client.login("Pinned", "secret-PW1")).code == 1000


async def test_other_client_certificate_is_refused(connect, db, tls_dir):
    other = tls.issue(tls_dir, "other", "Other", server=False)
    add(db, "Pinned", cert_fingerprints=[tls.fingerprint(other)])
    ctx = client_tls_context(
        ca_file=str(tls_dir / "ca.crt"),
        cert_file=str(tls_dir / "clientx.crt"),
        key_file=str(tls_dir / "clientx.key"),
    )
    client = await connect(tls_ctx=ctx)
    reply = await client.login("Pinned", "secret-PW1")
    assert reply.code == 2200


async def test_suspended_registrar_cannot_log_in(connect, db):
    from sqlalchemy import update

    from domreg.store import schema as t

    add(db, "Paused")
    with db.write() as conn:
        conn.execute(
            update(t.registrars).where(t.registrars.c.clid == "Paused").values(status="suspended")
        )
    client = await connect()
    assert (await client.login("Paused", "secret-PW1")).code == 2200


async def test_tls_below_1_2_is_refused(epp_server, tls_dir):
    import asyncio
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(tls_dir / "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    refused = False
    try:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", epp_server.ports[0], ssl=ctx, server_hostname="localhost"
        )
        writer.close()
    except (ssl.SSLError, ConnectionError):
        refused = True
    assert refused
