"""OAuth on the hub side, with a QuickBooks connection: the authorization flow (signed, expiring
state bound to the admin; tokens sealed, never shown), one refresh for many workers (Redis lock),
a revoked refresh token parking pushes until the connection is authorised again (then each is
delivered once), and the Redis pacer that keeps all workers inside the provider's limits.

Intuit cannot be reached from CI: its token endpoint and API answer through `responses`, the API
as a small stateful fake that keeps what was created and honours `requestid` as Intuit documents."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import responses
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from connectors.errors import RetryableError
from connectors.oauth import Limits, ReauthorizationRequired
from connectors.quickbooks import PROVIDER, QuickBooksConnector
from hub import oauth_flow
from hub.extensions import db
from hub.models import (
    PARKED_FOR_REAUTHORISATION,
    AuditEntry,
    Authorisation,
    Connection,
    ExternalLink,
    OutboxEvent,
    OutboxState,
    Role,
    User,
)
from hub.models.base import utcnow
from hub.sync.oauth_tokens import ConnectionTokenStore, unseal_tokens
from hub.sync.pacing import RedisPacer
from hub.sync.status import pull_invoice_status
from hub.sync.worker import drain
from tests.support.hosted_fixtures import authorise_connection, tokens
from tests.support.outbox_deals import won_deal
from tests.support.quickbooks_connection import BASE, CONFIG, REALM, REFUSED, FakeQuickBooks, store_tokens
from tests.support.services import RedisServer
from tests.support.sessions import CSRF_INPUT, log_in

GRANTED = {
    "token_type": "bearer",
    "access_token": "eyJ-access-new",
    "refresh_token": "AB11-refresh-new",
    "expires_in": 3600,
    "x_refresh_token_expires_in": 8726400,
}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.flushdb()
    client.close()


def browser(app, email: str = "admin@example.com"):
    client = app.test_client()
    assert log_in(client, email).status_code == 302
    return client


def start(admin, connection_id: int) -> dict[str, list[str]]:
    r = admin.post(f"/api/v1/connections/{connection_id}/oauth/authorize")
    assert r.status_code == 200, r.json
    return parse_qs(urlsplit(r.json["authorization_url"]).query)


def connection_row(app, connection_id: int) -> Connection:
    with app.app_context():
        row = db.session.get(Connection, connection_id)
        db.session.expunge(row)
        return row


# ---- the authorization flow ---------------------------------------------------------------------


@responses.activate
def test_authorising_stores_sealed_tokens_and_the_api_shows_only_the_state(app, admin, users, books):
    before = admin.get(f"/api/v1/connections/{books}").json
    assert before["authorization"] == {
        "state": "never_authorised",
        "reason": None,
        "since": None,
        "reauthorise_before": None,
    }

    r = admin.post(f"/api/v1/connections/{books}/oauth/authorize")
    url = urlsplit(r.json["authorization_url"])
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("appcenter.intuit.com", "/connect/oauth2")
    assert query["client_id"] == ["ABcd1234"]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"]
    assert query["redirect_uri"] == ["http://localhost/oauth/callback"] == [r.json["redirect_uri"]]

    responses.post(PROVIDER.token_url, json=GRANTED)
    page = browser(app).get(
        "/oauth/callback", query_string={"code": "AB11-code", "state": query["state"][0], "realmId": REALM}
    )
    assert page.status_code == 302
    assert page.headers["Location"].endswith(f"/admin/connections/{books}")

    (grant,) = responses.calls
    assert grant.request.headers["Authorization"].startswith("Basic ")
    assert parse_qs(grant.request.body) == {
        "grant_type": ["authorization_code"],
        "code": ["AB11-code"],
        "redirect_uri": ["http://localhost/oauth/callback"],
    }
    row = connection_row(app, books)
    assert "eyJ-access-new" not in row.oauth_sealed
    assert "AB11-refresh-new" not in row.oauth_sealed
    with app.app_context():
        tokens = unseal_tokens(row.oauth_sealed)
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "connections", AuditEntry.action == "update")
        ).all()
    assert (tokens.access_token, tokens.refresh_token, tokens.extra) == (
        "eyJ-access-new",
        "AB11-refresh-new",
        {"realmId": REALM},
    )
    # Intuit's x_refresh_token_expires_in (101 days) is kept with the sealed tokens.
    assert timedelta(days=100) < tokens.refresh_expires_at - utcnow() <= timedelta(days=101)
    assert row.oauth_state == Authorisation.AUTHORISED
    (entry,) = audit
    assert entry.actor == "admin@example.com"
    assert entry.changes["oauth_sealed"] == {"old": None, "new": "***"}
    assert entry.changes["oauth_state"]["new"] == "authorised"

    runs = admin.get(f"/api/v1/sync/runs?connection_id={books}").json["items"]
    assert [(run["operation"], run["outcome"]) for run in runs] == [("oauth_authorize", "success")]
    assert runs[0]["request"][0]["body"] == {"grant_type": "authorization_code"}
    assert "eyJ-access-new" not in json.dumps(runs)
    assert "AB11-refresh-new" not in json.dumps(runs)

    shown = admin.get(f"/api/v1/connections/{books}")
    assert shown.json["authorization"]["state"] == "authorised"
    assert shown.json["authorization"]["reauthorise_before"] is None  # 101 days left
    text = shown.get_data(as_text=True) + admin.get("/api/v1/connections").get_data(as_text=True)
    for hidden in ("eyJ-access-new", "AB11-refresh-new", "oauth_sealed"):
        assert hidden not in text


def test_the_connections_page_offers_authorise_then_re_authorise(app, users, books):
    client = browser(app)
    page = client.get("/admin/connections").get_data(as_text=True)
    assert "not authorised yet" in page
    assert f'action="/admin/connections/{books}/authorize"' in page
    assert ">Authorise<" in page
    store_tokens(app, books)
    page = client.get("/admin/connections").get_data(as_text=True)
    assert ">Re-authorise<" in page
    r = client.post(f"/admin/connections/{books}/authorize", data={"csrf_token": CSRF_INPUT.search(page).group(1)})
    assert r.status_code == 302
    assert r.headers["Location"].startswith("https://appcenter.intuit.com/connect/oauth2?")


def test_a_refresh_token_ending_within_14_days_asks_to_re_authorise_before_then(app, admin, users, books):
    ends = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    authorise_connection(app, books, replace(tokens(realmId=REALM), refresh_expires_at=ends))
    shown = admin.get(f"/api/v1/connections/{books}").json["authorization"]
    assert shown["state"] == "authorised"
    assert datetime.fromisoformat(shown["reauthorise_before"]) == ends
    for page in ("/admin/connections", f"/admin/connections/{books}"):
        assert f"re-authorise before {ends:%Y-%m-%d %H:%M}" in browser(app).get(page).get_data(as_text=True)

    authorise_connection(app, books, replace(tokens(realmId=REALM), refresh_expires_at=utcnow() + timedelta(days=15)))
    assert admin.get(f"/api/v1/connections/{books}").json["authorization"]["reauthorise_before"] is None
    for page in ("/admin/connections", f"/admin/connections/{books}"):
        assert "re-authorise before" not in browser(app).get(page).get_data(as_text=True)


def test_tokens_sealed_with_another_key_leave_the_connections_list_readable(app, admin, users, books):
    authorise_connection(app, books, tokens(realmId=REALM))
    with app.app_context():
        unreadable = Fernet(Fernet.generate_key()).encrypt(b"{}").decode()
        db.session.execute(update(Connection).where(Connection.id == books).values(oauth_sealed=unreadable))
        db.session.commit()
    shown = admin.get(f"/api/v1/connections/{books}")
    assert shown.status_code == 200
    assert shown.json["authorization"]["reauthorise_before"] is None
    assert browser(app).get("/admin/connections").status_code == 200


@responses.activate
@pytest.mark.parametrize("case", ["tampered", "expired", "other_admin", "denied", "no_state"])
def test_a_bad_callback_is_refused_with_a_400_and_nothing_is_stored(app, admin, users, books, monkeypatch, case):
    state = start(admin, books)["state"][0]
    args = {"code": "AB11-code", "state": state, "realmId": REALM}
    email = "admin@example.com"
    if case == "tampered":
        args["state"] = state[:-3] + ("aaa" if not state.endswith("aaa") else "bbb")
    elif case == "expired":
        monkeypatch.setattr(oauth_flow, "STATE_MAX_AGE", -1)
    elif case == "other_admin":
        with app.app_context():
            other = User(email="admin2@example.com", name="Other", role=Role.ADMIN, active=True)
            other.password_hash = db.session.get(User, users["admin"]["id"]).password_hash
            db.session.add(other)
            db.session.commit()
        email = "admin2@example.com"
    elif case == "denied":
        args = {"error": "access_denied", "state": state}
    else:
        del args["state"]
    responses.post(PROVIDER.token_url, json=GRANTED)
    page = browser(app, email).get("/oauth/callback", query_string=args)
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    expected = {
        "tampered": "not issued by this hub",
        "expired": "start it again",
        "other_admin": "started by another user",
        "denied": "access_denied",
        "no_state": "state is missing",
    }[case]
    assert expected in text
    assert len(responses.calls) == 0  # no code was exchanged
    row = connection_row(app, books)
    assert (row.oauth_sealed, row.oauth_state) == (None, None)


def test_the_registered_redirect_uri_is_used_when_configured(app, admin, books, monkeypatch):
    monkeypatch.setitem(app.config, "OAUTH_REDIRECT_URI", "https://hub.example.com/oauth/callback")
    query = start(admin, books)
    assert query["redirect_uri"] == ["https://hub.example.com/oauth/callback"]


def test_authorising_a_type_without_oauth_is_a_conflict(app, admin, connection):
    r = admin.post(f"/api/v1/connections/{connection}/oauth/authorize")
    assert r.status_code == 409
    assert "does not use OAuth" in r.json["message"]


# ---- one refresh for many workers ---------------------------------------------------------------


@responses.activate
def test_workers_hitting_an_expired_token_at_once_refresh_it_once(app, books, redis_client):
    store_tokens(app, books, expires_in=-60)
    refreshes = []

    def grant(request):
        refreshes.append(parse_qs(request.body)["refresh_token"][0])
        time.sleep(0.2)  # a slow token endpoint: the other workers arrive while it answers
        return 200, {}, json.dumps(GRANTED)

    responses.add_callback(responses.POST, PROVIDER.token_url, callback=grant)
    responses.get(f"{BASE}/companyinfo/{REALM}", json={"CompanyInfo": {"CompanyName": "Sandbox Company_US_1"}})
    started = threading.Barrier(4)
    answers, errors = [], []

    def worker() -> None:
        with app.app_context():
            store = ConnectionTokenStore(books, redis_client, key_prefix="test:oauth")
            qbo = QuickBooksConnector(CONFIG, tokens=store)
            started.wait()
            try:
                answers.append(qbo.test_connection())
            except Exception as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert refreshes == ["AB11-refresh-old"]
    assert len(answers) == 4
    api_calls = [c for c in responses.calls if c.request.url.startswith(BASE)]
    assert [c.request.headers["Authorization"] for c in api_calls] == ["Bearer eyJ-access-new"] * 4
    with app.app_context():
        stored = unseal_tokens(db.session.get(Connection, books).oauth_sealed)
    assert stored.refresh_token == "AB11-refresh-new"


@responses.activate
def test_workers_waiting_on_a_refresh_that_is_refused_do_not_ask_again(app, books, redis_client):
    store_tokens(app, books, expires_in=-60)
    asked = []

    def refuse(request):
        asked.append(request.body)
        time.sleep(0.2)  # the others wait on the lock meanwhile
        return 400, {}, json.dumps(REFUSED)

    responses.add_callback(responses.POST, PROVIDER.token_url, callback=refuse)
    started = threading.Barrier(3)
    errors = []

    def worker() -> None:
        with app.app_context():
            qbo = QuickBooksConnector(CONFIG, tokens=ConnectionTokenStore(books, redis_client, key_prefix="test:oauth"))
            started.wait()
            try:
                qbo.test_connection()
            except ReauthorizationRequired as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(asked) == 1
    assert len(errors) == 3
    assert connection_row(app, books).oauth_state == Authorisation.REAUTHORIZE


# ---- revoked refresh token: parked, not lost, then delivered once --------------------------------


@responses.activate
def test_a_revoked_refresh_token_parks_pushes_until_re_authorised_then_each_goes_once(app, admin, sales, users, books):
    store_tokens(app, books, expires_in=-60)
    qbo = FakeQuickBooks()
    responses.post(PROVIDER.token_url, status=400, json=REFUSED)
    first = won_deal(sales, admin)
    drain(app)

    row = connection_row(app, books)
    assert row.oauth_state == Authorisation.REAUTHORIZE
    assert "invalid_grant" in row.oauth_reason
    assert "Re-authorisation needed" in row.attention
    assert admin.get(f"/api/v1/connections/{books}").json["authorization"]["state"] == "reauthorize"
    failed = admin.get("/api/v1/sync/failed").json
    assert failed["total"] == 1
    assert "re-authorisation needed" in failed["items"][0]["last_error"]
    assert "sent again by itself" in failed["items"][0]["last_error"]

    # While it waits, a second push is parked at once: the refused token is not tried again.
    second = won_deal(sales, admin)
    drain(app)
    assert len([c for c in responses.calls if c.request.url == PROVIDER.token_url]) == 1
    with app.app_context():
        parked = db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert [(e.state, e.parked_for) for e in parked] == [(OutboxState.FAILED, PARKED_FOR_REAUTHORISATION)] * 2
    assert qbo.created == []
    page = browser(app).get("/admin/connections").get_data(as_text=True)
    assert "re-authorisation needed" in page
    assert "sent again by themselves" in page

    # The admin authorises again: the parked pushes go by themselves, each invoice once.
    responses.post(PROVIDER.token_url, json=GRANTED)
    state = start(admin, books)["state"][0]
    page = browser(app).get("/oauth/callback", query_string={"code": "c2", "state": state, "realmId": REALM})
    assert page.status_code == 302
    with app.app_context():
        assert {e.state for e in db.session.scalars(select(OutboxEvent))} <= {
            OutboxState.PENDING,
            OutboxState.DISPATCHED,
        }
    drain(app)
    drain(app)
    numbers = [first["invoices"][0]["number"], second["invoices"][0]["number"]]
    assert sorted(qbo.created) == sorted(numbers)  # each once
    with app.app_context():
        assert {e.state for e in db.session.scalars(select(OutboxEvent))} == {OutboxState.DONE}
        assert db.session.scalar(select(db.func.count()).select_from(ExternalLink)) == 2
        assert db.session.get(Connection, books).attention is None
    assert admin.get("/api/v1/sync/failed").json["total"] == 0


@responses.activate
def test_an_expired_access_token_is_refreshed_by_the_engine_and_the_push_goes_through(app, admin, sales, books):
    store_tokens(app, books)
    # The first request meets a token Intuit no longer accepts (registered first, it answers first):
    # one refresh, then the same request.
    responses.get(f"{BASE}/query", status=401, json={"fault": {"error": [{"code": "3200"}], "type": "AUTHENTICATION"}})
    responses.post(PROVIDER.token_url, json=GRANTED)
    qbo = FakeQuickBooks()
    won = won_deal(sales, admin)
    drain(app)
    assert qbo.created == [won["invoices"][0]["number"]]
    with app.app_context():
        assert unseal_tokens(db.session.get(Connection, books).oauth_sealed).access_token == "eyJ-access-new"


@responses.activate
def test_payments_recorded_in_quickbooks_come_back_to_the_hub_invoice(app, admin, sales, books):
    store_tokens(app, books)
    qbo = FakeQuickBooks()
    won = won_deal(sales, admin)
    drain(app)
    (number,) = qbo.created
    invoice_id = won["invoices"][0]["id"]
    qbo.invoices[number]["Balance"] = 9.8  # 30.00 of 39.80 paid
    with app.app_context():
        assert pull_invoice_status(books) == 1
    invoice = admin.get(f"/api/v1/invoices/{invoice_id}").json
    assert (invoice["state"], invoice["amount_paid"]) == ("partially_paid", "30.00")
    qbo.invoices[number]["Balance"] = 0
    with app.app_context():
        pull_invoice_status(books)
    assert admin.get(f"/api/v1/invoices/{invoice_id}").json["state"] == "paid"


@responses.activate
def test_a_stock_pull_pages_through_every_inventory_item(app, admin, call, books):
    store_tokens(app, books)
    qbo = FakeQuickBooks()
    updated = {"LastUpdatedTime": "2026-11-23T08:00:00-08:00"}
    qbo.inventory = [
        {"Id": str(n), "Name": f"Part {n}", "Sku": f"P-{n}", "Type": "Inventory", "QtyOnHand": 1, "MetaData": updated}
        for n in range(1000)
    ] + [{"Id": "2000", "Name": "Widget", "Sku": "W-1", "Type": "Inventory", "QtyOnHand": 17, "MetaData": updated}]
    admin.post("/api/v1/products", json={"sku": "W-1", "name": "Widget", "list_price": "19.90", "currency": "EUR"})
    r = call("operations").post(f"/api/v1/connections/{books}/pull-stock", json={"full": True})
    assert r.status_code == 202, r.json
    drain(app)
    stock = call("sales").get("/api/v1/stock?sku=W-1").json["items"]
    assert [(s["warehouse"]["code"], s["on_hand"], s["available"]) for s in stock] == [("QBO", "17.0000", "17.0000")]
    pages = [parse_qs(urlsplit(c.request.url).query)["query"][0] for c in responses.calls]
    assert [p.split("STARTPOSITION")[1] for p in pages] == [" 1 MAXRESULTS 1000", " 1001 MAXRESULTS 1000"]


@responses.activate
def test_a_429_puts_the_push_off_as_long_as_intuit_asks_and_pauses_every_worker(app, admin, sales, books):
    store_tokens(app, books)
    responses.get(
        f"{BASE}/query",
        status=429,
        headers={"Retry-After": "120"},
        json={"Fault": {"Error": [{"Message": "message=ThrottleExceeded", "code": "003001"}], "type": "SERVICE"}},
    )
    won_deal(sales, admin)
    drain(app)
    with app.app_context():
        event = db.session.scalar(select(OutboxEvent))
        assert (event.state, event.attempts) == (OutboxState.PENDING, 1)
        assert event.available_at - event.created_at >= timedelta(seconds=119)
        # The pause is shared: the next worker to open this connection is told to wait, unsent.
        from hub.sync.factory import open_connector

        connector = open_connector(db.session.get(Connection, books))
        with pytest.raises(RetryableError, match="asked to pause") as raised, connector.pacer.slot():
            pass
        assert raised.value.wait > 100
    assert len(responses.calls) == 1


# ---- pacing ------------------------------------------------------------------------------------


def test_the_pacer_keeps_all_workers_inside_the_minute_and_concurrency_limits(redis_client):
    limits = Limits(per_minute=8, concurrent=2)
    lock = threading.Lock()
    inside, most, sent, refused = [0], [0], [], []
    started = threading.Barrier(6)

    def worker(n: int) -> None:
        pacer = RedisPacer(redis_client, "test:pace:1", limits, max_wait=5)
        started.wait()
        for k in range(2):
            try:
                with pacer.slot():
                    with lock:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    time.sleep(0.05)  # a request in flight
                    with lock:
                        inside[0] -= 1
                        sent.append((n, k))
            except RetryableError as exc:
                refused.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 8
    assert len(refused) == 4
    assert all("minute's budget" in e.message and e.wait > 5 for e in refused)
    assert 1 <= most[0] <= 2


def test_with_one_place_the_workers_requests_never_overlap(redis_client):
    log: list[str] = []
    started = threading.Barrier(4)

    def worker() -> None:
        pacer = RedisPacer(redis_client, "test:pace:4", Limits(per_minute=100, concurrent=1), max_wait=10)
        started.wait()
        for _ in range(3):
            with pacer.slot():
                log.append("in")
                time.sleep(0.01)
                log.append("out")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log == ["in", "out"] * 12


def test_a_killed_workers_slot_expires_and_hold_pauses_everyone(redis_client):
    limits = Limits(per_minute=100, concurrent=1)
    dead = RedisPacer(redis_client, "test:pace:2", limits, holder_seconds=0.3)
    # Taken and never given back, as by a worker killed mid-request (kept referenced: a collected
    # generator would run its `finally` and give the place back).
    held = dead.slot()
    held.__enter__()
    busy = RedisPacer(redis_client, "test:pace:2", limits, max_wait=0)
    with pytest.raises(RetryableError, match="concurrent"), busy.slot():
        pass
    patient = RedisPacer(redis_client, "test:pace:2", limits, max_wait=10)
    with patient.slot():
        pass  # got in once the dead holder expired

    patient.hold(30)
    patient.hold(5)  # a shorter pause never cuts a longer one short
    late = RedisPacer(redis_client, "test:pace:2", limits, max_wait=1)
    with pytest.raises(RetryableError, match="asked to pause") as raised, late.slot():
        pass
    assert 25 < raised.value.wait <= 30
    with RedisPacer(redis_client, "test:pace:3", limits).slot():
        pass  # another connection is not paused


def test_a_heavy_request_takes_its_weight_of_the_minutes_budget(redis_client):
    """A QuickBooks batch of n items is metered as n requests: it needs n places at once."""
    limits = Limits(per_minute=10, concurrent=5)
    pacer = RedisPacer(redis_client, "test:pace:w", limits, max_wait=0)
    with pacer.slot(weight=8):
        pass
    with pytest.raises(RetryableError, match="minute's budget") as raised, pacer.slot(weight=3):
        pass
    assert 55 < raised.value.wait <= 60
    with pacer.slot(weight=2):
        pass
    with pytest.raises(RetryableError, match="minute's budget"), pacer.slot():
        pass
    assert redis_client.zcard("test:pace:w:minute") == 10
    with pytest.raises(ValueError, match="can never fit"), pacer.slot(weight=11):
        pass


def test_the_days_budget_is_shared_by_all_workers(redis_client):
    """Xero allows 5,000 calls a day per organisation: once they are spent, every worker is told to
    come back when the oldest call of the last 24 hours leaves the window, hours later."""
    limits = Limits(per_minute=100, concurrent=5, per_day=3)
    first = RedisPacer(redis_client, "test:pace:d", limits, max_wait=0)
    with first.slot(weight=2):
        pass
    with first.slot():
        pass
    other_worker = RedisPacer(redis_client, "test:pace:d", limits, max_wait=1)
    with pytest.raises(RetryableError, match="day's budget") as raised, other_worker.slot():
        pass
    assert 86_000 < raised.value.wait <= 86_400
    assert redis_client.pttl("test:pace:d:day") > 86_000_000
    with RedisPacer(redis_client, "test:pace:d2", limits).slot():
        pass  # another organisation has its own day


def test_batch_calls_have_their_own_minute(redis_client):
    """Intuit allows 40 batch calls a minute besides the 500 requests their items count as."""
    limits = Limits(per_minute=100, concurrent=5, batches_per_minute=2)
    pacer = RedisPacer(redis_client, "test:pace:b", limits, max_wait=0)
    for _ in range(2):
        with pacer.slot(weight=5, batch=True):
            pass
    with pytest.raises(RetryableError, match="batch calls") as raised, pacer.slot(weight=1, batch=True):
        pass
    assert 55 < raised.value.wait <= 60
    with pacer.slot():
        pass  # a single request still goes
    assert (redis_client.zcard("test:pace:b:minute"), redis_client.zcard("test:pace:b:batch")) == (11, 2)


def test_open_connector_gives_oauth_types_the_connection_store_and_pacer(app, books):
    from hub.sync.factory import open_connector

    with app.app_context():
        connector = open_connector(db.session.get(Connection, books))
        assert isinstance(connector.token_store, ConnectionTokenStore)
        assert connector.token_store.connection_id == books
        assert isinstance(connector.pacer, RedisPacer)
        assert connector.pacer.limits == Limits(500, 10, batches_per_minute=40, per_second=10)
        assert connector.pacer.keys[0] == f"hub:pace:{books}:minute"


def test_the_pacer_keeps_a_burst_inside_the_seconds_limit_too(redis_client):
    # QuickBooks: 500 a minute, and besides that 10 a second; a batch call counts once a second.
    pacer = RedisPacer(redis_client, "test:pace:5", Limits(per_minute=500, concurrent=10, per_second=4), max_wait=5)
    for _ in range(9):
        with pacer.slot(weight=3, batch=False):
            pass
    # When each was let in, by Redis's clock (the minute's entries: one per unit of weight, scored
    # with the time it was taken), not by this process's, which a loaded machine may make late.
    entries = redis_client.zrange("test:pace:5:minute", 0, -1, withscores=True)
    started = sorted({member.rsplit(b":", 1)[0]: score for member, score in entries}.values())
    assert len(started) == 9
    # No window of one second holds more than four starts: the 5th waits for the 1st to leave.
    assert all(started[k + 4] - started[k] >= 1000 for k in range(len(started) - 4))
    assert started[-1] - started[0] >= 2000
    refused = RedisPacer(redis_client, "test:pace:6", Limits(per_minute=500, concurrent=10, per_second=4), max_wait=0)
    for _ in range(4):
        with refused.slot():
            pass
    with pytest.raises(RetryableError) as exc, refused.slot():
        pass
    assert "second's budget" in exc.value.message
    assert 0 < exc.value.wait <= 1
