"""The Tryton connector against a real trytond 8.2 (hub/demo_erp/tryton.py, the demo catalogue),
through its public API: what it creates in Tryton is read back over JSON-RPC and compared with the
canonical document. The hub's loop through this connector is in test_tryton_loop.py.

These tests share one Tryton server and database and stay apart by unique references and customer
names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connectors.documents import (
    ExternalRef,
    ExternalState,
    StockLevel,
)
from connectors.errors import AuthError, PermanentError
from connectors.tryton.cache import LookupCache, forget_all
from connectors.tryton.connector import TrytonConnector
from hub.demo_erp.tryton import TrytonServer
from tests.support.tryton_documents import config, document, line


@pytest.fixture(scope="module")
def tryton_server(tmp_path_factory) -> Iterator[TrytonServer]:
    with TrytonServer(tmp_path_factory.mktemp("tryton")) as server:
        yield server


@pytest.fixture(scope="module")
def tryton(tryton_server) -> Iterator[TrytonConnector]:
    """A connector used as a plain RPC client: what the tests read and change behind the hub's back."""
    client = TrytonConnector(config(tryton_server))
    yield client
    client.close()


@pytest.fixture(scope="module")
def connector(tryton_server) -> Iterator[TrytonConnector]:
    """Draft mode; shared by the tests (a log-in costs Tryton a password hash)."""
    connector = TrytonConnector(config(tryton_server))
    yield connector
    connector.close()


@pytest.fixture(scope="module")
def posting(tryton_server) -> Iterator[TrytonConnector]:
    """Posted mode (the connection's document mode)."""
    connector = TrytonConnector(config(tryton_server), post=True)
    yield connector
    connector.close()


INVOICE_FIELDS = [
    "type",
    "state",
    "number",
    "reference",
    "party.name",
    "currency.code",
    "invoice_date",
    "payment_term_date",
    "untaxed_amount",
    "tax_amount",
    "total_amount",
    "lines",
]


def read_invoices(tryton: TrytonConnector, reference: str) -> list[dict[str, Any]]:
    return tryton.search_read("account.invoice", [["reference", "=", reference]], INVOICE_FIELDS)


def read_lines(tryton: TrytonConnector, invoice: dict[str, Any]) -> list[tuple]:
    rows = tryton.call(
        "model.account.invoice.line.read",
        invoice["lines"],
        ["product.code", "description", "quantity", "unit_price", "amount", "taxes"],
    )
    rates = {t["id"]: t["rate"] for t in tryton.search_read("account.tax", [], ["id", "rate"])}
    return [
        (
            r["product."]["code"],
            r["description"],
            r["quantity"],
            r["unit_price"],
            r["amount"],
            [rates[t] for t in r["taxes"]],
        )
        for r in sorted(rows, key=lambda r: r["id"])
    ]


# ---- connection ----------------------------------------------------------------------------------


def test_connection_answers_and_a_wrong_password_is_an_auth_error(tryton_server):
    ok = TrytonConnector(config(tryton_server))
    assert "company" in ok.test_connection()
    assert ok.context()["company"]
    wrong = TrytonConnector(config(tryton_server, password="not-the-password"))
    with pytest.raises(AuthError, match="admin"):
        wrong.test_connection()
    assert "not-the-password" not in str(wrong.take_exchanges())
    unknown = TrytonConnector(config(tryton_server, database="no_such_database"))
    with pytest.raises(PermanentError, match="no_such_database") as no_database:
        unknown.test_connection()
    assert no_database.value.field == "database"
    for connector in (ok, wrong, unknown):
        connector.close()


def test_connectors_of_one_process_share_a_session_but_not_with_another_password(tryton_server):
    TrytonConnector(config(tryton_server)).test_connection()
    second = TrytonConnector(config(tryton_server))

    assert second.find_invoice(f"T-{uuid.uuid4().hex[:12]}") is None

    assert [x.url.split()[-1] for x in second.take_exchanges()] == ["model.account.invoice.search_read"]  # no log-in
    with pytest.raises(AuthError):
        TrytonConnector(config(tryton_server, password="not-the-password")).find_invoice("T-1")


# ---- pushing invoices ----------------------------------------------------------------------------


def test_push_creates_a_customer_invoice_exactly_as_the_document(connector, tryton):
    doc = document(
        line("VALVE-25", "2", "48.50", description="Valve, blue"),
        line("CTRL-X1", "1", "899.00", discount="10", description="Controller"),
        line("SVC-INST", "3", "95.00", tax="0.07", description="Installation"),
    )
    assert (doc.subtotal, doc.tax_total, doc.total) == (Decimal("1191.10"), Decimal("192.11"), Decimal("1383.21"))

    ref = connector.push_invoice(doc)

    assert ref.system == "tryton"
    assert ref.status == ExternalState.DRAFT
    assert ref.url.endswith(f"/model/account.invoice/{ref.external_id}")
    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert str(invoice["id"]) == ref.external_id
    assert invoice["type"] == "out"
    assert invoice["state"] == "draft"
    assert invoice["reference"] == doc.idempotency_key
    assert invoice["party."]["name"] == doc.customer.name
    assert invoice["currency."]["code"] == "EUR"
    assert invoice["invoice_date"] == doc.issue_date
    assert invoice["payment_term_date"] == doc.due_date
    assert (invoice["untaxed_amount"], invoice["tax_amount"], invoice["total_amount"]) == (
        doc.subtotal,
        doc.tax_total,
        doc.total,
    )
    assert read_lines(tryton, invoice) == [
        ("VALVE-25", "Valve, blue", 2.0, Decimal("48.5000"), Decimal("97.00"), [Decimal("0.19")]),
        ("CTRL-X1", "Controller (10 % discount)", 1.0, Decimal("809.1000"), Decimal("809.10"), [Decimal("0.19")]),
        ("SVC-INST", "Installation", 3.0, Decimal("95.0000"), Decimal("285.00"), [Decimal("0.07")]),
    ]
    # The customer came with its address and contacts.
    (party,) = tryton.search_read(
        "party.party", [["name", "=", doc.customer.name]], ["addresses", "contact_mechanisms"]
    )
    (address,) = tryton.call("model.party.address.read", party["addresses"], ["street", "city", "postal_code"])
    assert (address["street"], address["city"], address["postal_code"]) == ("Hauptstraße 1", "Berlin", "10115")
    contacts = tryton.call("model.party.contact_mechanism.read", party["contact_mechanisms"], ["type", "value"])
    assert {(c["type"], c["value"]) for c in contacts} == {
        ("email", "billing@example.com"),
        ("phone", "+49 30 1234567"),
    }


def test_a_half_cent_of_tax_is_rounded_as_the_hub_quoted_it(posting, tryton):
    # 3 × 48.50 = 145.50; 19 % = 27.645: Tryton alone rounds half-even to 27.64, the hub to 27.65.
    doc = document(line("VALVE-25", "3", "48.50"))
    assert (doc.tax_total, doc.total) == (Decimal("27.65"), Decimal("173.15"))

    posting.push_invoices([doc])

    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert invoice["state"] == "posted"
    assert (invoice["untaxed_amount"], invoice["tax_amount"], invoice["total_amount"]) == (
        Decimal("145.50"),
        Decimal("27.65"),
        Decimal("173.15"),
    )


def test_a_line_amount_tryton_would_round_otherwise_goes_with_the_price_that_gives_the_hubs(connector, tryton):
    # 1 × 0.125: the hub quotes 0.13 (half-up); sent as is, Tryton's half-even makes the line 0.12.
    # The line goes with the unit price 0.1300, for which Tryton computes the hub's 0.13.
    doc = document(line("VALVE-25", "1", "0.125"))
    assert doc.total == Decimal("0.15")

    connector.push_invoices([doc])

    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert (invoice["untaxed_amount"], invoice["total_amount"]) == (Decimal("0.13"), Decimal("0.15"))


def test_each_line_is_rounded_before_the_lines_are_summed_as_tryton_does(posting, tryton):
    # 2 × (1 × 0.124): 0.12 a line, 0.24 in all for the hub and for Tryton; summed unrounded, 0.248
    # would round to 0.25 and the check would refuse a total that is right.
    doc = document(line("VALVE-25", "1", "0.124"), line("VALVE-25", "1", "0.124"))
    assert (doc.subtotal, doc.total) == (Decimal("0.24"), Decimal("0.28"))

    posting.push_invoices([doc])

    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert (invoice["state"], invoice["untaxed_amount"], invoice["total_amount"]) == (
        "posted",
        Decimal("0.24"),
        Decimal("0.28"),
    )


def test_tax_lines_tryton_made_itself_get_the_hubs_amounts_after_the_create(connector, tryton, monkeypatch):
    # As when Tryton replaces the payload's tax line (a tax's account changed since it was looked
    # up): its own line says 27.64, the hub's amount is written over it before the check.
    monkeypatch.setattr(TrytonConnector, "_tax_lines", lambda self, doc, taxes_of: [])
    doc = document(line("VALVE-25", "3", "48.50"))
    connector.take_exchanges()

    connector.push_invoices([doc])

    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert (invoice["tax_amount"], invoice["total_amount"]) == (Decimal("27.65"), Decimal("173.15"))
    assert "model.account.invoice.tax.write" in [x.url.split()[-1] for x in connector.take_exchanges()]


def test_a_total_tryton_computes_otherwise_is_refused_not_posted(posting, tryton):
    good = document(line("VALVE-25", "2", "48.50"))
    doc = replace(good, total=good.total + Decimal("0.01"))  # e.g. a price Tryton rounds otherwise

    with pytest.raises(PermanentError, match=r"Tryton computes 115\.43 EUR .* the hub 115\.44"):
        posting.push_invoices([doc])

    assert read_invoices(tryton, doc.idempotency_key) == []


def test_an_invoice_in_a_foreign_currency_is_posted_in_it(posting, tryton):
    doc = document(line("VALVE-25", "4", "48.50"), currency="CHF")  # 194.00 + 36.86

    posting.push_invoices([doc])

    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert (invoice["state"], invoice["currency."]["code"]) == ("posted", "CHF")
    assert invoice["total_amount"] == doc.total == Decimal("230.86")


def test_the_same_document_pushed_twice_gives_one_invoice(connector, tryton):
    doc = document()
    for _ in range(2):  # what the engine does on every attempt: look up, create only what is missing
        found = connector.find_invoices([doc.idempotency_key])
        if doc.idempotency_key not in found:
            created = connector.push_invoices([doc])
    assert found[doc.idempotency_key] == created[0]
    assert connector.find_invoice(doc.idempotency_key) == created[0]
    assert connector.find_invoice(f"T-{uuid.uuid4().hex[:12]}") is None
    assert len(read_invoices(tryton, doc.idempotency_key)) == 1


def test_a_returning_customer_is_found_not_duplicated(connector, tryton):
    first = document()
    connector.push_invoices([first])
    connector.push_invoices([document(customer=first.customer.name)])
    assert len(tryton.search_read("party.party", [["name", "=", first.customer.name]], ["id"])) == 1

    tax_id = f"DE{uuid.uuid4().int % 10**9:09d}"
    renamed = document(tax_id=tax_id), document(tax_id=tax_id)  # same tax id, another name
    refs = connector.push_invoices([renamed[0]]) + connector.push_invoices([renamed[1]])
    parties = {tryton.call("model.account.invoice.read", [int(r.external_id)], ["party"])[0]["party"] for r in refs}
    assert len(parties) == 1  # the tax id wins over the name


def test_a_batch_goes_in_one_create_call(connector, tryton):
    docs = [document(line("VALVE-25", str(n), "48.50")) for n in (1, 2, 3)]
    connector.take_exchanges()

    refs = connector.push_invoices(docs)

    methods = [x.url.split()[-1] for x in connector.take_exchanges()]
    assert methods.count("model.account.invoice.create") == 1
    # Drafts are read back once (for the total check, which also gives number and state); their
    # tax lines came with the create, so none is written after it.
    assert methods[methods.index("model.account.invoice.create") :].count("model.account.invoice.read") == 1
    assert "model.account.invoice.tax.write" not in methods
    assert len({r.external_id for r in refs}) == 3
    for doc, ref in zip(docs, refs, strict=True):
        (invoice,) = read_invoices(tryton, doc.idempotency_key)
        assert str(invoice["id"]) == ref.external_id
        assert invoice["total_amount"] == doc.total
    assert connector.find_invoices([d.idempotency_key for d in docs]) == {
        d.idempotency_key: r for d, r in zip(docs, refs, strict=True)
    }


def test_a_batch_costs_the_same_calls_whatever_its_size(connector, tryton):
    returning = document(line("VALVE-25", "1", "48.50"), line("CTRL-X1", "1", "899.00"))
    connector.push_invoices([returning])  # its customer exists in Tryton from now on

    def calls_for(count: int) -> list[str]:
        docs = [document(customer=returning.customer.name) for _ in range(count - 1)]
        docs.append(document(line("CTRL-X1", "1", "899.00")))  # and one new customer
        connector.take_exchanges()
        refs = connector.push_invoices(docs)
        assert len({r.external_id for r in refs}) == count
        return [x.url.split()[-1] for x in connector.take_exchanges()]

    assert calls_for(2) == calls_for(8)
    parties = tryton.search_read("party.party", [["name", "=", returning.customer.name]], ["id"])
    assert len(parties) == 1


def test_a_new_customer_twice_in_one_batch_becomes_one_party(connector, tryton):
    first = document(tax_id=f"DE{uuid.uuid4().int % 10**9:09d}")
    again = document(customer=first.customer.name, tax_id=first.customer.tax_id)

    refs = connector.push_invoices([first, again])

    invoices = tryton.call("model.account.invoice.read", [int(r.external_id) for r in refs], ["party"])
    assert len({i["party"] for i in invoices}) == 1


def test_posted_mode_posts_and_the_status_follows_payments(posting, tryton, tryton_server):
    doc = document(line("VALVE-25", "10", "48.50"))  # 485.00 + 92.15 = 577.15

    (ref,) = posting.push_invoices([doc])

    assert ref.status == ExternalState.POSTED
    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert invoice["state"] == "posted"
    assert invoice["number"]
    assert ref.external_number == invoice["number"]
    assert invoice["total_amount"] == doc.total == Decimal("577.15")
    status = posting.invoice_status(ref)
    assert (status.status, status.amount_total, status.amount_paid) == (ExternalState.POSTED, doc.total, 0)
    assert (status.currency, status.external_number) == ("EUR", ref.external_number)

    # Tryton's default: a posted customer invoice is credited, not cancelled.
    with pytest.raises(PermanentError, match="cancel"):
        posting.cancel_invoice(ref)
    assert posting.invoice_status(ref).status == ExternalState.POSTED

    tryton_server.run("pay", ref.external_id, "--amount", "100.00")  # Tryton's own wizard
    status = posting.invoice_status(ref)
    assert (status.status, status.amount_paid) == (ExternalState.PARTIALLY_PAID, Decimal("100.00"))

    tryton_server.run("pay", ref.external_id)  # the rest
    status = posting.invoice_status(ref)
    assert (status.status, status.amount_paid, status.amount_total) == (ExternalState.PAID, doc.total, doc.total)


def test_an_invoice_tryton_refuses_to_post_is_taken_back(posting, tryton):
    doc = document(issue_date=date(2001, 5, 1))  # no fiscal year, no period

    with pytest.raises(PermanentError, match="period"):
        posting.push_invoices([doc])

    assert read_invoices(tryton, doc.idempotency_key) == []  # a retry after the fix creates and posts it


def test_an_unknown_sku_is_refused_naming_the_line_and_nothing_is_created(connector, tryton):
    doc = document(line("VALVE-25", "1", "48.50"), line("NO-SUCH-SKU", "1", "5.00"))

    with pytest.raises(PermanentError, match="NO-SUCH-SKU") as refused:
        connector.push_invoices([doc])

    assert refused.value.field == "lines[1].sku"
    assert read_invoices(tryton, doc.idempotency_key) == []
    assert tryton.search_read("party.party", [["name", "=", doc.customer.name]], ["id"]) == []


def test_a_line_without_sku_or_an_unknown_currency_is_refused(connector):
    with pytest.raises(PermanentError) as no_sku:
        connector.push_invoices([document(line(None, "1", "5.00", description="Freight"))])
    assert no_sku.value.field == "lines[0].sku"
    with pytest.raises(PermanentError, match="JPY") as currency:
        connector.push_invoices([document(currency="JPY")])
    assert currency.value.field == "currency"


def test_unknown_skus_are_created_when_the_connection_allows_it(tryton_server, tryton):
    sku = f"NEW-{uuid.uuid4().hex[:6]}"
    connector = TrytonConnector(config(tryton_server, create_products=True, product_category="Goods 0.19"))
    doc = document(line("VALVE-25", "1", "48.50"), line(sku, "4", "12.50", tax="0.07", description="Adapter"))

    connector.push_invoices([doc])

    (product,) = tryton.search_read("product.product", [["code", "=", sku]], ["name", "list_price_used", "type"])
    assert (product["name"], product["list_price_used"], product["type"]) == ("Adapter", Decimal("12.5000"), "goods")
    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert invoice["total_amount"] == doc.total
    assert [ln[0] for ln in read_lines(tryton, invoice)] == ["VALVE-25", sku]


# ---- after the push ------------------------------------------------------------------------------


def test_a_draft_reports_its_status_and_can_be_cancelled(connector):
    doc = document()
    ref = connector.push_invoice(doc)
    status = connector.invoice_status(ref)
    assert (status.status, status.amount_total, status.amount_paid) == (ExternalState.DRAFT, doc.total, 0)

    connector.cancel_invoice(ref)

    assert connector.invoice_status(ref).status == ExternalState.CANCELLED
    assert connector.find_invoice(doc.idempotency_key).status == ExternalState.CANCELLED


def test_status_of_an_invoice_that_is_gone(connector):
    with pytest.raises(PermanentError):
        connector.invoice_status(ExternalRef(system="tryton", external_id="999999"))


def test_pull_stock_reads_quantities_per_warehouse(connector, tryton_server):
    sku = f"STOCK-{uuid.uuid4().hex[:6]}"
    tryton_server.run("add-product", sku, "Counted thing", "3.00")
    tryton_server.run("set-stock", f"{sku}=12")

    levels = {(s.sku, s.warehouse): s for s in connector.pull_stock()}

    counted = levels[(sku, "WH")]
    assert isinstance(counted, StockLevel)
    assert (counted.on_hand, counted.reserved, counted.available) == (Decimal(12), Decimal(0), Decimal(12))
    assert levels[("CTRL-X1", "WH")].on_hand == Decimal(9)  # the demo catalogue's count
    assert ("SVC-INST", "WH") not in levels  # services have no stock
    elsewhere = TrytonConnector(connector.config | {"warehouse": "WH, NOPE"})
    with pytest.raises(PermanentError, match="NOPE") as unknown:
        list(elsewhere.pull_stock())
    assert unknown.value.field == "warehouse"


# ---- look-ups kept across pushes -----------------------------------------------------------------


def test_a_second_push_reuses_what_the_first_looked_up(connector, tryton):
    forget_all()
    first = document(line("VALVE-25", "1", "48.50"), line("MANUAL-DE", "2", "12.00", tax="0.07"))
    connector.push_invoices([first])
    connector.take_exchanges()

    again = document(
        line("VALVE-25", "2", "48.50"), line("MANUAL-DE", "1", "12.00", tax="0.07"), customer=first.customer.name
    )
    (ref,) = connector.push_invoices([again])

    # No configuration, journal, currency, tax, product or party look-up: the create and the check.
    methods = [x.url.split()[-1] for x in connector.take_exchanges()]
    assert methods == ["model.account.invoice.create", "model.account.invoice.read"]
    (invoice,) = read_invoices(tryton, again.idempotency_key)
    assert (str(invoice["id"]), invoice["total_amount"]) == (ref.external_id, again.total)
    assert len(tryton.search_read("party.party", [["name", "=", first.customer.name]], ["id"])) == 1


def test_a_party_deleted_after_it_was_looked_up_is_looked_up_afresh(connector, posting, tryton):
    # The first push makes the party, then Tryton refuses to post (no period in 2001): the draft is
    # taken back, the party stays, and this process remembers it.
    refused = document(issue_date=date(2001, 5, 1))
    with pytest.raises(PermanentError, match="period"):
        posting.push_invoices([refused])
    (party,) = tryton.search_read("party.party", [["name", "=", refused.customer.name]], ["id"])
    tryton.call("model.party.party.delete", [party["id"]], changes_data=True)  # gone behind the hub's back
    doc = document(customer=refused.customer.name)
    connector.take_exchanges()

    (ref,) = connector.push_invoices([doc])

    methods = [x.url.split()[-1] for x in connector.take_exchanges()]
    assert methods.count("model.account.invoice.create") == 2  # refused with the stale id, then again
    assert methods.count("model.party.party.create") == 1
    (invoice,) = read_invoices(tryton, doc.idempotency_key)
    assert (str(invoice["id"]), invoice["party."]["name"]) == (ref.external_id, doc.customer.name)
    assert invoice["total_amount"] == doc.total


def test_a_refusal_with_fresh_look_ups_is_not_tried_again(connector, tryton):
    forget_all()
    doc = document()
    real_call = connector.call
    creates = []

    def refuse_create(method, *args, **kwargs):  # a create Tryton refuses for the document's own sake
        if method == "model.account.invoice.create":
            creates.append(args)
            raise PermanentError("Tryton model.account.invoice.create: UserError: refused")
        return real_call(method, *args, **kwargs)

    connector.call = refuse_create
    try:
        with pytest.raises(PermanentError, match="refused"):
            connector.push_invoices([doc])
    finally:
        del connector.call
    assert len(creates) == 1  # everything it used was looked up by this push: nothing to refresh
    assert read_invoices(tryton, doc.idempotency_key) == []


def test_a_new_log_in_forgets_the_look_ups(tryton_server):
    client = TrytonConnector(config(tryton_server))
    client.push_invoices([document()])
    client._post("common.db.logout", [], changes_data=False)  # as Tryton's idle timeout, or a restart
    client.take_exchanges()

    client.push_invoices([document()])

    methods = [x.url.split()[-1] for x in client.take_exchanges()]
    after_log_in = methods[methods.index("common.db.login") :]
    assert "model.account.configuration.read" in after_log_in  # looked up again
    client.close()


def test_look_ups_are_kept_for_a_while(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("connectors.tryton.cache.time.monotonic", lambda: now[0])
    cache = LookupCache(ttl=300)
    cache.put(("journal", None), 7)

    now[0] += 299
    assert cache.get(("journal", None)) == (1000.0, 7)
    now[0] += 2
    assert cache.get(("journal", None)) is None
    assert len(cache) == 0
