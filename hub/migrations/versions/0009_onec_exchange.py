"""Sessions of 1C's site exchange (CommerceML): the cookie's hash, the orders the last query sent
(marked exported only on 1C's acknowledgement), import progress and uploaded bytes.

Revision ID: 0009_onec_exchange
Revises: 0008_stage_totals
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op


revision = '0009_onec_exchange'
down_revision = '0008_stage_totals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'exchange_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_invoice_ids', sa.JSON(), nullable=False),
        sa.Column('imports', sa.JSON(), nullable=False),
        sa.Column('uploaded_bytes', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ['connection_id'], ['connections.id'], name=op.f('fk_exchange_sessions_connection_id_connections'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_exchange_sessions_token_hash')),
    )
    with op.batch_alter_table('exchange_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exchange_sessions_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exchange_sessions_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('exchange_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_sessions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_exchange_sessions_connection_id'))
    op.drop_table('exchange_sessions')
