"""The failed queue: outbox events parked after their retries ran out, retried or discarded by an
admin (the API and the failed-queue page). Each action is committed; a retry wakes the dispatcher
after the commit."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext
from sqlalchemy import select

from hub.errors import Conflict
from hub.extensions import db
from hub.models import OutboxEvent, OutboxState
from hub.services.queries import get_or_404
from hub.sync import outbox


def retry(event_id: int) -> OutboxEvent:
    """Queue a failed event again; 409 when it is not failed (any more)."""
    event = failed_event(event_id)
    outbox.requeue(event)
    db.session.commit()
    outbox.kick()
    return event


def discard(event_id: int) -> OutboxEvent:
    """Give up on a failed event: nothing more is sent for it."""
    event = failed_event(event_id)
    outbox.release(event, OutboxState.DISCARDED)
    db.session.commit()
    return event


def retry_many(ids: Iterable[int] | None = None, connection_id: int | None = None) -> list[OutboxEvent]:
    """Queue again every failed event, or those of `ids` and / or of one connection; the events queued."""
    query = select(OutboxEvent).where(OutboxEvent.state == OutboxState.FAILED)
    if ids:
        query = query.where(OutboxEvent.id.in_(list(ids)))
    if connection_id is not None:
        query = query.where(OutboxEvent.connection_id == connection_id)
    events = list(db.session.scalars(query).all())
    for event in events:
        outbox.requeue(event)
    db.session.commit()
    outbox.kick()
    return events


def failed_event(event_id: int) -> OutboxEvent:
    """The event, parked as failed; 404 when there is none, 409 when it is not failed (any more)."""
    event = get_or_404(OutboxEvent, event_id)
    if event.state != OutboxState.FAILED:
        raise Conflict(gettext("Event %(id)s is %(state)s, not failed.", id=event.id, state=event.state.value))
    return event
