"""escrow deposits and service counters (issue 7)

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_counters',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('service', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('count', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('day', 'service', 'name', name=op.f('pk_service_counters'))
    )
    op.create_table('escrow_deposits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deposit_id', sa.String(length=13), nullable=False),
    sa.Column('tld', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('watermark', sa.DateTime(), nullable=False),
    sa.Column('resend', sa.Integer(), server_default='0', nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escrow_deposits'))
    )
    op.create_index('ix_escrow_deposits_tld', 'escrow_deposits', ['tld', 'watermark'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_escrow_deposits_tld', table_name='escrow_deposits')
    op.drop_table('escrow_deposits')
    op.drop_table('service_counters')
