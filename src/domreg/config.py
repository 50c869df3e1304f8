"""Configuration: defaults that work for the embedded demo, then `domreg.toml`, then `DOMREG_*`
environment variables (highest precedence). Every key is listed in `Config`."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path


class ConfigError(ValueError):
    pass


@dataclass
class Config:
    data_dir: str = "var"
    database_url: str = ""  # default: sqlite:///<data_dir>/domreg.db
    epp_host: str = "127.0.0.1"
    epp_port: int = 7000
    epp_max_frame: int = 65536
    epp_idle_timeout: float = 600.0
    epp_cert: str = ""  # default: <data_dir>/tls/server.crt
    epp_key: str = ""  # default: <data_dir>/tls/server.key
    epp_client_ca: str = ""  # default: <data_dir>/tls/ca.crt (client certificates it issued)
    epp_server_id: str = "domreg EPP server"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    whois_host: str = "127.0.0.1"
    whois_port: int = 4343
    workers: int = 1
    db_pool_size: int = 8
    jobs_interval: float = 5.0  # seconds between lifecycle job runs in `domreg serve`; 0: none
    log_level: str = "INFO"
    # RFC 9154: days an authInfo set by a domain update stays valid.
    auth_info_ttl_days: int = 14
    # RFC 8807: registrar passwords expire this many days after they were set (0: never);
    # logins warn this many days before.
    password_max_age_days: int = 365
    password_warning_days: int = 30
    # RFC 7848: the TMCH CA certificate (PEM) signed marks must chain to, and its CRL
    # (PEM or DER); "" : not configured (sunrise creates with signed marks are then refused).
    tmch_ca_cert: str = ""
    tmch_crl: str = ""
    # RDAP and WHOIS (issue 4). Links in RDAP answers use rdap_base_url (absolute, ending in
    # "/rdap/"); empty: built from the request's Host. Rate limits are per client IP and
    # worker process (0: none); a failed HTTP authentication costs 10 requests.
    rdap_base_url: str = ""
    rdap_tos_url: str = ""  # terms of service page; empty: the service's help answer
    rdap_rate_limit: float = 20.0  # requests per second
    rdap_rate_burst: int = 60
    rdap_search_limit: int = 25  # objects per search page
    rdap_max_age: int = 0  # Cache-Control max-age of anonymous answers (0: revalidate, ETag)
    rdap_auth_cache_seconds: float = 60.0  # how long a verified HTTP password is remembered
    whois_rate_limit: float = 10.0  # queries per second
    whois_rate_burst: int = 30
    whois_timeout: float = 10.0  # seconds a client has to send its query line
    whois_max_query: int = 255  # characters of a query line
    # DNS publication (dns/). dns_mode: "knot" runs a Knot DNS of its own (demo, tests) on
    # dns_server; "knotc" drives an existing Knot through its control socket; "update" sends
    # DNS UPDATE (RFC 2136, TSIG) to dns_server; "files" only writes zone files (NSD, BIND,
    # then runs dns_reload_command); "off" publishes nothing.
    dns_mode: str = "knot"
    dns_method: str = "knotc"  # how changes reach the Knot of dns_mode "knot": knotc or update
    dns_server: str = "127.0.0.1@5353"  # address@port the authoritative server answers on
    dns_zone_dir: str = ""  # default: <data_dir>/dns/zones (files named <tld>.zone)
    dns_knot_dir: str = ""  # default: <data_dir>/dns/knot (managed Knot: config, journal, keys)
    dns_knot_socket: str = ""  # default: <dns_knot_dir>/knot.sock
    dns_tsig_file: str = ""  # default: <data_dir>/dns/tsig.key ("name algorithm secret")
    dns_poll_interval: float = 0.1  # seconds between looks at the outbox
    dns_reload_command: str = ""  # dns_mode "files": run after each write; {zone} and {file}

    def __post_init__(self) -> None:
        self.fill_defaults()

    def fill_defaults(self) -> None:
        data = Path(self.data_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{data / 'domreg.db'}"
        if not self.epp_cert:
            self.epp_cert = str(data / "tls" / "server.crt")
        if not self.epp_key:
            self.epp_key = str(data / "tls" / "server.key")
        if not self.epp_client_ca:
            self.epp_client_ca = str(data / "tls" / "ca.crt")

        dns = data / "dns"
        if not self.dns_zone_dir:
            self.dns_zone_dir = str(dns / "zones")
        if not self.dns_knot_dir:
            self.dns_knot_dir = str(dns / "knot")
        if not self.dns_knot_socket:
            self.dns_knot_socket = str(Path(self.dns_knot_dir) / "knot.sock")
        if not self.dns_tsig_file:
            self.dns_tsig_file = str(dns / "tsig.key")

    @property
    def tls_dir(self) -> Path:
        return Path(self.data_dir) / "tls"


def load(path: str | None = None, env: dict[str, str] | None = None) -> Config:
    """Build the configuration from `path` (or ./domreg.toml if present) and the environment."""
    env = dict(os.environ) if env is None else env
    values: dict[str, object] = {}
    toml_path = Path(path or env.get("DOMREG_CONFIG", "domreg.toml"))
    if toml_path.exists():
        try:
            with toml_path.open("rb") as fh:
                values.update(tomllib.load(fh))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: {exc}") from None
    elif path:
        raise ConfigError(f"configuration file {path} does not exist")
    known = {f.name: f for f in fields(Config)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown configuration key {key!r}")
    for f in known.values():
        env_value = env.get("DOMREG_" + f.name.upper())
        if env_value is not None:
            values[f.name] = env_value
    typed: dict[str, object] = {}
    for key, value in values.items():
        kind = known[key].type
        try:
            if kind == "int":
                typed[key] = int(value)  # type: ignore[call-overload]
            elif kind == "float":
                typed[key] = float(value)  # type: ignore[arg-type]
            else:
                typed[key] = str(value)
        except (TypeError, ValueError):
            raise ConfigError(f"configuration key {key} must be {kind}, not {value!r}") from None
    return Config(**typed)  # type: ignore[arg-type]
