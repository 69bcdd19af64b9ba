"""What 1C's order changes and payments do to hub invoices (hub/exchange/orders.py), called as the
import calls it, and which invoices a query sends and an acknowledgement marks: each result line,
note and state compared exactly. Real database, invoices of deals won through the API. Written
against the mutants `make mutate` left of the module (docs/testing.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from connectors.onec.commerceml import OrderChange
from hub.exchange import orders
from hub.exchange.sessions import open_session
from hub.extensions import db
from hub.models import Activity, ActivityKind, Connection, ExternalLink, HubInvoice, InvoiceState, OneCPayment
from hub.models.base import utcnow
from hub.sync.factory import open_connector
from tests.conftest import make_connection
from tests.support.onec_exchange import PASSWORD, USER, won_deal

TOTAL = Decimal("2159.76")  # 2 × 899.90 + 20 %
BANK = "Выплата безналичных денег"


def _one_c(app, **config) -> int:
    return make_connection(app, "1C", "onec_exchange", {"username": USER, "password": PASSWORD, **config})


def _exported(app, connection_id: int, numbers: list[str]) -> None:
    with app.app_context():
        for invoice in db.session.scalars(select(HubInvoice).where(HubInvoice.number.in_(numbers))):
            db.session.add(
                ExternalLink(connection_id=connection_id, invoice=invoice, external_id=invoice.number, state="draft")
            )
        db.session.commit()


def _apply(app, connection_id: int, changes: list[OrderChange]) -> orders.ChangesResult:
    with app.app_context():
        result = orders.apply_changes(db.session.get(Connection, connection_id), changes)
        db.session.commit()
    return result


def _links(app) -> dict[str, tuple]:
    with app.app_context():
        return {
            link.invoice.number: (link.state, link.amount_paid, link.external_number, link.invoice.state)
            for link in db.session.scalars(select(ExternalLink))
        }


def _checked(app):
    with app.app_context():
        return db.session.scalars(select(ExternalLink.status_checked_at)).one()


def _notes(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(a.subject, a.body) for a in db.session.scalars(select(Activity).order_by(Activity.id))]


def test_order_changes_by_id_or_number_move_states_forward_only(app, sales, admin):
    """Kills: the link found by 1C's number when its Ид is 1C's own; each state's words; a
    state applied only when it ranks above the link's (`>` turned `>=`, the rank of a new link);
    1C's number and status in the note's body; a shipment noted once (on its own deal: the same
    words on another deal's note do not count); the unknown ids."""
    one_c = _one_c(app)
    a, b, c = (won_deal(sales, admin)["invoices"][0]["number"] for _ in range(3))
    _exported(app, one_c, [a, b, c])
    with app.app_context():  # the words of b's shipment, on a's deal: not b's note
        invoice = db.session.scalars(select(HubInvoice).where(HubInvoice.number == a)).one()
        db.session.add(
            Activity(
                kind=ActivityKind.NOTE,
                subject=f"{b} shipped according to 1C",
                occurred_at=utcnow(),
                deal_id=invoice.deal_id,
                customer_id=invoice.customer_id,
            )
        )
        db.session.commit()
    first = _apply(
        app,
        one_c,
        [
            OrderChange("1c-guid-a", a, onec_number="ЗК-1", posted=True, status="Принят"),
            OrderChange(b, None, paid_on=date(2026, 11, 22), shipped_on=date(2026, 11, 23), onec_number="ЗК-2"),
            OrderChange("INV-999999", None, posted=True),
            OrderChange("1c-guid-x", None, cancelled=True),
            OrderChange(c, None, onec_number="ЗК-3"),  # not posted, paid or cancelled: no state
        ],
    )
    assert first.applied == [f"{a}: posted", f"{b}: paid", f"{b}: shipped"]
    assert first.unknown == ["INV-999999", "1c-guid-x"]
    assert _links(app) == {
        a: ("posted", Decimal(0), "ЗК-1", InvoiceState.POSTED),
        b: ("paid", TOTAL, "ЗК-2", InvoiceState.PAID),
        c: ("draft", Decimal(0), "ЗК-3", InvoiceState.PENDING),
    }
    assert _notes(app)[1:] == [
        (f"{a} posted in 1C", "1C order number ЗК-1. 1C status: Принят."),
        (f"{b} paid according to 1C on 2026-11-22", "1C order number ЗК-2."),
        (f"{b} shipped according to 1C", "Shipped on 2026-11-23. 1C order number ЗК-2."),
    ]
    again = _apply(
        app,
        one_c,
        [
            OrderChange(a, None, posted=True),
            OrderChange(b, None, posted=True, shipped_on=date(2026, 11, 24)),
        ],
    )
    assert (again.applied, again.unknown) == ([], [])
    cancelled = _apply(app, one_c, [OrderChange(b, None, cancelled=True)])
    assert cancelled.applied == [f"{b}: cancelled"]
    assert _notes(app)[-1] == (f"{b} cancelled in 1C", None)
    assert _links(app)[b][0] == "cancelled"


def _payment(number: str, basis: str | None, amount: str | None, paid: bool = True, **attributes) -> OrderChange:
    return OrderChange(
        f"guid-{number}",
        number,
        paid=paid,
        operation=BANK,
        amount=None if amount is None else Decimal(amount),
        basis=basis,
        attributes=attributes,
    )


def test_payments_add_up_to_the_total_and_nothing_is_counted_twice_or_on_a_settled_order(app, sales, admin, caplog):
    """Kills: the label taken from «Номер оплаты по 1С», else the number, cut at 100; a payment
    without an amount (or of 0) not counted, and said so; `>=` at the total (paid off exactly);
    payments on a paid order set aside (and the warning logged); the order of the same file not taken as paid in full
    when it is paid in parts, whether the payments name its Ид or its number; a payment looked up
    by its label on its own order only; and one of less than 1 paying part."""
    one_c = _one_c(app)
    a, b, c = (won_deal(sales, admin)["invoices"][0]["number"] for _ in range(3))
    _exported(app, one_c, [a, b, c])
    long_label = "П" * 150
    result = _apply(
        app,
        one_c,
        [
            OrderChange("guid-a", a, posted=True, paid_on=date(2026, 11, 22)),
            _payment("ПП-1", a, "1000.00", **{"Номер оплаты по 1С": long_label}),
            _payment("ПП-7", a, "1.00", **{"Номер оплаты по 1С": "ПП-1"}),
            _payment("ПП-2", a, None),
            _payment("ПП-3", a, "0"),
            _payment("ПП-4", b, "2159.76"),
            _payment("ПП-5", b, "5.00"),
            _payment("ПП-6", None, "1.00"),
        ],
    )
    assert result.applied == [
        f"{a}: posted",
        f"{a}: partially_paid (1000 of 2159.76)",
        f"{a}: partially_paid (1001 of 2159.76)",
        f"{a}: payment ПП-2 not counted (partially_paid)",
        f"{a}: payment ПП-3 not counted (partially_paid)",
        f"{b}: paid (2159.76 of 2159.76)",
        f"{b}: payment ПП-5 not counted (paid)",
    ]
    assert result.unknown == ["guid-ПП-6"]
    warned = [r.getMessage() for r in caplog.records if r.name == "hub.exchange.orders"]
    assert warned[-1] == f"1C payment ПП-5 of {b} (5.00) not counted: order paid"
    assert _links(app)[a][:2] == ("partially_paid", Decimal(1001))
    assert _links(app)[b][:2] == ("paid", TOTAL)
    with app.app_context():
        kept = {p.payment_key: (p.amount, p.counted) for p in db.session.scalars(select(OneCPayment))}
    assert kept == {
        "П" * 100: (Decimal(1000), True),
        "ПП-1": (Decimal(1), True),
        "ПП-2": (Decimal(0), False),
        "ПП-3": (Decimal(0), False),
        "ПП-4": (TOTAL, True),
        "ПП-5": (Decimal(5), False),
    }
    bodies = dict(_notes(app))
    assert bodies[f"{a} payment ПП-2 according to 1C"] == "0 not counted: the invoice is partially_paid in the hub."
    assert bodies[f"{b} payment ПП-4 according to 1C"] == "2159.76 paid: 2159.76 of 2159.76."
    # Sent again with the next change: counted once.
    assert _apply(app, one_c, [_payment("ПП-4", b, "2159.76")]).applied == []
    # A payment of another order under a label a's payment has; and less than 1.
    assert _apply(app, one_c, [_payment("ПП-1", c, "0.50")]).applied == [f"{c}: partially_paid (0.5 of 2159.76)"]


def test_a_payment_undone_comes_off_down_to_posted_and_is_set_aside_when_it_comes_again_too_late(app, sales, admin):
    """Kills the undo's conditions (counted, not undone yet), `max(…, 0)`, the states below the
    total, when 1C reported each, and an undone payment that 1C sends as paid again once the
    order is paid off: set aside (not counted), no longer undone."""
    one_c = _one_c(app)
    a = won_deal(sales, admin)["invoices"][0]["number"]
    _exported(app, one_c, [a])
    assert _apply(app, one_c, [_payment("ПП-1", a, "500")]).applied == [f"{a}: partially_paid (500 of 2159.76)"]
    checked = _checked(app)
    assert checked is not None  # a payment counted is a status 1C reported
    undone = _apply(app, one_c, [_payment("ПП-1", a, "500", paid=False), _payment("ПП-9", a, "7", paid=False)])
    assert undone.applied == [f"{a}: payment ПП-1 undone in 1C, posted"]
    assert _links(app)[a][:2] == ("posted", Decimal(0))
    assert _checked(app) > checked  # the undo is a status 1C reported
    checked = _checked(app)
    assert _notes(app)[-1] == (f"{a} payment ПП-1 undone in 1C", "500 taken off: 0 of 2159.76 paid.")
    assert _apply(app, one_c, [_payment("ПП-1", a, "500", paid=False)]).applied == []  # undone once
    # Paid off by another payment, then 1C says the undone one was paid after all: set aside.
    settled = _apply(app, one_c, [_payment("ПП-2", a, "2159.76"), _payment("ПП-1", a, "500")])
    assert settled.applied == [f"{a}: paid (2159.76 of 2159.76)", f"{a}: payment ПП-1 not counted (paid)"]
    assert _checked(app) > checked
    with app.app_context():
        kept = {p.payment_key: (p.amount, p.counted, p.undone_at) for p in db.session.scalars(select(OneCPayment))}
    assert kept == {"ПП-1": (Decimal(500), False, None), "ПП-2": (TOTAL, True, None)}


def test_a_payment_undone_then_paid_again_counts_again_and_can_be_undone_again(app, sales, admin):
    """1C may undo a payment, post it again, and undo it again: each time the amount paid follows.
    Kills the payment paid again not marked counted (its second undo would take nothing off)."""
    one_c = _one_c(app)
    a = won_deal(sales, admin)["invoices"][0]["number"]
    _exported(app, one_c, [a])
    steps = [True, False, True, False]
    applied = [_apply(app, one_c, [_payment("ПП-1", a, "500", paid=paid)]).applied for paid in steps]
    assert applied == [
        [f"{a}: partially_paid (500 of 2159.76)"],
        [f"{a}: payment ПП-1 undone in 1C, posted"],
        [f"{a}: partially_paid (500 of 2159.76)"],
        [f"{a}: payment ПП-1 undone in 1C, posted"],
    ]
    assert _links(app)[a][:2] == ("posted", Decimal(0))
    with app.app_context():
        (kept,) = db.session.scalars(select(OneCPayment))
        assert (kept.amount, kept.counted, kept.undone_at is not None) == (Decimal(500), True, True)


def test_a_query_sends_what_1c_has_not_heard_of_a_page_at_a_time(app, sales, admin):
    """Kills the pending invoices' conditions (made before the connection existed; cancelled and
    never sent), `orders_per_query`, and what an acknowledgement marks: sent, a failed one sent,
    nothing twice."""
    won_deal(sales, admin)  # before the connection existed: never 1C's business
    one_c = _one_c(app, orders_per_query=2)
    a, b, c = (won_deal(sales, admin)["invoices"][0]["number"] for _ in range(3))
    with app.app_context():
        invoices = {i.number: i for i in db.session.scalars(select(HubInvoice))}
        invoices[c].state = InvoiceState.CANCELLED
        invoices[b].state = InvoiceState.FAILED
        db.session.commit()
        connection = db.session.get(Connection, one_c)
        assert [i.number for i in orders.pending_invoices(connection, 10)] == [a, b]
        assert [i.number for i in orders.pending_invoices(connection, 1)] == [a]
        session, _ = open_session(connection)
        connector = open_connector(connection, maps_documents=True)
        query = orders.query(session, connector)
        assert (query.sent, query.refused) == ([a, b], {})
        assert session.sent_invoice_ids == [invoices[a].id, invoices[b].id]
        acknowledged = orders.acknowledge(session)
        assert [i.number for i in acknowledged] == [a, b]
        assert orders.acknowledge(session) == []
        db.session.commit()
        states = {i.number: i.state for i in db.session.scalars(select(HubInvoice))}
        assert (states[a], states[b]) == (InvoiceState.SENT, InvoiceState.SENT)
        links = {
            link.invoice.number: (link.external_id, link.state) for link in db.session.scalars(select(ExternalLink))
        }
        assert links == {a: (a, "draft"), b: (b, "draft")}
        assert orders.pending_invoices(connection, 10) == []


def test_each_1c_connection_hears_of_each_invoice_on_its_own(app, sales, admin):
    """Two 1C bases take the hub's orders: what one acknowledged is still new to the other, an
    invoice won after an acknowledgement is sent, each acknowledgement marks its own connection
    (in invoice order), one connection's changes touch only invoices it was sent, and a lost
    deal's cancellation heard by one is still sent to the other; a note of 1C's is on the
    invoice's customer too. Kills the acknowledged test, the link's and the order
    look-up's connection, the cancellation's connection, the page size and the order of the
    query and of the acknowledgement (PostgreSQL: an updated row is read after the others)
    dropped, `>=` at the connection's creation, and the note's customer left out."""
    one_c = _one_c(app, orders_per_query=1)
    other = make_connection(app, "1C other", "onec_exchange", {"username": "other", "password": "other-pass"})
    deal_a, deal_b = won_deal(sales, admin), won_deal(sales, admin)
    a, b = deal_a["invoices"][0]["number"], deal_b["invoices"][0]["number"]
    with app.app_context():  # made the instant the other connection was: since it exists
        invoice = db.session.scalars(select(HubInvoice).where(HubInvoice.number == b)).one()
        invoice.created_at = db.session.get(Connection, other).created_at
        db.session.commit()

    def query_and_acknowledge(connection_id: int) -> list[str]:
        with app.app_context():
            connection = db.session.get(Connection, connection_id)
            session, _ = open_session(connection)
            orders.query(session, open_connector(connection, maps_documents=True))
            acknowledged = [i.number for i in orders.acknowledge(session)]
            db.session.commit()
            return acknowledged

    assert query_and_acknowledge(one_c) == [a]  # a page of one; a is updated (sent)
    with app.app_context():
        assert [i.number for i in orders.pending_invoices(db.session.get(Connection, one_c), 10)] == [b]
        assert [i.number for i in orders.pending_invoices(db.session.get(Connection, other), 10)] == [a, b]
    # a was sent to one_c only: the other's changes do not reach it.
    unheard = _apply(app, other, [OrderChange(a, a, posted=True)])
    assert (unheard.applied, unheard.unknown) == ([], [a])
    assert query_and_acknowledge(other) == [a, b]
    with app.app_context():
        links = sorted((link.connection_id, link.invoice.number) for link in db.session.scalars(select(ExternalLink)))
    assert links == sorted([(one_c, a), (other, a), (other, b)])
    assert _apply(app, one_c, [OrderChange(a, a, posted=True)]).applied == [f"{a}: posted"]
    with app.app_context():
        invoice = db.session.scalars(select(HubInvoice).where(HubInvoice.number == a)).one()
        customers = db.session.scalars(select(Activity.customer_id).where(Activity.deal_id == invoice.deal_id)).all()
        assert customers == [invoice.customer_id]
    # a's deal is lost: each connection is sent the cancellation until it acknowledges it.
    assert sales.post(f"/api/v1/deals/{deal_a['id']}/lost", json={"reason": "budget cut"}).status_code == 200
    assert query_and_acknowledge(one_c) == [a]
    with app.app_context():
        assert [i.number for i in orders.pending_invoices(db.session.get(Connection, one_c), 10)] == [b]
        assert [i.number for i in orders.pending_invoices(db.session.get(Connection, other), 10)] == [a]
