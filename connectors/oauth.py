"""OAuth 2 for the hosted accounting APIs (Zoho Books, QuickBooks Online, Xero).

The connector side of the authorization-code flow, without a database: an `OAuthClient` talks to
the provider's token endpoint, a `TokenStore` keeps the tokens (the hub's stores them sealed on the
connection and lets one worker at a time refresh them), a `Pacer` spaces requests by the provider's
published limits (the hub's is shared by all workers through Redis), and `OAuthHttp` puts the three
together: a fresh access token on every request, refreshed before it expires and once more on a
401, and a refresh token the provider refused raised as `ReauthorizationRequired`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

import requests

from connectors import outbound
from connectors.base import ConfigField, Connector, Exchange
from connectors.errors import AuthError, RetryableError
from connectors.http import JsonHttp
from connectors.texts import N_
from mappings.spec import MappingSpec

# Refreshed this long before the provider says the access token expires, so that a request never
# leaves with a token that expires on the way.
REFRESH_MARGIN = timedelta(minutes=5)


class ReauthorizationRequired(AuthError):
    """The provider refused the refresh token (revoked, expired, app disconnected): nothing works
    until an admin authorises the connection again. `refusal`: the provider's own words when it
    refused the token (the rest of the message is the connector's, said again by the hub)."""

    def __init__(
        self, message: str, *, refusal: str | None = None, status: int | None = None, detail: object = None
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.refusal = refusal


@dataclass(frozen=True)
class OAuthProvider:
    """Where a provider's authorization-code flow happens and how its token endpoint wants the
    client credentials: HTTP Basic (QuickBooks, Xero) or form fields (Zoho)."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    client_auth: str = "basic"  # basic | body
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    # How long a refresh token lasts when the token answer does not say (QuickBooks does, in
    # `x_refresh_token_expires_in`): Xero's expire 60 days after they were issued if unused. None:
    # until revoked (Zoho).
    refresh_token_lifetime: timedelta | None = None


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: datetime
    # What the provider told us besides the tokens and every later call needs: QuickBooks'
    # realmId, Xero's tenant id, Zoho's api_domain.
    extra: Mapping[str, str] = field(default_factory=dict)
    # When the refresh token stops working unless it is used (rotated) before: after that only an
    # admin's new authorisation helps. None: the provider sets no end.
    refresh_expires_at: datetime | None = None

    def expiring(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expires_at - REFRESH_MARGIN

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat(),
            "extra": dict(self.extra),
            "refresh_expires_at": self.refresh_expires_at.isoformat() if self.refresh_expires_at else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tokens:
        refresh_expires_at = data.get("refresh_expires_at")
        return cls(
            data["access_token"],
            data["refresh_token"],
            datetime.fromisoformat(data["expires_at"]),
            dict(data.get("extra") or {}),
            datetime.fromisoformat(refresh_expires_at) if refresh_expires_at else None,
        )


class TokenStore(ABC):
    """Where a connection's tokens live between requests and workers."""

    @abstractmethod
    def load(self) -> Tokens | None:
        """The current tokens; None before the connection was ever authorised."""

    @abstractmethod
    def replace(self, stale: Tokens, renew: Callable[[Tokens], Tokens]) -> Tokens:
        """Store `renew(stale)` and return it, one caller at a time per connection. A caller that
        waited while another refreshed finds newer tokens than its `stale` ones and gets those,
        without calling `renew`: providers that rotate refresh tokens (Xero, QuickBooks) refuse
        the old one once it has been used. When `renew` raises ReauthorizationRequired, the store
        marks itself `revoked` before the next caller may try, then lets the error through."""

    @abstractmethod
    def revoked(self, reason: str) -> None:
        """The refresh token was refused: mark the connection for re-authorisation."""


class MemoryTokenStore(TokenStore):
    """Tokens in memory, for one process (tests, scripts)."""

    def __init__(self, tokens: Tokens | None = None) -> None:
        self.tokens = tokens
        self.revoked_reason: str | None = None
        self._lock = threading.Lock()

    def load(self) -> Tokens | None:
        return self.tokens

    def replace(self, stale: Tokens, renew: Callable[[Tokens], Tokens]) -> Tokens:
        with self._lock:
            if self.tokens is not None and self.tokens.access_token != stale.access_token:
                return self.tokens
            try:
                self.tokens = renew(stale)
            except ReauthorizationRequired as exc:
                self.revoked(exc.message)
                raise
            return self.tokens

    def revoked(self, reason: str) -> None:
        self.revoked_reason = reason


@dataclass(frozen=True)
class Limits:
    """A provider's published limits per connection (company, organisation, tenant). A request
    counts once against `per_second`, and against `per_minute` and `per_day` with its weight
    (QuickBooks meters each item of a batch call as one request); a batch call also counts once
    against `batches_per_minute`."""

    per_minute: int
    concurrent: int
    per_day: int | None = None
    batches_per_minute: int | None = None
    per_second: int | None = None


class Pacer(ABC):
    """Spaces a connection's requests to stay inside its provider's limits."""

    @abstractmethod
    @contextmanager
    def slot(self, weight: int = 1, *, batch: bool = False) -> Iterator[None]:
        """Held for the duration of one request: waits for `weight` places in the minute's and
        the day's budget (and, for a `batch` call, one in the batch calls' minute), and for one
        among the concurrent requests."""

    @abstractmethod
    def hold(self, seconds: float) -> None:
        """The provider answered 429: nobody sends for this long."""


class NoPacing(Pacer):
    @contextmanager
    def slot(self, weight: int = 1, *, batch: bool = False) -> Iterator[None]:
        yield

    def hold(self, seconds: float) -> None:
        pass


class OAuthClient:
    """The provider's authorization and token endpoints for one app registration."""

    def __init__(
        self,
        provider: OAuthProvider,
        client_id: str,
        client_secret: str,
        *,
        redirect_uri: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 15.0,
        record: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.provider = provider
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.session = session or outbound.session()
        self.timeout = timeout
        self.record = record or (lambda exchange: None)

    def authorization_url(self, state: str) -> str:
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "scope": " ".join(self.provider.scopes),
            "redirect_uri": self.redirect_uri or "",
            "state": state,
            **self.provider.authorize_params,
        }
        return f"{self.provider.authorize_url}?{urlencode(params)}"

    def exchange_code(self, code: str) -> Tokens:
        return self._grant({"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri or ""})

    def refresh(self, tokens: Tokens) -> Tokens:
        """New tokens for old; a provider that keeps the refresh token (Zoho) sends none back, so
        the old one stays. ReauthorizationRequired when the provider refuses it."""
        fresh = self._grant({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        if fresh.refresh_token:
            return replace(fresh, extra={**tokens.extra, **fresh.extra})
        return replace(
            fresh,
            refresh_token=tokens.refresh_token,
            refresh_expires_at=tokens.refresh_expires_at,
            extra={**tokens.extra, **fresh.extra},
        )

    def _grant(self, form: dict[str, str]) -> Tokens:
        auth = None
        if self.provider.client_auth == "basic":
            auth = (self.client_id, self.client_secret)
        else:
            form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        started = time.monotonic()
        url = self.provider.token_url
        try:
            response = self.session.post(
                url, data=form, auth=auth, headers={"Accept": "application/json"}, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            # A lost refresh answer may have rotated the token; the next attempt tells.
            raise RetryableError(f"POST {url}: {type(exc).__name__}") from exc
        elapsed = int((time.monotonic() - started) * 1000)
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:500]}
        # The run history must not show tokens: only their names and what went wrong.
        self.record(
            Exchange(
                "POST", url, {"grant_type": form["grant_type"]}, response.status_code, _redacted(body), None, elapsed
            )
        )
        # Zoho answers a refused refresh token with 200 and {"error": "invalid_code"}.
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code >= 500:
            raise RetryableError(f"POST {url} → {response.status_code}")
        if _throttled(response.status_code, body):
            # Zoho issues at most 10 access tokens per refresh token in 10 minutes and then answers
            # "Access Denied": the refresh token is fine, the next try after a while gets one.
            raise RetryableError(f"POST {url}: the provider throttles new access tokens", wait=THROTTLED_REFRESH_WAIT)
        if error or response.status_code >= 400 or not isinstance(body, dict) or "access_token" not in body:
            reason = (body.get("error_description") or error) if isinstance(body, dict) else None
            message = (
                f"the provider refused the {form['grant_type'].replace('_', ' ')}: {reason or response.status_code}"
            )
            if form["grant_type"] == "refresh_token":
                raise ReauthorizationRequired(message, refusal=str(reason or response.status_code))
            raise AuthError(message)
        now = datetime.now(UTC)
        expires_in = int(body.get("expires_in") or 3600)
        extra = {k: str(body[k]) for k in ("api_domain", "realmId") if body.get(k)}
        refresh_expires_at = None
        if body.get("x_refresh_token_expires_in"):
            refresh_expires_at = now + timedelta(seconds=int(body["x_refresh_token_expires_in"]))
        elif body.get("refresh_token") and self.provider.refresh_token_lifetime:
            refresh_expires_at = now + self.provider.refresh_token_lifetime
        return Tokens(
            body["access_token"],
            body.get("refresh_token") or "",
            now + timedelta(seconds=expires_in),
            extra,
            refresh_expires_at,
        )


# How long a throttled token request waits: a tenth of Zoho's 10-minute window of 10 tokens.
THROTTLED_REFRESH_WAIT = 60.0


def _throttled(status: int, body: Any) -> bool:
    """A token answer that says "too many requests" (HTTP 429, or Zoho's "Access Denied" with
    "too many requests" in its description, sent with 200 or 400), not a refusal of the token."""
    if status == 429:
        return True
    if not isinstance(body, dict):
        return False
    said = f"{body.get('error', '')} {body.get('error_description', '')}".lower()
    return "access denied" in said and "too many requests" in said


def _redacted(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    return {k: ("…" if "token" in k else v) for k, v in body.items()}


class OAuthHttp(JsonHttp):
    """JsonHttp with the connection's access token on every request, refreshed before it
    expires and once on a 401, paced by the connection's `Pacer`."""

    def __init__(
        self,
        base_url: str,
        *,
        client: OAuthClient,
        store: TokenStore,
        pacer: Pacer | None = None,
        auth_scheme: str = "Bearer",
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self.client = client
        self.store = store
        self.pacer = pacer or NoPacing()
        self.auth_scheme = auth_scheme

    def tokens(self) -> Tokens:
        tokens = self.store.load()
        if tokens is None:
            raise ReauthorizationRequired("the connection has not been authorised yet")
        return self._refreshed(tokens) if tokens.expiring() else tokens

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        weight: int = 1,
        batch: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One request, paced as `weight` requests (a `batch` call of that many items)."""
        tokens = self.tokens()
        pacing = {"weight": weight, "batch": batch}
        try:
            return self._paced(method, path, tokens, headers, pacing, kwargs)
        except AuthError as exc:
            if exc.status != 401:
                raise
            # The provider may have revoked the access token early: one refresh, one more try.
            return self._paced(method, path, self._refreshed(tokens), headers, pacing, kwargs)

    def _paced(
        self,
        method: str,
        path: str,
        tokens: Tokens,
        headers: Mapping[str, str] | None,
        pacing: dict[str, Any],
        kwargs: dict,
    ) -> Any:
        authorization = {"Authorization": f"{self.auth_scheme} {tokens.access_token}"}
        with self.pacer.slot(**pacing):
            try:
                return super().request(method, path, headers={**(headers or {}), **authorization}, **kwargs)
            except RetryableError as exc:
                if exc.wait:
                    self.pacer.hold(exc.wait)
                raise

    def _refreshed(self, tokens: Tokens) -> Tokens:
        return self.store.replace(tokens, self.client.refresh)


class OAuthConnector(Connector):
    """Base of the connectors whose target is reached with OAuth 2 tokens. The hub gives each one
    its connection's `TokenStore` and `Pacer`; the app registration (client id and secret) is
    part of the connection's config."""

    limits: ClassVar[Limits]
    # How long to wait after a 429 that says nothing (no Retry-After): the window of the
    # provider's per-minute limit. Zoho answers its 429s so; for the others it is a safe default.
    unannounced_429_wait: ClassVar[float] = 60.0
    auth_scheme: ClassVar[str] = "Bearer"
    oauth_fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("client_id", label=N_("Client ID"), required=True),
        ConfigField("client_secret", label=N_("Client secret"), required=True, secret=True),
    )

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        post: bool = False,
        mapping: MappingSpec | None = None,
        tokens: TokenStore | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__(config, post=post, mapping=mapping)
        self.token_store = tokens or MemoryTokenStore()
        self.pacer = pacer or NoPacing()

    @classmethod
    def limits_for(cls, config: Mapping[str, Any]) -> Limits:
        """The limits of a connection with this config: the provider's, unless they depend on the
        customer's plan (Zoho's daily calls)."""
        return cls.limits

    @classmethod
    @abstractmethod
    def oauth_provider(cls, config: Mapping[str, Any]) -> OAuthProvider:
        """The provider's endpoints for this config (Zoho's region, a sandbox, ...)."""

    @classmethod
    def oauth_client(
        cls, config: Mapping[str, Any], *, redirect_uri: str | None = None, session: requests.Session | None = None
    ) -> OAuthClient:
        return OAuthClient(
            cls.oauth_provider(config),
            config["client_id"],
            config["client_secret"],
            redirect_uri=redirect_uri,
            session=session,
        )

    def authorised(self, tokens: Tokens, callback: Mapping[str, str]) -> Tokens:
        """The tokens just obtained, completed with what later calls need from the callback's
        query (QuickBooks' realmId) or from the provider (Xero's tenant id)."""
        return tokens

    def http(self, base_url: str, **kwargs: Any) -> OAuthHttp:
        client = self.oauth_client(self.config)
        client.record = self.exchanges.append
        return OAuthHttp(
            base_url,
            client=client,
            store=self.token_store,
            pacer=self.pacer,
            auth_scheme=self.auth_scheme,
            record=self.exchanges.append,
            unannounced_wait=self.unannounced_429_wait,
            **kwargs,
        )
