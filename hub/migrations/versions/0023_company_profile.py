"""The company profile (the seller on invoice PDFs), each customer's invoice language, and names
sorted by the Unicode collation on PostgreSQL.

The name columns of customers, contacts and products take PostgreSQL's ICU root collation
("und-x-icu") where the server has ICU: ORDER BY name then follows Unicode's order in every script
(case-insensitive first), and the existing (name, id) indexes, rebuilt with the column, still serve
the lists' order. A server without ICU keeps its database collation. SQLite has no locale
collation and keeps code-point order (hub/unicode_text.py).

Revision ID: 0023_company_profile
Revises: 0022_user_locale
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime

revision = '0023_company_profile'
down_revision = '0022_user_locale'
branch_labels = None
depends_on = None

ICU = "und-x-icu"
NAME_COLUMNS = (("customers", 200), ("contacts", 200), ("products", 200))


def _has_icu() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return bind.execute(sa.text("SELECT 1 FROM pg_collation WHERE collname = :name"), {"name": ICU}).first() is not None


def _collate_names(collation: str | None) -> None:
    clause = f' COLLATE "{collation}"' if collation else ' COLLATE "default"'
    for table, length in NAME_COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN name TYPE varchar({length}){clause}')


def upgrade():
    op.create_table(
        'company_profile',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('address', sa.Text(), nullable=True),
        sa.Column('tax_id', sa.String(length=50), nullable=True),
        sa.Column('bank_details', sa.Text(), nullable=True),
        sa.Column('payment_terms', sa.Text(), nullable=True),
        sa.Column('footer', sa.Text(), nullable=True),
        sa.Column('logo', sa.LargeBinary(), nullable=True),
        sa.Column('logo_type', sa.String(length=20), nullable=True),
        sa.Column('created_at', UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_company_profile')),
    )
    op.add_column('customers', sa.Column('preferred_language', sa.String(length=5), nullable=True))
    if _has_icu():
        _collate_names(ICU)


def downgrade():
    if _has_icu():
        _collate_names(None)
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35+): a batch copy of customers would drop the
    # table that deals and invoices point at, which SQLite's enforced foreign keys refuse.
    op.drop_column('customers', 'preferred_language')
    op.drop_table('company_profile')
