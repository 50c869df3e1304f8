"""registrar contact data for RDAP and WHOIS

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = [
    ('url', sa.String(length=255)),
    ('whois_server', sa.String(length=255)),
    ('abuse_email', sa.String(length=255)),
    ('abuse_phone', sa.String(length=64)),
    ('phone', sa.String(length=64)),
    ('fax', sa.String(length=64)),
    ('street', sa.Text()),
    ('city', sa.String(length=255)),
    ('sp', sa.String(length=255)),
    ('pc', sa.String(length=16)),
    ('cc', sa.String(length=2)),
]


def upgrade() -> None:
    with op.batch_alter_table('registrars') as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registrars') as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
