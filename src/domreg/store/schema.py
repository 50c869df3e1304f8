"""The registry's tables (SQLAlchemy 2 Core). One schema serves SQLite and PostgreSQL.

Conventions: times are naive UTC datetimes; money is integer minor units; every
EPP object has a repository object id (ROID) unique across all object types; a
row with `deleted_at` set is a purged object kept for history, and the database
itself enforces that live names are unique (partial unique indexes).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

LIVE = text("deleted_at IS NULL")


def _live_unique(name: str, table: str, column: str) -> Index:
    return Index(
        name,
        column,
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


tlds = Table(
    "tlds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("repository_id", String(8), nullable=False),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("min_period_years", Integer, nullable=False, server_default="1"),
    Column("max_period_years", Integer, nullable=False, server_default="10"),
    Column("created_at", DateTime, nullable=False),
    # Lifecycle policy (days), RFC 3915 and the usual gTLD defaults.
    Column("add_grace_days", Integer, nullable=False, server_default="5"),
    Column("renew_grace_days", Integer, nullable=False, server_default="5"),
    Column("autorenew_grace_days", Integer, nullable=False, server_default="45"),
    Column("transfer_grace_days", Integer, nullable=False, server_default="5"),
    Column("transfer_pending_days", Integer, nullable=False, server_default="5"),
    Column("redemption_days", Integer, nullable=False, server_default="30"),
    Column("pending_delete_days", Integer, nullable=False, server_default="5"),
    # Prices in minor units of `currency`, per year for create, renew and transfer.
    Column("create_price", BigInteger, nullable=False, server_default="1000"),
    Column("renew_price", BigInteger, nullable=False, server_default="1000"),
    Column("transfer_price", BigInteger, nullable=False, server_default="1000"),
    Column("restore_price", BigInteger, nullable=False, server_default="5000"),
    # secDNS (RFC 5910): "ds" accepts DS data only; "any" also accepts key data.
    Column("dnssec_interface", String(8), nullable=False, server_default="ds"),
)

#: Launch phases of a TLD (RFC 8334): sunrise, claims, landrush, open; `ends_at` NULL = open-ended.
tld_phases = Table(
    "tld_phases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tld_id", ForeignKey("tlds.id"), nullable=False),
    Column("name", String(16), nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("ends_at", DateTime, nullable=True),
    # RFC 8334 section 2.3: the sub-phase (or, for "custom", the phase's full name).
    Column("sub_phase", String(64), nullable=True),
    Index("ix_tld_phases_tld", "tld_id", "starts_at"),
)

#: Names that cannot be registered (without an allocation token that allows them).
reserved_names = Table(
    "reserved_names",
    metadata,
    Column("tld_id", ForeignKey("tlds.id"), primary_key=True),
    Column("label", String(63), primary_key=True),
    Column("reason", String(255), nullable=False),
)

#: Premium names: their own prices (minor units per year), replacing the TLD's.
premium_names = Table(
    "premium_names",
    metadata,
    Column("tld_id", ForeignKey("tlds.id"), primary_key=True),
    Column("label", String(63), primary_key=True),
    Column("price_class", String(32), nullable=False, server_default="premium"),
    Column("create_price", BigInteger, nullable=False),
    Column("renew_price", BigInteger, nullable=False),
    Column("transfer_price", BigInteger, nullable=False),
    Column("restore_price", BigInteger, nullable=False),
)

#: Per-registrar price overrides for one TLD and operation (create, renew, transfer, restore).
registrar_prices = Table(
    "registrar_prices",
    metadata,
    Column("registrar_id", ForeignKey("registrars.id"), primary_key=True),
    Column("tld_id", ForeignKey("tlds.id"), primary_key=True),
    Column("operation", String(16), primary_key=True),
    Column("price", BigInteger, nullable=False),
)

#: The billing ledger: immutable rows; a registrar's balance is their sum.
ledger = Table(
    "ledger",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=False),
    Column("at", DateTime, nullable=False),
    # create, renew, autorenew, transfer, restore (charges, negative amounts), refund,
    # topup and adjustment.
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),  # signed minor units: + credits, - charges
    Column("currency", String(3), nullable=False),
    Column("tld_id", ForeignKey("tlds.id"), nullable=True),
    Column("domain_name", String(253), nullable=True),
    Column("roid", String(89), nullable=True),
    Column("years", Integer, nullable=True),
    Column("svtrid", String(64), nullable=True),
    Column("refund_of", BigInteger, nullable=True),  # the ledger row a refund reverses
    Column("description", Text, nullable=True),
    Index("ix_ledger_registrar_at", "registrar_id", "at"),
    Index("ix_ledger_roid", "roid"),
)

#: Grace periods and RGP states of a domain (RFC 3915): add, renew, autoRenew, transfer,
#: redemption, pendingRestore, pendingDelete. `ledger_id` is the charge a delete refunds.
grace_periods = Table(
    "grace_periods",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("ends_at", DateTime, nullable=False),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=True),
    Column("ledger_id", BigInteger, nullable=True),
    Index("ix_grace_periods_domain", "domain_id"),
    Index("ix_grace_periods_ends", "ends_at"),
)

#: DNSSEC delegation signer data (RFC 5910 dsData; keyData is kept when the TLD accepts it).
domain_ds = Table(
    "domain_ds",
    metadata,
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("key_tag", Integer, primary_key=True),
    Column("alg", Integer, primary_key=True),
    Column("digest_type", Integer, primary_key=True),
    Column("digest", String(128), primary_key=True),
    Column("key_flags", Integer, nullable=True),
    Column("key_protocol", Integer, nullable=True),
    Column("key_alg", Integer, nullable=True),
    Column("public_key", Text, nullable=True),
)

#: Allocation tokens (RFC 8495): allow reserved names and/or discount the price.
allocation_tokens = Table(
    "allocation_tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("tld_id", ForeignKey("tlds.id"), nullable=True),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=True),
    Column("domain_name", String(253), nullable=True),  # only this name, if set
    Column("allows_reserved", Integer, nullable=False, server_default="0"),
    Column("discount_percent", Integer, nullable=False, server_default="0"),
    Column("max_uses", Integer, nullable=False, server_default="1"),
    Column("uses", Integer, nullable=False, server_default="0"),
    Column("expires_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
)

#: Trademark claims (RFC 8334 claims phase): a label, its claim key, and the marks' data.
trademark_claims = Table(
    "trademark_claims",
    metadata,
    Column("tld_id", ForeignKey("tlds.id"), primary_key=True),
    Column("label", String(63), primary_key=True),
    Column("claim_key", String(255), nullable=False),
)

registrars = Table(
    "registrars",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("clid", String(16), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("iana_id", Integer, nullable=True),
    Column("email", String(255), nullable=True),
    Column("password_hash", String(255), nullable=False),
    # JSON lists, small and read whole at login.
    Column("cert_fingerprints", Text, nullable=False, server_default="[]"),
    Column("allowed_ips", Text, nullable=False, server_default="[]"),
    Column("status", String(16), nullable=False, server_default="ok"),
    # Cached sum of the registrar's ledger rows (updated in the same transaction as each row).
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("credit_limit", BigInteger, nullable=False, server_default="0"),
    Column("low_balance_threshold", BigInteger, nullable=True),
    Column("password_changed_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=True),
)

registrar_tlds = Table(
    "registrar_tlds",
    metadata,
    Column("registrar_id", ForeignKey("registrars.id"), primary_key=True),
    Column("tld_id", ForeignKey("tlds.id"), primary_key=True),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("roid", String(89), nullable=False, unique=True),
    Column("handle", String(16), nullable=False),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=False),
    Column("creator_id", ForeignKey("registrars.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updater_id", ForeignKey("registrars.id"), nullable=True),
    Column("updated_at", DateTime, nullable=True),
    Column("transferred_at", DateTime, nullable=True),
    Column("voice", String(64), nullable=True),
    Column("voice_ext", String(16), nullable=True),
    Column("fax", String(64), nullable=True),
    Column("fax_ext", String(16), nullable=True),
    Column("email", String(255), nullable=False),
    Column("auth_info", String(255), nullable=True),
    # JSON: {"flag": 0|1, "fields": ["name_int", "addr_loc", "voice", ...]} or null.
    Column("disclose", Text, nullable=True),
    Column("trn_status", String(16), nullable=True),
    Column("trn_gaining_id", ForeignKey("registrars.id"), nullable=True),
    Column("trn_losing_id", ForeignKey("registrars.id"), nullable=True),
    Column("trn_requested_at", DateTime, nullable=True),
    Column("trn_action_at", DateTime, nullable=True),
    Column("deleted_at", DateTime, nullable=True),
    _live_unique("uq_contacts_live_handle", "contacts", "handle"),
    Index("ix_contacts_registrar", "registrar_id"),
)

contact_postal = Table(
    "contact_postal",
    metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("type", String(3), primary_key=True),  # "int" or "loc"
    Column("name", String(255), nullable=False),
    Column("org", String(255), nullable=True),
    Column("street1", String(255), nullable=True),
    Column("street2", String(255), nullable=True),
    Column("street3", String(255), nullable=True),
    Column("city", String(255), nullable=False),
    Column("sp", String(255), nullable=True),
    Column("pc", String(16), nullable=True),
    Column("cc", String(2), nullable=False),
)

domains = Table(
    "domains",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("roid", String(89), nullable=False, unique=True),
    Column("name", String(253), nullable=False),
    Column("tld_id", ForeignKey("tlds.id"), nullable=False),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=False),
    Column("creator_id", ForeignKey("registrars.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updater_id", ForeignKey("registrars.id"), nullable=True),
    Column("updated_at", DateTime, nullable=True),
    Column("expires_at", DateTime, nullable=False),
    Column("transferred_at", DateTime, nullable=True),
    Column("registrant_id", ForeignKey("contacts.id"), nullable=True),
    Column("auth_info", String(255), nullable=True),
    # RFC 9154: `auth_info` holds a salted hash (flows/base.hash_auth_info), NULL when unset;
    # it expires at this time (NULL: no time to live, e.g. set at create).
    Column("auth_info_expires_at", DateTime, nullable=True),
    Column("trn_status", String(16), nullable=True),
    Column("trn_gaining_id", ForeignKey("registrars.id"), nullable=True),
    Column("trn_losing_id", ForeignKey("registrars.id"), nullable=True),
    Column("trn_requested_at", DateTime, nullable=True),
    Column("trn_action_at", DateTime, nullable=True),
    Column("trn_expires_at", DateTime, nullable=True),
    Column("trn_period_months", Integer, nullable=True),
    Column("deleted_at", DateTime, nullable=True),
    # The zone lines of the delegation (NS, DS, glue; dns/delegation.py), kept by the flows
    # that change them, in their transaction; NULL without nameservers.
    Column("delegation", Text, nullable=True),
    _live_unique("uq_domains_live_name", "domains", "name"),
    Index("ix_domains_registrar", "registrar_id"),
    Index("ix_domains_registrant", "registrant_id"),
    Index("ix_domains_expires", "expires_at"),
)

hosts = Table(
    "hosts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("roid", String(89), nullable=False, unique=True),
    Column("name", String(253), nullable=False),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=False),
    Column("creator_id", ForeignKey("registrars.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updater_id", ForeignKey("registrars.id"), nullable=True),
    Column("updated_at", DateTime, nullable=True),
    Column("transferred_at", DateTime, nullable=True),
    # The live domain this host is subordinate to, if any (a host "in bailiwick").
    Column("parent_domain_id", ForeignKey("domains.id"), nullable=True),
    Column("deleted_at", DateTime, nullable=True),
    _live_unique("uq_hosts_live_name", "hosts", "name"),
    Index("ix_hosts_parent", "parent_domain_id"),
    Index("ix_hosts_registrar", "registrar_id"),
)

host_addresses = Table(
    "host_addresses",
    metadata,
    Column("host_id", ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True),
    Column("address", String(45), primary_key=True),
    Column("version", String(2), nullable=False),  # "v4" or "v6"
)

statuses = Table(
    "statuses",
    metadata,
    Column("roid", String(89), primary_key=True),
    Column("status", String(32), primary_key=True),
    Column("lang", String(16), nullable=True),
    Column("message", Text, nullable=True),
)

domain_hosts = Table(
    "domain_hosts",
    metadata,
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("host_id", ForeignKey("hosts.id"), primary_key=True),
    Index("ix_domain_hosts_host", "host_id"),
)

domain_contacts = Table(
    "domain_contacts",
    metadata,
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("type", String(8), primary_key=True),  # admin, billing, tech
    Column("contact_id", ForeignKey("contacts.id"), primary_key=True),
    Index("ix_domain_contacts_contact", "contact_id"),
)

history = Table(
    "history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("svtrid", String(64), nullable=False, unique=True),
    Column("cltrid", String(64), nullable=True),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=True),
    Column("object_type", String(16), nullable=False),
    Column("roid", String(89), nullable=False),
    Column("object_name", String(253), nullable=False),
    Column("command", String(32), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("snapshot", Text, nullable=False),  # JSON: the object's state after the command
    Index("ix_history_roid", "roid"),
    Index("ix_history_at", "at"),
)

poll_messages = Table(
    "poll_messages",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("payload", Text, nullable=True),  # JSON, rendered by the protocol adapter
    Column("acked_at", DateTime, nullable=True),
    Index("ix_poll_queue", "registrar_id", "acked_at", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("topic", String(32), nullable=False),  # e.g. domain.created
    Column("object_type", String(16), nullable=False),
    Column("roid", String(89), nullable=False),
    Column("name", String(253), nullable=False),
    Column("tld", String(63), nullable=True),
    Column("svtrid", String(64), nullable=True),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime, nullable=True),
)


# ---------------------------------------------------------------- launch phases (RFC 8334)

#: The launch phase a domain was registered in (registration-based launch: one row per domain
#: created while its TLD had a phase), with the signed mark or claims notice it was created with.
domain_launch = Table(
    "domain_launch",
    metadata,
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("phase", String(16), nullable=False),
    Column("sub_phase", String(64), nullable=True),
    Column("smd_id", String(128), nullable=True),  # the signed mark's <smd:id>
    Column("mark_xml", Text, nullable=True),  # its verified <mark:mark>, for includeMark
    Column("notice_id", String(64), nullable=True),  # the claims notice accepted
    Column("notice_not_after", DateTime, nullable=True),
    Column("notice_accepted_at", DateTime, nullable=True),
)

#: Revoked signed marks (the TMCH SMD revocation list): a sunrise create with one is refused.
smd_revocations = Table(
    "smd_revocations",
    metadata,
    Column("smd_id", String(128), primary_key=True),
    Column("revoked_at", DateTime, nullable=False),
)

# ---------------------------------------------------------------- registrar contact data (RDDS)
# What RDAP and WHOIS publish about a registrar (ICANN RDAP Response Profile 2.4 and 3.1,
# Registry Agreement Specification 4): its web site, WHOIS server, abuse contact, and the
# postal address, phone and fax of a registrar entity. Migration 0003.
for _column in (
    Column("url", String(255), nullable=True),
    Column("whois_server", String(255), nullable=True),
    Column("abuse_email", String(255), nullable=True),
    Column("abuse_phone", String(64), nullable=True),
    Column("phone", String(64), nullable=True),
    Column("fax", String(64), nullable=True),
    Column("street", Text, nullable=True),  # JSON list of up to three lines
    Column("city", String(255), nullable=True),
    Column("sp", String(255), nullable=True),
    Column("pc", String(16), nullable=True),
    Column("cc", String(2), nullable=True),
    # The registrar's own RDAP service (ICANN RDAP TIG 3.2: the "related" link of a domain
    # answer). Migration 0008.
    Column("rdap_base_url", String(255), nullable=True),
):
    registrars.append_column(_column)
del _column

# ---------------------------------------------------------------- DNS publication (issue 5)

#: Per-TLD DNS settings and publication state (dns/): the apex nameservers with their glue,
#: SOA values and TTL, and what the publisher last did. No row: the defaults of dns/zone.py.
tld_dns = Table(
    "tld_dns",
    metadata,
    Column("tld_id", ForeignKey("tlds.id", ondelete="CASCADE"), primary_key=True),
    # JSON list of {"name": "ns1.nic.example", "addresses": ["192.0.2.1", "2001:db8::1"]}.
    Column("nameservers", Text, nullable=False, server_default="[]"),
    Column("hostmaster", String(253), nullable=True),  # SOA RNAME as a mailbox, e.g. a@b.example
    Column("ttl", Integer, nullable=False, server_default="3600"),
    Column("soa_refresh", Integer, nullable=False, server_default="14400"),
    Column("soa_retry", Integer, nullable=False, server_default="3600"),
    Column("soa_expire", Integer, nullable=False, server_default="1209600"),
    Column("soa_minimum", Integer, nullable=False, server_default="3600"),
    # Publication state, written by the publisher.
    Column("serial", BigInteger, nullable=False, server_default="0"),  # last serial built
    Column("served_serial", BigInteger, nullable=True),  # SOA serial the server answered with
    Column("published_at", DateTime, nullable=True),
    Column("full_published_at", DateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("error_at", DateTime, nullable=True),
)

# ---------------------------------------------------------------- escrow, reports (issue 7)

#: Counts of queries that leave no history row (EPP check/info/poll/login..., RDAP and WHOIS
#: lookups), per UTC day and TLD: `metrics.py` keeps them in memory and adds them here every
#: few seconds. The monthly activity report of a TLD reads its rows and those of no TLD.
service_counters = Table(
    "service_counters",
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("service", String(16), primary_key=True),  # epp, rdap, whois, zfa...
    Column("name", String(64), primary_key=True),  # e.g. domain:check, login, lookup
    # The TLD the query or command was about (RDAP, WHOIS, EPP); "" for none (see metrics.py).
    Column("tld", String(63), primary_key=True, server_default=""),
    Column("count", BigInteger, nullable=False, server_default="0"),
)

#: Escrow deposits made (RFC 8909): what `domreg escrow status` shows; the "escrow-<tld>"
#: cursors record the last watermark deposited.
escrow_deposits = Table(
    "escrow_deposits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("deposit_id", String(13), nullable=False),
    Column("tld", String(63), nullable=False),
    Column("kind", String(8), nullable=False),  # FULL, DIFF, BRDA
    Column("watermark", DateTime, nullable=False),
    Column("resend", Integer, nullable=False, server_default="0"),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("counts", Text, nullable=False),  # JSON: object URI -> count
    Column("created_at", DateTime, nullable=False),
    Index("ix_escrow_deposits_tld", "tld", "watermark"),
)

# ---------------------------------------------------------------- web console (issue 6)

#: People who sign in to the web console: registry administrators (no registrar) and the
#: users of a registrar. Passwords are argon2 hashes; `totp_secret` is the base32 TOTP seed.
web_users = Table(
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("registrar_id", ForeignKey("registrars.id"), nullable=True),  # NULL: administrator
    Column("role", String(16), nullable=False),  # "admin" or "registrar"
    Column("password_hash", String(255), nullable=False),
    Column("totp_secret", String(64), nullable=False),
    # The 30-second step of the last accepted code: a code is accepted once (RFC 6238 5.2).
    Column("totp_step", BigInteger, nullable=False, server_default="0"),
    Column("disabled", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime, nullable=False),
    Column("last_login_at", DateTime, nullable=True),
    Index("ix_web_users_registrar", "registrar_id"),
)

#: Signed-in browser sessions, shared by every worker: the cookie carries a random token,
#: the table its SHA-256, the user and the session's CSRF token.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_web_sessions_user", "user_id"),
)

#: What people did in the web console (sign-ins, failed sign-ins, every action), beside
#: `history`, whose rows of web actions carry `cltrid` "web:<username>".
web_audit = Table(
    "web_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("username", String(64), nullable=False),
    Column("registrar_id", Integer, nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=True),
    Column("outcome", String(16), nullable=False),  # ok, refused, failed
    Column("detail", Text, nullable=True),
    Column("ip", String(45), nullable=True),
    Column("svtrid", String(64), nullable=True),
    Index("ix_web_audit_at", "at"),
    Index("ix_web_audit_login", "action", "ip", "at"),
)

#: The console's domain list: a registrar's live domains in name order (keyset paging).
ix_domains_registrar_name = Index(
    "ix_domains_registrar_name",
    domains.c.registrar_id,
    domains.c.name,
    sqlite_where=LIVE,
    postgresql_where=LIVE,
)
#: The dashboard's chart: a registrar's history over time.
ix_history_registrar_at = Index("ix_history_registrar_at", history.c.registrar_id, history.c.at)
