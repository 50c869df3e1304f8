"""query counters per TLD: service_counters.tld joins the primary key (issue 7)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows counted before this migration carry no TLD (""): every TLD's report includes them,
    # as it did.
    with op.batch_alter_table('service_counters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tld', sa.String(length=63), server_default='', nullable=False))
        batch_op.drop_constraint('pk_service_counters', type_='primary')
        batch_op.create_primary_key('pk_service_counters', ['day', 'service', 'name', 'tld'])


def downgrade() -> None:
    # The counts of one (day, service, name) in several TLDs are added up into one row.
    op.execute(
        "INSERT INTO service_counters (day, service, name, tld, count) "
        "SELECT day, service, name, '', SUM(count) FROM service_counters WHERE tld <> '' "
        "GROUP BY day, service, name "
        "ON CONFLICT (day, service, name, tld) "
        "DO UPDATE SET count = service_counters.count + excluded.count"
    )
    op.execute("DELETE FROM service_counters WHERE tld <> ''")
    with op.batch_alter_table('service_counters', schema=None) as batch_op:
        batch_op.drop_constraint('pk_service_counters', type_='primary')
        batch_op.create_primary_key('pk_service_counters', ['day', 'service', 'name'])
        batch_op.drop_column('tld')
