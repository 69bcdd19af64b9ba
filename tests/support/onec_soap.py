"""What the tests of the 1C web-service connector share: the SOAP server (`onec`) and a deal won
in roubles."""

from __future__ import annotations

import pytest

from tests.support.onec_soap_server import OnecSoapServer


@pytest.fixture
def onec():
    with OnecSoapServer() as server:
        yield server


def win(sales, lines):
    customer = sales.post("/api/v1/customers", json={"name": "ООО «Ромашка»", "default_currency": "RUB"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Насосы", "customer_id": customer["id"], "lines": lines}).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    return won.json
