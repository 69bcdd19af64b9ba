"""What the tests of the hosted (OAuth) accounting connectors share: tokens, a pacer that records
what it was asked, connections authorised as the OAuth callback leaves them, and a won deal."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from connectors.oauth import Pacer, Tokens


def tokens(access: str = "A1", *, expires_in: int = 3600, refresh: str = "R1", **extra: str) -> Tokens:
    return Tokens(access, refresh, datetime.now(UTC) + timedelta(seconds=expires_in), extra)


class RecordingPacer(Pacer):
    def __init__(self) -> None:
        self.slots = 0
        self.weights: list[tuple[int, bool]] = []  # (weight, batch) of each slot
        self.holds: list[float] = []

    @contextmanager
    def slot(self, weight: int = 1, *, batch: bool = False):
        self.slots += 1
        self.weights.append((weight, batch))
        yield

    def hold(self, seconds: float) -> None:
        self.holds.append(seconds)


def authorise_connection(app, connection_id: int, given: Tokens) -> None:
    """The connection as the OAuth callback leaves it: `given` sealed on it, state authorised."""
    from hub.extensions import db
    from hub.models import Connection
    from hub.oauth_flow import authorise

    with app.app_context():
        authorise(db.session.get(Connection, connection_id), given)
        db.session.commit()


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
