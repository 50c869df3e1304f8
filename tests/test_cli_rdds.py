"""`domreg registrar rdds`: sets the registrar data RDAP and WHOIS publish, refuses bad
values with a one-line reason (exit 2) and changes nothing then; the values reach RDAP."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from domreg.cli.main import main
from domreg.rdap import lookup_entity
from domreg.store import schema as t
from domreg.store.db import Database
from tests import support


@pytest.fixture
def configured(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("DOMREG_DATABASE_URL", db.url)
    monkeypatch.setenv("DOMREG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DOMREG_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return db


def test_registrar_rdds_sets_published_data(
    configured: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "registrar", "rdds", "ClientZ", "--iana-id", "4321", "--url", "https://z.example",
            "--whois-server", "whois.z.example", "--abuse-email", "abuse@z.example",
            "--abuse-phone", "+44.2071234567", "--phone", "+44.2070000000", "--street", "1 High St",
            "--street", "Floor 2", "--city", "London", "--pc", "SW1A 1AA", "--cc", "gb",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    with configured.read() as conn:
        answer = lookup_entity(conn, "4321")
    props = {p[0]: p for p in answer["vcardArray"][1]}
    assert props["fn"][3] == "ClientZ Inc."
    assert props["adr"][1] == {"cc": "GB"}
    assert props["adr"][3][2:6] == [["1 High St", "Floor 2"], "London", "", "SW1A 1AA"]
    abuse = {p[0]: p[3] for p in answer["entities"][0]["vcardArray"][1]}
    assert abuse["email"] == "abuse@z.example" and abuse["tel"] == "tel:+44.2071234567"
    # "" clears a value; options not given stay.
    assert main(["registrar", "rdds", "ClientZ", "--url", ""]) == 0
    with configured.read() as conn:
        row = conn.execute(select(t.registrars).where(t.registrars.c.clid == "ClientZ")).one()
    assert row.url is None and row.whois_server == "whois.z.example"


def test_registrar_rdds_sets_the_rdap_base_url(
    configured: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["registrar", "rdds", "ClientZ", "--rdap-base-url", "https://rdap.z.example/v1"])
    assert code == 0, capsys.readouterr().err
    with configured.read() as conn:
        row = conn.execute(select(t.registrars).where(t.registrars.c.clid == "ClientZ")).one()
    assert row.rdap_base_url == "https://rdap.z.example/v1/"  # kept ending in "/"
    assert main(["registrar", "rdds", "ClientZ", "--rdap-base-url", ""]) == 0
    with configured.read() as conn:
        row = conn.execute(select(t.registrars).where(t.registrars.c.clid == "ClientZ")).one()
    assert row.rdap_base_url is None


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["NoSuch", "--url", "https://x.example"], "does not exist"),
        (["ClientZ", "--url", "ftp://x"], "http(s) URL"),
        (["ClientZ", "--abuse-phone", "555-1234"], "+CC.NUMBER"),
        (["ClientZ", "--abuse-email", "nobody"], "email address"),
        (["ClientZ", "--cc", "GBR"], "two letters"),
        (["ClientZ", "--iana-id", "0"], "positive"),
        (
            ["ClientZ", "--street", "a", "--street", "b", "--street", "c", "--street", "d"],
            "three lines",
        ),
        (["ClientZ", "--whois-server", "not a host"], "host name"),
        (["ClientZ", "--rdap-base-url", "http://rdap.z.example/"], "https URL"),
        (["ClientZ", "--rdap-base-url", "https://rdap.z.example/?q=1"], "https URL"),
    ],
)
def test_registrar_rdds_refuses_bad_values(
    configured: Database, capsys: pytest.CaptureFixture[str], args: list[str], reason: str
) -> None:
    before = support.dump(configured)
    assert main(["registrar", "rdds", *args]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1
    assert support.dump(configured) == before


def test_iana_ids_are_unique(configured: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registrar", "rdds", "ClientX", "--iana-id", "77"]) == 0
    assert main(["registrar", "rdds", "ClientY", "--iana-id", "77"]) == 2
    assert "belongs to registrar ClientX" in capsys.readouterr().err
