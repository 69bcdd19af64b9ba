"""Running leased outbox events: what a push job does with the events it takes. Pushes go to a
connection's push chain (push_chain.py), cancels one by one (cancel.py); a connection that is
paused or resting gets its events back for later."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app

from hub.extensions import db
from hub.i18n import N_
from hub.models import OutboxEvent, OutboxState
from hub.sentences import sentence
from hub.sync import outbox, results
from hub.sync.cancel import cancel_event
from hub.sync.push import hold_until
from hub.sync.push_chain import push_chain


def process_events(event_ids: Sequence[int]) -> str:
    """Run a chunk of outbox events (the RQ job). Returns a short word for the job's result.

    Pushes go out per connection in batches of HUB_BATCH_SIZE, topped up with that connection's
    other due pushes and followed by more of them for a while (push_chain.py); cancels one by one.
    Events another worker owns, or that are done, are skipped.
    """
    owner = outbox.new_owner()
    leased = outbox.lease(event_ids, owner)
    if not leased:
        return "skipped: done, taken by another worker, or not due"
    return _run_leased(leased, owner)


def push_due(connection_id: int) -> str:
    """A connection's due pushes, for as long as they keep coming (the job `outbox.hand_over`
    enqueues for won deals). Returns a short word for the job's result."""
    outbox.push_job_started(connection_id)  # before looking: a push written from now on wakes the next job
    owner = outbox.new_owner()
    size = max(1, int(current_app.config["HUB_BATCH_SIZE"]))
    leased = outbox.lease_more(connection_id, "push_invoice", owner, size)
    if not leased:
        return "nothing due: pushed by another job"
    return _run_leased(leased, owner)


def _run_leased(leased: Sequence[OutboxEvent], owner: str) -> str:
    groups: dict[tuple[int, str], list[OutboxEvent]] = {}
    for event in leased:
        groups.setdefault((event.connection_id, event.operation), []).append(event)
    words = []
    for (_, operation), events in groups.items():
        connection = events[0].connection
        held = hold_until(connection)
        if held is not None:
            for event in events:
                outbox.release(event, OutboxState.PENDING, available_at=held)
            db.session.commit()
            words.append("held: connection paused or resting")
        elif operation == "push_invoice":
            words.append(f"pushed {push_chain(connection, events, owner)}")
        elif operation == "cancel_invoice":
            words.extend(cancel_event(connection, event) for event in events)
        else:
            for event in events:
                outbox.release(event, OutboxState.FAILED)
                for name, value in results.last_error(
                    sentence(N_("unknown operation '%(operation)s'"), operation=event.operation)
                ).items():
                    setattr(event, name, value)
            db.session.commit()
            words.append("failed: unknown operation")
    return "; ".join(words)
