"""web console: users, sessions, audit; domain list and history indexes

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('registrar_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=False),
    sa.Column('totp_step', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('disabled', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['registrar_id'], ['registrars.id'], name=op.f('fk_web_users_registrar_id_registrars')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_users')),
    sa.UniqueConstraint('username', name=op.f('uq_web_users_username'))
    )
    op.create_index('ix_web_users_registrar', 'web_users', ['registrar_id'], unique=False)
    op.create_table('web_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['web_users.id'], name=op.f('fk_web_sessions_user_id_web_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_web_sessions'))
    )
    op.create_index('ix_web_sessions_user', 'web_sessions', ['user_id'], unique=False)
    op.create_table('web_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('registrar_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('svtrid', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_audit'))
    )
    op.create_index('ix_web_audit_at', 'web_audit', ['at'], unique=False)
    op.create_index('ix_web_audit_login', 'web_audit', ['action', 'ip', 'at'], unique=False)
    op.create_index('ix_domains_registrar_name', 'domains', ['registrar_id', 'name'], unique=False, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_history_registrar_at', 'history', ['registrar_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_history_registrar_at', table_name='history')
    op.drop_index('ix_domains_registrar_name', table_name='domains')
    op.drop_index('ix_web_audit_login', table_name='web_audit')
    op.drop_index('ix_web_audit_at', table_name='web_audit')
    op.drop_table('web_audit')
    op.drop_index('ix_web_sessions_user', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_index('ix_web_users_registrar', table_name='web_users')
    op.drop_table('web_users')
