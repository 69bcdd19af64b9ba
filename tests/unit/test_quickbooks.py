"""QuickBooks Online connector against `responses`, with the request and response bodies of Intuit's
accounting API v3 documentation: what the hub sends (URL with requestid and minorversion, headers,
JSON body with exact numbers), how refusals, expired tokens, throttling, payments, voids and stock
paging are read back."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
)
from connectors.errors import AuthError, PermanentError, RetryableError
from connectors.oauth import MemoryTokenStore, Tokens
from connectors.quickbooks import PROVIDER, QuickBooksConnector
from connectors.quickbooks.wire import request_id
from mappings.defaults import default_document
from mappings.parse import parse
from tests.support.hosted_fixtures import RecordingPacer
from tests.support.quickbooks_api import (
    BASE,
    CONFIG,
    FAULT_TIME,
    ITEM,
    REALM,
    connector,
    document,
    line,
    qbo_invoice,
    query_answer,
    query_of,
    tokens,
)

CUSTOMER = {"Id": "1", "DisplayName": "Amy's Bird Sanctuary", "SyncToken": "0"}


def expect_lookups(*, invoice_found: list[dict] | None = None) -> None:
    responses.get(f"{BASE}/query", json=query_answer("Invoice", invoice_found or []))


def expect_customer_and_item() -> None:
    responses.get(f"{BASE}/query", json=query_answer("Item", [ITEM]))
    responses.get(f"{BASE}/query", json=query_answer("Customer", [CUSTOMER]))


# ---- push ------------------------------------------------------------------------------------------


@responses.activate
def test_push_sends_the_invoice_intuit_documents_with_requestid_minorversion_and_bearer():
    doc = document(
        line("PUMP-100", "2", "48.50"),
        line("PUMP-100", "3", "10.00", discount="10"),
        line("PUMP-100", "3", "3.33", "10"),
    )
    qbo = connector()
    expect_lookups()
    expect_customer_and_item()
    responses.post(
        f"{BASE}/invoice", json={"Invoice": qbo_invoice(total="158.26", balance="158.26"), "time": FAULT_TIME}
    )

    assert qbo.find_invoice(doc.idempotency_key) is None
    ref = qbo.push_invoice(doc)

    find, items, customer, create = responses.calls
    assert query_of(find) == {
        "query": ["select * from Invoice where DocNumber = 'INV-000042'"],
        "minorversion": ["75"],
    }
    assert query_of(items)["query"] == ["select * from Item where Sku in ('PUMP-100')"]
    # The apostrophe in the display name is escaped as QuickBooks' query language wants.
    assert query_of(customer)["query"] == ["select * from Customer where DisplayName = 'Amy\\'s Bird Sanctuary'"]
    assert create.request.url.split("?")[0] == f"{BASE}/invoice"
    body = json.loads(create.request.body, parse_float=Decimal)
    assert query_of(create) == {"requestid": [request_id("INV-000042", body)], "minorversion": ["75"]}
    assert len(query_of(create)["requestid"][0]) <= 50
    assert create.request.headers["Authorization"] == "Bearer eyJ-access-1"
    assert create.request.headers["Accept"] == "application/json"
    assert create.request.headers["Content-Type"] == "application/json"
    assert body == {
        "DocNumber": "INV-000042",
        "TxnDate": "2026-11-23",
        "DueDate": "2026-12-07",
        "CustomerRef": {"value": "1"},
        "CurrencyRef": {"value": "USD"},
        "PrivateNote": "INV-000042 deal D-000007",
        "CustomerMemo": {"value": "Thank you for your business"},
        "BillEmail": {"Address": "birds@intuit.com"},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal("97.00"),
                "Description": "PUMP-100 item",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "11", "name": "Pump"},
                    "Qty": Decimal("2"),
                    "UnitPrice": Decimal("48.50"),
                },
            },
            {
                # 10 % off: QuickBooks checks Amount = Qty × UnitPrice, so the net unit price goes.
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal("27.00"),
                "Description": "PUMP-100 item",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "11", "name": "Pump"},
                    "Qty": Decimal("3"),
                    "UnitPrice": Decimal("9"),
                },
            },
            {
                # 8.99 / 3: the net price to 7 decimals, as QuickBooks keeps a rate.
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal("8.99"),
                "Description": "PUMP-100 item",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "11", "name": "Pump"},
                    "Qty": Decimal("3"),
                    "UnitPrice": Decimal("2.9966667"),
                },
            },
        ],
    }
    assert '"UnitPrice": 9}' in create.request.body.decode()
    assert '"UnitPrice": 2.9966667}' in create.request.body.decode()
    assert ref == ExternalRef(
        "quickbooks",
        "130",
        "INV-000042",
        "https://app.sandbox.qbo.intuit.com/app/invoice?txnId=130",
        ExternalState.POSTED,
    )


@responses.activate
def test_a_repeated_push_carries_the_same_requestid_and_a_corrected_one_a_new_one():
    def pushed(doc: InvoiceDocument) -> str:
        """The requestid a push by a fresh connector (as each job makes) sends."""
        responses.reset()
        expect_customer_and_item()
        responses.post(
            f"{BASE}/invoice",
            json={"Invoice": qbo_invoice(total=str(doc.total), balance=str(doc.total)), "time": FAULT_TIME},
        )
        connector().push_invoice(doc)
        (post,) = [c for c in responses.calls if c.request.method == "POST"]
        return query_of(post)["requestid"][0]

    first = pushed(document())
    assert first.startswith("INV-000042-")
    assert pushed(document()) == first
    assert pushed(document(line("PUMP-100", "3", "48.50"))) != first


@responses.activate
def test_find_before_create_returns_the_invoice_an_earlier_push_made():
    responses.get(f"{BASE}/query", json=query_answer("Invoice", [qbo_invoice("131", doc_number="INV-000042")]))
    ref = connector().find_invoice("INV-000042")
    assert (ref.external_id, ref.external_number) == ("131", "INV-000042")


@responses.activate
def test_find_many_asks_once_with_in():
    responses.get(
        f"{BASE}/query",
        json=query_answer("Invoice", [qbo_invoice("7", doc_number="INV-000002"), qbo_invoice("9", doc_number="X")]),
    )
    found = connector().find_invoices(["INV-000001", "INV-000002"])
    assert list(found) == ["INV-000002"]
    assert query_of(responses.calls[0])["query"] == [
        "select * from Invoice where DocNumber in ('INV-000001', 'INV-000002')"
    ]


@responses.activate
def test_a_validation_fault_is_a_permanent_error_naming_the_element():
    expect_customer_and_item()
    responses.post(
        f"{BASE}/invoice",
        status=400,
        json={
            "Fault": {
                "Error": [
                    {
                        "Message": "Required param missing, need to supply the required value for the API",
                        "Detail": "Required parameter Line.SalesItemLineDetail.ItemRef is missing in the request",
                        "code": "2020",
                        "element": "Line.SalesItemLineDetail.ItemRef",
                    }
                ],
                "type": "ValidationFault",
            },
            "time": FAULT_TIME,
        },
    )
    with pytest.raises(PermanentError) as raised:
        connector().push_invoice(document())
    assert raised.value.field == "Line.SalesItemLineDetail.ItemRef"
    assert "2020" in raised.value.message
    assert "is missing in the request" in raised.value.message


@responses.activate
def test_an_unknown_item_is_refused_naming_the_line_before_anything_is_created():
    responses.get(f"{BASE}/query", json=query_answer("Item", []))  # by Sku
    responses.get(f"{BASE}/query", json=query_answer("Item", []))  # by Name
    with pytest.raises(PermanentError) as raised:
        connector().push_invoice(document(line("NOPE-1", "1", "5")))
    assert raised.value.field == "lines[0].sku"
    assert [query_of(c)["query"][0] for c in responses.calls] == [
        "select * from Item where Sku in ('NOPE-1')",
        "select * from Item where Name in ('NOPE-1')",
    ]


@responses.activate
def test_an_unknown_customer_is_parked_unless_the_mapping_allows_creating_it():
    responses.get(f"{BASE}/query", json=query_answer("Item", [ITEM]))
    responses.get(f"{BASE}/query", json=query_answer("Customer", []))
    with pytest.raises(PermanentError) as raised:
        connector().push_invoice(document(customer="Globex"))
    assert raised.value.field == "customer"
    assert not [c for c in responses.calls if c.request.method == "POST"]

    responses.reset()
    mapping = default_document("quickbooks")
    mapping["options"] = {"create_customers": True}
    responses.get(f"{BASE}/query", json=query_answer("Item", [ITEM]))
    responses.get(f"{BASE}/query", json=query_answer("Customer", []))
    responses.post(f"{BASE}/customer", json={"Customer": {"Id": "58", "DisplayName": "Globex"}, "time": FAULT_TIME})
    responses.post(
        f"{BASE}/invoice", json={"Invoice": qbo_invoice(total="115.43", balance="115.43"), "time": FAULT_TIME}
    )
    connector(mapping=parse(mapping)).push_invoice(document(customer="Globex"))
    create_customer, create_invoice = [c for c in responses.calls if c.request.method == "POST"]
    assert json.loads(create_customer.request.body) == {
        "DisplayName": "Globex",
        "PrimaryEmailAddr": {"Address": "birds@intuit.com"},
    }
    assert "requestid" in query_of(create_customer)
    assert json.loads(create_invoice.request.body)["CustomerRef"] == {"value": "58"}


# ---- tokens and limits ---------------------------------------------------------------------------


@responses.activate
def test_a_401_refreshes_the_token_and_the_request_succeeds():
    responses.get(
        f"{BASE}/invoice/130",
        status=401,
        json={
            "fault": {
                "error": [
                    {
                        "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                        "detail": "Token expired: eyJ-access-1",
                        "code": "3200",
                    }
                ],
                "type": "AUTHENTICATION",
            },
            "time": FAULT_TIME,
        },
    )
    responses.post(
        PROVIDER.token_url,
        json={
            "token_type": "bearer",
            "access_token": "eyJ-access-2",
            "refresh_token": "AB11-refresh-2",
            "expires_in": 3600,
            "x_refresh_token_expires_in": 8726400,
        },
    )
    responses.get(f"{BASE}/invoice/130", json={"Invoice": qbo_invoice(), "time": FAULT_TIME})
    store = MemoryTokenStore(tokens())
    status = connector(store).invoice_status(ExternalRef("quickbooks", "130"))
    assert status.status == ExternalState.POSTED
    first, refresh, again = responses.calls
    assert first.request.headers["Authorization"] == "Bearer eyJ-access-1"
    assert parse_qs(refresh.request.body) == {"grant_type": ["refresh_token"], "refresh_token": ["AB11-refresh-1"]}
    assert again.request.headers["Authorization"] == "Bearer eyJ-access-2"
    # Intuit rotates refresh tokens: the new one is kept, and so is the company.
    assert (store.tokens.refresh_token, store.tokens.extra["realmId"]) == ("AB11-refresh-2", REALM)


@responses.activate
def test_a_429_with_retry_after_is_a_retryable_error_with_that_wait_and_pauses_the_pacer():
    responses.get(
        f"{BASE}/query",
        status=429,
        headers={"Retry-After": "42"},
        json={
            "Fault": {"Error": [{"Message": "message=ThrottleExceeded", "code": "003001"}], "type": "SERVICE"},
            "time": FAULT_TIME,
        },
    )
    pacer = RecordingPacer()
    with pytest.raises(RetryableError) as raised:
        connector(pacer=pacer).find_invoice("INV-000042")
    assert raised.value.wait == 42
    assert pacer.holds == [42]
    assert QuickBooksConnector.limits.per_minute == 500
    assert QuickBooksConnector.limits.concurrent == 10
    assert QuickBooksConnector.limits.batches_per_minute == 40


def test_the_callback_realm_is_kept_with_the_tokens_and_required():
    qbo = connector(MemoryTokenStore())
    fresh = Tokens("a", "r", datetime.now(UTC) + timedelta(hours=1))
    got = qbo.authorised(fresh, {"code": "c", "state": "s", "realmId": REALM})
    assert got.extra == {"realmId": REALM}
    with pytest.raises(AuthError, match="realmId"):
        qbo.authorised(fresh, {"code": "c", "state": "s"})


def test_the_authorization_url_is_intuits_with_the_accounting_scope():
    client = QuickBooksConnector.oauth_client(CONFIG, redirect_uri="https://hub.example/oauth/callback")
    url = urlsplit(client.authorization_url("st"))
    assert (url.scheme, url.netloc, url.path) == ("https", "appcenter.intuit.com", "/connect/oauth2")
    assert parse_qs(url.query)["scope"] == ["com.intuit.quickbooks.accounting"]
    assert PROVIDER.token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


@responses.activate
def test_production_talks_to_the_production_host():
    responses.get(
        f"https://quickbooks.api.intuit.com/v3/company/{REALM}/companyinfo/{REALM}",
        json={"CompanyInfo": {"CompanyName": "Sandbox Company_US_1", "Id": "1"}, "time": FAULT_TIME},
    )
    assert "Sandbox Company_US_1" in connector(environment="production").test_connection()


# ---- status, void, stock ------------------------------------------------------------------------


@responses.activate
def test_a_partial_payment_is_read_back_as_decimal():
    responses.get(f"{BASE}/invoice/130", json={"Invoice": qbo_invoice(total="97.00", balance="37.00")})
    status = connector().invoice_status(ExternalRef("quickbooks", "130"))
    assert status.status == ExternalState.PARTIALLY_PAID
    assert (status.amount_total, status.amount_paid) == (Decimal("97.0"), Decimal("60.0"))
    assert status.currency == "USD"

    responses.get(f"{BASE}/invoice/131", json={"Invoice": qbo_invoice("131", total="97.00", balance="0")})
    assert connector().invoice_status(ExternalRef("quickbooks", "131")).status == ExternalState.PAID


@responses.activate
def test_void_sends_id_and_the_current_sync_token_and_reads_back_cancelled():
    responses.get(f"{BASE}/invoice/130", json={"Invoice": qbo_invoice(sync_token="3"), "time": FAULT_TIME})
    voided = qbo_invoice(sync_token="4", total="0", balance="0", PrivateNote="Voided")
    responses.post(f"{BASE}/invoice", json={"Invoice": voided, "time": FAULT_TIME})
    responses.get(f"{BASE}/invoice/130", json={"Invoice": voided, "time": FAULT_TIME})
    qbo = connector()
    qbo.cancel_invoice(ExternalRef("quickbooks", "130"))
    void = responses.calls[1]
    assert query_of(void) == {"operation": ["void"], "minorversion": ["75"]}
    assert json.loads(void.request.body) == {"Id": "130", "SyncToken": "3"}
    assert qbo.invoice_status(ExternalRef("quickbooks", "130")).status == ExternalState.CANCELLED


@responses.activate
def test_stock_follows_the_pages_to_the_end():
    def item(n: int) -> dict:
        return {
            "Id": str(n),
            "Name": f"Item {n}",
            "Sku": f"SKU-{n}",
            "Type": "Inventory",
            "QtyOnHand": n % 7 + 0.5,
            "MetaData": {"LastUpdatedTime": "2026-11-20T08:00:00-08:00"},
        }

    responses.get(f"{BASE}/query", json=query_answer("Item", [item(n) for n in range(1, 1001)]))
    responses.get(f"{BASE}/query", json=query_answer("Item", [item(n) for n in range(1001, 1004)], 1001))
    levels = list(connector(warehouse="MAIN").pull_stock())
    assert [query_of(c)["query"][0] for c in responses.calls] == [
        "select * from Item where Type = 'Inventory' STARTPOSITION 1 MAXRESULTS 1000",
        "select * from Item where Type = 'Inventory' STARTPOSITION 1001 MAXRESULTS 1000",
    ]
    assert len(levels) == 1003
    last = levels[-1]
    assert (last.sku, last.warehouse, last.on_hand, last.available) == (
        "SKU-1003",
        "MAIN",
        Decimal("2.5"),
        Decimal("2.5"),
    )
    # As of the read: the item's LastUpdatedTime says when it was edited, not when its stock moved.
    assert last.as_of > datetime(2026, 11, 21, tzinfo=UTC)


@responses.activate
def test_every_stock_pull_reads_all_items_as_their_change_time_misses_stock_moves():
    responses.get(f"{BASE}/query", json=query_answer("Item", []))
    assert list(connector().pull_stock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))) == []
    assert query_of(responses.calls[0])["query"] == [
        "select * from Item where Type = 'Inventory' STARTPOSITION 1 MAXRESULTS 1000"
    ]
    assert QuickBooksConnector.incremental_stock is False  # what a pull leaves out drops to zero


# ---- batches ------------------------------------------------------------------------------------


@responses.activate
def test_several_invoices_go_in_one_batch_and_a_refused_one_fails_alone_without_doubling_the_others():
    from hub.sync.push import _push  # the engine's find-then-create step (no app needed)

    docs = [document(key=f"INV-00005{n}") for n in range(3)]
    fault = {
        "Error": [
            {
                "Message": "Business Validation Error",
                "Detail": "Transaction date is prior to start date for inventory item",
                "code": "6270",
                "element": "TxnDate",
            }
        ],
        "type": "ValidationFault",
    }
    responses.get(f"{BASE}/query", json=query_answer("Invoice", []))  # none of them exists yet
    expect_customer_and_item()
    responses.post(
        f"{BASE}/batch",
        json={
            "BatchItemResponse": [
                {
                    "bId": "INV-000050",
                    "Invoice": qbo_invoice("140", doc_number="INV-000050", total="115.43", balance="115.43"),
                },
                {"bId": "INV-000051", "Fault": fault},
                {
                    "bId": "INV-000052",
                    "Invoice": qbo_invoice("142", doc_number="INV-000052", total="115.43", balance="115.43"),
                },
            ],
            "time": FAULT_TIME,
        },
    )
    responses.post(f"{BASE}/invoice", status=400, json={"Fault": fault, "time": FAULT_TIME})

    results = _push(connector(), docs)

    assert {k: v.external_id for k, v in results.items() if isinstance(v, ExternalRef)} == {
        "INV-000050": "140",
        "INV-000052": "142",
    }
    assert isinstance(results["INV-000051"], PermanentError)
    assert results["INV-000051"].field == "TxnDate"
    batch, single = [c for c in responses.calls if c.request.method == "POST"]
    assert batch.request.url.split("?")[0] == f"{BASE}/batch"
    assert set(query_of(batch)) == {"requestid", "minorversion"}
    sent = json.loads(batch.request.body, parse_float=Decimal)["BatchItemRequest"]
    assert [(item["bId"], item["operation"], item["Invoice"]["DocNumber"]) for item in sent] == [
        ("INV-000050", "create", "INV-000050"),
        ("INV-000051", "create", "INV-000051"),
        ("INV-000052", "create", "INV-000052"),
    ]
    assert sent[0]["Invoice"]["Line"][0]["Amount"] == Decimal("97.00")
    # Only the refused one is sent again, alone; the two created ones are not sent a second time.
    assert json.loads(single.request.body)["DocNumber"] == "INV-000051"
    assert query_of(responses.calls[0])["query"] == [
        "select * from Invoice where DocNumber in ('INV-000050', 'INV-000051', 'INV-000052')"
    ]


@responses.activate
def test_an_invoice_whose_total_quickbooks_computes_otherwise_is_deleted_and_refused():
    """QuickBooks applies its own sales tax (97.00 + 7.76 here, not the hub's 19 %): the invoice it
    made is deleted, so that its DocNumber is free, and the push is refused naming both totals."""
    expect_customer_and_item()
    created = qbo_invoice(total="104.76", balance="104.76", sync_token="0")
    responses.post(f"{BASE}/invoice", json={"Invoice": created, "time": FAULT_TIME})

    with pytest.raises(PermanentError) as refused:
        connector().push_invoice(document())

    assert refused.value.message == (
        "QuickBooks computes 104.76 USD for INV-000042, the hub 115.43: check the items' tax codes (table taxes) "
        "and the company's sales tax settings in QuickBooks"
    )
    assert refused.value.field == "total"
    _, delete = [c for c in responses.calls if c.request.method == "POST"]
    assert query_of(delete)["operation"] == ["delete"]
    assert json.loads(delete.request.body) == {"Id": "130", "SyncToken": "0"}


@responses.activate
def test_in_a_batch_only_the_invoice_with_another_total_is_deleted_and_refused():
    from hub.sync.push import _push

    docs = [document(key="INV-000060"), document(key="INV-000061")]
    responses.get(f"{BASE}/query", json=query_answer("Invoice", []))
    expect_customer_and_item()
    good = qbo_invoice("160", doc_number="INV-000060", total="115.43", balance="115.43")
    wrong = qbo_invoice("161", doc_number="INV-000061", total="104.76", balance="104.76")
    responses.post(
        f"{BASE}/batch",
        json={"BatchItemResponse": [{"bId": "INV-000060", "Invoice": good}, {"bId": "INV-000061", "Invoice": wrong}]},
    )
    # The engine then pushes the refused one alone: QuickBooks computes its total otherwise again.
    responses.post(f"{BASE}/invoice", json={"Invoice": wrong, "time": FAULT_TIME})

    results = _push(connector(), docs)

    assert results["INV-000060"].external_id == "160"
    assert isinstance(results["INV-000061"], PermanentError)
    assert results["INV-000061"].field == "total"
    deletes = [json.loads(c.request.body) for c in responses.calls if query_of(c).get("operation") == ["delete"]]
    assert deletes == [{"Id": "161", "SyncToken": "0"}, {"Id": "161", "SyncToken": "0"}]


@responses.activate
def test_batches_carry_at_most_30_invoices():
    docs = [document(key=f"INV-{n:06d}") for n in range(1, 32)]
    expect_customer_and_item()

    def answer(request):
        items = json.loads(request.body)["BatchItemRequest"]
        return (
            200,
            {},
            json.dumps(
                {
                    "BatchItemResponse": [
                        {
                            "bId": i["bId"],
                            "Invoice": qbo_invoice(i["bId"][4:], doc_number=i["bId"], total="115.43", balance="115.43"),
                        }
                        for i in items
                    ]
                }
            ),
        )

    responses.add_callback(responses.POST, f"{BASE}/batch", callback=answer)
    pacer = RecordingPacer()
    refs = connector(pacer=pacer).push_invoices(docs)
    assert [r.external_number for r in refs] == [d.idempotency_key for d in docs]
    # The item and the customer are looked up once for the 31 invoices.
    assert len([c for c in responses.calls if c.request.method == "GET"]) == 2
    sizes = [len(json.loads(c.request.body)["BatchItemRequest"]) for c in responses.calls if c.request.method == "POST"]
    assert sizes == [30, 1]
    # Intuit meters each batch item as a request, and counts the batch calls a minute apart.
    assert pacer.weights == [(1, False), (1, False), (30, True), (1, True)]


@responses.activate
def test_a_reference_longer_than_a_docnumber_is_refused_before_anything_is_sent():
    with pytest.raises(PermanentError) as raised:
        connector().push_invoice(document(key="INV-2026-11-DEAL-000042"))
    assert raised.value.field == "reference"
    assert "21 characters" in raised.value.message
    assert len(responses.calls) == 0


@responses.activate
def test_a_void_that_meets_a_stale_sync_token_reads_the_invoice_again_once():
    stale = {
        "Fault": {
            "Error": [
                {
                    "Message": "Stale Object Error",
                    "Detail": "Stale Object Error : You and root were working on this at the same time. root "
                    "finished before you did, so your work was not saved.",
                    "code": "5010",
                    "element": "",
                }
            ],
            "type": "ValidationFault",
        },
        "time": FAULT_TIME,
    }
    responses.get(f"{BASE}/invoice/130", json={"Invoice": qbo_invoice(sync_token="3")})
    responses.post(f"{BASE}/invoice", status=400, json=stale)
    responses.get(f"{BASE}/invoice/130", json={"Invoice": qbo_invoice(sync_token="4")})
    responses.post(f"{BASE}/invoice", json={"Invoice": qbo_invoice(sync_token="5", total="0", PrivateNote="Voided")})
    connector().cancel_invoice(ExternalRef("quickbooks", "130"))
    voids = [json.loads(c.request.body) for c in responses.calls if c.request.method == "POST"]
    assert voids == [{"Id": "130", "SyncToken": "3"}, {"Id": "130", "SyncToken": "4"}]


def test_request_ids_are_safe_in_a_query_string_and_tell_bodies_apart():
    # A customer's name becomes part of the key: Intuit refuses spaces and apostrophes in requestid.
    first = request_id("C-O'Brien & Söhne GmbH", {"DisplayName": "O'Brien & Söhne GmbH"})
    second = request_id("C-O'Brien & Söhne GmbH", {"DisplayName": "O'Brien & Söhne GmbH "})
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,50}", first)
    assert first.startswith("C-OBrienShneGmbH-")
    assert first != second
    assert first == request_id("C-O'Brien & Söhne GmbH", {"DisplayName": "O'Brien & Söhne GmbH"})
    assert len(request_id("C-" + "Ж" * 80 + "x" * 80, {})) == 50


# ---- listing for the reconciliation report -----------------------------------------------------


@responses.activate
def test_invoices_of_the_period_are_listed_page_by_page(monkeypatch):
    monkeypatch.setattr("connectors.quickbooks.INVOICE_PAGE", 2)
    taxed = {"TxnTaxDetail": {"TotalTax": 15.52}}
    listed = [
        qbo_invoice("130", total="112.52", balance="112.52", **taxed),
        qbo_invoice("131", doc_number="INV-000043", total="112.52", balance="50.00", **taxed),
        qbo_invoice("132", doc_number="1038", total="97.00", balance="0"),
    ]
    first_page = responses.get(f"{BASE}/query", json=query_answer("Invoice", listed[:2]))
    second_page = responses.get(f"{BASE}/query", json=query_answer("Invoice", listed[2:], start=3))

    got = list(connector().list_invoices(date(2026, 11, 1), date(2026, 11, 30)))

    assert [len(p) for p in got] == [2, 1]
    first, second, third = (*got[0], *got[1])
    assert (first.reference, first.external_id, first.total, first.tax, first.currency, first.customer) == (
        "INV-000042",
        "130",
        Decimal("112.52"),
        Decimal("15.52"),
        "USD",
        "Amy's Bird Sanctuary",
    )
    assert [i.state for i in (first, second, third)] == [
        ExternalState.POSTED,
        ExternalState.PARTIALLY_PAID,
        ExternalState.PAID,
    ]
    assert (third.reference, third.tax, first.issue_date) == ("1038", Decimal(0), date(2026, 11, 23))
    assert first.url == "https://app.sandbox.qbo.intuit.com/app/invoice?txnId=130"
    where = "select * from Invoice where TxnDate >= '2026-11-01' and TxnDate <= '2026-11-30'"
    assert query_of(first_page.calls[0])["query"] == [f"{where} STARTPOSITION 1 MAXRESULTS 2"]
    assert query_of(second_page.calls[0])["query"] == [f"{where} STARTPOSITION 3 MAXRESULTS 2"]


@responses.activate
def test_a_company_outside_the_us_gets_a_tax_code_on_every_line_or_the_push_is_refused():
    # Outside the US (VAT, GST) QuickBooks refuses a line without a TaxCodeRef.
    expect_customer_and_item()
    with pytest.raises(PermanentError) as refused:
        connector(tax_model="vat").build_invoice(document())
    assert refused.value.field == "lines[0].tax_code"
    assert "add the rate 0.19 to table tax_codes" in refused.value.message
    assert not [c for c in responses.calls if "Customer" in (query_of(c).get("query") or [""])[0]]

    responses.reset()
    expect_customer_and_item()
    mapping = parse(default_document("quickbooks")).with_rows({"tax_codes": {"0.19": "7"}})
    body = connector(tax_model="vat", mapping=mapping).build_invoice(document())
    assert body["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "7"}
    # A US company's lines may go without one: QuickBooks then taxes by the item and the customer.
    responses.reset()
    expect_customer_and_item()
    assert "TaxCodeRef" not in connector().build_invoice(document())["Line"][0]["SalesItemLineDetail"]
