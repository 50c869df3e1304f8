"""Test support: the reference material, throwaway databases, a registry set-up, and an
in-process EPP server with a real TLS listener."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import delete, text

from domreg.clock import Clock
from domreg.flows import registry
from domreg.store import migrate
from domreg.store import schema as t
from domreg.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path(os.environ.get("DOMREG_REFERENCE", ROOT.parent / "shared" / "reference"))
PG_ADMIN_URL = os.environ.get("DOMREG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def reference(*parts: str) -> Path:
    """A path in ../shared/reference; skips the test where it is absent (fails under CI rules)."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        if os.environ.get("DOMREG_REQUIRE_REFERENCE") == "1":
            pytest.fail(f"reference material {path} is missing and DOMREG_REQUIRE_REFERENCE=1")
        pytest.skip(f"reference material {path} is not present")
    return path


_official_schema: etree.XMLSchema | None = None


def official_schema() -> etree.XMLSchema:
    """The EPP schemas from ../shared/reference/epp-xsd (not the package's copies): the core,
    and the schema of every extension module domreg ships (epp/extensions/)."""
    from domreg.epp import extensions

    global _official_schema
    if _official_schema is None:
        xsd = reference("epp-xsd")
        files = {
            "urn:ietf:params:xml:ns:eppcom-1.0": "eppcom-1.0.xsd",
            "urn:ietf:params:xml:ns:epp-1.0": "epp-1.0.xsd",
            "urn:ietf:params:xml:ns:host-1.0": "host-1.0.xsd",
            "urn:ietf:params:xml:ns:domain-1.0": "domain-1.0.xsd",
            "urn:ietf:params:xml:ns:contact-1.0": "contact-1.0.xsd",
            **extensions.SCHEMAS,
        }
        missing = [f for f in files.values() if not (xsd / f).exists()]
        assert not missing, f"schemas missing from {xsd}: {missing}"
        imports = "".join(
            f'<xs:import namespace="{ns}" schemaLocation="{(xsd / f).as_uri()}"/>'
            for ns, f in files.items()
        )
        driver = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:driver">'
            f"{imports}</xs:schema>"
        )
        _official_schema = etree.XMLSchema(
            etree.fromstring(driver.encode(), base_url=xsd.as_uri() + "/")
        )
    return _official_schema


def assert_schema_valid(raw: bytes) -> None:
    """Fail unless `raw` validates against the official EPP schemas (core and extensions)."""
    schema = official_schema()
    doc = etree.fromstring(raw)
    if not schema.validate(doc):
        raise AssertionError(
            f"response is not schema-valid: {schema.error_log.last_error}\n{raw.decode()}"
        )


# ---------------------------------------------------------------- databases


def backends() -> list[str]:
    return [b for b in os.environ.get("DOMREG_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


#: Runs a test that uses `db` (or `database_url`) on PostgreSQL only, instead of skipping it
#: on SQLite: for what only PostgreSQL has (autocommit writes, the event-loop paths).
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "database_url", [b for b in backends() if b == "postgresql"], indirect=True
)


def postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """A new, migrated, empty database; yields its URL and drops it afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp / f'domreg-{secrets.token_hex(4)}.db'}"
        engine_db = Database(url, pool_size=1)
        migrate.upgrade(engine_db.engine)
        engine_db.close()
        yield url
        return
    import psycopg

    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"domreg_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    db = Database(url, pool_size=1)
    migrate.upgrade(db.engine)
    db.close()
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: Tables in an order that respects foreign keys when emptied front to back.
TABLES = [
    t.web_sessions,  # web console (issue 6)
    t.web_users,
    t.web_audit,
    t.tld_phases,
    t.allocation_tokens,
    t.poll_messages,
    t.outbox,
    t.history,
    t.statuses,
    t.domain_hosts,
    t.domain_contacts,
    t.host_addresses,
    t.contact_postal,
    t.cursors,
    t.ledger,
    t.registrar_prices,
    t.premium_names,
    t.reserved_names,
    # launch phases (RFC 8334)
    t.domain_launch,
    t.smd_revocations,
    t.trademark_claims,
    t.tld_phases,
    t.tld_dns,
    t.service_counters,
    t.escrow_deposits,
]


def empty(db: Database) -> None:
    """Remove every row, leaving the schema: a cheap reset between tests."""
    with db.write() as conn:
        for table in TABLES:
            conn.execute(delete(table))
        conn.execute(t.hosts.update().values(parent_domain_id=None))
        conn.execute(delete(t.hosts))
        conn.execute(t.domains.update().values(registrant_id=None))
        conn.execute(delete(t.domains))
        conn.execute(delete(t.contacts))
        conn.execute(delete(t.registrar_tlds))
        conn.execute(delete(t.registrars))
        conn.execute(delete(t.tlds))


def row_counts(db: Database) -> dict[str, int]:
    """Rows per table: the fingerprint used to prove that a failed command changed nothing."""
    with db.read() as conn:
        return {
            table.name: conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar_one()
            for table in t.metadata.sorted_tables
        }


def dump(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (sorted): proves that nothing at all changed."""
    with db.read() as conn:
        return {
            table.name: sorted(
                (tuple(r) for r in conn.execute(table.select())), key=lambda r: tuple(map(str, r))
            )
            for table in t.metadata.sorted_tables
        }


# ---------------------------------------------------------------- registry set-up

PASSWORDS = {"ClientX": "foo-BAR2", "ClientY": "bar-FOO2", "ClientZ": "baz-QUX3"}
#: What each registrar of `setup_registry` starts with (minor units): 1,000,000.00.
FUNDS = 100_000_000


def setup_registry(
    db: Database, now: datetime | None = None, tlds: tuple[str, ...] = ("test", "com", "net")
) -> None:
    """TLDs and three registrars, all accredited for every TLD, each credited with FUNDS."""
    now = now or Clock().now()
    with db.write() as conn:
        for name in tlds:
            registry.add_tld(conn, now, name)
        for clid, password in PASSWORDS.items():
            registry.add_registrar(
                conn, now, clid=clid, name=f"{clid} Inc.", password=password, tlds=list(tlds)
            )
            registry.credit(conn, now, clid, FUNDS)


def fund(db: Database, now: datetime, registrar_ids: list[int], amount: int = FUNDS) -> None:
    """Credit registrars created directly in the tables (a top-up ledger row each)."""
    from domreg.flows.billing import top_up

    with db.write() as conn:
        for registrar_id in registrar_ids:
            top_up(conn, now, registrar_id, amount)


# ---------------------------------------------------------------- a real `domreg serve`


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` distinct ports free now (all held open while they are picked, so never one twice;
    another process may still take one before it is used: `served` retries)."""
    import socket

    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@contextmanager
def served(
    database_url: str, data_dir: Path, workers: int = 2, **settings: str
) -> Iterator[dict[str, str]]:
    """Run `domreg serve` as a separate process tree (as production does); yields its env.
    Started again on other ports if one was taken meanwhile (the ports are picked free, and
    another process may bind one before the server does)."""
    import sys

    cli = [sys.executable, "-m", "domreg"]
    for attempt in range(3):
        epp, http, whois = free_ports(3)
        env = dict(os.environ)
        env.update(
            DOMREG_DATA_DIR=str(data_dir),
            DOMREG_DATABASE_URL=database_url,
            DOMREG_EPP_PORT=str(epp),
            DOMREG_HTTP_PORT=str(http),
            DOMREG_WHOIS_PORT=str(whois),
            DOMREG_WORKERS=str(workers),
            DOMREG_LOG_LEVEL="WARNING",
            **{f"DOMREG_{k.upper()}": v for k, v in {"dns_mode": "off", **settings}.items()},
        )
        if attempt == 0:
            subprocess.run([*cli, "init"], env=env, check=True, capture_output=True)
        proc = subprocess.Popen(
            [*cli, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        failed = _wait_listening(proc, epp)
        if failed is None:
            break
        if "Address already in use" not in failed or attempt == 2:
            raise RuntimeError(f"domreg serve did not start: {failed}")
    try:
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> str | None:
    """Wait until `domreg serve` (`proc`) accepts EPP connections on `port`: None, or what
    it wrote to stderr when it ended (or was killed after 30 s) without listening."""
    import socket
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return None
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
