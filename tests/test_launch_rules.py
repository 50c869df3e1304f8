"""Launch phases (RFC 8334) with signed marks (RFC 7848), rule by rule over EPP and in the
flows and CLI (tests/test_ext_launch.py runs the RFC's examples): sunrise registrations with
signed marks (XML and base64) verified against the registry's TMCH CA, and every way a mark
is refused (tampered, untrusted CA, certificate on the CRL, SMD id on the revocation list,
expired, not yet valid, another label, unreadable) with nothing changed; claims creates and
the notice checks (checksum, expiry, acceptance within 48 hours); phases moving with the
clock and never overlapping; `domreg tld phase`, `domreg tld claims`, `domreg tmch smdrl`.
The registry and the test TMCH are tests/launch_support.py's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from domreg.cli.main import main
from domreg.epp.extensions import launch as ext
from domreg.flows import launch
from domreg.flows.registry import RegistryError
from domreg.store import schema as t
from domreg.store.db import Database
from tests import launch_support as ls
from tests.launch_support import (
    CLAIMS,
    HOUR,
    IN_CLAIMS,
    NS,
    OPEN,
    SMD_NS,
    START,
    URI,
)
from tests.support import dump

tmch = ls.tmch_fixture
policy = ls.policy_fixture
clock = ls.clock_fixture
db = ls.db_fixture

# ---------------------------------------------------------------- sunrise


async def test_sunrise_create_with_a_valid_signed_mark_registers_at_once(connect, db, tmch):
    x = await ls.client(connect)
    smd = ls.smd_xml(tmch.signer, ["test-validate", "testvalidate"])
    reply = await ls.send(
        x,
        ls.create_cmd("test-validate.example"),
        1000,
        ls.launch_ext("sunrise", ls.signed_mark(smd)),
    )
    assert reply.tree.find(".//launch:creData", NS) is None  # a registration (3.3.5)
    await ls.send(
        x,
        ls.create_cmd("testvalidate.example"),
        1000,
        ls.launch_ext("sunrise", ls.encoded_mark(smd)),
    )
    reply = await ls.send(x, ls.info_cmd("test-validate.example"), 1000)
    assert reply.tree.findtext(".//domain:name", namespaces=NS) == "test-validate.example"
    row = ls.launch_row(db, "testvalidate.example")
    assert (row.phase, row.smd_id) == ("sunrise", "0000001761376042759136-65535")
    assert "Test &amp; Validate" in row.mark_xml


async def test_sunrise_needs_the_extension_and_a_mark(connect, db):
    x = await ls.client(connect)
    before = dump(db)
    reply = await ls.send(x, ls.create_cmd("plain.example"), 2306)
    assert "sunrise phase: a create needs <launch:create>" in ls.msg(reply)
    reply = await ls.send(x, ls.create_cmd("plain.example"), 2306, ls.launch_ext("sunrise"))
    assert "needs a signed mark" in ls.msg(reply)
    reply = await ls.send(x, ls.create_cmd("plain.example"), 2306, ls.launch_ext("open"))
    assert "is sunrise, not open" in ls.msg(reply)
    assert dump(db) == before


@pytest.mark.parametrize(
    "case, why",
    [
        ("tampered", "Digest mismatch"),
        ("impostor", "signature does not verify"),
        ("revoked certificate", "signed with a revoked certificate"),
        ("expired", "expired at 2026-02-01T00:00:00Z"),
        ("not yet valid", "not valid before 2026-03-01T00:00:00Z"),
        ("other label", "no signed mark covers the label 'mine'"),
    ],
)
async def test_sunrise_refuses_a_mark_that_proves_nothing_with_2202(connect, db, tmch, case, why):
    make = {
        "tampered": lambda: ls.tampered(
            ls.smd_xml(tmch.signer, ["other"]), "<mark:label>other", "<mark:label>mine"
        ),
        "impostor": lambda: ls.smd_xml(tmch.impostor, ["mine"]),
        "revoked certificate": lambda: ls.smd_xml(tmch.revoked_signer, ["mine"]),
        "expired": lambda: ls.smd_xml(tmch.signer, ["mine"], not_after=datetime(2026, 2, 1)),
        "not yet valid": lambda: ls.smd_xml(tmch.signer, ["mine"], not_before=datetime(2026, 3, 1)),
        "other label": lambda: ls.smd_xml(tmch.signer, ["other", "another"]),
    }
    x = await ls.client(connect)
    before = dump(db)
    reply = await ls.send(
        x,
        ls.create_cmd("mine.example"),
        2202,
        ls.launch_ext("sunrise", ls.encoded_mark(make[case]())),
    )
    assert why in ls.msg(reply), reply.raw.decode()
    assert dump(db) == before


async def test_revoked_smd_id_is_refused_after_loading_the_revocation_list(
    connect, db, tmch, cli, tmp_path
):
    smd = ls.smd_xml(tmch.signer, ["mine", "yours"], smd_id="0000001681375789102250-65535")
    smdrl = tmp_path / "smdrl.csv"
    smdrl.write_text(
        "1,2026-01-24T23:00:00.0Z\nsmd-id,insertion-datetime\n"
        "0000001681375789102250-65535,2026-01-24T12:00:00.0Z\n"
        "0000001691375789102250-65535,2026-01-24T12:00:00.0Z\n"
    )
    x = await ls.client(connect)
    await ls.send(
        x, ls.create_cmd("mine.example"), 1000, ls.launch_ext("sunrise", ls.encoded_mark(smd))
    )
    code, out, err = cli("tmch", "smdrl", "--file", str(smdrl))
    assert (code, out) == (0, "2 signed marks newly revoked (2 listed)\n"), err
    before = dump(db)
    reply = await ls.send(
        x, ls.create_cmd("yours.example"), 2202, ls.launch_ext("sunrise", ls.encoded_mark(smd))
    )
    assert "signed mark 0000001681375789102250-65535 is revoked" in ls.msg(reply)
    assert dump(db) == before
    assert (
        cli("tmch", "smdrl", "--file", str(smdrl))[1] == "0 signed marks newly revoked (2 listed)\n"
    )


async def test_unreadable_marks_are_2005(connect, db):
    x = await ls.client(connect)
    bad = f"<smd:encodedSignedMark {SMD_NS}>not*base64</smd:encodedSignedMark>"
    reply = await ls.send(x, ls.create_cmd("mine.example"), 2005, ls.launch_ext("sunrise", bad))
    assert "not valid base64" in ls.msg(reply)
    import base64

    text = base64.b64encode(b"<x>not a mark</x>").decode()
    junk = f"<smd:encodedSignedMark {SMD_NS}>{text}</smd:encodedSignedMark>"
    reply = await ls.send(x, ls.create_cmd("mine.example"), 2005, ls.launch_ext("sunrise", junk))
    assert "root element is x" in ls.msg(reply)


def test_without_a_tmch_ca_configured_sunrise_creates_are_2306(tmch):
    from domreg import tmch as tmch_mod

    with pytest.raises(tmch_mod.MarkError) as err:
        tmch_mod.verify(ls.smd_xml(tmch.signer, ["a"]), START, tmch_mod.Trust(None))
    assert int(err.value.code) == 2306 and "tmch_ca_cert" in err.value.reason


def test_unusable_tmch_files_fail_the_command_with_the_reason(tmch, tmp_path):
    from domreg import tmch as tmch_mod

    smd = ls.smd_xml(tmch.signer, ["a"])
    bad_crl = tmp_path / "bad.crl"
    bad_crl.write_bytes(b"not a CRL")
    for trust, key in [
        (tmch_mod.Trust(str(tmp_path / "missing.pem")), "tmch_ca_cert"),
        (tmch_mod.Trust(str(tmch.ca_file), str(bad_crl)), "tmch_crl"),
    ]:
        with pytest.raises(tmch_mod.MarkError) as err:
            tmch_mod.verify(smd, START, trust)
        assert int(err.value.code) == 2400 and key in err.value.reason


# ---------------------------------------------------------------- claims


async def test_claims_create_needs_a_valid_notice_for_a_claimed_name(connect, db, clock):
    clock.set(IN_CLAIMS)
    x = await ls.client(connect)
    not_after = IN_CLAIMS + HOUR
    good = ls.notice_id("domain2", not_after)
    before = dump(db)
    cases = [
        ("", 2306, "domain2.example has a trademark claim"),
        (ls.launch_ext("claims"), 2306, "needs the claims notice"),
        (
            ls.launch_ext("claims", ls.notice_ext(good, not_after + HOUR, IN_CLAIMS)),
            2306,
            "checksum does not match",
        ),
        (
            ls.launch_ext("claims", ls.notice_ext("12345", not_after, IN_CLAIMS)),
            2005,
            "not 8 hex digits",
        ),
        (
            ls.launch_ext(
                "claims", ls.notice_ext(good, not_after, IN_CLAIMS - timedelta(hours=49))
            ),
            2306,
            "accepted more than 48 hours ago",
        ),
        (
            ls.launch_ext(
                "claims", ls.notice_ext(good, not_after, IN_CLAIMS - timedelta(days=366))
            ),
            2306,
            "accepted more than 48 hours ago",
        ),
        (
            ls.launch_ext("claims", ls.notice_ext(good, not_after, IN_CLAIMS + HOUR)),
            2306,
            "in the future",
        ),
        (
            ls.launch_ext("sunrise", ls.notice_ext(good, not_after, IN_CLAIMS)),
            2306,
            "is claims, not sunrise",
        ),
    ]
    for extension, code, why in cases:
        reply = await ls.send(x, ls.create_cmd("domain2.example"), code, extension)
        assert why in ls.msg(reply), (why, reply.raw.decode())
    assert dump(db) == before
    await ls.send(
        x,
        ls.create_cmd("domain2.example"),
        1000,
        ls.launch_ext("claims", ls.notice_ext(good, not_after, IN_CLAIMS - HOUR)),
    )
    assert ls.launch_row(db, "domain2.example").notice_id == good


async def test_expired_notice_is_2306(connect, db, clock):
    not_after = IN_CLAIMS + HOUR
    notice = ls.notice_ext(ls.notice_id("domain3", not_after), not_after, IN_CLAIMS)
    clock.set(not_after)
    x = await ls.client(connect)
    reply = await ls.send(
        x, ls.create_cmd("domain3.example"), 2306, ls.launch_ext("claims", notice)
    )
    assert "expired at" in ls.msg(reply)


async def test_unclaimed_names_are_created_in_claims_without_a_notice(connect, db, clock):
    clock.set(IN_CLAIMS)
    x = await ls.client(connect)
    await ls.send(x, ls.create_cmd("free.example"), 1000)
    assert ls.launch_row(db, "free.example").phase == "claims"
    not_after = IN_CLAIMS + HOUR
    notice = ls.notice_ext(ls.notice_id("other", not_after), not_after, IN_CLAIMS)
    reply = await ls.send(x, ls.create_cmd("other.example"), 2306, ls.launch_ext("claims", notice))
    assert "no trademark claim" in ls.msg(reply)


# ---------------------------------------------------------------- phases over time


async def test_phases_follow_the_clock(connect, db, clock, tmch):
    x = await ls.client(connect)
    with db.write() as conn:
        launch.add_phase(conn, "test", "sunrise", OPEN, OPEN + timedelta(days=30))
    await ls.send(x, ls.create_cmd("early.test"), 2306)  # .test has phases, none active yet
    clock.set(OPEN + timedelta(days=1))
    await ls.send(x, ls.create_cmd("early.test"), 2306)  # .test in sunrise now
    await ls.send(x, ls.create_cmd("domain2.example"), 1000)  # .example open: claims over
    assert ls.launch_row(db, "domain2.example").phase == "open"
    clock.set(OPEN + timedelta(days=31))
    reply = await ls.send(x, ls.create_cmd("early.test"), 2306)
    assert "no launch phase of .test is active" in ls.msg(reply)


def test_phases_may_not_overlap_and_are_listed(db):
    with db.write() as conn:
        for args, why in [
            (("example", "open", OPEN + HOUR), "overlaps .example's open phase"),
            (("example", "landrush", CLAIMS - HOUR, CLAIMS + HOUR), "overlaps"),
            (("example", "bogus", START), "is not one of"),
            (("example", "custom", datetime(2030, 1, 1), None), "needs its name"),
            (("nope", "open", START), "TLD nope does not exist"),
            (("test", "open", START, START), "must end after it starts"),
        ]:
            with pytest.raises(RegistryError, match=why):
                launch.add_phase(conn, *args)
        assert [p.name for p in launch.list_phases(conn, "example")] == [
            "sunrise",
            "claims",
            "open",
        ]


# ---------------------------------------------------------------- CLI


@pytest.fixture
def cli(
    db: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMREG_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOMREG_DATABASE_URL", database_url)
    monkeypatch.delenv("DOMREG_CONFIG", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_phase_add_list_and_claims(cli, db, tmp_path):
    code, out, err = cli(
        "tld", "phase", "add", "test", "custom", "--sub-phase", "idn-release",
        "--start", "2026-01-01", "--end", "2026-02-01T00:00:00Z",
    )  # fmt: skip
    assert (code, out) == (
        0,
        "phase added: test: custom (idn-release) from 2026-01-01T00:00:00Z "
        "to 2026-02-01T00:00:00Z\n",
    ), err
    code, out, err = cli("tld", "phase", "add", "test", "open", "--start", "2026-01-15")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "overlaps" in err
    code, out, err = cli("tld", "phase", "list", "example")
    assert out.splitlines()[-1] == "example: open from 2026-07-01T00:00:00Z to open-ended"
    dnl = tmp_path / "dnl.csv"
    dnl.write_text(
        "1,2026-01-22T12:00:00.0Z\nDNL,lookup-key,insertion-datetime\n"
        "test---validate,2013112500/5/4/2/wxKLsyXs5KcQTfqGtFRrCOlN0000000001,"
        "2013-11-25T14:42:46.3Z\n"
    )
    code, out, err = cli("tld", "claims", "test", "--file", str(dnl), "--replace")
    assert (code, out) == (0, "1 claimed labels loaded for .test\n"), err
    with db.read() as conn:
        tld_id = conn.execute(select(t.tlds.c.id).where(t.tlds.c.name == "test")).scalar_one()
        assert launch.claim_keys(conn, tld_id, "test---validate") == (
            "2013112500/5/4/2/wxKLsyXs5KcQTfqGtFRrCOlN0000000001",
        )
    code, out, err = cli("tld", "claims", "test", "--file", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err


def test_notice_checksum_is_the_tmch_crc32():
    # CRC-32 of "domain" + 1403172000 (2014-06-19T10:00:00Z) + the id's digits.
    import zlib

    digits = "9223372036854775807"
    expected = f"{zlib.crc32(b'domain1403172000' + digits.encode()):08x}"
    assert launch.notice_checksum("domain", datetime(2014, 6, 19, 10), digits) == expected


def test_launch_parts_are_rendered_only_for_launch_results():
    assert ext.RESPONSES[("domain", "check")](object()) is None
    assert etree.QName(ext.L + "x").namespace == URI
