"""Alert delivery: channels (e-mail, webhook) and one delivery row per alert × channel.

Revision ID: 0004_alert_delivery
Revises: 0003_inventory
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_alert_delivery'
down_revision = '0003_inventory'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alert_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.Enum('email', 'webhook', name='channelkind', native_enum=False, length=20), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('secrets_sealed', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_channels')),
    sa.UniqueConstraint('name', name=op.f('uq_alert_channels_name'))
    )
    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sent', 'failed', name='deliverystate', native_enum=False, length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['stock_alerts.id'], name=op.f('fk_alert_deliveries_alert_id_stock_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['alert_channels.id'], name=op.f('fk_alert_deliveries_channel_id_alert_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries')),
    sa.UniqueConstraint('alert_id', 'channel_id', 'event', name=op.f('uq_alert_deliveries_alert_id_channel_id_event'))
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_deliveries_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_deliveries_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_deliveries_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_deliveries_state'), ['state'], unique=False)



def downgrade():
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_state'))
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_channel_id'))
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_alert_id'))

    op.drop_table('alert_deliveries')
    op.drop_table('alert_channels')
