"""Every state-changing route refuses a logged-in browser's request that lacks its CSRF token.

The routes are read from the app's URL map, so a route is covered the day it is added. A browser
session reaches both the pages and the API (hub/web.py `_check_csrf`; scripts in the pages call the
API with the session cookie and the X-CSRFToken header), so both are walked with the session
cookie alone. A request with an API token needs no CSRF token (a browser never attaches one on its
own): that path is not a browser session and is not walked here.

A route that takes no CSRF token on purpose is listed in EXEMPT with its reason; any other route
that lets such a request through fails the test, and so does a listed route that no longer exists.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from werkzeug.routing import IntegerConverter, Rule

from tests.support.sessions import log_in

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# endpoint → why it takes no CSRF token
EXEMPT = {
    "onec_exchange.exchange": (
        "1C's site exchange (CommerceML over HTTP): 1C authenticates with the connection's own "
        "credentials and gets an exchange cookie, never a login session (hub/exchange)"
    ),
}

# Values for the rules' variables; what they name need not exist: the request must be refused
# before any view looks anything up.
STRING_VALUES = {"table": "products", "action": "retry", "key": "SKU-1"}


def _url(rule: Rule) -> str:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        values[name] = 1 if isinstance(converter, IntegerConverter) else STRING_VALUES.get(name, "x")
    _, path = rule.build(values, append_unknown=False)
    return path


def _unsafe_routes(app) -> Iterator[tuple[str, str, str]]:
    """(method, url, endpoint) of every rule that changes state."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(set(UNSAFE) & (rule.methods or set())):
            yield method, _url(rule), rule.endpoint


@pytest.fixture
def reached(app, monkeypatch) -> list[str]:
    """The endpoints whose view ran: every view is replaced by one that notes it was called."""
    calls: list[str] = []

    def noting(endpoint: str):
        def view(*args, **kwargs):
            calls.append(endpoint)
            return "processed", 200

        return view

    for endpoint in list(app.view_functions):
        monkeypatch.setitem(app.view_functions, endpoint, noting(endpoint))
    return calls


@pytest.fixture
def browser(app, users):
    """A browser logged in as the admin, who may do everything: a refusal is CSRF's, not the role's."""
    client = app.test_client()
    assert log_in(client, "admin@example.com").status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    return client


def test_the_exempt_routes_exist(app):
    assert set(EXEMPT) <= {rule.endpoint for rule in app.url_map.iter_rules()}, "EXEMPT names a route that is gone"


def test_the_walk_covers_the_pages_and_the_api(app):
    urls = [url for _, url, endpoint in _unsafe_routes(app) if endpoint not in EXEMPT]
    assert any(url.startswith("/api/v1/") for url in urls)
    assert any(url.startswith("/deals/") for url in urls)
    assert any(url.startswith("/admin/") for url in urls)
    assert "/logout" in urls


@pytest.mark.parametrize("token", [None, "forged"], ids=["without a token", "with a forged token"])
def test_every_state_changing_route_refuses_a_session_request_without_its_csrf_token(
    app, users, browser, reached, token
):
    refused, processed = [], []
    for method, url, endpoint in _unsafe_routes(app):
        if endpoint in EXEMPT:
            continue
        headers = {"X-CSRFToken": token} if token and url.startswith("/api/") else {}
        form = {"csrf_token": token} if token else {"name": "Forged Ltd"}
        if url.startswith("/api/"):
            r = browser.open(url, method=method, json={"name": "Forged Ltd"}, headers=headers)
        else:
            r = browser.open(url, method=method, data=form)
        if r.status_code in (400, 403) and endpoint not in reached:
            refused.append(url)
        else:
            processed.append(f"{method} {url} ({endpoint}): {r.status_code}")
    assert processed == [], "served to a browser session without its CSRF token"
    assert reached == []
    assert len(refused) > 50
    assert browser.get("/api/v1/me").status_code == 200  # refused for the token, still logged in


def test_the_refusal_says_what_is_missing(app, users, browser):
    r = browser.post("/api/v1/customers", json={"name": "Forged Ltd"})
    assert (r.status_code, r.json["code"]) == (400, "csrf_failed")
    assert "X-CSRFToken" in r.json["message"]
    page = browser.post("/deals/new", data={"title": "Forged"})
    assert page.status_code == 400
    assert 'role="alert">Your session expired; please log in again.</p>' in page.get_data(as_text=True)


def test_the_exempt_routes_take_a_session_request_without_a_token(app, users, browser, reached):
    """The exemptions are real: EXEMPT's routes reach their view without a CSRF token."""
    exempt = [(method, url, endpoint) for method, url, endpoint in _unsafe_routes(app) if endpoint in EXEMPT]
    assert exempt
    for method, url, _ in exempt:
        assert browser.open(url, method=method, data={"name": "x"}).status_code == 200, url
    assert reached == [endpoint for _, _, endpoint in exempt]


def test_with_its_token_a_session_request_is_served(app, users, browser, request):
    """The walk's refusals are the token's doing: the same request with it reaches its view."""
    token = browser.get("/csrf-token").json["csrf_token"]
    reached = request.getfixturevalue("reached")  # after the token's own view has answered
    assert browser.post("/deals/1/won", data={"csrf_token": token}).status_code == 200
    assert browser.post("/api/v1/customers", json={}, headers={"X-CSRFToken": token}).status_code == 200
    assert reached == ["ui_deals.won", "customers.Customers"]
