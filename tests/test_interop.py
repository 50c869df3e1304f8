"""Interoperability: whole EPP sessions driven by clients we did not write, against a real
`domreg serve`: Debian's Net::EPP (Perl; raw frames through Net::EPP::Client and the
high-level Net::EPP::Simple) and the PyPI client epptools.

Each script (in tests/interop/) runs: greeting, login, contact, host and domain create, info,
update, renew, transfer request by a second registrar and approval by the first, delete and
logout, checking every result code; it exits non-zero on the first unexpected one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import support
from tests.support import PASSWORDS, served

HERE = Path(__file__).parent / "interop"


def _require_perl_module(module: str) -> None:
    ok = (
        shutil.which("perl")
        and subprocess.run(["perl", f"-M{module}", "-e1"], capture_output=True).returncode == 0
    )
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"Perl module {module} is missing (make test installs libnet-epp-perl as root)"
            )
        pytest.skip(f"Perl module {module} is not installed (apt-get install libnet-epp-perl)")


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    assert "OK: all commands returned the expected codes" in proc.stdout, proc.stdout
    return proc.stdout


@pytest.fixture
def db(shared_db):
    """Only .test is served: the scripts' ns1.<tag>.example.net hosts are external."""
    support.empty(shared_db)
    support.setup_registry(shared_db, tlds=("test",))
    return shared_db


@pytest.fixture
def server(db, database_url, tmp_path):
    with served(database_url, tmp_path, workers=1) as env:
        yield env, tmp_path / "tls" / "ca.crt"


def _args(env: dict[str, str]) -> list[str]:
    return [
        "127.0.0.1",
        env["DOMREG_EPP_PORT"],
        "ClientX",
        PASSWORDS["ClientX"],
        "ClientY",
        PASSWORDS["ClientY"],
    ]


@pytest.mark.interop
def test_net_epp_client_runs_a_whole_session(server):
    _require_perl_module("Net::EPP::Client")
    env, ca = server
    out = _run(["perl", str(HERE / "net_epp_session.pl"), "--ca-file", str(ca), *_args(env)])
    assert "transfer" in out


@pytest.mark.interop
def test_net_epp_simple_runs_a_whole_session(server):
    _require_perl_module("Net::EPP::Simple")
    env, ca = server
    _run(["perl", str(HERE / "net_epp_simple_session.pl"), "--ca-file", str(ca), *_args(env)])


@pytest.mark.interop
def test_epptools_runs_a_whole_session(server):
    pytest.importorskip("epptools")
    env, ca = server
    _run([sys.executable, str(HERE / "pyclient_session.py"), "--ca-file", str(ca), *_args(env)])
