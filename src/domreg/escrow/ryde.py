"""RyDE (ICANN registry agreement, Specification 2, Part A): the deposit's XML in a tar file,
compressed and encrypted to the escrow agent's OpenPGP key (`TLD_..._S1_R0.ryde`), a detached
ASCII-armoured signature of that file made with the registry's key (`.sig`, ICANN RST
rde-02), and the deposit report (`rdeReport`, RFC 9022 section 8; `.rep`).

GnuPG does the OpenPGP work, through python-gnupg, in a keyring of the registry's own
(`<escrow_dir>/gnupg`) into which the configured key files are imported. The tar stream is
produced on a thread and piped into gpg, so neither the tar nor the ciphertext is held in
memory or written twice.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import gnupg
from lxml import etree

from domreg.escrow import model as m
from domreg.escrow import writer


@dataclass(frozen=True)
class Keys:
    """A keyring holding the escrow agent's public key and the registry's signing key."""

    home: Path
    recipient: str  # fingerprint of the escrow agent's (encryption) key
    signer: str  # fingerprint of the registry's signing key
    passphrase: str | None = None

    def gpg(self) -> gnupg.GPG:
        return _gpg(self.home)


def _gpg(home: Path) -> gnupg.GPG:
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    return gnupg.GPG(gnupghome=str(home))


def _import(gpg: gnupg.GPG, path: str, what: str) -> str:
    try:
        data = Path(path).read_text()
    except OSError as exc:
        raise m.DepositError(f"{what} {path}: {exc.strerror}") from None
    result = gpg.import_keys(data)
    if not result.fingerprints:
        raise m.DepositError(f"{what} {path}: no OpenPGP key in it")
    return str(result.fingerprints[0])


def keyring(home: Path, agent_key: str, signing_key: str, passphrase: str = "") -> Keys:
    """Import the escrow agent's public key and the registry's secret key file into `home`."""
    if not agent_key:
        raise m.DepositError("no escrow agent key configured (escrow_agent_key)")
    if not signing_key:
        raise m.DepositError("no registry signing key configured (escrow_signing_key)")
    gpg = _gpg(home)
    recipient = _import(gpg, agent_key, "escrow agent key")
    signer = _import(gpg, signing_key, "signing key")
    if not any(k["fingerprint"] == signer for k in gpg.list_keys(secret=True)):
        raise m.DepositError(f"signing key {signing_key}: holds no secret key")
    return Keys(home, recipient, signer, passphrase or None)


def generate_key(home: Path, uid: str, out_dir: Path) -> tuple[Path, Path]:
    """A new Ed25519/Curve25519 key pair without passphrase (tests, benchmarks, demos);
    returns the exported public and secret key files (`.asc`)."""
    gpg = _gpg(home)
    run = [
        "gpg",
        "--homedir",
        str(home),
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
    ]
    subprocess.run(
        [*run, "--quick-gen-key", uid, "ed25519", "sign", "never"], check=True, capture_output=True
    )
    fpr = next(k["fingerprint"] for k in gpg.list_keys(secret=True) if uid in k["uids"][0])
    subprocess.run(
        [*run, "--quick-add-key", fpr, "cv25519", "encr", "never"], check=True, capture_output=True
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "".join(ch if ch.isalnum() else "-" for ch in uid.split("<")[0].strip().lower())
    public, secret = out_dir / f"{stem}-public.asc", out_dir / f"{stem}-secret.asc"
    public.write_text(gpg.export_keys(fpr))
    secret.write_text(gpg.export_keys(fpr, secret=True, expect_passphrase=False))
    stop_agent(home)
    return public, secret


def _encrypt(keys: Keys, xml: Path, tar_name: str, member: str, out: Path) -> None:
    """tar(xml as `member`) | gpg --encrypt (zlib) -> `out`, the tar written on a thread."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with (
                os.fdopen(write_fd, "wb", buffering=1 << 20) as sink,
                tarfile.open(fileobj=sink, mode="w|", format=tarfile.USTAR_FORMAT) as tar,
                xml.open("rb") as fh,
            ):
                info = tar.gettarinfo(str(xml), arcname=member)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, fh)
        except BaseException as exc:  # reported below; gpg sees a short stream
            failure.append(exc)

    thread = threading.Thread(target=produce, name="ryde-tar", daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb", buffering=1 << 20) as source:
        result = keys.gpg().encrypt_file(
            source,
            [keys.recipient],
            always_trust=True,
            armor=False,
            output=str(out),
            extra_args=["--compress-algo", "zlib", "--set-filename", tar_name],
        )
    thread.join()
    if failure:
        raise m.DepositError(f"writing the tar stream failed: {failure[0]}")
    if not result.ok:
        raise m.DepositError(
            f"gpg could not encrypt the deposit: {result.status} {result.stderr[-500:]}"
        )


def _sign(keys: Keys, path: Path, out: Path) -> None:
    with path.open("rb") as fh:
        result = keys.gpg().sign_file(
            fh,
            keyid=keys.signer,
            passphrase=keys.passphrase,
            detach=True,
            binary=False,
            output=str(out),
        )
    if not result.fingerprint:
        raise m.DepositError(f"gpg could not sign the deposit: {result.stderr[-500:]}")


def report(spec: m.Spec, counts: dict[str, int], tld: str, created: datetime) -> bytes:
    """The deposit report (rdeReport:report, RFC 9022 section 8)."""
    RP = "{" + m.REPORT + "}"
    el = etree.Element(RP + "report", nsmap={"rdeReport": m.REPORT, "rdeHeader": m.HEADER})
    for tag, value in (
        ("id", spec.deposit_id),
        ("version", "1"),
        ("rydeSpecEscrow", m.RYDE_SPEC_ESCROW),
        ("rydeSpecMapping", m.RYDE_SPEC_MAPPING),
        ("resend", str(spec.resend)),
        ("crDate", m.xml_time(created)),
        ("kind", m.DEPOSIT_TYPE[spec.kind]),
        ("watermark", m.xml_time(spec.watermark)),
    ):
        etree.SubElement(el, RP + tag).text = value
    uris = m.THIN_URIS if spec.kind == m.THIN else m.FULL_URIS
    el.append(writer.header_element(tld, counts, uris))
    return bytes(etree.tostring(el, xml_declaration=True, encoding="UTF-8"))


@dataclass(frozen=True)
class Made:
    """The files of one deposit and what it holds."""

    ryde: Path
    sig: Path
    report: Path
    size: int
    counts: dict[str, int]


def package(
    keys: Keys, spec: m.Spec, xml: Path, counts: dict[str, int], out_dir: Path, created: datetime
) -> Made:
    """RyDE-process the deposit XML `xml` into `out_dir` (the XML itself is not kept)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ryde, sig, rep = (
        out_dir / spec.name("ryde"),
        out_dir / spec.name("sig"),
        out_dir / spec.name("rep"),
    )
    partial = ryde.with_suffix(".ryde.partial")
    _encrypt(keys, xml, spec.name("tar"), spec.name("xml"), partial)
    _sign(keys, partial, sig)
    partial.replace(ryde)
    rep.write_bytes(report(spec, counts, spec.tld, created))
    return Made(ryde, sig, rep, ryde.stat().st_size, counts)


# ---------------------------------------------------------------- reading a deposit


class Opened:
    """A decrypted deposit: `xml()` opens the deposit XML inside its tar as a stream."""

    def __init__(self, tar_path: Path) -> None:
        self.tar_path = tar_path

    @contextmanager
    def xml(self) -> Iterator[IO[bytes]]:
        with tarfile.open(self.tar_path, mode="r|") as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".xml"):
                    fh = tar.extractfile(member)
                    assert fh is not None
                    yield fh
                    return
        raise m.DepositError("the deposit's tar holds no .xml file")


@contextmanager
def open_deposit(
    ryde: Path,
    decryption_key: str,
    signature: Path | None = None,
    signing_key: str | None = None,
    passphrase: str = "",
    work_dir: Path | None = None,
) -> Iterator[Opened]:
    """Check the signature (when `signature` and `signing_key` are given: DepositError if it
    is not a good signature by that key), decrypt with the secret key file `decryption_key`
    into a temporary tar, and yield it. A throwaway keyring is used and removed."""
    with tempfile.TemporaryDirectory(prefix="domreg-ryde-", dir=work_dir) as tmp:
        home = Path(tmp) / "gnupg"
        gpg = _gpg(home)
        try:
            yield from _open(
                gpg, home, Path(tmp), ryde, decryption_key, signature, signing_key, passphrase
            )
        finally:
            stop_agent(home)


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent GnuPG started for keyring `home` (before the keyring is removed)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=10,
        )


def _open(
    gpg: gnupg.GPG,
    home: Path,
    tmp: Path,
    ryde: Path,
    decryption_key: str,
    signature: Path | None,
    signing_key: str | None,
    passphrase: str,
) -> Iterator[Opened]:
    if signature is not None and signing_key:
        signer = _import(gpg, signing_key, "signing key")
        if not signature.exists():
            raise m.DepositError(f"signature file {signature} does not exist")
        with signature.open("rb") as fh:
            verified = gpg.verify_file(fh, str(ryde))
        if not verified.valid or (
            verified.pubkey_fingerprint != signer and verified.fingerprint != signer
        ):
            raise m.DepositError(
                f"{signature.name}: not a good signature of {ryde.name} by key {signer}"
                f" ({verified.status or 'no signature'})"
            )
    _import(gpg, decryption_key, "decryption key")
    tar_path = tmp / "deposit.tar"
    with ryde.open("rb") as fh:
        result = gpg.decrypt_file(
            fh, output=str(tar_path), passphrase=passphrase or None, always_trust=True
        )
    if not result.ok:
        raise m.DepositError(
            f"{ryde.name}: cannot be decrypted with the given key ({result.status})"
        )
    yield Opened(tar_path)
