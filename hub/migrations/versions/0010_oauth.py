"""OAuth connections: the sealed tokens and the authorisation state on the connection, and why an
outbox event was parked when it is requeued by itself (after a re-authorisation).

Revision ID: 0010_oauth
Revises: 0009_onec_exchange
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0010_oauth'
down_revision = '0009_onec_exchange'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('connections') as batch:
        batch.add_column(sa.Column('oauth_sealed', sa.Text(), nullable=True))
        batch.add_column(
            sa.Column(
                'oauth_state',
                sa.Enum('authorised', 'reauthorize', name='authorisation', native_enum=False, length=20),
                nullable=True,
            )
        )
        batch.add_column(sa.Column('oauth_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('oauth_changed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('parked_for', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('parked_for')
    with op.batch_alter_table('connections') as batch:
        batch.drop_column('oauth_changed_at')
        batch.drop_column('oauth_reason')
        batch.drop_column('oauth_state')
        batch.drop_column('oauth_sealed')
