"""registrar RDAP base URL (ICANN RDAP TIG 3.2: the registry's domain answer links to the
registrar's own RDAP answer for the domain)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registrars') as batch:
        batch.add_column(sa.Column('rdap_base_url', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registrars') as batch:
        batch.drop_column('rdap_base_url')
