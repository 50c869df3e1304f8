"""The `domreg` command line: init (with demo data), TLD and registrar administration,
configuration, one-line argument errors with exit status 2, and the `epp` client against a
running `domreg serve` (what `make run` starts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domreg.store import migrate
from tests.support import served


def domreg(tmp: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None):
    full = dict(os.environ)
    full.update(env or {})
    full.setdefault("DOMREG_DATA_DIR", str(tmp / "var"))
    return subprocess.run(
        [sys.executable, "-m", "domreg", *args],
        cwd=tmp,
        env=full,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_init_demo_creates_database_tls_and_demo_registrar(tmp_path):
    r = domreg(tmp_path, "init", "--demo")
    assert r.returncode == 0, r.stderr
    assert "demo registrar: demo, password:" in r.stdout
    assert (tmp_path / "var" / "domreg.db").exists()
    assert (tmp_path / "var" / "tls" / "server.crt").exists()
    password = (tmp_path / "var" / "demo-password").read_text().strip()
    assert password in r.stdout
    r = domreg(tmp_path, "tld", "list")
    assert "test" in r.stdout
    r = domreg(tmp_path, "registrar", "list")
    assert "demo" in r.stdout and "10000.00" in r.stdout
    # Running init again is harmless and keeps the demo password.
    r = domreg(tmp_path, "init", "--demo")
    assert r.returncode == 0
    assert (tmp_path / "var" / "demo-password").read_text().strip() == password


def test_tld_and_registrar_administration(tmp_path):
    assert domreg(tmp_path, "init").returncode == 0
    assert domreg(tmp_path, "tld", "add", "Example").returncode == 0
    r = domreg(
        tmp_path,
        "registrar",
        "add",
        "acme",
        "--name",
        "Acme Registrar",
        "--password",
        "acme-PASS1",
        "--allow-ip",
        "192.0.2.0/24",
        "--tld",
        "example",
        "--cert-fingerprint",
        "AB:" * 31 + "AB",
    )
    assert r.returncode == 0, r.stderr
    r = domreg(tmp_path, "registrar", "credit", "acme", "125.50")
    assert r.returncode == 0 and "125.50" in r.stdout
    r = domreg(tmp_path, "registrar", "list")
    assert "acme" in r.stdout and "125.50" in r.stdout and "example" in r.stdout
    r = domreg(tmp_path, "db", "upgrade")
    head = migrate.head_revision()
    assert r.returncode == 0 and f"{head} -> {head}" in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("tld", "add", "bad_name"), "invalid TLD"),
        (("registrar", "add", "x", "--name", "X", "--password", "short1"), "invalid registrar id"),
        (("registrar", "add", "okclid", "--name", "X", "--password", "abc"), "6 to 128"),
        (
            (
                "registrar",
                "add",
                "okclid",
                "--name",
                "X",
                "--password",
                "secret-PW1",
                "--allow-ip",
                "nonsense",
            ),
            "invalid address",
        ),
        (
            (
                "registrar",
                "add",
                "okclid",
                "--name",
                "X",
                "--password",
                "secret-PW1",
                "--tld",
                "nosuch",
            ),
            "does not exist",
        ),
        (("registrar", "credit", "nobody", "10"), "does not exist"),
        (("registrar", "credit", "demo", "1.234"), "more than two decimals"),
        (("registrar", "credit", "demo", "lots"), "invalid amount"),
        (("registrar", "credit"), "required"),
        (("frobnicate",), "invalid choice"),
        (("tld", "add", "test"), "already exists"),
    ],
)
def test_argument_errors_are_one_line_and_exit_2(tmp_path, args, needle):
    assert domreg(tmp_path, "init", "--demo").returncode == 0
    r = domreg(tmp_path, *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr


def test_bad_configuration_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "domreg.toml").write_text("epp_port = 'seven'\n")
    r = domreg(tmp_path, "tld", "list")
    assert r.returncode == 2 and "epp_port" in r.stderr
    (tmp_path / "domreg.toml").write_text("no_such_key = 1\n")
    r = domreg(tmp_path, "tld", "list")
    assert r.returncode == 2 and "unknown configuration key" in r.stderr


def test_configuration_file_and_environment_select_ports_and_database(tmp_path):
    from domreg import config

    (tmp_path / "domreg.toml").write_text(
        'epp_port = 7100\nhttp_port = 8100\ndatabase_url = "sqlite:///x.db"\n'
    )
    cfg = config.load(str(tmp_path / "domreg.toml"), env={"DOMREG_HTTP_PORT": "8200"})
    assert (cfg.epp_port, cfg.http_port, cfg.database_url) == (7100, 8200, "sqlite:///x.db")


def test_epp_client_commands_against_a_running_server(tmp_path):
    assert domreg(tmp_path, "init", "--demo").returncode == 0
    password = (tmp_path / "var" / "demo-password").read_text().strip()
    url = f"sqlite:///{tmp_path / 'var' / 'domreg.db'}"
    with served(url, tmp_path / "var", workers=1) as env:
        common = ["epp", "--port", env["DOMREG_EPP_PORT"], "--clid", "demo", "--password", password]
        r = domreg(tmp_path, *common, "check", "example.test")
        assert r.returncode == 0, r.stderr
        assert 'avail="1"' in r.stdout
        r = domreg(tmp_path, *common, "create", "example.test", "--years", "2")
        assert r.returncode == 0 and "<domain:exDate>" in r.stdout
        r = domreg(tmp_path, *common, "info", "example.test")
        assert "<domain:clID>demo</domain:clID>" in r.stdout
        raw = (
            '<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><check><host:check '
            'xmlns:host="urn:ietf:params:xml:ns:host-1.0"><host:name>ns1.example.test</host:name>'
            "</host:check></check><clTRID>TRY-1</clTRID></command></epp>"
        )
        r = domreg(tmp_path, *common, "raw", stdin=raw)
        assert r.returncode == 0 and "TRY-1" in r.stdout
        r = domreg(
            tmp_path,
            "epp",
            "--port",
            env["DOMREG_EPP_PORT"],
            "--clid",
            "demo",
            "--password",
            "wrong-PW1",
            "check",
            "a.test",
        )
        assert r.returncode == 1 and 'code="2200"' in r.stdout
