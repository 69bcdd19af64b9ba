"""Odoo's external API (JSON-RPC `execute_kw`) as the connector tests answer it with `responses`:
a fake that keeps every call, the `odoo` fixture (a plugin of the root conftest), a connector built
on the default mapping and a known catalogue."""

from __future__ import annotations

import json

import pytest
import responses

from connectors.odoo import OdooConnector
from mappings.defaults import default_document
from mappings.parse import parse
from tests.support.complaints import Complaints

URL = "https://odoo.example.com"
KEY = "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3"
CONFIG = {"url": URL, "database": "acme", "username": "hub@acme.example", "api_key": KEY, "timeout": 5}
UID = 7


class Fault:
    """An Odoo exception as the JSON-RPC answer carries it."""

    def __init__(self, name: str, message: str) -> None:
        self.error = {
            "code": 200,
            "message": "Odoo Server Error",
            "data": {
                "name": f"odoo.exceptions.{name}",
                "debug": "Traceback (most recent call last):\n  ...",
                "message": message,
                "arguments": [message],
                "context": {},
            },
        }


class ProxyPage:
    """Not Odoo's answer: a page a proxy in front of it sent instead (with status 200)."""

    html = "<html><body>Gateway: please sign in</body></html>"


class FakeOdoo:
    """Answers `/jsonrpc` from per-method handlers and keeps every request body the hub sent."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.bodies: list[dict] = []
        self.raw: list[bytes] = []  # the bodies as they went over the wire
        self.handlers = {
            ("common", "version"): lambda args: {"server_version": "17.0", "protocol_version": 1},
            ("common", "authenticate"): lambda args: UID if args[2] == KEY else False,
        }
        self.complaints = Complaints("the fake Odoo")
        rsps.add_callback(responses.POST, f"{URL}/jsonrpc", callback=self.complaints.guard(self._answer))

    def on(self, model: str, method: str, handler) -> None:
        """`handler(args, kwargs)` gives the result, a Fault, a ProxyPage, or raises (a lost answer)."""
        self.handlers[(model, method)] = handler

    def _answer(self, request):
        assert request.headers["Content-Type"] == "application/json"
        body = json.loads(request.body)
        self.bodies.append(body)
        self.raw.append(request.body)
        params = body["params"]
        if params["service"] == "object":
            database, uid, key, model, method, args, kwargs = params["args"]
            assert (database, uid, key) == ("acme", UID, KEY)
            result = self.handlers[(model, method)](args, kwargs)
        else:
            result = self.handlers[(params["service"], params["method"])](params["args"])
        if isinstance(result, ProxyPage):
            return 200, {"Content-Type": "text/html"}, result.html
        answer = {"jsonrpc": "2.0", "id": body["id"]}
        answer.update({"error": result.error} if isinstance(result, Fault) else {"result": result})
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def calls(self, model: str | None = None, method: str | None = None) -> list[tuple]:
        """(model, method, args, kwargs) of the execute_kw calls, optionally only one model's/method's."""
        out = []
        for body in self.bodies:
            if body["params"]["method"] == "execute_kw":
                _, _, _, m, name, args, kwargs = body["params"]["args"]
                if model in (None, m) and method in (None, name):
                    out.append((m, name, args, kwargs))
        return out


@pytest.fixture
def odoo():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeOdoo(rsps)
        yield fake
    fake.complaints.check()


def connector(post: bool = False, **options) -> OdooConnector:
    document = default_document("odoo")
    document["options"].update(options)
    return OdooConnector(CONFIG, post=post, mapping=parse(document))


def known_catalogue(odoo: FakeOdoo, *, partner: list | None = None) -> None:
    """Odoo knows EUR (id 1), product PUMP-100 (id 31), the 19 % sales tax (id 5) and maybe the partner."""
    odoo.on("res.currency", "search_read", lambda a, k: [{"id": 1}] if a == [[["name", "=", "EUR"]]] else [])
    odoo.on("product.product", "search_read", lambda a, k: [{"id": 31, "default_code": "PUMP-100"}])
    odoo.on("account.tax", "search_read", lambda a, k: [{"id": 5}])
    odoo.on("res.partner", "search_read", lambda a, k: partner or [])
