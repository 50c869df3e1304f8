"""launch phases: sub-phase, the launch data of domains, revoked signed marks (RFC 8334, 7848)

Revision ID: 0007
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tld_phases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sub_phase', sa.String(length=64), nullable=True))
    op.create_table('domain_launch',
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('sub_phase', sa.String(length=64), nullable=True),
    sa.Column('smd_id', sa.String(length=128), nullable=True),
    sa.Column('mark_xml', sa.Text(), nullable=True),
    sa.Column('notice_id', sa.String(length=64), nullable=True),
    sa.Column('notice_not_after', sa.DateTime(), nullable=True),
    sa.Column('notice_accepted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], name=op.f('fk_domain_launch_domain_id_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('domain_id', name=op.f('pk_domain_launch'))
    )
    op.create_table('smd_revocations',
    sa.Column('smd_id', sa.String(length=128), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('smd_id', name=op.f('pk_smd_revocations'))
    )


def downgrade() -> None:
    op.drop_table('smd_revocations')
    op.drop_table('domain_launch')
    with op.batch_alter_table('tld_phases', schema=None) as batch_op:
        batch_op.drop_column('sub_phase')
