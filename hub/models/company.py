"""The company the hub works for: what its invoices say about the seller."""

from __future__ import annotations

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.extensions import db
from hub.languages import LANGUAGES
from hub.models.base import Timestamps

# The languages an invoice can be printed in (a customer's preferred language): the product's.
INVOICE_LANGUAGES = tuple(LANGUAGES)


class CompanyProfile(Timestamps, db.Model):
    """One row (id 1), edited by admins on the company page; printed on every invoice PDF. The logo
    is kept in the database, so every web process and worker prints the same one."""

    __tablename__ = "company_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str | None] = mapped_column(Text)
    tax_id: Mapped[str | None] = mapped_column(String(50))
    bank_details: Mapped[str | None] = mapped_column(Text)
    payment_terms: Mapped[str | None] = mapped_column(Text)
    footer: Mapped[str | None] = mapped_column(Text)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_type: Mapped[str | None] = mapped_column(String(20))

    # The audit log records who changed the profile; the logo's bytes stay out of it (its type shows the change).
    __audit_skip__ = ("logo",)
