"""Money that agrees with the target to the cent: the unit price a connector sends makes the
target's own arithmetic give the hub's line net, and a line for which no such price exists is
refused when the deal is won, naming it. Generated cases (Hypothesis) against each declared
arithmetic, and the deal that broke the demo against the real Tryton."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.arithmetic import LineArithmetic, Unfit
from connectors.tryton.payload import LINES as TRYTON
from hub.extensions import db
from hub.models import HubInvoice, line_amounts
from hub.sync.worker import drain
from tests.conftest import make_connection
from tests.support.tallies import tally
from tests.support.tryton_loop import connect, tryton_invoices, tryton_lines

CENT = Decimal("0.01")
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100), places=3)
prices = st.decimals(min_value=Decimal(0), max_value=Decimal(100_000), places=4)
discounts = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2)


def test_the_discounted_valve_line_that_tryton_rounded_a_cent_down():
    # 3 × 96.90 − 5 % = 276.165: the hub says 276.17 (half-up); the discounted price 92.055 made
    # Tryton's half-even say 276.16.
    net = line_amounts(Decimal(3), Decimal("96.90"), Decimal(5), Decimal("0.19"), "EUR").net
    assert net == Decimal("276.17")
    assert TRYTON.amount(Decimal(3), Decimal("92.0550"), CENT) == Decimal("276.16")
    price = TRYTON.net_price(Decimal(3), net, CENT)
    assert price == Decimal("92.0567")
    assert TRYTON.amount(Decimal(3), price, CENT) == net


@settings(max_examples=400, deadline=None)
@given(quantity=quantities, price=prices, discount=discounts)
def test_up_to_a_hundred_units_every_line_has_a_price_tryton_rounds_to_the_hubs_net(quantity, price, discount):
    tally("generated lines against Tryton's arithmetic")["up to 100 units"] += 1
    net = line_amounts(quantity, price, discount, Decimal(0), "EUR").net
    sent = TRYTON.net_price(quantity, net, CENT)
    assert sent == sent.quantize(Decimal("0.0001"))
    assert TRYTON.amount(quantity, sent, CENT) == net


@settings(max_examples=400, deadline=None)
@given(
    quantity=st.decimals(min_value=Decimal(100), max_value=Decimal(100_000), places=3),
    price=prices,
    discount=discounts,
    places=st.sampled_from([2, 4]),
    half_up=st.booleans(),
)
def test_beyond_that_a_price_is_found_exactly_when_one_exists(quantity, price, discount, places, half_up):
    target = LineArithmetic("Target", price_places=places, rounding=ROUND_HALF_UP if half_up else ROUND_HALF_EVEN)
    net = line_amounts(quantity, price, discount, Decimal(0), "EUR").net
    step = Decimal(1).scaleb(-places)
    # Every price on the grid whose amount could be `net` lies within a cent's worth of net / quantity.
    centre = (net / quantity).quantize(step)
    reach = int(CENT / quantity / step) + 2
    exists = any(target.amount(quantity, centre + k * step, CENT) == net for k in range(-reach, reach + 1))
    tally("generated lines against Tryton's arithmetic")["over 100 units, 2 or 4 places"] += 1
    try:
        sent = target.net_price(quantity, net, CENT)
    except Unfit:
        assert not exists
    else:
        assert target.amount(quantity, sent, CENT) == net


def test_rounding_to_a_cash_unit():
    # CHF rounded to 0.05 there: 2 × 1.03 = 2.06 is no multiple of it, so no price fits the hub's 2.06.
    with pytest.raises(Unfit):
        TRYTON.net_price(Decimal(2), Decimal("2.06"), Decimal("0.05"))
    assert TRYTON.amount(Decimal(2), TRYTON.net_price(Decimal(2), Decimal("2.05"), Decimal("0.05")), Decimal("0.05"))


UNFIT = {"description": "Screws", "quantity": "3000", "unit_price": "0.0123", "discount_percent": "3"}


def test_a_line_tryton_cannot_carry_is_refused_when_won_naming_it(app, sales, call):
    make_connection(
        app, "Demo Tryton", "tryton", {"url": "http://127.0.0.1:9", "database": "d", "username": "u", "password": "p"}
    )
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    lines = [{"description": "Pump", "quantity": "1", "unit_price": "10.00"}, UNFIT]
    deal = sales.post("/api/v1/deals", json={"title": "Screws", "customer_id": customer["id"], "lines": lines}).json

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422
    (message,) = r.json["errors"]["lines[1].unit_price"]
    assert message.startswith("The invoice for Demo Tryton cannot carry this line at 35.79: Tryton keeps unit prices")
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["status"] == "open"


def test_without_a_target_that_cannot_carry_it_the_same_line_is_won(app, sales, connection):
    customer = sales.post("/api/v1/customers", json={"name": "Acme", "default_currency": "EUR"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Screws", "customer_id": customer["id"], "lines": [UNFIT]}).json
    assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200


def test_the_discount_deal_becomes_a_posted_tryton_invoice_with_the_hubs_total(app, admin, sales, tryton_db):
    for sku, price in (("PUMP-100", "1249.00"), ("VALVE-50", "96.90")):
        product = {"sku": sku, "name": sku, "list_price": price, "currency": "EUR", "tax_rate": "0.19"}
        assert admin.post("/api/v1/products", json=product).status_code == 201
    connect(app, tryton_db.config, posted=True)
    customer = sales.post("/api/v1/customers", json={"name": "Rabatt GmbH", "billing_city": "Berlin"}).json
    lines = [
        {"sku": "PUMP-100", "quantity": 2, "discount_percent": 5},
        {"sku": "VALVE-50", "quantity": 3, "discount_percent": 5},
    ]
    deal = sales.post("/api/v1/deals", json={"title": "Discount", "customer_id": customer["id"], "lines": lines}).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won").json
    drain(app)

    (invoice,) = tryton_invoices(tryton_db, won["invoices"][0]["number"])
    assert invoice["state"] == "posted"
    assert (invoice["untaxed_amount"], invoice["total_amount"]) == (Decimal(won["subtotal"]), Decimal(won["total"]))
    # 2 × 1249.00 − 5 % = 2373.10; 3 × 96.90 − 5 % = 276.17 (the hub's half-up, not 276.16)
    assert [(code, quantity, price) for code, quantity, price, _ in tryton_lines(tryton_db, invoice)] == [
        ("PUMP-100", 2.0, Decimal("1186.5500")),
        ("VALVE-50", 3.0, Decimal("92.0567")),
    ]
    with app.app_context():
        assert db.session.query(HubInvoice).one().state.value == "posted"
