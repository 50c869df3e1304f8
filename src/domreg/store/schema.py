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
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="USD"),
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
    Column("trn_status", String(16), nullable=True),
    Column("trn_gaining_id", ForeignKey("registrars.id"), nullable=True),
    Column("trn_losing_id", ForeignKey("registrars.id"), nullable=True),
    Column("trn_requested_at", DateTime, nullable=True),
    Column("trn_action_at", DateTime, nullable=True),
    Column("trn_expires_at", DateTime, nullable=True),
    Column("trn_period_months", Integer, nullable=True),
    Column("deleted_at", DateTime, nullable=True),
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
