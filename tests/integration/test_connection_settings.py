"""Admins set how often a connection's stock is pulled, pause it, and say when its stock is stale
(warn) and no longer to be acted on (stop): read, changed, validated field by field, audited and
documented."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.extensions import db
from hub.inventory.pull import due_connections
from hub.models import Connection
from hub.models.base import utcnow
from tests.conftest import LEDGER_KEY
from tests.support.api_errors import assert_error

DEFAULTS = {
    "stock_interval_seconds": 900,
    "stock_paused": False,
    "stale_warn_seconds": 3600,
    "stale_stop_seconds": 86400,
}


@pytest.fixture
def created(admin):
    r = admin.post(
        "/api/v1/connections",
        json={
            "name": "Books",
            "type": "mini_ledger",
            "config": {"base_url": "http://127.0.0.1:9", "api_key": LEDGER_KEY},
        },
    )
    assert r.status_code == 201, r.json
    return r.json


def settings(body):
    return {k: body[k] for k in DEFAULTS}


def test_defaults_are_shown_and_can_be_set_on_creation(admin, created):
    assert settings(created) == DEFAULTS
    assert created["stock_pulled_at"] is None
    r = admin.post(
        "/api/v1/connections",
        json={
            "name": "Other",
            "type": "mini_ledger",
            "config": {"base_url": "http://127.0.0.1:9", "api_key": LEDGER_KEY},
            "stock_interval_seconds": 300,
            "stock_paused": True,
        },
    )
    assert r.status_code == 201, r.json
    assert (r.json["stock_interval_seconds"], r.json["stock_paused"]) == (300, True)
    assert settings(admin.get(f"/api/v1/connections/{created['id']}").json) == DEFAULTS


def test_patch_changes_them_and_the_audit_log_says_who(app, admin, users, created):
    new = {"stock_interval_seconds": 120, "stock_paused": True, "stale_warn_seconds": 600, "stale_stop_seconds": 7200}
    r = admin.patch(f"/api/v1/connections/{created['id']}", json=new)
    assert r.status_code == 200, r.json
    assert settings(r.json) == new
    assert settings(admin.get(f"/api/v1/connections/{created['id']}").json) == new

    audit = admin.get(f"/api/v1/audit?entity=connections&entity_id={created['id']}&action=update").json["items"]
    (entry,) = audit
    assert entry["changes"] == {
        "stock_interval_seconds": {"old": 900, "new": 120},
        "stock_paused": {"old": False, "new": True},
        "stale_warn_seconds": {"old": 3600, "new": 600},
        "stale_stop_seconds": {"old": 86400, "new": 7200},
    }
    assert entry["actor_id"] == users["admin"]["id"]


def test_the_schedule_follows_the_interval_and_the_pause(app, admin, created):
    with app.app_context():
        conn = db.session.get(Connection, created["id"])
        conn.stock_pulled_at = utcnow()
        db.session.commit()
        assert created["id"] not in due_connections()
    admin.patch(f"/api/v1/connections/{created['id']}", json={"stock_interval_seconds": 60})
    with app.app_context():
        assert created["id"] in due_connections(utcnow() + timedelta(seconds=61))
    admin.patch(f"/api/v1/connections/{created['id']}", json={"stock_paused": True})
    with app.app_context():
        assert created["id"] not in due_connections(utcnow() + timedelta(days=1))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stock_interval_seconds": 59}, "stock_interval_seconds"),
        ({"stock_interval_seconds": 10**9}, "stock_interval_seconds"),
        ({"stock_interval_seconds": "often"}, "stock_interval_seconds"),
        ({"stock_interval_seconds": 90.5}, "stock_interval_seconds"),
        ({"stock_interval_seconds": None}, "stock_interval_seconds"),
        ({"stock_paused": "maybe"}, "stock_paused"),
        ({"stale_warn_seconds": 0}, "stale_warn_seconds"),
        ({"stale_stop_seconds": -5}, "stale_stop_seconds"),
        # each against the stored others (900 < 3600 < 86400)
        ({"stale_warn_seconds": 900}, "stale_warn_seconds"),
        ({"stock_interval_seconds": 3600}, "stock_interval_seconds"),
        ({"stale_stop_seconds": 3600}, "stale_stop_seconds"),
        ({"stale_warn_seconds": 86400}, "stale_warn_seconds"),
        # both sent: the one that breaks the order is named
        ({"stale_warn_seconds": 7200, "stale_stop_seconds": 7000}, "stale_stop_seconds"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(app, admin, created, body, field):
    assert_error(admin.patch(f"/api/v1/connections/{created['id']}", json=body), 422, field, "validation_error")
    # nothing half-written
    assert settings(admin.get(f"/api/v1/connections/{created['id']}").json) == DEFAULTS


def test_creation_with_inconsistent_thresholds_is_refused(admin):
    r = admin.post(
        "/api/v1/connections",
        json={
            "name": "Bad",
            "type": "mini_ledger",
            "config": {"base_url": "http://127.0.0.1:9", "api_key": LEDGER_KEY},
            "stale_warn_seconds": 7200,
            "stale_stop_seconds": 3600,
        },
    )
    assert_error(r, 422, "stale_stop_seconds")
    assert admin.get("/api/v1/connections").json == []


def test_only_admins_change_them(call, created):
    for role in ("operations", "sales", "finance"):
        r = call(role).patch(f"/api/v1/connections/{created['id']}", json={"stock_paused": True})
        assert_error(r, 403, code="forbidden")


def test_documented_in_the_openapi_schema(app):
    spec = app.test_client().get("/api/openapi.json").json
    for name in ("Connection", "ConnectionPatch"):
        properties = spec["components"]["schemas"][name]["properties"]
        assert properties["stock_interval_seconds"]["minimum"] == 60
        assert properties["stale_warn_seconds"]["type"] == "integer"
        assert properties["stock_paused"]["type"] == "boolean"
        assert "description" in properties["stale_stop_seconds"]
