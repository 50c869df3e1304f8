"""`domreg user add/list` creates the first console users, and a real `domreg serve` answers
the web pages on its HTTP port (templates and stylesheet come from the installed package)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pyotp
import pytest

from tests import support
from tests.test_cli import domreg


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *args: str
) -> tuple[int, str, str]:
    """`domreg ARGS` in this process (the subprocess start-up is paid once, by `init`)."""
    import io

    from domreg.cli.main import main

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_add_prints_totp_secret_and_the_admin_signs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert domreg(tmp_path, "init").returncode == 0
    assert (
        domreg(
            tmp_path, "registrar", "add", "WebReg", "--name", "Web Reg", "--password", "epp-Pass-1"
        ).returncode
        == 0
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOMREG_DATA_DIR", str(tmp_path / "var"))
    code, out, err = run(
        monkeypatch, capsys, "admin-Pass-123\n", "user", "add", "root", "--role", "admin"
    )
    assert code == 0, err
    secret = re.search(r"TOTP secret: ([A-Z2-7]+)", out).group(1)  # type: ignore[union-attr]
    assert "otpauth://totp/domreg:root?secret=" in out
    code, out, err = run(
        monkeypatch,
        capsys,
        "reg-Pass-1234\n",
        "user",
        "add",
        "ops",
        "--role",
        "registrar",
        "--registrar",
        "WebReg",
    )
    assert code == 0, err
    listed = run(monkeypatch, capsys, "", "user", "list")[1]
    assert "root\tadmin\t-" in listed and "ops\tregistrar\tWebReg" in listed
    # refusals: one line, exit status 2, nothing added
    for args, stdin, why in [
        (("user", "add", "root", "--role", "admin"), "admin-Pass-123\n", "already exists"),
        (("user", "add", "short", "--role", "admin"), "short\n", "at least 10"),
        (
            ("user", "add", "xx2", "--role", "registrar", "--registrar", "Nope"),
            "reg-Pass-1234\n",
            "does not exist",
        ),
        (("user", "add", "xx3", "--role", "registrar"), "reg-Pass-1234\n", "needs a registrar"),
        (("user", "add", "Bad Name", "--role", "admin"), "admin-Pass-123\n", "lower-case"),
    ]:
        code, out, err = run(monkeypatch, capsys, stdin, *args)
        assert code == 2 and why in err, (args, err)
    assert run(monkeypatch, capsys, "", "user", "list")[1] == listed

    with support.served(
        f"sqlite:///{tmp_path / 'var' / 'domreg.db'}", tmp_path / "var", workers=2
    ) as env:
        base = f"http://127.0.0.1:{env['DOMREG_HTTP_PORT']}"
        with httpx.Client(base_url=base) as c:
            deadline = time.monotonic() + 30  # `served` waits for EPP; HTTP starts just after
            while True:
                try:
                    c.get("/healthz")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "the HTTP port never opened"
                    time.sleep(0.1)
            assert "Domain search" in c.get("/").text
            assert "skip" in c.get("/static/style.css").text
            page = c.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            r = c.post(
                "/login",
                data={
                    "csrf": token,
                    "username": "root",
                    "password": "admin-Pass-123",
                    "code": pyotp.TOTP(secret).now(),
                    "next": "",
                },
            )
            assert r.status_code == 303 and r.headers["location"] == "/admin"
            # the session is in the database: every worker knows it
            for _ in range(6):
                assert c.get("/admin/registrars").status_code == 200
