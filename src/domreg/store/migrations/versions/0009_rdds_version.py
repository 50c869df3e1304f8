"""PostgreSQL: the registration data version (`rdds_version` sequence, bumped by a statement
trigger on each table RDAP and WHOIS read; see `rdds.query.version`)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:30:00
"""

from __future__ import annotations

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: Every table whose rows an RDAP or WHOIS answer is built from (`rdds/query.py` and what it
#: calls: `flows.base.statuses_of`, `flows.lifecycle.rgp_statuses`, `flows.dnssec.records`).
TABLES = (
    'tlds',
    'registrars',
    'contacts',
    'contact_postal',
    'domains',
    'domain_contacts',
    'domain_hosts',
    'domain_ds',
    'grace_periods',
    'hosts',
    'host_addresses',
    'statuses',
)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite: PRAGMA data_version is the version
    op.execute('CREATE SEQUENCE rdds_version')
    # Called once: from now on every nextval changes last_value (the first would not).
    op.execute("SELECT setval('rdds_version', 1)")
    op.execute(
        'CREATE FUNCTION rdds_version_bump() RETURNS trigger LANGUAGE plpgsql AS '
        "$$ BEGIN PERFORM nextval('rdds_version'); RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f'CREATE TRIGGER rdds_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
            f'ON {table} FOR EACH STATEMENT EXECUTE FUNCTION rdds_version_bump()'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.execute(f'DROP TRIGGER rdds_version_bump ON {table}')
    op.execute('DROP FUNCTION rdds_version_bump()')
    op.execute('DROP SEQUENCE rdds_version')
