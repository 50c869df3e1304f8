"""DNS publication as a service of `domreg serve` (first worker) and of the `domreg zone`
commands: the configured target, the Knot domreg runs itself (dns_mode "knot"), and the
publisher task.

    service = DnsService(cfg)
    service.open()          # managed Knot started, every TLD published in full
    service.start()         # the publisher task (inside a running event loop)
    await service.close()   # task stopped, managed Knot stopped
"""

from __future__ import annotations

import logging
from pathlib import Path

from domreg.clock import Clock
from domreg.config import Config, ConfigError
from domreg.dns import zone as zb
from domreg.dns.knot import KnotServer, Tsig
from domreg.dns.publisher import Publisher, safe_position, zone_file
from domreg.dns.targets import FilesTarget, KnotcTarget, Target, UpdateTarget
from domreg.flows import dns as dns_flow
from domreg.store.db import Database

log = logging.getLogger("domreg.dns")

MODES = ("knot", "knotc", "update", "files", "off")
TSIG_NAME = "domreg-update"


def tsig(cfg: Config) -> Tsig:
    return Tsig.load_or_create(Path(cfg.dns_tsig_file), TSIG_NAME)


def make_target(cfg: Config) -> Target:
    """The publication target the configuration names."""
    if cfg.dns_mode not in MODES:
        raise ConfigError(f"dns_mode must be one of {', '.join(MODES)}, not {cfg.dns_mode!r}")
    if cfg.dns_mode == "files":
        return FilesTarget(cfg.dns_reload_command)
    if cfg.dns_mode == "update" or (cfg.dns_mode == "knot" and cfg.dns_method == "update"):
        return UpdateTarget(cfg.dns_server, tsig(cfg))
    if cfg.dns_mode in ("knot", "knotc"):
        if cfg.dns_method not in ("knotc", "update"):
            raise ConfigError(f"dns_method must be knotc or update, not {cfg.dns_method!r}")
        return KnotcTarget(cfg.dns_knot_socket, cfg.dns_server)
    raise ConfigError("dns_mode is off: nothing is published")


def managed_knot(cfg: Config, tlds: list[str]) -> KnotServer:
    base = Path(cfg.dns_knot_dir)
    if cfg.dns_knot_socket != str(base / "knot.sock"):
        raise ConfigError("dns_mode knot: the control socket is <dns_knot_dir>/knot.sock")
    return KnotServer(base, cfg.dns_server, Path(cfg.dns_zone_dir), tsig(cfg), tlds)


def start_managed(knot: KnotServer, publisher: Publisher) -> None:
    """Start a managed Knot on zone files fresh from the database (Knot applies its zone file
    over what its journal holds, so the file must be current), and move the cursor past what
    they contain."""
    position = safe_position(publisher.db)
    for tld in sorted(knot.zones):
        zs, serial, _ = zb.write_zone_file(publisher.db, tld, zone_file(knot.zone_dir, tld))
        with publisher.db.write() as conn:
            dns_flow.set_serial(conn, zs.tld_id, serial)
    knot.start()
    publisher.mark_published(position, sorted(knot.zones))


class DnsService:
    def __init__(self, cfg: Config, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.clock = clock or Clock()
        self.db: Database | None = None
        self.knot: KnotServer | None = None
        self.publisher: Publisher | None = None

    @property
    def enabled(self) -> bool:
        return self.cfg.dns_mode != "off"

    def open(self) -> None:
        """Start the managed Knot (if any) and publish every TLD in full."""
        if not self.enabled:
            return
        cfg = self.cfg
        target = make_target(cfg)
        self.db = Database(cfg.database_url, pool_size=2)
        zone_dir = Path(cfg.dns_zone_dir)
        self.publisher = Publisher(
            self.db, target, zone_dir, clock=self.clock, interval=cfg.dns_poll_interval
        )
        with self.db.read() as conn:
            tlds = zb.tld_names(conn)
        if cfg.dns_mode == "knot":
            self.knot = managed_knot(cfg, tlds)
            start_managed(self.knot, self.publisher)
            self.publisher.zones_hook = self._zones_hook
            return
        self.publisher.publish_all_full()

    def _zones_hook(self, tlds: list[str]) -> None:
        """Before each step: a stopped Knot is started again; a new TLD gets its zone file,
        then Knot serves it."""
        assert self.knot is not None and self.db is not None and self.publisher is not None
        if not self.knot.running:
            log.warning("knotd is not running: starting it again")
            self.knot.zones |= set(tlds)
            start_managed(self.knot, self.publisher)
            return
        new = [t for t in tlds if t not in self.knot.zones]
        if not new:
            return
        for tld in new:
            zb.write_zone_file(self.db, tld, zone_file(Path(self.cfg.dns_zone_dir), tld))
        self.knot.add_zones(new)
        log.info("Knot now serves %s", ", ".join(new))

    def start(self) -> None:
        """The publisher task (call inside the running event loop)."""
        if self.publisher is not None:
            self.publisher.start()

    async def close(self) -> None:
        if self.publisher is not None:
            await self.publisher.stop()
        self.shutdown()

    def shutdown(self) -> None:
        if self.knot is not None:
            self.knot.stop()
            self.knot = None
        if self.db is not None:
            self.db.close()
            self.db = None
