"""A person's in-app notices (hub.models.notices): what the top bar counts, the notices page and
`/api/v1/notices` list, and marking one read. Written by hub.sync.failures when a push is parked."""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from hub.errors import NotFound
from hub.extensions import db
from hub.models import InvoiceNotice
from hub.models.base import utcnow

SHOWN = 100  # the newest; older ones stay in the database and on their deals


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(InvoiceNotice.user_id == user_id, InvoiceNotice.read_at.is_(None))
    )


def of_user(user_id: int, *, unread_only: bool = False) -> list[InvoiceNotice]:
    """The user's newest notices, newest first, with their deals, invoices and connections."""
    query = select(InvoiceNotice).where(InvoiceNotice.user_id == user_id)
    if unread_only:
        query = query.where(InvoiceNotice.read_at.is_(None))
    return list(
        db.session.scalars(
            query.options(
                selectinload(InvoiceNotice.deal),
                selectinload(InvoiceNotice.invoice),
                selectinload(InvoiceNotice.connection),
            )
            .order_by(InvoiceNotice.id.desc())
            .limit(SHOWN)
        )
    )


def mark_read(user_id: int, notice_id: int) -> InvoiceNotice:
    """Mark the user's notice read (a second time changes nothing); 404 for anyone else's."""
    notice = db.session.get(InvoiceNotice, notice_id)
    if notice is None or notice.user_id != user_id:
        raise NotFound(gettext("You have no notice %(id)s.", id=notice_id))
    if notice.read_at is None:
        notice.read_at = utcnow()
    db.session.commit()
    return notice
