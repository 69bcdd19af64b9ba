"""What each worker process keeps while nothing behind it changes (hub/kept_answers.py): the board's
answers, the pages of the customers and deals lists, and the API tokens. Two app instances on the
same database and the same (real, private) Redis stand for two gunicorn workers."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from hub import create_app
from hub.extensions import db
from hub.kept_answers import BOARD_ANSWERS, CUSTOMERS
from hub.models import ApiToken, Customer, Stage
from hub.sync.queue import connection as redis_client
from tests.conftest import Caller
from tests.support.deals import new_deal
from tests.support.services import RedisServer


@pytest.fixture
def customer(sales):
    return sales.post("/api/v1/customers", json={"name": "Acme GmbH"}).json


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def _worker(app, redis_url: str, **settings):
    config = {k: app.config[k] for k in ("DATABASE_URL", "SECRET_KEY", "HUB_ENCRYPTION_KEY")}
    return create_app({**config, "TESTING": True, "REDIS_URL": redis_url, **settings})


@pytest.fixture
def workers(app, redis_server, users):
    """Two workers; `workers[i](role)` calls the API through worker i."""
    apps = [_worker(app, redis_server.url) for _ in range(2)]
    yield [lambda role, a=a: Caller(a.test_client(), users[role]["token"]) for a in apps], apps
    for a in apps:
        with a.app_context():
            db.engine.dispose()


def _statements(app) -> list[str]:
    seen: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda c, cur, statement, *a: seen.append(statement))
    return seen


def _answer(caller: Caller, path: str) -> dict:
    answer = caller.get(path)
    assert answer.status_code == 200, answer.json
    return answer.json


def _board(caller: Caller, pipeline_id: int, query: str = "") -> dict:
    return _answer(caller, f"/api/v1/pipelines/{pipeline_id}/board{query}")


def _cards(board: dict) -> dict[int, dict]:
    return {card["id"]: card for column in board["columns"] for card in column["deals"]}


def test_a_worker_answers_from_its_cache_until_another_worker_changes_a_deal(workers, customer):
    (first, second), apps = workers
    pipeline = first("sales").get("/api/v1/pipelines").json[0]["id"]
    deal = new_deal(second("sales"), customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    before = _board(first("sales"), pipeline)
    statements = _statements(apps[0])

    assert _board(first("sales"), pipeline) == before
    assert not [s for s in statements if "FROM deals" in s]  # the cards were not read again

    second("sales").patch(f"/api/v1/deals/{deal['id']}", json={"title": "Renamed by the other worker"})
    assert _cards(_board(first("sales"), pipeline))[deal["id"]]["title"] == "Renamed by the other worker"

    second("sales").post(f"/api/v1/deals/{deal['id']}/stage", json={"stage": "Qualified"})
    columns = {c["stage"]["name"]: c for c in _board(first("sales"), pipeline)["columns"]}
    assert (columns["New"]["count"], columns["Qualified"]["count"]) == (0, 1)


def test_renaming_a_customer_an_owner_or_a_stage_reaches_the_cached_board(workers, customer, users):
    (first, second), apps = workers
    pipeline = first("sales").get("/api/v1/pipelines").json[0]
    deal = new_deal(second("sales"), customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    _board(first("sales"), pipeline["id"])

    assert second("sales").patch(f"/api/v1/customers/{customer['id']}", json={"name": "Acme AG"}).status_code == 200
    assert _cards(_board(first("sales"), pipeline["id"]))[deal["id"]]["customer"]["name"] == "Acme AG"

    owner = users["sales"]["id"]
    assert second("admin").patch(f"/api/v1/users/{owner}", json={"name": "Renamed Rep"}).status_code == 200
    assert _cards(_board(first("sales"), pipeline["id"]))[deal["id"]]["owner"]["name"] == "Renamed Rep"

    with apps[1].app_context():  # stages are set up outside the API; any ORM write counts
        db.session.get(Stage, pipeline["stages"][0]["id"]).name = "Inbox"
        db.session.commit()
    assert _board(first("sales"), pipeline["id"])["columns"][0]["stage"]["name"] == "Inbox"


def test_each_owner_filter_and_page_size_is_its_own_answer(workers, customer, users):
    (first, second), _ = workers
    pipeline = first("sales").get("/api/v1/pipelines").json[0]["id"]
    line = [{"description": "X", "quantity": 1, "unit_price": "10"}]
    new_deal(second("sales"), customer, line)
    new_deal(second("sales"), customer, line, owner_id=users["admin"]["id"])

    everyone = _board(first("sales"), pipeline)
    only_admin = _board(first("sales"), pipeline, f"?owner_id={users['admin']['id']}")
    one_each = _board(first("sales"), pipeline, "?per_column=1")

    assert (everyone["columns"][0]["count"], only_admin["columns"][0]["count"]) == (2, 1)
    assert [len(c["deals"]) for c in (one_each["columns"][0], everyone["columns"][0])] == [1, 2]


def test_without_redis_every_board_is_built_fresh(workers, customer, redis_server):
    (first, second), _ = workers
    pipeline = first("sales").get("/api/v1/pipelines").json[0]["id"]
    deal = new_deal(second("sales"), customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    _board(first("sales"), pipeline)
    redis_server.stop()

    # The commit cannot set a new epoch; the board must not be served from the cache meanwhile.
    assert second("sales").patch(f"/api/v1/deals/{deal['id']}", json={"title": "Written while Redis is down"})
    assert _cards(_board(first("sales"), pipeline))[deal["id"]]["title"] == "Written while Redis is down"


def test_a_change_that_bypasses_the_orm_shows_once_the_answer_is_too_old(workers, customer, monkeypatch):
    (first, second), apps = workers
    pipeline = first("sales").get("/api/v1/pipelines").json[0]["id"]
    deal = new_deal(second("sales"), customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    _board(first("sales"), pipeline)
    with apps[1].app_context():
        db.session.execute(text("UPDATE deals SET title = 'Raw SQL' WHERE id = :id"), {"id": deal["id"]})
        db.session.commit()  # no ORM flush: no new epoch
    assert _cards(_board(first("sales"), pipeline))[deal["id"]]["title"] != "Raw SQL"

    monkeypatch.setattr(BOARD_ANSWERS, "max_age_s", 0.0)
    assert _cards(_board(first("sales"), pipeline))[deal["id"]]["title"] == "Raw SQL"


def test_the_embedded_queue_caches_nothing(app, sales, customer):
    """Without REDIS_URL each process would keep an epoch of its own: changes made through another
    process would never reach this one's cache."""
    pipeline = sales.get("/api/v1/pipelines").json[0]["id"]
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    _board(sales, pipeline)
    with app.app_context():
        db.session.execute(text("UPDATE deals SET title = 'Raw SQL' WHERE id = :id"), {"id": deal["id"]})
        db.session.commit()
    assert _cards(_board(sales, pipeline))[deal["id"]]["title"] == "Raw SQL"


# ---- list pages ---------------------------------------------------------------------------


def _items(caller: Caller, path: str) -> list[dict]:
    return _answer(caller, path)["items"]


def test_a_customer_page_is_kept_until_another_worker_writes_a_customer(workers, customer):
    (first, second), apps = workers
    before = _items(first("sales"), "/api/v1/customers?sort=name")
    statements = _statements(apps[0])

    assert _items(first("sales"), "/api/v1/customers?sort=name") == before
    assert not [s for s in statements if "FROM customers" in s]

    created = second("sales").post("/api/v1/customers", json={"name": "Zeta AG"}).json
    assert [c["name"] for c in _items(first("sales"), "/api/v1/customers?sort=name")] == ["Acme GmbH", "Zeta AG"]

    second("sales").patch(f"/api/v1/customers/{created['id']}", json={"tags": ["key account"]})
    assert _items(first("sales"), "/api/v1/customers?sort=name")[1]["tags"] == ["key account"]

    assert second("admin").delete(f"/api/v1/customers/{created['id']}").status_code == 204
    assert [c["name"] for c in _items(first("sales"), "/api/v1/customers?sort=name")] == ["Acme GmbH"]


def test_a_kept_page_asks_redis_one_thing_for_its_token_and_its_page(workers, customer, monkeypatch):
    (first, _), apps = workers
    before = _items(first("sales"), "/api/v1/customers")
    commands: list[str] = []
    client = redis_client(apps[0])
    sent = client.execute_command
    monkeypatch.setattr(client, "execute_command", lambda *args, **kw: commands.append(args[0]) or sent(*args, **kw))

    assert _items(first("sales"), "/api/v1/customers") == before

    assert commands == ["MGET"]  # every epoch at once: the token's and the page's


def test_a_request_that_writes_reads_the_epochs_again(workers, customer):
    _, apps = workers
    with apps[0].test_request_context("/api/v1/customers"):
        before = CUSTOMERS.current()
        assert CUSTOMERS.current() == before  # read once per request
        db.session.add(Customer(name="Written in this request", default_currency="EUR", tags=[]))
        db.session.commit()

        assert CUSTOMERS.current() not in (None, before)


def test_a_deal_page_shows_at_once_what_another_worker_changed_in_its_deals_or_their_names(workers, customer, users):
    (first, second), apps = workers
    pipeline = first("sales").get("/api/v1/pipelines").json[0]
    deal = new_deal(second("sales"), customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    before = _items(first("sales"), "/api/v1/deals")
    statements = _statements(apps[0])
    assert _items(first("sales"), "/api/v1/deals") == before
    assert not [s for s in statements if "FROM deals" in s]

    second("sales").patch(f"/api/v1/deals/{deal['id']}", json={"title": "Renamed elsewhere"})
    assert _items(first("sales"), "/api/v1/deals")[0]["title"] == "Renamed elsewhere"

    second("sales").patch(f"/api/v1/customers/{customer['id']}", json={"name": "Acme AG"})
    second("admin").patch(f"/api/v1/users/{users['sales']['id']}", json={"name": "Renamed Rep"})
    with apps[1].app_context():
        db.session.get(Stage, pipeline["stages"][0]["id"]).name = "Inbox"
        db.session.commit()
    [summary] = _items(first("sales"), "/api/v1/deals")
    assert (summary["customer"]["name"], summary["owner"]["name"], summary["stage"]["name"]) == (
        "Acme AG",
        "Renamed Rep",
        "Inbox",
    )

    new_deal(second("sales"), customer, [{"description": "Y", "quantity": 2, "unit_price": "5"}])
    assert len(_items(first("sales"), "/api/v1/deals")) == 2


def test_references_the_database_clears_on_a_deletion_are_cleared_on_kept_pages(workers, customer, users):
    """Deleting a contact or a user sets the deals' and customers' references to NULL in the
    database (ON DELETE SET NULL), where the ORM does not see those rows change."""
    (first, second), _ = workers
    contact = second("sales").post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Ann"}).json
    leaver = second("admin").post(
        "/api/v1/users",
        json={"email": "leaver@example.com", "name": "Leaver", "role": "sales", "password": "pw-123456789"},
    )
    assert leaver.status_code == 201, leaver.json
    second("sales").patch(f"/api/v1/customers/{customer['id']}", json={"owner_id": leaver.json["id"]})
    new_deal(
        second("sales"), customer, [{"description": "X", "quantity": 1, "unit_price": "10"}], contact_id=contact["id"]
    )
    assert _items(first("sales"), "/api/v1/deals")[0]["contact_id"] == contact["id"]
    assert _items(first("sales"), "/api/v1/customers")[0]["owner_id"] == leaver.json["id"]

    assert second("sales").delete(f"/api/v1/contacts/{contact['id']}").status_code == 204
    assert _items(first("sales"), "/api/v1/deals")[0]["contact_id"] is None

    assert second("admin").delete(f"/api/v1/users/{leaver.json['id']}").status_code == 204
    assert _items(first("sales"), "/api/v1/customers")[0]["owner_id"] is None


def test_each_page_filter_and_sort_is_its_own_page_in_any_argument_order(workers, customer):
    (first, second), apps = workers
    for name in ("Beta KG", "Gamma SE"):
        second("sales").post("/api/v1/customers", json={"name": name, "default_currency": "USD"})
    names = lambda path: [c["name"] for c in _items(first("sales"), path)]  # noqa: E731

    assert names("/api/v1/customers?sort=-name&per_page=2") == ["Gamma SE", "Beta KG"]
    assert names("/api/v1/customers?sort=-name&per_page=2&page=2") == ["Acme GmbH"]
    assert names("/api/v1/customers?sort=name&per_page=2") == ["Acme GmbH", "Beta KG"]
    assert names("/api/v1/customers?currency=usd") == ["Beta KG", "Gamma SE"]
    assert names("/api/v1/customers?q=gam") == ["Gamma SE"]
    statements = _statements(apps[0])
    assert names("/api/v1/customers?per_page=2&sort=-name") == ["Gamma SE", "Beta KG"]
    assert not [s for s in statements if "FROM customers" in s]


def test_a_deal_write_leaves_the_customer_pages_kept(workers, customer):
    (first, second), apps = workers
    deal = new_deal(second("sales"), customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    _items(first("sales"), "/api/v1/customers")
    statements = _statements(apps[0])

    second("sales").patch(f"/api/v1/deals/{deal['id']}", json={"title": "Renamed elsewhere"})

    assert [c["name"] for c in _items(first("sales"), "/api/v1/customers")] == ["Acme GmbH"]
    assert not [s for s in statements if "FROM customers" in s]


def test_with_no_answers_to_keep_every_page_is_built(app, redis_server, users, customer):
    worker = _worker(app, redis_server.url, HUB_CACHED_ANSWERS=0)
    caller = Caller(worker.test_client(), users["sales"]["token"])
    _items(caller, "/api/v1/customers")
    statements = _statements(worker)

    assert [c["name"] for c in _items(caller, "/api/v1/customers")] == ["Acme GmbH"]

    assert [s for s in statements if "FROM customers" in s]
    with worker.app_context():
        db.engine.dispose()


# ---- API tokens ---------------------------------------------------------------------------


def test_a_kept_token_costs_no_query_and_its_user_can_write(workers, users):
    (first, _), apps = workers
    assert first("sales").get("/api/v1/me").status_code == 200
    statements = _statements(apps[0])

    me = first("sales").get("/api/v1/me")
    created = first("sales").post("/api/v1/customers", json={"name": "Written by a kept user"})

    assert me.json["email"] == users["sales"]["email"]
    assert not [s for s in statements if "api_tokens" in s]
    assert created.status_code == 201, created.json
    audit = first("admin").get(f"/api/v1/audit?entity=customers&entity_id={created.json['id']}").json["items"]
    assert [(a["action"], a["actor_id"]) for a in audit] == [("create", users["sales"]["id"])]


def test_a_token_revoked_through_one_worker_is_refused_by_the_other_at_once(workers, users):
    (first, second), _ = workers
    issued = first("sales").post("/api/v1/tokens", json={"name": "laptop"}).json
    laptop = Caller(first("sales").client, issued["token"])
    assert laptop.get("/api/v1/me").status_code == 200

    assert Caller(second("sales").client, issued["token"]).delete(f"/api/v1/tokens/{issued['id']}").status_code == 204

    assert laptop.get("/api/v1/me").status_code == 401


def test_a_user_deactivated_or_given_another_role_elsewhere_is_seen_at_once(workers, users):
    (first, second), _ = workers
    assert first("sales").get("/api/v1/customers").status_code == 200
    assert first("finance").get("/api/v1/customers").status_code == 200

    answer = second("admin").patch(f"/api/v1/users/{users['sales']['id']}", json={"role": "operations"})
    assert answer.status_code == 200, answer.json
    assert second("admin").patch(f"/api/v1/users/{users['finance']['id']}", json={"active": False}).status_code == 200

    assert first("sales").get("/api/v1/customers").status_code == 403  # operations may not read customers
    assert first("finance").get("/api/v1/customers").status_code == 401


def test_without_redis_every_request_reads_its_token(workers, users, redis_server):
    (first, _), apps = workers
    issued = first("sales").post("/api/v1/tokens", json={"name": "laptop"}).json
    laptop = Caller(first("sales").client, issued["token"])
    assert laptop.get("/api/v1/me").status_code == 200
    redis_server.stop()

    with apps[1].app_context():  # revoked while Redis is away: no new epoch can be set
        db.session.get(ApiToken, issued["id"]).revoke()
        db.session.commit()

    assert laptop.get("/api/v1/me").status_code == 401
