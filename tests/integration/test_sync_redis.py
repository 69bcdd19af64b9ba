"""The loop with real Redis and real worker processes: a worker killed in the middle of a push,
and Redis down while deals are won. Nothing lost, nothing doubled."""

from __future__ import annotations

import pytest

from connectors.tryton.connector import TrytonConnector
from hub import create_app
from hub.demo_erp.mini_ledger import LedgerServer
from hub.extensions import db
from hub.models import Connection, OutboxEvent, OutboxState
from hub.sync.factory import split_config
from tests.conftest import Caller, make_connection
from tests.support.services import HubProcess, RedisServer, TrytonProxy, wait_for


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def ledger():
    with LedgerServer(api_key="k-123456") as server:
        yield server


@pytest.fixture
def redis_app(app, redis_server):
    """The same database as `app`, with jobs going to the private Redis."""
    config = {k: app.config[k] for k in ("DATABASE_URL", "SECRET_KEY", "HUB_ENCRYPTION_KEY")}
    return create_app({**config, "TESTING": True, "REDIS_URL": redis_server.url, "HUB_JOB_LEASE_SECONDS": 3})


@pytest.fixture
def worker_env(app, redis_server, tmp_path):
    return {
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "HUB_ENCRYPTION_KEY": app.config["HUB_ENCRYPTION_KEY"],
        "HUB_INSTANCE_PATH": str(tmp_path),
        "HUB_JOB_LEASE_SECONDS": "3",
        "HUB_RETRY_BASE_SECONDS": "0.2",
        "HUB_RETRY_CAP_SECONDS": "1",
    }


@pytest.fixture
def processes(tmp_path):
    started: list[HubProcess] = []

    def start(command: str, env) -> HubProcess:
        proc = HubProcess(command, env, tmp_path / f"{command}-{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def _connect(app, ledger) -> None:
    with app.app_context():
        plain, sealed = split_config("mini_ledger", {"base_url": ledger.url, "api_key": "k-123456", "timeout": 10})
        db.session.add(Connection(name="ledger", type="mini_ledger", config=plain, secrets_sealed=sealed))
        db.session.commit()


def _win_deals(caller: Caller, admin: Caller, count: int, sku: str = "W-1") -> list[dict]:
    admin.post("/api/v1/products", json={"sku": sku, "name": "Widget", "list_price": "19.90", "currency": "EUR"})
    customer = caller.post("/api/v1/customers", json={"name": "Acme GmbH"}).json
    won = []
    for i in range(count):
        deal = caller.post(
            "/api/v1/deals",
            json={"title": f"Deal {i}", "customer_id": customer["id"], "lines": [{"sku": sku, "quantity": i + 1}]},
        ).json
        r = caller.post(f"/api/v1/deals/{deal['id']}/won")
        assert r.status_code == 200, r.json
        won.append(r.json)
    return won


def _events(app) -> list[OutboxEvent]:
    with app.app_context():
        events = db.session.query(OutboxEvent).order_by(OutboxEvent.id).all()
        db.session.expunge_all()
        return events


def test_worker_killed_mid_push_then_new_worker_gives_one_invoice(app, redis_app, users, ledger, worker_env, processes):
    _connect(app, ledger)
    ledger.ledger.faults["lost_answer_rate"] = 1.0  # the ledger creates, then stalls before answering
    ledger.ledger.lost_answer_sleep = 8.0
    sales = Caller(redis_app.test_client(), users["sales"]["token"])
    admin = Caller(redis_app.test_client(), users["admin"]["token"])
    (deal,) = _win_deals(sales, admin, 1)

    first = processes("worker", worker_env)
    wait_for(lambda: len(ledger.ledger.invoices) == 1, 90, what="the first worker to create the invoice")
    first.kill()
    ledger.ledger.faults["lost_answer_rate"] = 0.0
    assert _events(app)[0].state == OutboxState.DISPATCHED  # the dead worker still holds the lease

    processes("worker", worker_env)
    processes("scheduler", worker_env)
    wait_for(lambda: _events(app)[0].state == OutboxState.DONE, 90, what="the event to be done")

    assert len(ledger.ledger.invoices) == 1
    detail = admin.get(f"/api/v1/deals/{deal['id']}").json
    assert detail["invoices"][0]["links"][0]["external_number"] == "ML-000001"


def test_redis_down_while_deals_are_won_then_back(
    app, redis_app, users, tryton_db, redis_server, worker_env, processes
):
    make_connection(app, "Tryton", "tryton", tryton_db.config)
    sales = Caller(redis_app.test_client(), users["sales"]["token"])
    admin = Caller(redis_app.test_client(), users["admin"]["token"])
    redis_server.stop()

    won = _win_deals(sales, admin, 5, sku="VALVE-25")  # every request succeeds: the outbox keeps the work
    assert [e.state for e in _events(app)] == [OutboxState.PENDING] * 5

    redis_server.start()
    processes("scheduler", worker_env)
    processes("worker", worker_env)
    wait_for(lambda: all(e.state == OutboxState.DONE for e in _events(app)), 90, what="all events done")

    invoices = TrytonConnector(tryton_db.config).search_read("account.invoice", [], ["reference"])
    assert sorted(i["reference"] for i in invoices) == sorted(d["invoices"][0]["number"] for d in won)


def test_worker_killed_mid_push_into_tryton_then_new_worker_gives_one_invoice(
    app, redis_app, users, tryton_db, worker_env, processes
):
    proxy = TrytonProxy(tryton_db.url)
    try:
        make_connection(app, "Tryton", "tryton", {**tryton_db.config, "url": proxy.url, "timeout": 60})
        proxy.armed, proxy.stall = True, 30.0  # Tryton creates the invoice; its answer is held back
        sales = Caller(redis_app.test_client(), users["sales"]["token"])
        admin = Caller(redis_app.test_client(), users["admin"]["token"])
        (deal,) = _win_deals(sales, admin, 1, sku="VALVE-25")
        reference = deal["invoices"][0]["number"]
        client = TrytonConnector(tryton_db.config)

        first = processes("worker", worker_env)
        wait_for(lambda: proxy.swallowed == 1, 60, what="the first worker to send the invoice")
        wait_for(lambda: bool(client.find_invoices([reference])), 90, what="Tryton to create it")
        first.kill()

        processes("worker", worker_env)
        processes("scheduler", worker_env)
        wait_for(lambda: _events(app)[0].state == OutboxState.DONE, 60, what="the event to be done")
        found = client.search_read("account.invoice", [["reference", "=", reference]], ["id"])
        assert len(found) == 1
        detail = admin.get(f"/api/v1/deals/{deal['id']}").json
        assert detail["invoices"][0]["links"][0]["external_id"] == str(found[0]["id"])
    finally:
        proxy.stop()
