"""Optimistic concurrency through the API (RFC 9110 conditional requests): a record read alone
carries its version as `ETag`; PATCH and DELETE with an `If-Match` that is no longer current get
412 naming it and write nothing; without If-Match they work as before; and two writes sent with
one tag at once give one 200 and one 412, never two 200s, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from functools import partial

import pytest

from hub.extensions import db
from hub.models import Customer
from tests.support.api_errors import assert_error
from tests.support.races import at_once, holding_the_commit, in_order


@pytest.fixture
def customer(sales) -> dict:
    r = sales.post("/api/v1/customers", json={"name": "Acme GmbH", "tags": ["key-account"]})
    assert r.status_code == 201, r.json
    return r.json


def _records(sales, admin, customer: dict, deal: dict) -> dict[str, tuple[str, dict]]:
    """One record of each resource with a single-record GET: its path and a change to PATCH it with."""
    contact = sales.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Jane Roe"}).json
    body = {"sku": "PUMP-100", "name": "Pump", "list_price": "100", "currency": "EUR"}
    product = admin.post("/api/v1/products", json=body).json
    body = {"kind": "call", "subject": "Intro call", "customer_id": customer["id"]}
    activity = sales.post("/api/v1/activities", json=body).json
    task = sales.post("/api/v1/tasks", json={"title": "Send the offer", "customer_id": customer["id"]}).json
    return {
        "customers": (f"/api/v1/customers/{customer['id']}", {"tags": ["key-account", "export"]}),
        "contacts": (f"/api/v1/contacts/{contact['id']}", {"role": "Buyer"}),
        "products": (f"/api/v1/products/{product['id']}", {"name": "Big pump"}),
        "deals": (f"/api/v1/deals/{deal['id']}", {"title": "More pumps"}),
        "activities": (f"/api/v1/activities/{activity['id']}", {"subject": "Second call"}),
        "tasks": (f"/api/v1/tasks/{task['id']}", {"done": True}),
    }


def _strong(response) -> str:
    tag = response.headers.get("ETag")
    assert tag, response.headers
    assert tag.startswith('"'), tag  # a weak tag (W/"...") could never match an If-Match
    assert tag.endswith('"'), tag
    return tag


def test_every_record_read_alone_has_an_etag_that_each_write_changes(sales, admin, customer, deal):
    for name, (path, change) in _records(sales, admin, customer, deal).items():
        caller = admin if name == "products" else sales
        read = caller.get(path)
        tag = _strong(read)
        assert caller.get(path).headers["ETag"] == tag, f"{name}: the same record, another tag"
        written = caller.patch(path, json=change, headers={"If-Match": tag})
        assert written.status_code == 200, (name, written.json)
        assert _strong(written) != tag, name
        assert caller.get(path).headers["ETag"] == written.headers["ETag"], f"{name}: the write's tag is not the read's"
    made = sales.post("/api/v1/customers", json={"name": "Beta AG"})
    assert made.headers["ETag"] == sales.get(f"/api/v1/customers/{made.json['id']}").headers["ETag"]
    pipeline = deal["pipeline_id"]
    assert _strong(sales.get(f"/api/v1/pipelines/{pipeline}"))
    stages = [
        {"name": n, "probability": p, "kind": k}
        for n, p, k in (("New", 10, "open"), ("Won", 100, "won"), ("Lost", 0, "lost"))
    ]
    made = admin.post("/api/v1/pipelines", json={"name": "Service", "stages": stages})
    assert made.headers["ETag"] == admin.get(f"/api/v1/pipelines/{made.json['id']}").headers["ETag"]


def test_a_deals_etag_changes_with_its_lines(sales, deal):
    path = f"/api/v1/deals/{deal['id']}"
    tag = sales.get(path).headers["ETag"]
    line = {"description": "Pump", "quantity": "3", "unit_price": "100.00", "tax_rate": "0.19"}
    assert sales.patch(path, json={"lines": [line]}).headers["ETag"] != tag


def test_a_stale_if_match_gets_412_naming_it_and_writes_nothing(app, sales, customer):
    path = f"/api/v1/customers/{customer['id']}"
    stale = sales.get(path).headers["ETag"]
    assert sales.patch(path, json={"tags": ["key-account", "export"]}).status_code == 200  # someone else's edit
    current = sales.get(path)

    refused = sales.patch(path, json={"tags": ["key-account", "vip"]}, headers={"If-Match": stale})
    body = assert_error(refused, 412, field="If-Match", code="precondition_failed")
    assert "If-Match" in body["message"], body
    assert f"id {customer['id']}" in body["message"], body
    assert "ETag" not in refused.headers
    assert_error(sales.delete(path, headers={"If-Match": stale}), 412, field="If-Match")

    after = sales.get(path)
    assert after.json == current.json
    assert after.headers["ETag"] == current.headers["ETag"]
    with app.app_context():
        assert db.session.get(Customer, customer["id"]).tags == ["key-account", "export"]


def test_every_record_refuses_a_patch_with_a_stale_if_match_and_keeps_what_it_was(sales, admin, customer, deal):
    """Each service checks the If-Match it is handed (kills `update_deal` 4: the deal's check given
    no tags, so every PATCH passed)."""
    for name, (path, change) in _records(sales, admin, customer, deal).items():
        caller = admin if name == "products" else sales
        stale = caller.get(path).headers["ETag"]
        assert caller.patch(path, json=change).status_code == 200, name  # someone else's edit
        current = caller.get(path)
        assert_error(caller.patch(path, json=change, headers={"If-Match": stale}), 412, field="If-Match")
        assert caller.get(path).headers["ETag"] == current.headers["ETag"], name


def test_the_412_is_said_in_the_readers_language(sales, customer):
    path = f"/api/v1/customers/{customer['id']}"
    for language, word in (("ru", "Запись"), ("bn", "রেকর্ড")):
        answer = sales.patch(path, json={"notes": "x"}, headers={"If-Match": '"0"', "Accept-Language": language})
        body = assert_error(answer, 412, code="precondition_failed")
        assert word in body["message"], body
        assert "If-Match" in body["message"], body


def test_without_if_match_the_last_writer_wins_as_before(sales, customer):
    path = f"/api/v1/customers/{customer['id']}"
    assert sales.patch(path, json={"tags": ["a"]}).status_code == 200
    assert sales.patch(path, json={"tags": ["b"]}).status_code == 200
    assert sales.get(path).json["tags"] == ["b"]
    assert sales.delete(path).status_code == 204


def test_if_match_compares_strongly_and_star_matches_any_version(sales, customer):
    """RFC 9110 13.1.1: `*` matches any current version; a list matches if one of its tags does;
    a weak tag never matches, even with the current opaque tag."""
    path = f"/api/v1/customers/{customer['id']}"
    tag = sales.get(path).headers["ETag"]
    assert_error(sales.patch(path, json={"notes": "weak"}, headers={"If-Match": f"W/{tag}"}), 412, field="If-Match")
    assert_error(sales.patch(path, json={"notes": "none"}, headers={"If-Match": ""}), 412, field="If-Match")
    listed = sales.patch(path, json={"notes": "listed"}, headers={"If-Match": f'"0", W/"1", {tag}'})
    assert listed.status_code == 200, listed.json
    star = sales.patch(path, json={"notes": "any"}, headers={"If-Match": "*"})
    assert star.status_code == 200, star.json
    assert star.json["notes"] == "any"
    assert sales.delete(path, headers={"If-Match": star.headers["ETag"]}).status_code == 204
    # No record, no version: 404 before any precondition (RFC 9110 13.2.1), also for *.
    assert_error(sales.patch(path, json={"notes": "x"}, headers={"If-Match": "*"}), 404)


def _changing(model: type):
    return lambda session: any(isinstance(obj, model) for obj in session.dirty)


def test_two_patches_with_one_if_match_in_order_one_wins(app, users, monkeypatch, sales, customer):
    """The first has written its edit, uncommitted, when the second arrives with the same tag:
    the second waits for the row, reads the first's commit, and is refused."""
    path = f"/api/v1/customers/{customer['id']}"
    tag = sales.get(path).headers["ETag"]
    first, second = in_order(
        app,
        users,
        monkeypatch,
        ("PATCH", path, {"tags": ["key-account", "export"]}, {"If-Match": tag}),
        ("PATCH", path, {"tags": ["key-account", "vip"]}, {"If-Match": tag}),
        holding=partial(holding_the_commit, of=_changing(Customer)),
    )
    assert first.status_code == 200, first.json
    assert_error(second, 412, field="If-Match", code="precondition_failed")
    assert sales.get(path).json["tags"] == ["key-account", "export"]


def test_two_deal_patches_with_one_if_match_in_order_one_wins(app, users, monkeypatch, sales, deal):
    path = f"/api/v1/deals/{deal['id']}"
    tag = sales.get(path).headers["ETag"]
    first, second = in_order(
        app,
        users,
        monkeypatch,
        ("PATCH", path, {"title": "Pumps, 2 more"}, {"If-Match": tag}),
        ("DELETE", path, None, {"If-Match": tag}),
    )
    assert first.status_code == 200, first.json
    assert_error(second, 412, field="If-Match")
    assert sales.get(path).json["title"] == "Pumps, 2 more"


@pytest.mark.parametrize("resource", ["customers", "tasks"])
def test_two_patches_with_one_if_match_at_once_give_one_200_and_one_412(app, users, sales, customer, resource):
    if resource == "customers":
        path = f"/api/v1/customers/{customer['id']}"
        changes = [{"tags": ["one"]}, {"tags": ["two"]}]
    else:
        task = sales.post("/api/v1/tasks", json={"title": "Call back", "customer_id": customer["id"]}).json
        path = f"/api/v1/tasks/{task['id']}"
        changes = [{"title": "Call back today"}, {"title": "Call back tomorrow"}]
    tag = sales.get(path).headers["ETag"]
    answers = at_once(app, users, [("PATCH", path, change, {"If-Match": tag}) for change in changes])
    assert sorted(a.status_code for a in answers) == [200, 412], [a.json for a in answers]
    winner = next(a for a in answers if a.status_code == 200)
    assert sales.get(path).json == winner.json


def test_a_replayed_write_carries_its_etag(sales, customer):
    path = f"/api/v1/customers/{customer['id']}"
    headers = {"Idempotency-Key": "etag-1"}
    first = sales.patch(path, json={"notes": "once"}, headers=headers)
    again = sales.patch(path, json={"notes": "once"}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]


def test_the_openapi_document_names_etag_if_match_and_412(sales):
    paths = sales.get("/api/openapi.json").json["paths"]
    for path in ("/api/v1/customers/{customer_id}", "/api/v1/deals/{deal_id}", "/api/v1/tasks/{task_id}"):
        item = paths[path]
        assert "ETag" in item["get"]["responses"]["200"]["headers"], path
        assert "ETag" in item["patch"]["responses"]["200"]["headers"], path
        for method in ("patch", "delete"):
            operation = item[method]
            assert "412" in operation["responses"], (path, method)
            if_match = [p for p in operation["parameters"] if p.get("name") == "If-Match"]
            assert if_match, (path, method)
            assert if_match[0]["required"] is False, (path, method)
    assert "ETag" in paths["/api/v1/pipelines/{pipeline_id}"]["get"]["responses"]["200"]["headers"]
