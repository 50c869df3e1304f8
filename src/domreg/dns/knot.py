"""Knot DNS: its configuration, a managed `knotd` (demo and tests), and its control socket.

In the demo and in tests domreg writes `knot.conf` under `<data_dir>/dns/knot/`, starts
`knotd` on a loopback port and stops it (`KnotServer`). In production an existing Knot is
driven through its control socket only (`KnotControl`, the protocol `knotc` speaks, through
CZ.NIC's `libknot` bindings). Both serve the zone files domreg writes (`dns_zone_dir`), sign
them (ECDSA P-256, NSEC3 without extra iterations or salt, RFC 9276), keep the signed zone in
their journal (`journal-content: all`), and load a rewritten zone file as a difference
(`zonefile-load: difference-no-serial`), so a full publication re-signs only what changed.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class KnotError(RuntimeError):
    """Knot could not be started, reached or told something; the message says what."""


@dataclass(frozen=True)
class Tsig:
    """A TSIG key (RFC 8945) shared with the server for DNS UPDATE and zone transfers."""

    name: str
    algorithm: str
    secret: str  # base64

    @classmethod
    def load_or_create(cls, path: Path, name: str, algorithm: str = "hmac-sha256") -> Tsig:
        """The key kept in `path` (`name algorithm secret`), created on first use."""
        if path.exists():
            parts = path.read_text().split()
            if len(parts) == 3:
                return cls(parts[0], parts[1], parts[2])
        key = cls(name, algorithm, base64.b64encode(secrets.token_bytes(32)).decode())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{key.name} {key.algorithm} {key.secret}\n")
        path.chmod(0o600)
        return key


#: The DNSSEC policy every TLD zone is signed with.
POLICY = """\
policy:
  - id: domreg
    algorithm: ecdsap256sha256
    ksk-size: 256
    zsk-size: 256
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0
    nsec3-opt-out: off
    rrsig-lifetime: 14d
    rrsig-refresh: 7d
    zsk-lifetime: 30d
    ksk-lifetime: 0
    propagation-delay: 1h
"""


def config_text(
    *,
    base: Path,
    listen: str,
    zone_dir: Path,
    tsig: Tsig,
    zones: Iterable[str],
) -> str:
    """knot.conf for a domreg-managed Knot: one listener, a control socket, the TLD zones."""
    zone_lines = "".join(f"  - domain: {z}\n" for z in sorted(zones))
    return f"""\
# Written by domreg (dns/knot.py): a Knot DNS serving and signing the registry's TLDs.
server:
    rundir: "{base / "run"}"
    listen: {listen}
    udp-workers: 2
    tcp-workers: 2
    background-workers: 2

control:
    listen: "{base / "knot.sock"}"

database:
    storage: "{base / "db"}"

log:
  - target: "{base / "knot.log"}"
    any: info

key:
  - id: {tsig.name}
    algorithm: {tsig.algorithm}
    secret: {tsig.secret}

acl:
  - id: domreg
    address: [127.0.0.0/8, ::1]
    key: {tsig.name}
    action: [update, transfer]
  - id: local-transfer
    address: [127.0.0.0/8, ::1]
    action: transfer

{POLICY}
template:
  - id: default
    storage: "{zone_dir}"
    file: "%s.zone"
    semantic-checks: on
    dnssec-signing: on
    dnssec-policy: domreg
    serial-policy: increment
    journal-content: all
    zonefile-sync: -1
    zonefile-load: difference-no-serial
    journal-max-usage: 2G
    acl: [domreg, local-transfer]

zone:
{zone_lines}"""


class KnotControl:
    """Commands over Knot's control socket (what `knotc` sends), one connection per use."""

    def __init__(self, socket_path: str, timeout: int = 30) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def _ctl(self) -> Any:
        import libknot
        from libknot.control import KnotCtl, KnotCtlError

        try:
            libknot.Knot()
            ctl = KnotCtl()
            ctl.set_timeout(self.timeout)
            ctl.connect(self.socket_path)
        except (KnotCtlError, OSError) as exc:
            raise KnotError(
                f"cannot reach Knot's control socket {self.socket_path}: {exc}"
            ) from None
        return ctl

    def call(self, cmd: str, **fields: str) -> dict[str, Any]:
        """One command and its answer (a `knotc` command: status, zone-reload, ...)."""
        from libknot.control import KnotCtlError

        ctl = self._ctl()
        try:
            ctl.send_block(cmd=cmd, **fields)
            return dict(ctl.receive_block())
        except KnotCtlError as exc:
            raise KnotError(f"knotc {cmd} {fields.get('zone') or ''}: {exc}") from None
        finally:
            _close(ctl)

    def ping(self) -> bool:
        try:
            self.call("status")
            return True
        except KnotError:
            return False

    def replace_nodes(self, zone: str, nodes: dict[str, list[tuple[int, str, str]]]) -> None:
        """In one Knot transaction (zone-begin ... zone-commit), make each owner name of
        `nodes` hold exactly the given (ttl, type, rdata) records: what it held is unset
        first, an empty list removes the name. One changeset, signed incrementally."""
        from libknot.control import KnotCtlError

        ctl = self._ctl()
        begun = False
        try:
            ctl.send_block(cmd="zone-begin", zone=zone)
            ctl.receive_block()
            begun = True
            for owner in nodes:
                ctl.send_block(cmd="zone-get", zone=zone, owner=owner + ".")
                try:
                    present = ctl.receive_block()
                except KnotCtlError:  # no such node
                    present = {}
                if present.get(zone + ".", {}).get(owner + "."):
                    ctl.send_block(cmd="zone-unset", zone=zone, owner=owner + ".")
                    ctl.receive_block()
            for owner, records in nodes.items():
                for ttl, rtype, rdata in records:
                    ctl.send_block(
                        cmd="zone-set",
                        zone=zone,
                        owner=owner + ".",
                        ttl=str(ttl),
                        rtype=rtype,
                        data=rdata,
                    )
                    ctl.receive_block()
            ctl.send_block(cmd="zone-commit", zone=zone)
            ctl.receive_block()
            begun = False
        except KnotCtlError as exc:
            raise KnotError(f"Knot refused the changes to {zone}: {exc}") from None
        finally:
            if begun:
                try:
                    ctl.send_block(cmd="zone-abort", zone=zone)
                    ctl.receive_block()
                except KnotCtlError:
                    pass
            _close(ctl)

    def reload_zone(self, zone: str) -> None:
        """Load the zone file again (as a difference to what is served), blocking until done."""
        self.call("zone-reload", zone=zone, flags="B")


def _close(ctl: Any) -> None:
    from libknot.control import KnotCtlError, KnotCtlType

    try:
        ctl.send(KnotCtlType.END)
        ctl.close()
    except KnotCtlError:
        pass


class KnotServer:
    """A `knotd` domreg starts and stops itself (the demo, tests): config in `base`."""

    def __init__(
        self, base: Path, listen: str, zone_dir: Path, tsig: Tsig, zones: Iterable[str]
    ) -> None:
        self.base = base
        self.listen = listen
        self.zone_dir = zone_dir
        self.tsig = tsig
        self.zones = set(zones)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.base / "knot.conf"

    @property
    def control(self) -> KnotControl:
        return KnotControl(str(self.base / "knot.sock"))

    def write_config(self) -> None:
        for d in (self.base, self.base / "run", self.base / "db", self.zone_dir):
            d.mkdir(parents=True, exist_ok=True)
        text = config_text(
            base=self.base.resolve(),
            listen=self.listen,
            zone_dir=self.zone_dir.resolve(),
            tsig=self.tsig,
            zones=self.zones,
        )
        tmp = self.conf.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.conf)

    def start(self, timeout: float = 20.0) -> None:
        """Write the configuration, start knotd and wait until it answers on its socket."""
        knotd = shutil.which("knotd") or "/usr/sbin/knotd"
        if not Path(knotd).exists():
            raise KnotError("knotd is not installed (Debian package knot)")
        self.write_config()
        log = (self.base / "knotd.out").open("ab")
        self.process = subprocess.Popen(
            [knotd, "-c", str(self.conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.control.ping():
            if self.process.poll() is not None:
                raise KnotError(f"knotd exited at start: {self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise KnotError(f"knotd did not answer within {timeout:g} s: {self._log_tail()}")
            time.sleep(0.02)

    def _log_tail(self) -> str:
        for name in ("knot.log", "knotd.out"):
            path = self.base / name
            if path.exists() and path.stat().st_size:
                return " | ".join(path.read_text(errors="replace").splitlines()[-5:])
        return "(no log)"

    def add_zones(self, zones: Iterable[str]) -> None:
        """Serve more zones: rewrite the configuration and have knotd reload it."""
        new = set(zones) - self.zones
        if not new:
            return
        self.zones |= new
        self.write_config()
        if self.running:
            self.control.call("reload")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
