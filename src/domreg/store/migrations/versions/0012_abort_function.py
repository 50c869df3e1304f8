"""PostgreSQL: `domreg_abort(reason)`, a function that raises (SQLSTATE DR001): how one
statement undoes itself when what it wrote must not be committed (`domain_create.create`)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 16:30:00
"""

from __future__ import annotations

from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite runs a create's writes one statement at a time, in its transaction
    # Volatile (the default): never evaluated ahead of time, only when a row reaches it.
    op.execute(
        'CREATE FUNCTION domreg_abort(reason text) RETURNS bigint LANGUAGE plpgsql AS '
        "$$ BEGIN RAISE EXCEPTION USING ERRCODE = 'DR001', MESSAGE = reason; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP FUNCTION domreg_abort(text)')
