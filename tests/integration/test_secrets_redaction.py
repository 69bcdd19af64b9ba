"""Secrets never come back: not in a connection test's answer when the target echoes the request,
not in the run history in any encoding the hub sends them in, and a stored secret never goes to a
host it was not typed for."""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import quote

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from hub.extensions import db
from hub.models import Connection, SyncRun
from hub.sync.factory import secret_values
from hub.sync.history import redact
from tests.conftest import make_connection

KEY = "ledger-key-0f9e8d7c"


class EchoServer:
    """A target that answers every request 400, repeating the request's headers in its error."""

    def __init__(self) -> None:
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        sent = "; ".join(f"{k}: {v}" for k, v in request.headers.items())
        encoded = quote(request.headers.get("X-Api-Key", ""), safe="")
        body = {"error": f"bad request, you sent {sent} (url-encoded {encoded})"}
        return Response(json.dumps(body), status=400, content_type="application/json")(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.stop()


def test_a_connection_test_never_echoes_the_secret(app, admin, echo):
    connection_id = make_connection(app, "Echo", "mini_ledger", {"base_url": echo.url, "api_key": KEY})
    answer = admin.post(f"/api/v1/connections/{connection_id}/test").json
    assert answer["ok"] is False
    assert "X-Api-Key: ***" in answer["message"]
    assert KEY not in json.dumps(answer)
    with app.app_context():
        run = db.session.scalars(select(SyncRun).where(SyncRun.connection_id == connection_id)).one()
        assert KEY not in json.dumps([run.error, run.request, run.response])


def test_every_form_the_hub_sends_a_secret_in_is_redacted(app):
    password = 'pa:ss "w/ord" 1234'
    connection_id = make_connection(
        app,
        "1C",
        "onec_odata",
        {"base_url": "http://1c.example/base", "username": "Администратор", "password": password},
    )
    basic = base64.b64encode(f"Администратор:{password}".encode()).decode()
    text = (
        f"raw {password} | basic Authorization: Basic {basic} | url {quote(password, safe='')} | "
        f"json {json.dumps({'p': password})}"
    )
    with app.app_context():
        redacted = redact(text, secret_values(db.session.get(Connection, connection_id)))
    for form in (password, basic, quote(password, safe=""), json.dumps(password)[1:-1]):
        assert form not in redacted
    assert redacted.count("***") >= 4


def test_a_new_host_needs_the_secret_again(app, admin):
    created = admin.post(
        "/api/v1/connections",
        json={
            "name": "Ledger",
            "type": "mini_ledger",
            "config": {"base_url": "http://ledger.example:8765", "api_key": KEY},
        },
    ).json
    url = f"/api/v1/connections/{created['id']}"
    # Another path on the same host keeps the stored key.
    assert admin.patch(url, json={"config": {"base_url": "http://ledger.example:8765/v2"}}).status_code == 200
    # Another host does not get it: the key must be entered again.
    moved = admin.patch(url, json={"config": {"base_url": "http://attacker.example"}})
    assert moved.status_code == 422
    assert "config.api_key" in moved.json["errors"]
    with app.app_context():
        assert db.session.get(Connection, created["id"]).config["base_url"] == "http://ledger.example:8765/v2"
    again = admin.patch(url, json={"config": {"base_url": "http://ledger2.example", "api_key": "new-key-123"}})
    assert again.status_code == 200, again.json


def test_an_alert_channel_to_a_new_host_needs_its_secret_again(admin):
    hook = admin.post(
        "/api/v1/alert-channels",
        json={"name": "Hook", "kind": "webhook", "config": {"url": "https://hooks.example/a"}, "secret": "sign-1234"},
    ).json
    url = f"/api/v1/alert-channels/{hook['id']}"
    assert admin.patch(url, json={"config": {"url": "https://hooks.example/b"}}).status_code == 200
    moved = admin.patch(url, json={"config": {"url": "https://elsewhere.example/a"}})
    assert moved.status_code == 422
    assert "secret" in moved.json["errors"]
    again = admin.patch(url, json={"config": {"url": "https://elsewhere.example/a"}, "secret": "sign-5678"})
    assert again.status_code == 200
