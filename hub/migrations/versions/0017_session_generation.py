"""Users' session generation: a login session carries the generation it began in, and one of an
older generation is over (log-out, a new password, a new role, deactivation).

Revision ID: 0017_session_generation
Revises: 0016_stage_totals_by_triggers
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_session_generation'
down_revision = '0016_stage_totals_by_triggers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_generation')
