"""WHOIS (RFC 3912) on each backend: the ICANN registry WHOIS layout for domains,
nameservers and registrars, IDN queries in either form, the same redaction as RDAP, a clear
"No match", and the defences: query length, binary garbage, a client that never sends a
line, the per-IP rate limit; what EPP changes is in the next answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from domreg.clock import Clock
from domreg.flows import domain
from domreg.store.db import Database
from domreg.whois.server import WhoisServer
from tests import rdds_data, support

pytestmark = pytest.mark.xdist_group("rdds")


@pytest.fixture(scope="module")
def data_db(shared_db: Database) -> Database:
    support.empty(shared_db)
    support.setup_registry(shared_db)
    rdds_data.populate(shared_db)
    return shared_db


async def started(db: Database, **options: float) -> WhoisServer:
    server = WhoisServer(db, Clock(), **{"rate": 0.0, "timeout": 2.0, **options})  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    return server


@pytest_asyncio.fixture
async def whois(data_db: Database) -> AsyncIterator[WhoisServer]:
    server = await started(data_db)
    yield server
    await server.close()


async def ask(port: int, data: bytes, half_close: bool = False) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if half_close:
        writer.write_eof()
    answer = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    return answer.decode()


def fields(answer: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in answer.split("\r\n"):
        if ": " in line and not line.startswith(">>>"):
            key, value = line.split(": ", 1)
            found.setdefault(key, []).append(value)
    return found


async def test_domain_answer_has_the_icann_layout(whois: WhoisServer, data_db: Database) -> None:
    answer = await ask(whois.port, b"example.test\r\n")
    keys = [line.split(":", 1)[0] for line in answer.split("\r\n")[:12]]
    assert keys == [
        "Domain Name",
        "Registry Domain ID",
        "Registrar WHOIS Server",
        "Registrar URL",
        "Updated Date",
        "Creation Date",
        "Registry Expiry Date",
        "Registrar",
        "Registrar IANA ID",
        "Registrar Abuse Contact Email",
        "Registrar Abuse Contact Phone",
        "Domain Status",
    ]
    f = fields(answer)
    assert f["Domain Name"] == ["example.test"]
    assert f["Registry Domain ID"][0].endswith("-TEST")
    assert f["Registrar WHOIS Server"] == ["whois.clientx.example"]
    assert f["Registrar"] == ["ClientX Inc."]
    assert f["Registrar IANA ID"] == ["1234"]
    assert f["Registrar Abuse Contact Email"] == ["abuse@clientx.example"]
    assert f["Domain Status"] == [
        "addPeriod https://icann.org/epp#addPeriod",
        "clientTransferProhibited https://icann.org/epp#clientTransferProhibited",
    ]
    assert f["Name Server"] == ["ns1.dns.net", "ns2.dns.net"]
    assert f["DNSSEC"] == ["signedDelegation"]
    assert "URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/" in answer
    assert ">>> Last update of WHOIS database: " in answer and answer.count("<<<") == 1
    assert answer.endswith("\r\n")


async def test_contacts_are_redacted_as_in_rdap(whois: WhoisServer) -> None:
    f = fields(await ask(whois.port, b"example.test\r\n"))
    for key in ("Registry Registrant ID", "Registrant Name", "Registrant Organization", "Registrant Street",
                "Registrant City", "Registrant Postal Code", "Registrant Phone", "Registrant Fax",
                "Registry Tech ID", "Tech Name", "Tech Phone"):  # fmt: skip
        assert f[key] == ["REDACTED FOR PRIVACY"], key
    assert f["Registrant State/Province"] == ["VA"]
    assert f["Registrant Country"] == ["US"]
    assert f["Registrant Email"][0].startswith(
        "Please query the RDDS service of the Registrar of Record"
    )
    answer = await ask(whois.port, b"example.test\r\n")
    for secret in ("Jane", "Example Org", "Dulles", "20166", "7035555555", "jane@", "tom@"):
        assert secret not in answer
    # What a contact disclosed is published.
    f = fields(await ask(whois.port, b"open.test\r\n"))
    assert f["Registrant Name"] == ["Olga Open"]
    assert f["Registrant Email"] == ["olga@example.fr"]
    assert f["Registrant Street"] == ["REDACTED FOR PRIVACY"]


@pytest.mark.parametrize(
    "query", ["bücher.test", "xn--bcher-kva.test", "domain BÜCHER.TEST", "XN--BCHER-KVA.TEST"]
)
async def test_idn_queries_in_either_form(whois: WhoisServer, query: str) -> None:
    f = fields(await ask(whois.port, query.encode() + b"\r\n"))
    assert f["Domain Name"] == ["xn--bcher-kva.test"]
    assert f["Internationalized Domain Name"] == ["bücher.test"]
    assert f["DNSSEC"] == ["unsigned"]


async def test_nameserver_answer(whois: WhoisServer) -> None:
    for query in (b"nameserver ns1.dns.net\r\n", b"ns1.dns.net\n"):
        f = fields(await ask(whois.port, query))
        assert f["Server Name"] == ["ns1.dns.net"]
        assert f["IP Address"] == ["192.0.2.1", "2001:db8::1"]
        assert f["Registrar"] == ["ClientY Inc."]


@pytest.mark.parametrize(
    "query", [b"registrar 1234\r\n", b"registrar ClientX Inc.\r\n", b"registrar ClientX\r\n"]
)
async def test_registrar_answer(whois: WhoisServer, query: bytes) -> None:
    f = fields(await ask(whois.port, query))
    assert f["Registrar"] == ["ClientX Inc."]
    assert f["Street"] == ["1 Registrar Road", "Suite 2"]
    assert f["City"] == ["Springfield"]
    assert f["Country"] == ["US"]
    assert f["Phone Number"] == ["+1.5555550101"]
    assert f["Email"] == ["info@clientx.example"]
    assert f["Registrar IANA ID"] == ["1234"]


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        (b"nothing-here.test\r\n", "nothing-here.test"),
        (b"not a name at all\r\n", "not a name at all"),
        (b"registrar Nobody\r\n", "Nobody"),
        (b"nameserver ns9.dns.net\r\n", "ns9.dns.net"),
    ],
)
async def test_no_match(whois: WhoisServer, query: bytes, shown: str) -> None:
    answer = await ask(whois.port, query)
    assert answer.startswith(f'No match for "{shown}".\r\n')
    assert ">>> Last update of WHOIS database: " in answer


async def test_query_without_newline_answered_at_end_of_input(whois: WhoisServer) -> None:
    f = fields(await ask(whois.port, b"example.test", half_close=True))
    assert f["Domain Name"] == ["example.test"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a" * 300 + b"\r\n", "longer than 255"),
        (b"a" * 100_000, "longer than 255"),
        (b"\xff\xfe\x00garbage\x80\r\n", "not a line of UTF-8 text"),
        (b"exa\x00mple.test\r\n", "not a line of UTF-8 text"),
        (b"\r\n", "empty query"),
    ],
)
async def test_bad_input_gets_a_clear_refusal(whois: WhoisServer, data: bytes, reason: str) -> None:
    answer = await ask(whois.port, data)
    assert answer.startswith("Error: ") and reason in answer


async def test_silent_client_is_timed_out(data_db: Database) -> None:
    server = await started(data_db, timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        answer = await asyncio.wait_for(reader.read(-1), 5)  # closed by the server, not by us
        assert b"no query received within 0.3 s" in answer
        writer.close()
        # Meanwhile and after, other clients are answered.
        assert "Domain Name: example.test" in await ask(server.port, b"example.test\r\n")
    finally:
        await server.close()


async def test_rate_limit_per_ip(data_db: Database) -> None:
    server = await started(data_db, rate=0.5, burst=2)
    try:
        answers = [await ask(server.port, b"example.test\r\n") for _ in range(3)]
        assert answers[0].startswith("Domain Name:") and answers[1].startswith("Domain Name:")
        assert answers[2].startswith("Error: rate limit exceeded; retry in ")
    finally:
        await server.close()


async def test_epp_changes_are_in_the_next_answer(db: Database) -> None:
    data = rdds_data.populate(db)
    server = await started(db)
    try:
        assert "clientHold" not in await ask(server.port, b"exam1.test\r\n")
        rdds_data.run(
            db, data.y, Clock().now(), domain.update,
            domain.DomainUpdate("exam1.test", add_statuses=(("clientHold", None, None),)),
        )  # fmt: skip
        assert "Domain Status: clientHold https://icann.org/epp#clientHold" in await ask(
            server.port, b"exam1.test\r\n"
        )
    finally:
        await server.close()


async def test_a_burst_of_queries_for_one_name_reads_it_once(data_db: Database) -> None:
    """Thirty queries for a name not yet cached, all at once: one read of the answer (the
    others wait for it on PostgreSQL, or find it cached on SQLite), and every query gets
    the same answer as the one read; a query for another name reads its own."""
    server = await started(data_db)
    try:
        answers = await asyncio.gather(*(ask(server.port, b"exam1.test\r\n") for _ in range(30)))
        assert server.reads == 1
        assert not server.building  # the read is over, and forgotten
        assert "Domain Name: exam1.test" in answers[0]
        # The same answer (apart from the "last update" stamp, which moves each second).
        assert len({a.split(">>> Last update")[0] for a in answers}) == 1
        assert "Domain Name: exam2.test" in await ask(server.port, b"exam2.test\r\n")
        assert server.reads == 2
    finally:
        await server.close()
