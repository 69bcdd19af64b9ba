"""The outbox lease (hub/sync/outbox.py `lease`): two workers, one event. A live lease keeps every
other worker off the event; an expired one (its worker died) is taken over. Asked one after the
other, then by many workers at once: each event has exactly one owner, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.extensions import db
from hub.models import OutboxEvent, OutboxState
from hub.models.base import utcnow
from hub.sync import outbox
from tests.conftest import make_connection


@pytest.fixture
def connection_id(app) -> int:
    return make_connection(app, "Ledger", "mini_ledger", {"base_url": "http://127.0.0.1:9", "api_key": "k"})


def _events(app, connection_id: int, n: int, **columns) -> list[int]:
    with app.app_context():
        events = [
            OutboxEvent(operation="push_invoice", connection_id=connection_id, state=OutboxState.DISPATCHED, **columns)
            for _ in range(n)
        ]
        db.session.add_all(events)
        db.session.commit()
        return [e.id for e in events]


def _owners(app, event_ids: list[int]) -> dict[int, str | None]:
    with app.app_context():
        rows = db.session.execute(select(OutboxEvent.id, OutboxEvent.locked_by).where(OutboxEvent.id.in_(event_ids)))
        return dict(rows.all())


def _lease(app, event_ids: list[int], owner: str) -> list[int]:
    with app.app_context():
        return [e.id for e in outbox.lease(event_ids, owner)]


def test_a_live_lease_keeps_a_second_worker_off(app, connection_id):
    ids = _events(app, connection_id, 3)
    first, second = outbox.new_owner(), outbox.new_owner()
    assert _lease(app, ids, first) == ids
    assert _lease(app, ids, second) == []
    assert _lease(app, ids[:1], second) == []
    assert _owners(app, ids) == dict.fromkeys(ids, first)
    with app.app_context():  # nor does a worker topping up its batch take them
        assert outbox.lease_more(connection_id, "push_invoice", second, limit=10) == []


def test_an_expired_lease_is_taken_over_and_its_old_owner_holds_nothing(app, connection_id):
    dead = outbox.new_owner()
    expired = _events(app, connection_id, 2, locked_by=dead, locked_until=utcnow() - timedelta(seconds=1))
    live = _events(app, connection_id, 1, locked_by=dead, locked_until=utcnow() + timedelta(minutes=5))
    heir = outbox.new_owner()
    assert _lease(app, expired + live, heir) == expired
    assert _owners(app, expired + live) == {**dict.fromkeys(expired, heir), live[0]: dead}
    with app.app_context():
        taken = db.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(expired))).all()
        assert all(e.locked_until > utcnow() + timedelta(seconds=60) for e in taken)  # a fresh lease, not the old one
        assert all(e.state == OutboxState.DISPATCHED for e in taken)


def test_lease_more_takes_only_expired_or_free_events(app, connection_id):
    other = outbox.new_owner()
    free = _events(app, connection_id, 1)
    expired = _events(app, connection_id, 1, locked_by=other, locked_until=utcnow() - timedelta(seconds=1))
    _events(app, connection_id, 1, locked_by=other, locked_until=utcnow() + timedelta(minutes=5))
    mine = outbox.new_owner()
    with app.app_context():
        assert [e.id for e in outbox.lease_more(connection_id, "push_invoice", mine, limit=10)] == free + expired


def test_finished_events_are_never_leased(app, connection_id):
    done = _events(app, connection_id, 1)
    with app.app_context():
        db.session.get(OutboxEvent, done[0]).state = OutboxState.DONE
        db.session.commit()
    assert _lease(app, done, outbox.new_owner()) == []


def _lease_at_once(app, event_ids: list[int], owners: list[str]) -> dict[str, list[int]]:
    """Each owner leases all of `event_ids` from a thread of its own, released together."""
    barrier = threading.Barrier(len(owners))

    def lease_when_all_are_ready(owner: str) -> list[int]:
        barrier.wait()
        return _lease(app, event_ids, owner)

    with ThreadPoolExecutor(len(owners)) as pool:
        return dict(zip(owners, pool.map(lease_when_all_are_ready, owners), strict=True))


@pytest.mark.parametrize("workers", [2, 8])
def test_workers_leasing_the_same_events_at_once_get_each_event_exactly_once(app, connection_id, workers):
    """Every worker asks for every event at the same moment, several rounds over: the events each
    one got are disjoint, together they are all of them, and each is owned by whoever got it."""
    for _ in range(5):
        ids = _events(app, connection_id, 20)
        got = _lease_at_once(app, ids, [outbox.new_owner() for _ in range(workers)])
        claimed = [event_id for leased in got.values() for event_id in leased]
        assert sorted(claimed) == ids, f"some event leased twice or never: {got}"
        assert _owners(app, ids) == {event_id: owner for owner, leased in got.items() for event_id in leased}
