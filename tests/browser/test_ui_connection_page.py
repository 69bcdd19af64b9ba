"""A connection's own page, in the browser: what the admin must do next for it.

- OAuth types (QuickBooks, Xero, Zoho Books): "Not authorised" → Authorise → the provider's
  authorization page → back through /oauth/callback → "Authorised"; a refused refresh token shows
  "Re-authorisation needed" with its reason and a Re-authorise button that goes round again. The
  browser never reaches the providers: the test takes the hub's answer to Authorise (its redirect
  to the provider) and answers as the provider does (a redirect to the callback with a code and
  the state), and the hub's server-side calls (token endpoint, Xero's tenants) are answered by
  `responses` in this process, where the test app runs.
- 1C's site exchange: the exact address and user to enter in 1C, and the exchange runs as 1C
  (here `requests`, over real HTTP) makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import responses
from playwright.sync_api import expect

from connectors.quickbooks import PROVIDER as QUICKBOOKS
from connectors.xero import AUTHORIZE_URL as XERO_AUTHORIZE
from connectors.xero import CONNECTIONS_URL as XERO_CONNECTIONS
from connectors.xero import TOKEN_URL as XERO_TOKEN
from hub.exchange.sessions import COOKIE
from hub.sync.oauth_tokens import ConnectionTokenStore, unseal_tokens
from hub.sync.queue import connection as redis_connection
from tests.conftest import PASSWORD, make_connection
from tests.support.sessions import CSRF_INPUT
from tests.support.sessions import log_in as log_in_client
from tests.support.ui_fixtures import log_in, screenshot

GRANTED = {
    "token_type": "bearer",
    "access_token": "eyJ-access-new",
    "refresh_token": "R-refresh-new",
    "expires_in": 3600,
}
TENANT = "70784a63-d24b-46a9-a4db-0e70a274b056"


@dataclass(frozen=True)
class Provider:
    """How one provider's authorization goes, as its public documentation describes it."""

    config: dict[str, Any]
    authorize_url: str
    token_url: str
    client_auth: str  # basic | body
    granted: dict[str, Any] = field(default_factory=lambda: GRANTED)
    callback_extra: dict[str, str] = field(default_factory=dict)
    expected_extra: dict[str, str] = field(default_factory=dict)


PROVIDERS = {
    # Intuit adds the company (realmId) to the redirect.
    "quickbooks": Provider(
        {"client_id": "ABcd1234", "client_secret": "app-secret-xyz"},
        QUICKBOOKS.authorize_url,
        QUICKBOOKS.token_url,
        "basic",
        callback_extra={"realmId": "9130357766215456"},
        expected_extra={"realmId": "9130357766215456"},
    ),
    # Xero names the organisations the grant covers at /connections.
    "xero": Provider(
        {"client_id": "XEROCLIENT1", "client_secret": "xero-secret"},
        XERO_AUTHORIZE,
        XERO_TOKEN,
        "basic",
        expected_extra={"tenant_id": TENANT, "tenant_name": "Maple Florists"},
    ),
    # Zoho answers the token request with the API server of the account's data centre.
    "zoho_books": Provider(
        {
            "client_id": "1000.ZOHOCLIENT",
            "client_secret": "zoho-secret",
            "organization_id": "10234695",
            "data_centre": "eu",
        },
        "https://accounts.zoho.eu/oauth/v2/auth",
        "https://accounts.zoho.eu/oauth/v2/token",
        "body",
        granted={**GRANTED, "api_domain": "https://www.zohoapis.eu"},
        expected_extra={"api_domain": "https://www.zohoapis.eu"},
    ),
}


@pytest.fixture
def clean_embedded_redis(app):
    yield
    # The embedded queue's store outlives the test: a pacing pause or a lock left for this
    # connection id must not reach the next test's connection with the same id.
    embedded = redis_connection(app)
    for pattern in ("hub:pace:*", "hub:oauth:*"):
        for key in embedded.scan_iter(pattern):
            embedded.delete(key)


class ProviderLogin:
    """The provider's authorization page as the test plays it: the admin logs in and allows access,
    and the provider sends the browser back to the redirect URI with a code and the state.

    It answers at the hub's Authorise, not at the provider's host: the hub sends the browser there
    by a redirect, and Playwright routes only the first request of a redirect chain (page.route and
    context.route alike), so a route on the provider's host never sees that navigation. The form
    goes to the hub for real; the hub's redirect, which must be to the provider's authorization URL,
    is kept in `sent_to`, and the browser gets the provider's redirect to the callback instead."""

    def __init__(self, page, provider: Provider, authorise_url: str) -> None:
        self.provider = provider
        self.sent_to: list[str] = []
        self.seen: list[dict[str, list[str]]] = []
        page.route(authorise_url, self.answer)

    def answer(self, route) -> None:
        hub = route.fetch(max_redirects=0)
        location = hub.headers.get("location", "")
        self.sent_to.append(location)
        url = urlsplit(location)
        if hub.status != 302 or f"{url.scheme}://{url.netloc}{url.path}" != self.provider.authorize_url:
            # Not off to the provider (a refusal flashed on the page): the browser sees what the hub said.
            route.fulfill(response=hub)
            return
        query = parse_qs(url.query)
        self.seen.append(query)
        back = {"code": f"code-{len(self.seen)}", "state": query["state"][0], **self.provider.callback_extra}
        route.fulfill(status=302, headers={"Location": query["redirect_uri"][0] + "?" + urlencode(back)})


def token_server(rsps: responses.RequestsMock, provider: Provider) -> None:
    rsps.post(provider.token_url, json=provider.granted)
    if provider.token_url == XERO_TOKEN:
        tenant = {"tenantId": TENANT, "tenantType": "ORGANISATION", "tenantName": "Maple Florists"}
        rsps.get(XERO_CONNECTIONS, json=[tenant])


def assert_code_exchanged(call, provider: Provider, code: str, redirect_uri: str) -> None:
    """What the hub sent the token endpoint: the code, the same redirect URI, the client's credentials."""
    assert call.request.url == provider.token_url
    form = parse_qs(call.request.body)
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == [code]
    assert form["redirect_uri"] == [redirect_uri]
    if provider.client_auth == "basic":
        assert call.request.headers["Authorization"].startswith("Basic ")
        assert "client_secret" not in form
    else:
        assert form["client_id"] == [provider.config["client_id"]]
        assert form["client_secret"] == [provider.config["client_secret"]]


def stored_tokens(app, connection_id: int):
    from hub.extensions import db
    from hub.models import Connection

    with app.app_context():
        return unseal_tokens(db.session.get(Connection, connection_id).oauth_sealed)


@pytest.mark.parametrize("type_name", list(PROVIDERS))
def test_an_admin_authorises_then_re_authorises_an_oauth_connection(
    app, users, page, live_server, clean_embedded_redis, type_name
):
    provider = PROVIDERS[type_name]
    connection_id = make_connection(app, "Accounts", type_name, provider.config)
    redirect_uri = f"{live_server}/oauth/callback"
    login = ProviderLogin(page, provider, f"{live_server}/admin/connections/{connection_id}/authorize")

    log_in(page, users["admin"]["email"])
    page.goto("/admin/connections")
    expect(page.locator(f"#oauth-{connection_id}")).to_contain_text("not authorised yet")
    page.get_by_role("link", name="Accounts", exact=True).click()
    oauth = page.locator("#oauth")
    expect(oauth).to_contain_text("Not authorised")
    expect(oauth).to_contain_text(redirect_uri)
    screenshot(page, f"connection-oauth-{type_name}-not-authorised")

    with responses.RequestsMock() as rsps:
        token_server(rsps, provider)
        oauth.get_by_role("button", name="Authorise").click()
        expect(page.get_by_role("status")).to_have_text("Accounts is authorised.")
        assert_code_exchanged(rsps.calls[0], provider, "code-1", redirect_uri)
    assert urlsplit(page.url).path == f"/admin/connections/{connection_id}"
    (asked,) = login.seen
    assert asked["client_id"] == [provider.config["client_id"]]
    assert asked["redirect_uri"] == [redirect_uri]
    assert asked["response_type"] == ["code"]
    expect(oauth).to_contain_text("Authorised since")
    expect(oauth.get_by_role("button", name="Re-authorise")).to_be_visible()
    tokens = stored_tokens(app, connection_id)
    assert (tokens.access_token, dict(tokens.extra)) == ("eyJ-access-new", provider.expected_extra)
    assert "eyJ-access-new" not in page.content()
    screenshot(page, f"connection-oauth-{type_name}-authorised")

    # The provider refuses the refresh token (as a worker's refresh finds): the page says why.
    with app.app_context():
        ConnectionTokenStore(connection_id, redis_connection(app)).revoked("invalid_grant: the app was disconnected")
    page.reload()
    expect(oauth).to_contain_text("Re-authorisation needed")
    expect(page.locator("#oauth-reason")).to_contain_text("invalid_grant: the app was disconnected")
    expect(page.get_by_role("alert")).to_contain_text("Re-authorisation needed")
    screenshot(page, f"connection-oauth-{type_name}-reauthorise")

    with responses.RequestsMock() as rsps:
        token_server(rsps, provider)
        oauth.get_by_role("button", name="Re-authorise").click()
        expect(page.get_by_role("status")).to_have_text("Accounts is authorised.")
        assert_code_exchanged(rsps.calls[0], provider, "code-2", redirect_uri)
    expect(oauth).to_contain_text("Authorised since")
    expect(page.get_by_role("alert")).to_have_count(0)
    (_, again) = login.seen
    assert (again["client_id"], again["redirect_uri"]) == ([provider.config["client_id"]], [redirect_uri])


def test_the_1c_exchange_page_tells_the_address_and_user_and_lists_the_exchanges(app, users, page, live_server):
    connection_id = make_connection(
        app, "1C Бухгалтерия", "onec_exchange", {"username": "обмен", "password": "exchange-pass", "zip": False}
    )
    log_in(page, users["admin"]["email"])
    page.goto("/admin/connections")
    page.get_by_role("link", name="1C Бухгалтерия", exact=True).click()
    address = f"{live_server}/exchange/1c/{connection_id}"
    expect(page.locator("#exchange-url")).to_have_text(address)
    expect(page.locator("#exchange-user")).to_have_text("обмен")
    expect(page.locator("#exchange-setup")).to_contain_text("the one set on this connection")
    expect(page.locator("#recent-runs")).to_contain_text("No exchange yet")

    # 1C at the address the page gives: a wrong password first, then a session.
    url = page.locator("#exchange-url").inner_text()
    refused = requests.get(
        url, params={"type": "sale", "mode": "checkauth"}, auth=("обмен".encode(), b"wrong"), timeout=10
    )
    assert refused.status_code == 401
    session = requests.Session()
    answer = session.get(url, params={"type": "sale", "mode": "checkauth"}, auth=("обмен".encode(), b"exchange-pass"))
    assert answer.text.splitlines()[:2] == ["success", COOKIE]
    session.cookies.set(COOKIE, answer.text.splitlines()[2])
    assert session.get(url, params={"type": "sale", "mode": "init"}).text == "zip=no\nfile_limit=8000000"
    session.close()

    page.reload()
    rows = page.locator("#recent-runs tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("1c_sale_init")
    expect(rows.nth(0)).to_contain_text("success")
    expect(rows.nth(1)).to_contain_text("1c_sale_checkauth")
    expect(rows.nth(2)).to_contain_text("failed")
    expect(rows.nth(2)).to_contain_text("wrong user name or password")
    assert "exchange-pass" not in page.content()
    screenshot(page, "connection-1c-exchange")


def test_the_exchange_address_is_https_on_the_host_the_hub_is_reached_by(app, users):
    connection_id = make_connection(app, "1C", "onec_exchange", {"username": "site", "password": "exchange-pass"})
    # Behind a TLS proxy the hub sees plain HTTP; 1C must still use HTTPS (it sends the password).
    base = "http://hub.example.com"
    client = app.test_client()
    token = CSRF_INPUT.search(client.get("/login", base_url=base).get_data(as_text=True)).group(1)
    form = {"email": users["admin"]["email"], "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", base_url=base, data=form).status_code == 302
    html = client.get(f"/admin/connections/{connection_id}", base_url=base).get_data(as_text=True)
    assert f'<code id="exchange-url">https://hub.example.com/exchange/1c/{connection_id}</code>' in html
    assert '<code id="exchange-user">site</code>' in html

    sales = app.test_client()
    assert log_in_client(sales, users["sales"]["email"]).status_code == 302
    assert sales.get(f"/admin/connections/{connection_id}").status_code == 403
