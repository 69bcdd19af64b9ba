"""What workers keep (hub/kept_answers.py) against the plain path: every list page, sort, filter and
board a worker that keeps answers gives, when it builds one and when it serves what it kept, equals
what a worker that keeps none (HUB_CACHED_ANSWERS=0) gives, before and after a write; a kept token
answers as a token looked up every time (HUB_PLAIN_PATHS=tokens) does, before and after its
revocation and its user's change of role."""

from __future__ import annotations

import pytest

from hub import create_app
from hub.extensions import db
from tests.conftest import Caller
from tests.support.services import RedisServer


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def workers(app, redis_server, users):
    """A worker that keeps answers and one that keeps none, as `role -> Caller` functions."""
    config = {k: app.config[k] for k in ("DATABASE_URL", "SECRET_KEY", "HUB_ENCRYPTION_KEY")}
    apps = [
        create_app({**config, "TESTING": True, "REDIS_URL": redis_server.url, **extra})
        for extra in ({}, {"HUB_CACHED_ANSWERS": 0})
    ]
    yield [lambda role, a=a: Caller(a.test_client(), users[role]["token"]) for a in apps]
    for a in apps:
        with a.app_context():
            db.engine.dispose()


def _json(caller: Caller, path: str) -> dict:
    answer = caller.get(path)
    assert answer.status_code == 200, (path, answer.json)
    return answer.json


def test_kept_answers_equal_the_answers_built_with_nothing_kept(workers, users):
    keeping, plain = workers
    writer = plain("sales")
    customers = [
        writer.post("/api/v1/customers", json={"name": name, "tags": tags, "owner_id": owner}).json
        for name, tags, owner in (
            ("Acme GmbH", ["key"], users["sales"]["id"]),
            ("Globex AG", [], None),
            ("Initech SE", ["key", "new"], users["admin"]["id"]),
        )
    ]
    line = {"description": "Valve", "quantity": "3", "unit_price": "19.99", "tax_rate": "0.19"}
    for i, customer in enumerate(customers):
        for currency in ("EUR", "JPY"):
            deal = writer.post(
                "/api/v1/deals",
                json={"title": f"Deal {i} {currency}", "customer_id": customer["id"], "currency": currency,
                      "lines": [line], **({"owner_id": None} if i == 1 else {})},
            )  # fmt: skip
            assert deal.status_code == 201, deal.json
    pipeline = _json(writer, "/api/v1/pipelines")[0]["id"]
    paths = [
        "/api/v1/customers",
        "/api/v1/customers?sort=-created_at&per_page=2",
        "/api/v1/customers?page=2&per_page=2",
        "/api/v1/customers?q=acme",
        "/api/v1/customers?tag=key&sort=-name",
        "/api/v1/deals",
        "/api/v1/deals?status=open&sort=total",
        "/api/v1/deals?per_page=2&page=2&sort=title",
        f"/api/v1/deals?customer_id={customers[0]['id']}",
        f"/api/v1/pipelines/{pipeline}/board",
        f"/api/v1/pipelines/{pipeline}/board?per_column=1",
        f"/api/v1/pipelines/{pipeline}/board?owner_id={users['sales']['id']}",
    ]

    def compare() -> None:
        for path in paths:
            built, kept = _json(keeping("sales"), path), _json(keeping("sales"), path)
            assert built == kept == _json(plain("sales"), path), path

    compare()
    writer.patch(f"/api/v1/customers/{customers[0]['id']}", json={"name": "Acme Renamed GmbH"})
    deals = _json(writer, "/api/v1/deals")["items"]
    writer.patch(f"/api/v1/deals/{deals[0]['id']}", json={"title": "Renamed deal"})
    compare()


@pytest.mark.parametrize("plain_paths", ["", "tokens"], ids=["kept tokens", "tokens looked up"])
def test_a_kept_token_answers_as_a_token_looked_up_each_time(workers, users, monkeypatch, plain_paths):
    monkeypatch.setenv("HUB_PLAIN_PATHS", plain_paths)
    keeping, _ = workers
    issued = keeping("sales").post("/api/v1/tokens", json={"name": "laptop"}).json
    laptop = Caller(keeping("sales").client, issued["token"])
    seen = [(laptop.get("/api/v1/me").json["role"], laptop.get("/api/v1/customers").status_code) for _ in range(2)]
    assert seen == [("sales", 200)] * 2

    assert (
        keeping("admin").patch(f"/api/v1/users/{users['sales']['id']}", json={"role": "operations"}).status_code == 200
    )
    assert (laptop.get("/api/v1/me").json["role"], laptop.get("/api/v1/customers").status_code) == ("operations", 403)
    assert laptop.delete(f"/api/v1/tokens/{issued['id']}").status_code == 204
    assert laptop.get("/api/v1/me").status_code == 401
