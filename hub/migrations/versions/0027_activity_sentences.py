"""The notes the 1C exchange writes on a deal (paid, shipped, a payment undone) kept as their English
template and values beside their subject and body, so that they are read in the reader's language
(hub.sentences). Notes from before, and those people write, keep only their text and show it.

Revision ID: 0027_activity_sentences
Revises: 0026_stored_notes
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0027_activity_sentences'
down_revision = '0026_stored_notes'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('activities', sa.Column('subject_message', sa.JSON(), nullable=True))
    op.add_column('activities', sa.Column('body_message', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('activities') as batch:
        batch.drop_column('body_message')
        batch.drop_column('subject_message')
