"""Hub invoices (hub/invoicing.py): every field of the snapshot a won deal's invoice keeps, the
systems it goes to, and what a lost deal does with the pushes already written: a push no worker
has tried is discarded, any other gets a cancel.

Written against the mutants that survived `make mutate MODULE=hub/invoicing.py` (docs/testing.md):
each test names the function whose mutants it kills."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from hub import invoicing
from hub.extensions import db
from hub.models import Deal, HubInvoice, InvoiceState, OutboxEvent, OutboxState
from hub.sync.outbox import Written
from tests.conftest import make_connection
from tests.support.races import at_once

# A fixed clock for hub/invoicing.py (issue and due dates, discard and cancel times).
NOW = datetime(2031, 1, 30, 9, 15, tzinfo=UTC)
NOWHERE = {"base_url": "http://127.0.0.1:9", "api_key": "k", "timeout": 1}  # nothing is pushed here


@pytest.fixture
def frozen(monkeypatch) -> datetime:
    monkeypatch.setattr(invoicing, "utcnow", lambda: NOW)
    return NOW


@pytest.fixture
def customer(sales) -> dict:
    """A customer with every field an invoice names filled in, each with a value of its own."""
    r = sales.post(
        "/api/v1/customers",
        json={
            "name": "Acme GmbH",
            "tax_id": "DE123456789",
            "email": "billing@acme.example",
            "phone": "+49 30 1234567",
            "billing_street": "Hauptstraße 1",
            "billing_city": "Potsdam",
            "billing_postal_code": "14467",
            "billing_region": "Brandenburg",
            "billing_country": "DE",
            "default_currency": "EUR",
        },
    )
    assert r.status_code == 201, r.json
    return r.json


def new_deal(sales, customer: dict, lines: list[dict], **fields) -> dict:
    body = {"title": "Pumps for Acme", "customer_id": customer["id"], "lines": lines, **fields}
    r = sales.post("/api/v1/deals", json=body)
    assert r.status_code == 201, r.json
    return r.json


def won(sales, deal: dict) -> dict:
    r = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert r.status_code == 200, r.json
    return r.json


# ---- build_document: the snapshot -------------------------------------------------------------


def test_the_snapshot_keeps_every_field_of_the_customer_the_lines_and_the_dates(
    app, sales, admin, customer, frozen, monkeypatch
):
    """build_document: each field of the customer and their address, the lines with and without a
    product, the totals, the tax breakdown, the dates (HUB_PAYMENT_DAYS) and the notes."""
    monkeypatch.setitem(app.config, "HUB_PAYMENT_DAYS", 30)
    product = {"sku": "PUMP-9", "name": "Pump", "unit": "pcs", "list_price": "1249.00", "currency": "EUR"}
    assert admin.post("/api/v1/products", json={**product, "tax_rate": "0.19"}).status_code == 201
    deal = new_deal(
        sales,
        customer,
        [
            {"sku": "PUMP-9", "quantity": 2, "discount_percent": "10"},
            {"description": "Installation", "quantity": "1.5", "unit_price": "80.00", "tax_rate": "0.07"},
        ],
    )

    (answer,) = won(sales, deal)["invoices"]

    # The won answer lists the new invoice as written, before any target has it.
    assert (answer["state"], answer["total"], answer["links"], answer["problems"]) == ("pending", "2803.76", [], [])
    with app.app_context():
        invoice = db.session.scalar(select(HubInvoice).where(HubInvoice.deal_id == deal["id"]))
        snapshot = invoice.snapshot
        assert invoice.number == answer["number"] == f"INV-{invoice.id:06d}"
        assert (invoice.issue_date, invoice.due_date) == (date(2031, 1, 30), date(2031, 3, 1))
    # By hand: 2 × 1249.00 less 10 % = 2248.20, tax 19 % 427.158 → 427.16; 1.5 × 80.00 = 120.00, tax 8.40.
    assert snapshot == {
        "number": answer["number"],
        "idempotency_key": answer["number"],
        "deal_reference": deal["number"],
        "customer": {
            "name": "Acme GmbH",
            "tax_id": "DE123456789",
            "email": "billing@acme.example",
            "phone": "+49 30 1234567",
            "address": {
                "street": "Hauptstraße 1",
                "city": "Potsdam",
                "postal_code": "14467",
                "region": "Brandenburg",
                "country": "DE",
            },
            "hub_id": customer["id"],
            "external_ids": {},
        },
        "currency": "EUR",
        "issue_date": "2031-01-30",
        "due_date": "2031-03-01",  # 30 days on
        "lines": [
            {
                "sku": "PUMP-9",
                "description": "Pump",
                "quantity": "2.0000",
                "unit_price": "1249.0000",
                "discount_percent": "10.0000",
                "tax_rate": "0.1900",
                "net": "2248.20",
                "tax": "427.16",
                "total": "2675.36",
                "unit": "pcs",
            },
            {
                "sku": None,
                "description": "Installation",
                "quantity": "1.5000",
                "unit_price": "80.0000",
                "discount_percent": "0.0000",
                "tax_rate": "0.0700",
                "net": "120.00",
                "tax": "8.40",
                "total": "128.40",
                "unit": "unit",
            },
        ],
        "subtotal": "2368.20",
        "tax_total": "435.56",
        "total": "2803.76",
        "taxes": [
            {"rate": "0.07", "net": "120.00", "tax": "8.40"},
            {"rate": "0.19", "net": "2248.20", "tax": "427.16"},
        ],
        "notes": f"{deal['number']} Pumps for Acme",
    }


def test_a_document_is_due_fourteen_days_on_by_default_and_rounds_to_the_currency(
    app, sales, customer, frozen, monkeypatch
):
    """build_document: the payment days' default when HUB_PAYMENT_DAYS is not set, totals rounded
    to the deal currency's minor unit (yen: none), and a deal not numbered yet referred to by ""."""
    monkeypatch.delitem(app.config, "HUB_PAYMENT_DAYS")
    line = {"description": "Consulting", "quantity": 3, "unit_price": "1234", "discount_percent": 5, "tax_rate": "0.1"}
    deal = new_deal(sales, customer, [line], currency="JPY")

    with app.app_context():
        stored = db.session.get(Deal, deal["id"])
        stored.number = None  # as between a new deal's first flush and its number
        doc = invoicing.build_document(stored, "INV-PREVIEW")
        db.session.rollback()

    assert (doc.issue_date, doc.due_date) == (date(2031, 1, 30), date(2031, 2, 13))
    assert doc.deal_reference == ""
    # 3 × 1234 less 5 % = 3516.9 → 3517; tax 10 % 351.7 → 352 (test_deals' yen deal).
    assert [str(a) for a in (doc.subtotal, doc.tax_total, doc.total)] == ["3517", "352", "3869"]
    assert [(str(t.rate), str(t.net), str(t.tax)) for t in doc.taxes] == [("0.1", "3517", "352")]


# ---- invoice_targets, enabled_connections, queue_pushes: where an invoice goes ------------------


def test_only_enabled_connections_of_the_trigger_are_targets_and_get_pushes(app, sales, customer):
    """enabled_connections and invoice_targets (what the deal page warns of), and queue_pushes: a
    disabled connection, or one of another trigger, is no target and gets no push."""
    first = make_connection(app, "Ledger Z", "mini_ledger", NOWHERE)
    make_connection(app, "Ledger off", "mini_ledger", NOWHERE, enabled=False)
    manual = make_connection(app, "Ledger by hand", "mini_ledger", NOWHERE, trigger="manual")
    second = make_connection(app, "Ledger A", "mini_ledger", NOWHERE)

    with app.app_context():
        assert invoicing.invoice_targets() == ["Ledger Z", "Ledger A"]  # in the order they were set up
        assert [c.id for c in invoicing.enabled_connections("won")] == [first, second]
        assert [c.id for c in invoicing.enabled_connections("manual")] == [manual]

    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    won(sales, deal)
    with app.app_context():
        pushes = db.session.execute(
            select(OutboxEvent.connection_id, OutboxEvent.operation, OutboxEvent.state).order_by(OutboxEvent.id)
        ).all()
    assert pushes == [(first, "push_invoice", OutboxState.DISPATCHED), (second, "push_invoice", OutboxState.DISPATCHED)]


def test_a_push_goes_untried_to_each_target_that_takes_won_deals_but_none_to_one_that_fetches(
    app, sales, customer, frozen
):
    """queue_pushes: a push to each enabled connection of the trigger "won", in the order they were
    set up, none to 1C's site exchange (it asks for the orders itself); written untried and
    available at the win, dispatched then when the request hands them to the queue itself, else
    pending for the dispatcher; the events returned are the rows written."""
    first = make_connection(app, "Ledger Z", "mini_ledger", NOWHERE)
    make_connection(app, "1C", "onec_exchange", {"username": "site", "password": "exchange-pass"})
    make_connection(app, "Ledger off", "mini_ledger", NOWHERE, enabled=False)
    make_connection(app, "Ledger by hand", "mini_ledger", NOWHERE, trigger="manual")
    second = make_connection(app, "Ledger A", "mini_ledger", NOWHERE)
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])

    won(sales, deal)  # through the API: handed to the queue by the request, after its commit

    def pushes() -> list[tuple]:
        return db.session.execute(
            select(
                OutboxEvent.id,
                OutboxEvent.operation,
                OutboxEvent.connection_id,
                OutboxEvent.invoice_id,
                OutboxEvent.state,
                OutboxEvent.attempts,
                OutboxEvent.created_at,
                OutboxEvent.available_at,
                OutboxEvent.dispatched_at,
            ).order_by(OutboxEvent.id)
        ).all()

    with app.app_context():
        invoice = db.session.scalar(select(HubInvoice).where(HubInvoice.deal_id == deal["id"]))
        invoice_id = invoice.id
        by_the_request = pushes()
        returned = invoicing.queue_pushes(invoice, dispatched=False)  # as a win the dispatcher hands on
        db.session.commit()
        for_the_dispatcher = pushes()[len(by_the_request) :]

    untried = (invoice_id, OutboxState.DISPATCHED, 0, NOW, NOW, NOW)
    assert [row[1:] for row in by_the_request] == [
        ("push_invoice", first, *untried),
        ("push_invoice", second, *untried),
    ]
    untried = (invoice_id, OutboxState.PENDING, 0, NOW, NOW, None)
    assert [row[1:] for row in for_the_dispatcher] == [
        ("push_invoice", first, *untried),
        ("push_invoice", second, *untried),
    ]
    assert returned == [Written(row[0], row[2], "push_invoice") for row in for_the_dispatcher]


def test_no_target_gets_a_push_when_none_takes_won_deals(app, customer, sales):
    """queue_pushes with no target: no events, and none returned (the win is still made)."""
    make_connection(app, "Ledger by hand", "mini_ledger", NOWHERE, trigger="manual")
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    won(sales, deal)
    with app.app_context():
        invoice = db.session.scalar(select(HubInvoice).where(HubInvoice.deal_id == deal["id"]))
        assert invoicing.queue_pushes(invoice, dispatched=True) == []
        assert db.session.scalars(select(OutboxEvent)).all() == []


# ---- refuse_lines_targets_cannot_take: lines a target cannot invoice at the hub's net -----------

TRYTON = {"url": "http://127.0.0.1:9", "database": "d", "username": "u", "password": "p"}
ERPNEXT = {"url": "http://127.0.0.1:9", "api_key": "k", "api_secret": "s", "company": "Acme", "timeout": 1}


def test_a_win_is_refused_naming_each_line_and_each_target_that_cannot_carry_it(app, sales, customer):
    """refuse_lines_targets_cannot_take: a 422 naming, per line, each enabled target of won deals
    that cannot carry it at the hub's net, in the order the targets were set up, and what to change
    (the price, or the quantity the target would round); a line every target carries is not named,
    nor a disabled or manual connection, nor one whose target carries every line."""
    make_connection(app, "Tryton", "tryton", TRYTON)
    make_connection(app, "ERPNext", "erpnext", ERPNEXT)
    make_connection(app, "Tryton off", "tryton", TRYTON, enabled=False)
    make_connection(app, "ERPNext by hand", "erpnext", ERPNEXT, trigger="manual")
    make_connection(app, "Ledger", "mini_ledger", NOWHERE)
    lines = [
        {"description": "Pump", "quantity": "1", "unit_price": "10.00"},
        # 3000 × 0.0123 less 3 % = 35.793 → 35.79: no price of 4 decimals (Tryton) or 2 (ERPNext) makes it.
        {"description": "Screws", "quantity": "3000", "unit_price": "0.0123", "discount_percent": "3"},
        # ERPNext keeps quantities to 3 decimals; Tryton carries it (1.2345 × 10.0001 → 12.35).
        {"description": "Cable", "quantity": "1.2345", "unit_price": "10.00"},
    ]
    deal = new_deal(sales, customer, lines)

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422, r.json
    assert r.json["errors"] == {
        "lines[1].unit_price": [
            f"The invoice for {system} cannot carry this line at 35.79: {system} keeps unit prices to {places} "
            "decimals and computes a line as quantity × price: no such price gives 3,000 × price = 35.79. "
            "Split the line or change its price."
            for system, places in (("Tryton", 4), ("ERPNext", 2))
        ],
        "lines[2].quantity": [
            "The invoice for ERPNext cannot carry this line at 12.35: ERPNext keeps quantities to 3 decimals, so it "
            "would change 1.2345. Split the line or change its quantity."
        ],
    }
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["status"] == "open"

    # Said in the reader's language, the target's reason too, figures as the reader writes them.
    russian = sales.post(f"/api/v1/deals/{deal['id']}/won", headers={"Accept-Language": "ru"}).json["errors"]
    assert russian["lines[2].quantity"] == [
        "Счёт для ERPNext не может содержать эту строку на 12,35: ERPNext хранит количества с 3 знаками после "
        "запятой и изменила бы 1,2345. Разделите строку или измените её количество."
    ]
    assert "ни одна такая цена не даёт 3\xa0000 × цена = 35,79" in russian["lines[1].unit_price"][0]
    bengali = sales.post(f"/api/v1/deals/{deal['id']}/won", headers={"Accept-Language": "bn"}).json["errors"]
    assert bengali["lines[2].quantity"][0].endswith("লাইনটি ভাগ করুন বা এর পরিমাণ বদলান।")


def test_a_currency_a_target_cannot_keep_is_named_once_for_the_deal(app, sales, customer):
    """refuse_lines_targets_cannot_take: ERPNext keeps amounts to 2 decimals, so a deal in dinars
    (3) cannot go there: said once, of the deal's currency, however many lines it has."""
    make_connection(app, "ERPNext", "erpnext", ERPNEXT)
    lines = [{"description": d, "quantity": "1", "unit_price": "1.235"} for d in ("Pump", "Valve")]
    deal = new_deal(sales, customer, lines, currency="KWD")

    r = sales.post(f"/api/v1/deals/{deal['id']}/won")

    assert r.status_code == 422, r.json
    assert r.json["errors"] == {
        "currency": [
            "The invoice for ERPNext cannot be in KWD: ERPNext keeps amounts to 2 decimals, fewer than the "
            "currency's 3. Choose another currency."
        ]
    }


# ---- cancel_for_lost_deal, _discard_if_never_sent: a won deal lost --------------------------------

# How each connection's push stands when the deal is lost: (state, attempts, lease until).
PUSHES = {
    "dispatched, never tried": (OutboxState.DISPATCHED, 0, None),
    "pending, never tried": (OutboxState.PENDING, 0, None),
    "pending, its lease ran out untried": (OutboxState.PENDING, 0, NOW - timedelta(seconds=1)),
    "sent": (OutboxState.DONE, 1, None),
    "tried once, to be retried": (OutboxState.PENDING, 1, None),
    "leased until this very moment": (OutboxState.DISPATCHED, 0, NOW),
    "parked before any try": (OutboxState.FAILED, 0, None),
}
DISCARDED = {"dispatched, never tried", "pending, never tried", "pending, its lease ran out untried"}


@pytest.fixture
def lost_deal_setup(app, sales, customer, frozen) -> dict:
    """A won deal with a push to each of seven connections, set as PUSHES says, and another won
    deal (its invoice and pushes are none of the lost deal's business)."""
    connections = {name: make_connection(app, f"Ledger {i}", "mini_ledger", NOWHERE) for i, name in enumerate(PUSHES)}
    line = {"description": "X", "quantity": 1, "unit_price": "10"}
    deal, other = new_deal(sales, customer, [line]), new_deal(sales, customer, [line])
    won(sales, deal)
    won(sales, other)
    with app.app_context():
        invoice, other_invoice = db.session.scalars(select(HubInvoice.id).order_by(HubInvoice.deal_id)).all()
        for name, (state, attempts, locked_until) in PUSHES.items():
            db.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.invoice_id == invoice, OutboxEvent.connection_id == connections[name])
                .values(state=state, attempts=attempts, locked_until=locked_until)
            )
        db.session.commit()
    return {"deal": deal, "invoice": invoice, "other_invoice": other_invoice, "connections": connections}


def events_of(invoice_id: int) -> list[OutboxEvent]:
    return list(
        db.session.scalars(select(OutboxEvent).where(OutboxEvent.invoice_id == invoice_id).order_by(OutboxEvent.id))
    )


def test_a_lost_deal_discards_the_pushes_never_tried_and_cancels_wherever_the_invoice_may_be(app, lost_deal_setup):
    """cancel_for_lost_deal and _discard_if_never_sent, each condition of the compare-and-set: a
    push pending or dispatched, never tried and not leased now is discarded; one sent, tried, leased
    to this very moment or parked gets a cancel. The other deal's invoice and pushes stay as they are."""
    setup = lost_deal_setup
    connections = setup["connections"]
    with app.app_context():
        others_before = [(e.id, e.state, e.finished_at) for e in events_of(setup["other_invoice"])]

        written = invoicing.cancel_for_lost_deal(db.session.get(Deal, setup["deal"]["id"]), dispatched=False)
        db.session.commit()

        cancels = [e for e in events_of(setup["invoice"]) if e.operation == "cancel_invoice"]
        pushes = {e.connection_id: e for e in events_of(setup["invoice"]) if e.operation == "push_invoice"}
        invoices = dict(db.session.execute(select(HubInvoice.id, HubInvoice.state)).all())
        others_after = [(e.id, e.state, e.finished_at) for e in events_of(setup["other_invoice"])]

    cancelled = sorted(connections[name] for name in PUSHES if name not in DISCARDED)
    assert [(e.connection_id, e.state, e.dispatched_at) for e in cancels] == [
        (c, OutboxState.PENDING, None) for c in cancelled
    ]
    assert written == [Written(e.id, e.connection_id, "cancel_invoice") for e in cancels]
    for name, (state, _, _) in PUSHES.items():
        push = pushes[connections[name]]
        if name in DISCARDED:
            assert (push.state, push.finished_at, push.last_error) == (
                OutboxState.DISCARDED,
                NOW,
                "discarded: the deal was lost before the invoice was sent",
            ), name
        else:
            assert (push.state, push.finished_at, push.last_error) == (state, None, None), name
    assert invoices == {setup["invoice"]: InvoiceState.CANCELLED, setup["other_invoice"]: InvoiceState.PENDING}
    assert others_after == others_before


def test_a_deal_lost_through_the_api_writes_its_cancels_dispatched(app, sales, lost_deal_setup):
    """cancel_for_lost_deal with `dispatched`: the lost request hands its cancels to the queue
    itself, so they are written as dispatched, at the time of the loss."""
    setup = lost_deal_setup
    r = sales.post(f"/api/v1/deals/{setup['deal']['id']}/lost", json={"reason": "went elsewhere"})
    assert r.status_code == 200, r.json
    with app.app_context():
        cancels = [e for e in events_of(setup["invoice"]) if e.operation == "cancel_invoice"]
    assert [(e.state, e.dispatched_at) for e in cancels] == [(OutboxState.DISPATCHED, NOW)] * (
        len(PUSHES) - len(DISCARDED)
    )


def test_a_second_loss_cancels_only_the_invoice_of_the_second_win(app, sales, customer):
    """cancel_for_lost_deal looks at the deal's invoices not cancelled yet: the first win's
    invoice, cancelled by the first loss, gets no second cancel."""
    connection = make_connection(app, "Ledger", "mini_ledger", NOWHERE)
    deal = new_deal(sales, customer, [{"description": "X", "quantity": 1, "unit_price": "10"}])
    path = f"/api/v1/deals/{deal['id']}"
    won(sales, deal)
    with app.app_context():  # the first invoice reached the target
        db.session.execute(update(OutboxEvent).values(state=OutboxState.DONE, attempts=1))
        db.session.commit()
    assert sales.post(f"{path}/lost", json={"reason": "no budget"}).status_code == 200
    won(sales, deal)
    with app.app_context():
        db.session.execute(
            update(OutboxEvent).where(OutboxEvent.state != OutboxState.DONE).values(state=OutboxState.DONE, attempts=1)
        )
        db.session.commit()

    assert sales.post(f"{path}/lost", json={"reason": "no budget after all"}).status_code == 200

    with app.app_context():
        first, second = db.session.scalars(select(HubInvoice).order_by(HubInvoice.id)).all()
        cancels = db.session.execute(
            select(OutboxEvent.invoice_id, OutboxEvent.connection_id)
            .where(OutboxEvent.operation == "cancel_invoice")
            .order_by(OutboxEvent.id)
        ).all()
        assert (first.state, second.state) == (InvoiceState.CANCELLED, InvoiceState.CANCELLED)
        assert cancels == [(first.id, connection), (second.id, connection)]


# ---- next_invoice_id: numbers under concurrent wins -------------------------------------------


def test_deals_won_at_once_each_get_an_invoice_with_a_number_of_its_own(app, users, sales, customer):
    """next_invoice_id: the number is taken from the database's own counter (PostgreSQL's sequence;
    SQLite's one write lock), so deals won at the same moment never reach for the same number."""
    line = {"description": "X", "quantity": 1, "unit_price": "10"}
    deals = [new_deal(sales, customer, [line]) for _ in range(8)]

    answers = at_once(app, users, [("POST", f"/api/v1/deals/{deal['id']}/won", None) for deal in deals])

    assert [r.status_code for r in answers] == [200] * len(deals), [r.json for r in answers if r.status_code != 200]
    with app.app_context():
        invoices = db.session.execute(select(HubInvoice.id, HubInvoice.number, HubInvoice.deal_id)).all()
    assert sorted(deal_id for _, _, deal_id in invoices) == sorted(deal["id"] for deal in deals)
    assert all(number == f"INV-{invoice_id:06d}" for invoice_id, number, _ in invoices)
