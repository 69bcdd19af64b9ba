"""users.locale: the language a user chose for their pages (hub.i18n); NULL keeps the browser's
Accept-Language, else HUB_DEFAULT_LOCALE.

Revision ID: 0022_user_locale
Revises: 0021_bookkeeping
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0022_user_locale'
down_revision = '0021_bookkeeping'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('locale')
