"""Sending API requests at once, or in a fixed order across a deal's lock: the races users make with
double clicks, two tabs and client retries; and what the race tests race over, a deal (`deal`) and
two targets (`two_connections`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from sqlalchemy.orm import Session

from hub.models import Deal
from hub.services import deals as deal_service
from tests.conftest import Caller, make_connection


@pytest.fixture
def two_connections(app) -> list[int]:
    """Two enabled targets: every won deal makes one push event for each."""
    config = {"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout": 1}
    return [make_connection(app, name, "mini_ledger", config) for name in ("Ledger A", "Ledger B")]


@pytest.fixture
def deal(sales) -> dict:
    customer = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "default_currency": "EUR"}).json
    r = sales.post(
        "/api/v1/deals",
        json={
            "title": "Pumps",
            "customer_id": customer["id"],
            "lines": [{"description": "Pump", "quantity": "2", "unit_price": "100.00", "tax_rate": "0.19"}],
        },
    )
    assert r.status_code == 201, r.json
    return r.json


def send(app, users, request: tuple, role: str = "sales") -> Any:
    """One request (method, path, json[, headers]) as the `role` user, from a client of its own, as
    separate browsers or API clients are."""
    method, path, body, *headers = request
    caller = Caller(app.test_client(), users[role]["token"])
    return caller.request(method, path, json=body, headers=headers[0] if headers else {})


def at_once(app, users, requests: list[tuple]) -> list:
    """Send the requests (method, path, json[, headers]) from as many threads, released together;
    the answers in the same order."""
    barrier = threading.Barrier(len(requests))

    def send_when_all_are_ready(request: tuple) -> Any:
        barrier.wait()
        return send(app, users, request)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send_when_all_are_ready, requests))


@contextmanager
def holding_the_lock(monkeypatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """While the first request that locks a deal holds it: `held` is set, and it waits for
    `release` before it goes on. Later requests lock as usual."""
    held, release = threading.Event(), threading.Event()
    original = deal_service.lock_deal
    first = threading.Lock()

    def lock_and_wait(deal_id: int) -> Deal:
        deal = original(deal_id)
        if first.acquire(blocking=False):
            held.set()
            assert release.wait(30)
        return deal

    monkeypatch.setattr(deal_service, "lock_deal", lock_and_wait)
    try:
        yield held, release
    finally:
        release.set()


@contextmanager
def holding_the_commit(monkeypatch, of: Callable[[Session], bool]) -> Iterator[tuple[threading.Event, threading.Event]]:
    """While the first request whose session `of` picks commits: its changes are flushed (written
    to its transaction, and the rows locked to others, uncommitted), `held` is set, and it waits for
    `release` before it commits. Later commits go through as usual."""
    held, release = threading.Event(), threading.Event()
    original = Session.commit
    first = threading.Lock()

    def flush_and_wait(session: Session) -> None:
        if of(session) and first.acquire(blocking=False):
            session.flush()
            held.set()
            assert release.wait(30)
        original(session)

    monkeypatch.setattr(Session, "commit", flush_and_wait)
    try:
        yield held, release
    finally:
        release.set()


def in_order(
    app,
    users,
    monkeypatch,
    first: tuple,
    second: tuple,
    holding: Callable[[Any], AbstractContextManager[tuple[threading.Event, threading.Event]]] = holding_the_lock,
    roles: tuple[str, str] = ("sales", "sales"),
) -> tuple[Any, Any]:
    """`first` takes what `holding` holds (the deal's lock) and keeps it until `second` has been
    sent and has had time to reach it; then both finish. Their answers."""
    results: dict[str, Any] = {}

    def sender(name: str, request: tuple) -> Callable[[], None]:
        def run() -> None:
            results[name] = send(app, users, request, roles[0] if name == "first" else roles[1])

        return run

    with holding(monkeypatch) as (held, release):
        one = threading.Thread(target=sender("first", first))
        one.start()
        assert held.wait(30)
        two = threading.Thread(target=sender("second", second))
        two.start()
        two.join(0.5)
        assert "second" not in results, "the second request did not wait for the first"
        release.set()
        one.join(30)
        two.join(30)
    return results["first"], results["second"]
