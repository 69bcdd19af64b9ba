"""What the tests of the hosted (OAuth) accounting connectors share: tokens, a pacer that records
what it was asked, and connections the sync engine opens with tokens.

The hub's own token storage (sealed on the connection, refreshed under a Redis lock) is built on
another branch; until it is merged, `engine_token_store` makes the engine open OAuth connections
with one in-memory token store, the way the hub will hand its store to the connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Connector
from connectors.oauth import MemoryTokenStore, OAuthConnector, Pacer, Tokens
from connectors.registry import Registry, default_registry


def tokens(access: str = "A1", *, expires_in: int = 3600, refresh: str = "R1", **extra: str) -> Tokens:
    return Tokens(access, refresh, datetime.now(UTC) + timedelta(seconds=expires_in), extra)


class RecordingPacer(Pacer):
    def __init__(self) -> None:
        self.slots = 0
        self.holds: list[float] = []

    @contextmanager
    def slot(self):
        self.slots += 1
        yield

    def hold(self, seconds: float) -> None:
        self.holds.append(seconds)


class _TokenRegistry(Registry):
    """The shipped registry, giving OAuth connectors the test's token store and pacer."""

    def __init__(self, store: MemoryTokenStore, pacer: Pacer) -> None:
        super().__init__()
        for cls in default_registry():
            self.register(cls)
        self.store, self.pacer = store, pacer

    def create(self, type_name: str, config: Mapping[str, Any], **kwargs: Any) -> Connector:
        if issubclass(self.get(type_name), OAuthConnector):
            kwargs = {"tokens": self.store, "pacer": self.pacer, **kwargs}
        return super().create(type_name, config, **kwargs)


def engine_token_store(monkeypatch) -> MemoryTokenStore:
    """The token store every OAuth connection the engine opens uses from now on (see the module doc)."""
    import hub.sync.connectors

    store = MemoryTokenStore()
    seeded = _TokenRegistry(store, RecordingPacer())
    monkeypatch.setattr(hub.sync.connectors, "registry", lambda: seeded)
    return store


def won_deal(sales, admin, *, sku: str = "PUMP-100", customer: str = "Acme GmbH", email: str | None = None) -> dict:
    """A won deal for two of `sku` at 1249.00 EUR and 19 % tax; the deal as the API answers it."""
    if admin.get(f"/api/v1/products?sku={sku}").json["total"] == 0:
        r = admin.post(
            "/api/v1/products",
            json={"sku": sku, "name": "Pump", "list_price": "1249.00", "currency": "EUR", "tax_rate": "0.19"},
        )
        assert r.status_code == 201, r.json
    body = {"name": customer, "default_currency": "EUR", **({"email": email} if email else {})}
    created = sales.post("/api/v1/customers", json=body)
    assert created.status_code == 201, created.json
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Pumps", "customer_id": created.json["id"], "lines": [{"sku": sku, "quantity": 2}]},
    ).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    return won.json
