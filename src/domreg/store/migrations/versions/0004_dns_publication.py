"""dns publication: per-TLD DNS settings and publication state

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-30 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tld_dns',
    sa.Column('tld_id', sa.Integer(), nullable=False),
    sa.Column('nameservers', sa.Text(), server_default='[]', nullable=False),
    sa.Column('hostmaster', sa.String(length=253), nullable=True),
    sa.Column('ttl', sa.Integer(), server_default='3600', nullable=False),
    sa.Column('soa_refresh', sa.Integer(), server_default='14400', nullable=False),
    sa.Column('soa_retry', sa.Integer(), server_default='3600', nullable=False),
    sa.Column('soa_expire', sa.Integer(), server_default='1209600', nullable=False),
    sa.Column('soa_minimum', sa.Integer(), server_default='3600', nullable=False),
    sa.Column('serial', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('served_serial', sa.BigInteger(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('full_published_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('error_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tld_id'], ['tlds.id'], name=op.f('fk_tld_dns_tld_id_tlds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tld_id', name=op.f('pk_tld_dns'))
    )


def downgrade() -> None:
    op.drop_table('tld_dns')
