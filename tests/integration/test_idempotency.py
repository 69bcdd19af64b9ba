"""`Idempotency-Key` on the API's POST and PATCH: a repeat gets the first answer, another request
under the same key is refused, a repeat while the first runs gets 409, and a key lasts 24 hours."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hub.extensions import db
from hub.models import Customer, HubInvoice, IdempotencyKey
from hub.models.base import utcnow
from hub.models.idempotency import purge_expired
from tests.support.races import at_once, holding_the_lock, send

ACME = {"name": "Acme GmbH", "default_currency": "EUR"}


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def customers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Customer))


def stored(app, value: str) -> IdempotencyKey:
    with app.app_context():
        row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == value))
        db.session.expunge_all()
        return row


def test_the_same_request_again_replays_the_first_answer(app, sales):
    first = sales.post("/api/v1/customers", json=ACME, headers=key("create-acme-1"))
    again = sales.post("/api/v1/customers", json=ACME, headers=key("create-acme-1"))

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert customers(app) == 1
    assert stored(app, "create-acme-1").committed_at is not None


def test_another_request_under_a_used_key_is_refused_and_changes_nothing(app, sales):
    created = sales.post("/api/v1/customers", json=ACME, headers=key("k-2")).json
    other = sales.post("/api/v1/customers", json={**ACME, "name": "Other Ltd"}, headers=key("k-2"))
    other_path = sales.patch(f"/api/v1/customers/{created['id']}", json=ACME, headers=key("k-2"))

    assert (other.status_code, other_path.status_code) == (422, 422)
    assert list(other.json["errors"]) == ["Idempotency-Key"]
    assert customers(app) == 1


def test_keys_belong_to_their_caller(app, call):
    assert call("sales").post("/api/v1/customers", json=ACME, headers=key("shared")).status_code == 201
    assert call("admin").post("/api/v1/customers", json=ACME, headers=key("shared")).status_code == 201
    assert customers(app) == 2


def test_requests_without_a_key_or_with_a_bad_one(app, sales):
    assert sales.post("/api/v1/customers", json=ACME).status_code == 201
    assert sales.post("/api/v1/customers", json=ACME).status_code == 201  # no key: two requests, two customers
    for bad in ("", "x" * 256, "with space", "ключ"):
        r = sales.post("/api/v1/customers", json=ACME, headers={"Idempotency-Key": bad.encode().decode("latin-1")})
        assert r.status_code == 422, bad
        assert list(r.json["errors"]) == ["Idempotency-Key"]
    assert customers(app) == 2


def test_a_refusal_is_kept_and_replayed_but_marks_no_change(app, sales):
    first = sales.post("/api/v1/customers", json={"name": ""}, headers=key("bad-body"))
    again = sales.post("/api/v1/customers", json={"name": ""}, headers=key("bad-body"))

    assert (first.status_code, again.status_code) == (422, 422)
    assert again.headers["Idempotent-Replayed"] == "true"
    row = stored(app, "bad-body")
    assert (row.status, row.committed_at) == (422, None)


@pytest.mark.parametrize("propagated", [True, False], ids=["exception", "500 answer"])
def test_a_server_error_that_changed_nothing_frees_the_key(app, sales, monkeypatch, propagated):
    from hub.services import customers as customer_service

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(customer_service, "_set_owner", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", propagated)
    if propagated:
        with pytest.raises(RuntimeError):
            sales.post("/api/v1/customers", json=ACME, headers=key("retry-me"))
    else:
        assert sales.post("/api/v1/customers", json=ACME, headers=key("retry-me")).status_code == 500
    assert stored(app, "retry-me") is None
    monkeypatch.undo()

    assert sales.post("/api/v1/customers", json=ACME, headers=key("retry-me")).status_code == 201
    assert customers(app) == 1


def test_a_server_error_after_the_change_is_kept_and_replayed(app, sales, monkeypatch):
    from hub.api.customers import CustomerSchema

    def broken(*args, **kwargs):
        raise RuntimeError("the answer could not be written")

    monkeypatch.setattr(CustomerSchema, "dump", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    assert sales.post("/api/v1/customers", json=ACME, headers=key("half-done")).status_code == 500
    monkeypatch.undo()

    again = sales.post("/api/v1/customers", json=ACME, headers=key("half-done"))
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (500, "true")
    assert customers(app) == 1


def test_a_key_expires_after_its_keep_period(app, sales):
    sales.post("/api/v1/customers", json=ACME, headers=key("old"))
    with app.app_context():
        db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=24, seconds=1)))
        db.session.commit()

    again = sales.post("/api/v1/customers", json={**ACME, "name": "Acme AG"}, headers=key("old"))
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert customers(app) == 2
    with app.app_context():
        assert purge_expired(utcnow() + timedelta(hours=24, seconds=1)) == 1
        assert purge_expired() == 0


def abandon(app, value: str, *, committed: bool) -> None:
    """The key's request died before it answered, long enough ago to count as stale."""
    with app.app_context():
        long_ago = utcnow() - timedelta(seconds=app.config["HUB_IDEMPOTENCY_STALE_SECONDS"] + 1)
        db.session.execute(
            update(IdempotencyKey).values(
                status=None, body=None, created_at=long_ago, committed_at=long_ago if committed else None
            )
        )
        db.session.commit()


def test_a_claim_abandoned_before_any_change_is_taken_over(app, sales):
    sales.post("/api/v1/customers", json={"name": ""}, headers=key("died"))
    abandon(app, "died", committed=False)

    r = sales.post("/api/v1/customers", json={"name": ""}, headers=key("died"))
    assert r.status_code == 422
    assert "Idempotent-Replayed" not in r.headers
    assert stored(app, "died").status == 422


def test_a_claim_abandoned_after_its_change_is_never_run_again(app, sales):
    sales.post("/api/v1/customers", json=ACME, headers=key("died-late"))
    abandon(app, "died-late", committed=True)

    r = sales.post("/api/v1/customers", json=ACME, headers=key("died-late"))
    assert r.status_code == 409
    assert "answer was lost" in r.json["message"]
    assert customers(app) == 1


def test_a_repeat_while_the_first_runs_gets_409_then_the_answer(app, users, deal, two_connections, monkeypatch):
    won = ("POST", f"/api/v1/deals/{deal['id']}/won", None, key("win-1"))
    answers = {}
    with holding_the_lock(monkeypatch) as (held, release):
        first = threading.Thread(target=lambda: answers.setdefault("first", send(app, users, won)))
        first.start()
        assert held.wait(30)
        in_flight = send(app, users, won)
        release.set()
        first.join(30)
    after = send(app, users, won)

    assert in_flight.status_code == 409
    assert in_flight.headers["Retry-After"] == "1"
    assert answers["first"].status_code == 200
    assert (after.status_code, after.headers["Idempotent-Replayed"]) == (200, "true")
    assert after.json == answers["first"].json


def test_the_same_won_sent_three_times_at_once_with_one_key_makes_one_invoice(app, users, deal, two_connections):
    answers = at_once(app, users, [("POST", f"/api/v1/deals/{deal['id']}/won", None, key("win-2"))] * 3)

    assert sorted(r.status_code for r in answers).count(200) >= 1
    assert {r.status_code for r in answers} <= {200, 409}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HubInvoice)) == 1


def test_the_openapi_document_names_the_header_on_every_post_and_patch(sales):
    spec = sales.get("/api/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            names = [p.get("name") for p in operation.get("parameters", [])]
            assert ("Idempotency-Key" in names) == (method in ("post", "patch")), (method, path)
