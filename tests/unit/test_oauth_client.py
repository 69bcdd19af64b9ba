"""OAuth 2 for hosted APIs (connectors/oauth.py): the token endpoint as the providers document it
(RFC 6749 form posts; Zoho's 200-with-error answer), refresh before expiry and on a 401, a refused
refresh token raised as ReauthorizationRequired, and 429 waits handed to the pacer."""

from __future__ import annotations

import base64
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.errors import AuthError, RetryableError
from connectors.oauth import (
    MemoryTokenStore,
    OAuthClient,
    OAuthHttp,
    OAuthProvider,
    ReauthorizationRequired,
    Tokens,
)
from tests.support.hosted_fixtures import RecordingPacer

BASIC = OAuthProvider("https://idp.example/authorize", "https://idp.example/token", ("accounting", "offline_access"))
FORM = OAuthProvider(
    "https://accounts.zoho.eu/oauth/v2/auth",
    "https://accounts.zoho.eu/oauth/v2/token",
    ("ZohoBooks.fullaccess.all",),
    client_auth="body",
    authorize_params={"access_type": "offline", "prompt": "consent"},
)
API = "https://api.example/v1"


def tokens(access: str = "A1", *, expires_in: int = 3600, refresh: str = "R1") -> Tokens:
    return Tokens(access, refresh, datetime.now(UTC) + timedelta(seconds=expires_in), {"realmId": "9130"})


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def client(provider: OAuthProvider = BASIC) -> OAuthClient:
    return OAuthClient(provider, "app-id", "app-secret", redirect_uri="https://hub.example/oauth/callback")


def test_authorization_url_carries_the_app_scopes_callback_and_state():
    url = urlsplit(client(FORM).authorization_url("st4te"))
    assert url.netloc == "accounts.zoho.eu"
    assert url.path == "/oauth/v2/auth"
    assert parse_qs(url.query) == {
        "client_id": ["app-id"],
        "response_type": ["code"],
        "scope": ["ZohoBooks.fullaccess.all"],
        "redirect_uri": ["https://hub.example/oauth/callback"],
        "state": ["st4te"],
        "access_type": ["offline"],
        "prompt": ["consent"],
    }


@responses.activate
def test_code_exchange_authenticates_the_app_with_basic_auth():
    responses.post(
        BASIC.token_url,
        json={"access_token": "A1", "refresh_token": "R1", "expires_in": 3600, "token_type": "bearer"},
    )
    got = client().exchange_code("the-code")
    call = responses.calls[0]
    assert call.request.headers["Authorization"] == "Basic " + base64.b64encode(b"app-id:app-secret").decode()
    assert form(call) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://hub.example/oauth/callback",
    }
    assert (got.access_token, got.refresh_token) == ("A1", "R1")
    assert timedelta(minutes=59) < got.expires_at - datetime.now(UTC) <= timedelta(hours=1)


@responses.activate
def test_form_auth_refresh_keeps_the_refresh_token_the_provider_did_not_resend():
    # Zoho sends no new refresh token with a refreshed access token, and says where its API is.
    responses.post(
        FORM.token_url,
        json={
            "access_token": "A2",
            "api_domain": "https://www.zohoapis.eu",
            "token_type": "Bearer",
            "expires_in": 3600,
        },
    )
    got = client(FORM).refresh(tokens())
    assert form(responses.calls[0]) == {
        "grant_type": "refresh_token",
        "refresh_token": "R1",
        "client_id": "app-id",
        "client_secret": "app-secret",
    }
    assert "Authorization" not in responses.calls[0].request.headers
    assert got.access_token == "A2"
    assert got.refresh_token == "R1"
    assert got.extra == {"realmId": "9130", "api_domain": "https://www.zohoapis.eu"}


@responses.activate
def test_the_refresh_tokens_end_is_kept_as_intuit_states_it_or_as_the_provider_publishes_it():
    # Intuit answers every grant with the refresh token's remaining life in seconds (101 days here).
    responses.post(
        BASIC.token_url,
        json={
            "access_token": "A2",
            "refresh_token": "R2",
            "expires_in": 3600,
            "x_refresh_token_expires_in": 8726400,
            "token_type": "bearer",
        },
    )
    got = client().refresh(tokens())
    assert (
        timedelta(days=101) - timedelta(minutes=1) < got.refresh_expires_at - datetime.now(UTC) <= timedelta(days=101)
    )
    # Xero says nothing: its refresh tokens last 60 days from when they were issued.
    xero = OAuthProvider(BASIC.authorize_url, BASIC.token_url, BASIC.scopes, refresh_token_lifetime=timedelta(days=60))
    responses.replace(responses.POST, BASIC.token_url, json={"access_token": "A3", "refresh_token": "R3"})
    got = client(xero).exchange_code("the-code")
    assert timedelta(days=60) - timedelta(minutes=1) < got.refresh_expires_at - datetime.now(UTC) <= timedelta(days=60)
    # Kept with the sealed tokens; tokens stored before the field existed read as "no end known".
    assert Tokens.from_json(got.as_json()) == got
    assert (
        Tokens.from_json({k: v for k, v in got.as_json().items() if k != "refresh_expires_at"}).refresh_expires_at
        is None
    )


@responses.activate
def test_a_refresh_that_sends_no_refresh_token_keeps_the_old_ones_end():
    ends = datetime(2027, 1, 31, tzinfo=UTC)
    responses.post(FORM.token_url, json={"access_token": "A2", "expires_in": 3600})
    got = client(FORM).refresh(replace(tokens(), refresh_expires_at=ends))
    assert (got.refresh_token, got.refresh_expires_at) == ("R1", ends)
    assert client(FORM).refresh(tokens()).refresh_expires_at is None  # Zoho's never end


@responses.activate
@pytest.mark.parametrize(
    ("status", "body"),
    [(400, {"error": "invalid_grant", "error_description": "Token invalid"}), (200, {"error": "invalid_code"})],
    ids=["rfc6749", "zoho"],
)
def test_a_refused_refresh_token_asks_for_reauthorisation(status, body):
    responses.post(BASIC.token_url, status=status, json=body)
    store = MemoryTokenStore(tokens(expires_in=10))
    http = OAuthHttp(API, client=client(), store=store)
    with pytest.raises(ReauthorizationRequired):
        http.get("/invoices")
    assert store.revoked_reason
    assert "invalid" in store.revoked_reason or "Token invalid" in store.revoked_reason
    assert [c.request.url for c in responses.calls] == [BASIC.token_url]


@responses.activate
def test_a_code_the_provider_refuses_is_an_auth_error_not_a_reauthorisation():
    responses.post(BASIC.token_url, status=400, json={"error": "invalid_grant"})
    with pytest.raises(AuthError) as raised:
        client().exchange_code("used-twice")
    assert not isinstance(raised.value, ReauthorizationRequired)


@responses.activate
def test_a_token_about_to_expire_is_refreshed_before_the_request():
    responses.post(BASIC.token_url, json={"access_token": "A2", "refresh_token": "R2", "expires_in": 3600})
    responses.get(f"{API}/invoices", json={"ok": True})
    store = MemoryTokenStore(tokens(expires_in=60))
    assert OAuthHttp(API, client=client(), store=store).get("/invoices") == {"ok": True}
    assert responses.calls[1].request.headers["Authorization"] == "Bearer A2"
    assert (store.tokens.access_token, store.tokens.refresh_token) == ("A2", "R2")
    # What the connection needs besides the tokens survives the refresh.
    assert store.tokens.extra == {"realmId": "9130"}


@responses.activate
def test_a_401_refreshes_once_and_repeats_the_request():
    responses.get(f"{API}/invoices", status=401, json={"message": "token expired"})
    responses.post(BASIC.token_url, json={"access_token": "A2", "refresh_token": "R2", "expires_in": 3600})
    responses.get(f"{API}/invoices", json={"ok": True})
    store = MemoryTokenStore(tokens())
    http = OAuthHttp(API, client=client(), store=store, auth_scheme="Zoho-oauthtoken")
    assert http.get("/invoices") == {"ok": True}
    sent = [(c.request.method, c.request.headers.get("Authorization")) for c in responses.calls]
    assert sent == [("GET", "Zoho-oauthtoken A1"), ("POST", sent[1][1]), ("GET", "Zoho-oauthtoken A2")]


@responses.activate
def test_a_second_401_after_the_refresh_is_an_auth_error():
    responses.get(f"{API}/invoices", status=401, json={"message": "no"})
    responses.post(BASIC.token_url, json={"access_token": "A2", "refresh_token": "R2", "expires_in": 3600})
    with pytest.raises(AuthError) as raised:
        OAuthHttp(API, client=client(), store=MemoryTokenStore(tokens())).get("/invoices")
    assert raised.value.status == 401
    assert len(responses.calls) == 3


@responses.activate
def test_a_403_is_not_a_reason_to_refresh():
    responses.get(f"{API}/invoices", status=403, json={"message": "scope"})
    with pytest.raises(AuthError):
        OAuthHttp(API, client=client(), store=MemoryTokenStore(tokens())).get("/invoices")
    assert len(responses.calls) == 1


def test_an_unauthorised_connection_asks_for_authorisation_without_calling_anyone():
    with pytest.raises(ReauthorizationRequired, match="not been authorised"):
        OAuthHttp(API, client=client(), store=MemoryTokenStore()).get("/invoices")


def test_workers_that_found_the_same_stale_tokens_refresh_once():
    store = MemoryTokenStore(tokens("A1"))
    stale = store.load()
    renewals = []
    started = threading.Barrier(4)

    def renew(old: Tokens) -> Tokens:
        renewals.append(old)
        return tokens(f"A{len(renewals) + 1}")

    def worker() -> None:
        started.wait()
        store.replace(stale, renew)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(renewals) == 1
    assert store.tokens.access_token == "A2"


@responses.activate
def test_a_429_hands_its_retry_after_to_the_pacer_and_the_engine():
    responses.get(f"{API}/invoices", status=429, headers={"Retry-After": "17"}, json={"message": "slow down"})
    pacer = RecordingPacer()
    with pytest.raises(RetryableError) as raised:
        OAuthHttp(API, client=client(), store=MemoryTokenStore(tokens()), pacer=pacer).get("/invoices")
    assert raised.value.wait == 17
    assert pacer.holds == [17]
    assert pacer.slots == 1


@responses.activate
def test_the_run_history_never_shows_tokens():
    responses.post(BASIC.token_url, json={"access_token": "SECRET-A", "refresh_token": "SECRET-R", "expires_in": 3600})
    recorded = []
    c = client()
    c.record = recorded.append
    c.refresh(tokens())
    assert "SECRET" not in repr(recorded)
    assert "R1" not in repr(recorded)
    assert recorded[0].request == {"grant_type": "refresh_token"}
    assert recorded[0].status == 200
