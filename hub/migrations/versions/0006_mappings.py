"""Mappings: versioned mapping documents per connection and value-table rows.

Revision ID: 0006_mappings
Revises: 0004_alert_delivery
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_mappings'
# 0005 is being added in parallel; the lead rechains this one after it at merge.
down_revision = '0005_purchase_requests'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mapping_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('draft', 'active', 'retired', name='mappingstate', native_enum=False, length=20), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('based_on', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_mapping_versions_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_mapping_versions_connection_id_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mapping_versions')),
    sa.UniqueConstraint('connection_id', 'version', name=op.f('uq_mapping_versions_connection_id_version'))
    )
    with op.batch_alter_table('mapping_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mapping_versions_connection_id'), ['connection_id'], unique=False)

    op.create_table('mapping_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_mapping_rows_connection_id_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mapping_rows')),
    sa.UniqueConstraint('connection_id', 'table_name', 'key', name=op.f('uq_mapping_rows_connection_id_table_name_key'))
    )
    with op.batch_alter_table('mapping_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mapping_rows_connection_id'), ['connection_id'], unique=False)


def downgrade():
    with op.batch_alter_table('mapping_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mapping_rows_connection_id'))
    op.drop_table('mapping_rows')
    with op.batch_alter_table('mapping_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mapping_versions_connection_id'))
    op.drop_table('mapping_versions')
