"""domains.delegation: each domain's zone lines (NS, DS, glue), filled for existing rows (issue 5)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delegation', sa.Text(), nullable=True))
    # Every domain's text from its rows, by the one definition the flows use.
    from domreg.dns import delegation

    delegation.refresh_all(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_column('delegation')
