"""Purchase requests raised in a target from low-stock alerts: one link per alert.

Revision ID: 0005_purchase_requests
Revises: 0004_alert_delivery
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_purchase_requests'
down_revision = '0004_alert_delivery'
branch_labels = None
depends_on = None


def quantity(precision, scale):
    # Exact text on SQLite, whose NUMERIC is a float (as DecimalType does).
    return sa.Numeric(precision, scale).with_variant(sa.String(40), "sqlite")


def upgrade():
    op.create_table('purchase_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('warehouse_code', sa.String(length=100), nullable=True),
    sa.Column('quantity', quantity(18, 4), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('state', sa.Enum('pending', 'requested', 'failed', name='purchaserequeststate', native_enum=False, length=20), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('external_number', sa.String(length=100), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['stock_alerts.id'], name=op.f('fk_purchase_requests_alert_id_stock_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_purchase_requests_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_purchase_requests_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_requests')),
    sa.UniqueConstraint('alert_id', name=op.f('uq_purchase_requests_alert_id'))
    )
    with op.batch_alter_table('purchase_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_requests_connection_id'), ['connection_id'], unique=False)


def downgrade():
    with op.batch_alter_table('purchase_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_requests_connection_id'))

    op.drop_table('purchase_requests')
