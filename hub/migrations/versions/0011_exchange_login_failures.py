"""Wrong passwords at the 1C exchange's checkauth, per connection and per address, and the
lockout they lead to.

Revision ID: 0011_exchange_login_failures
Revises: 0010_oauth
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op


revision = '0011_exchange_login_failures'
down_revision = '0010_oauth'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'exchange_login_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=80), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_login_failures')),
        sa.UniqueConstraint('scope', name=op.f('uq_exchange_login_failures_scope')),
    )


def downgrade():
    op.drop_table('exchange_login_failures')
