"""How many events of a connection wait in the failed queue (hub.sync.outbox.failed_counts): the
connections list and a connection's page both show it, from the same count."""

from __future__ import annotations

import re

import pytest

from hub.extensions import db
from hub.models import OutboxEvent, OutboxState
from hub.sync.outbox import failed_counts
from tests.conftest import PASSWORD, make_connection


@pytest.fixture
def connections(app) -> tuple[int, int]:
    """Two connections: the first with two failed events (and a pending one), the second with a
    done one."""
    config = {"base_url": "http://127.0.0.1:9", "api_key": "k-123456"}
    first, second = (make_connection(app, name, "mini_ledger", config) for name in ("First", "Second"))
    with app.app_context():
        states = [(first, OutboxState.FAILED), (first, OutboxState.FAILED), (first, OutboxState.PENDING)]
        for connection_id, state in [*states, (second, OutboxState.DONE)]:
            db.session.add(OutboxEvent(operation="push_invoice", connection_id=connection_id, state=state))
        db.session.commit()
    return first, second


def test_counts_per_connection(app, connections):
    first, second = connections
    with app.app_context():
        assert failed_counts() == {first: 2}
        assert failed_counts([first, second]) == {first: 2}
        assert failed_counts([second]) == {}
        assert failed_counts([]) == {}


def test_the_list_and_the_page_show_the_same_count(app, users, connections):
    first, second = connections
    browser = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").get_data(as_text=True)).group(1)
    browser.post("/login", data={"email": users["admin"]["email"], "password": PASSWORD, "csrf_token": token})
    listing = browser.get("/admin/connections").get_data(as_text=True)
    cards = {c: listing.split(f'id="connection-{c}"', 1)[1].split("</section>", 1)[0] for c in connections}
    assert ">2 failed</a>" in cards[first]
    assert "failed</a>" not in cards[second]
    assert ">2 failed</a>" in browser.get(f"/admin/connections/{first}").get_data(as_text=True)
    assert "failed</a>" not in browser.get(f"/admin/connections/{second}").get_data(as_text=True)
