"""Where zones are published: Knot through its control socket, any server through DNS UPDATE
(RFC 2136, TSIG-signed), or plain zone files for NSD and BIND.

Every target takes the same two things: `replace(tld, nodes)`, the new contents of some owner
names (what a name held is replaced as a whole, so applying a change twice is harmless), and
`load_full(tld, path)`, a full build written to a zone file. `served_serial(tld)` asks the
server which SOA serial it answers with, confirming it took the change.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
import dns.zone

from domreg.dns.knot import KnotControl, KnotError, Tsig
from domreg.dns.zone import Record

#: Owner names per DNS UPDATE message (each well under 64 KiB).
UPDATE_CHUNK = 200
#: Record types the signer adds: not part of what domreg publishes.
DNSSEC_TYPES = {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY"}


class PublishError(RuntimeError):
    """A target refused or could not be reached; the message says which and why."""


def parse_server(text: str) -> tuple[str, int]:
    """`127.0.0.1@5353`, `127.0.0.1` (port 53) or `[::1]:53` -> (address, port)."""
    if "@" in text:
        host, port = text.rsplit("@", 1)
        return host, int(port)
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host, int(port or 53)
    return text, 53


class Target(Protocol):
    name: str

    def replace(self, tld: str, nodes: dict[str, list[Record]]) -> None: ...

    def load_full(self, tld: str, path: Path) -> None: ...

    def served_serial(self, tld: str) -> int | None: ...


@dataclass
class Querier:
    """SOA and other questions to the authoritative server (UDP, short timeout)."""

    server: str

    def soa_serial(self, tld: str, timeout: float = 1.0) -> int | None:
        host, port = parse_server(self.server)
        try:
            reply = dns.query.udp(
                dns.message.make_query(tld + ".", "SOA"), host, port=port, timeout=timeout
            )
        except (OSError, dns.exception.DNSException):
            return None
        for rrset in reply.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return int(rrset[0].serial)
        return None


class KnotcTarget:
    """Knot through its control socket: each batch is one zone transaction (zone-begin,
    zone-unset/zone-set, zone-commit), applied and signed without a reload."""

    name = "knotc"

    def __init__(self, socket_path: str, server: str) -> None:
        self.control = KnotControl(socket_path)
        self.querier = Querier(server)

    def replace(self, tld: str, nodes: dict[str, list[Record]]) -> None:
        try:
            self.control.replace_nodes(tld, nodes)
        except KnotError as exc:
            raise PublishError(str(exc)) from None

    def load_full(self, tld: str, path: Path) -> None:
        """Knot reads its zone file (this path, by its configuration) as a difference to what
        it serves, and signs what changed."""
        try:
            self.control.reload_zone(tld)
        except KnotError as exc:
            raise PublishError(str(exc)) from None

    def served_serial(self, tld: str) -> int | None:
        return self.querier.soa_serial(tld)


class UpdateTarget:
    """Any server that accepts DNS UPDATE (RFC 2136) signed with a TSIG key (RFC 8945).

    A full publication transfers the served zone (AXFR, signed with the same key), compares it
    name by name with the build, and sends UPDATEs for the names that differ."""

    name = "update"

    def __init__(self, server: str, tsig: Tsig, timeout: float = 10.0) -> None:
        self.server = server
        self.host, self.port = parse_server(server)
        self.tsig = tsig
        self.timeout = timeout
        self.keyring = dns.tsigkeyring.from_text({tsig.name: (tsig.algorithm, tsig.secret)})
        self.keyname = dns.name.from_text(tsig.name)
        self.querier = Querier(server)

    def _send(self, message: dns.update.UpdateMessage, tld: str) -> None:
        try:
            reply = dns.query.tcp(message, self.host, port=self.port, timeout=self.timeout)
        except dns.tsig.PeerError as exc:
            raise PublishError(
                f"DNS UPDATE of {tld} to {self.server} refused: TSIG key {self.tsig.name} "
                f"not accepted ({exc})"
            ) from None
        except (OSError, dns.exception.DNSException) as exc:
            raise PublishError(f"DNS UPDATE of {tld} to {self.server} failed: {exc}") from None
        if reply.rcode() != dns.rcode.NOERROR:
            raise PublishError(
                f"DNS UPDATE of {tld} to {self.server} refused: {dns.rcode.to_text(reply.rcode())}"
            )

    def replace(self, tld: str, nodes: dict[str, list[Record]]) -> None:
        owners = list(nodes)
        for i in range(0, len(owners), UPDATE_CHUNK):
            upd = dns.update.UpdateMessage(tld + ".", keyring=self.keyring, keyname=self.keyname)
            for owner in owners[i : i + UPDATE_CHUNK]:
                upd.delete(owner + ".")
                for ttl, rtype, rdata in nodes[owner]:
                    upd.add(owner + ".", ttl, rtype, rdata)
            self._send(upd, tld)

    def served_nodes(self, tld: str) -> dict[str, list[Record]]:
        """What the server serves, without the signer's records and the apex, by owner."""
        try:
            zone = dns.zone.from_xfr(
                dns.query.xfr(
                    self.host,
                    tld + ".",
                    port=self.port,
                    keyring=self.keyring,
                    keyname=self.keyname,
                    timeout=self.timeout,
                )
            )
        except (OSError, dns.exception.DNSException) as exc:
            raise PublishError(f"zone transfer of {tld} from {self.server} failed: {exc}") from None
        return nodes_of(zone, tld)

    def load_full(self, tld: str, path: Path) -> None:
        built = nodes_of(dns.zone.from_file(str(path), origin=tld + ".", relativize=False), tld)
        served = self.served_nodes(tld)
        changed = {
            owner: built.get(owner, [])
            for owner in set(built) | set(served)
            if sorted(built.get(owner, [])) != sorted(served.get(owner, []))
        }
        if changed:
            self.replace(tld, changed)

    def served_serial(self, tld: str) -> int | None:
        return self.querier.soa_serial(tld)


def nodes_of(zone: dns.zone.Zone, tld: str) -> dict[str, list[Record]]:
    """A zone's records by owner (absolute names without the final dot), leaving out the apex
    (SOA, NS, signing keys) and the records a signer adds."""
    out: dict[str, list[Record]] = {}
    origin = dns.name.from_text(tld + ".")
    for name, node in zone.nodes.items():
        absolute = name.derelativize(origin)
        if absolute == origin:
            continue
        owner = absolute.to_text().rstrip(".").lower()
        for rdataset in node.rdatasets:
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            if rtype in DNSSEC_TYPES:
                continue
            for rd in rdataset:
                out.setdefault(owner, []).append(
                    (rdataset.ttl, rtype, rd.to_text(origin=origin, relativize=False))
                )
    return out


class FilesTarget:
    """Zone files for NSD, BIND or any server that loads master files: each publication
    rewrites the TLD's file (changes are batched by the publisher) and runs the reload
    command, e.g. `nsd-control reload {zone}` or `rndc reload {zone}`."""

    name = "files"

    def __init__(self, reload_command: str = "", server: str = "") -> None:
        self.reload_command = reload_command
        self.querier = Querier(server) if server else None
        self.written: dict[str, int] = {}

    def replace(self, tld: str, nodes: dict[str, list[Record]]) -> None:
        raise PublishError("the files target publishes whole zone files only")

    def load_full(self, tld: str, path: Path) -> None:
        if not self.reload_command:
            return
        cmd = self.reload_command.format(zone=tld, file=str(path))
        done = subprocess.run(shlex.split(cmd), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PublishError(
                f"{cmd} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[:300]}"
            )

    def served_serial(self, tld: str) -> int | None:
        return self.querier.soa_serial(tld) if self.querier else None
