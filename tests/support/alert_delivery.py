"""What the tests of alert deliveries share: a local webhook receiver (`receiver`), its signing
secret, an alert channel made through the API, and an open low-stock alert."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from hub.sync.worker import drain
from tests.support.stock import pull, rule, set_stock

SECRET = "whsec-123456"


class Receiver:
    """An HTTP endpoint that records what it is sent and answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        self.requests.append((dict(request.headers), request.get_data()))
        return Response("ok", status=self.status)(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def channel(admin, **body):
    r = admin.post("/api/v1/alert-channels", json=body)
    assert r.status_code == 201, r.json
    return r.json


def open_alert(app, call, ledger, connection, pump):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 2, "reserved": 0})
    rule(call, pump["id"], 10, 30)
    pull(call, connection)
    drain(app)  # the pull, then the delivery job it enqueues
    (alert,) = call("operations").get("/api/v1/alerts").json["items"]
    return alert
