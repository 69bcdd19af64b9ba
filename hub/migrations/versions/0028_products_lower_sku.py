"""An index on lower(sku) of products: a new SKU is checked against the others regardless of case,
and the 1C catalogue import looks up its products 1,000 SKUs at a time the same way; without it
each look-up reads the whole table (at 100k products, seconds per import batch on PostgreSQL once
the statement is prepared). Not unique: a database may hold products whose SKUs differ in case
only, made before SKUs were compared regardless of case, and a unique index would fail on them.

Revision ID: 0028_products_lower_sku
Revises: 0027_activity_sentences
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = '0028_products_lower_sku'
down_revision = '0027_activity_sentences'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_products_lower_sku', 'products', [sa.text('lower(sku)')], unique=False)


def downgrade():
    op.drop_index('ix_products_lower_sku', table_name='products')
