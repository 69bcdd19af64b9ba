"""Zoho Books (and Zoho Inventory) with `responses`: requests and answers as Zoho's API documentation
shows them (https://www.zoho.com/books/api/v3/, https://www.zoho.com/inventory/api/v1/). Each test
asserts what the connector sends: URL, query (organization_id), Authorization scheme, JSON body."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors.documents import (
    ExternalRef,
    ExternalState,
)
from connectors.errors import PermanentError, RetryableError, UncertainOutcomeError
from connectors.oauth import MemoryTokenStore, ReauthorizationRequired
from connectors.zoho_books import ZohoBooksConnector
from hub.extensions import db
from hub.models import Authorisation, Connection, DocumentMode, OutboxEvent, OutboxState
from hub.sync.factory import open_connector
from hub.sync.worker import drain
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.hosted_fixtures import RecordingPacer, authorise_connection, tokens, won_deal
from tests.support.recorded_requests import query, sent
from tests.support.through_engine import linked_once_after_a_lost_answer, retry_due_after_one_attempt
from tests.support.zoho_books_api import ACME, API, BOOKS, CONFIG, ORG, connector, document, invoice, ok

TOKEN_URL = "https://accounts.zoho.eu/oauth/v2/token"
PUMP = {"item_id": "460000000027009", "name": "Pump", "sku": "PUMP-100", "rate": 1249.0, "status": "active"}
MANUAL = {"item_id": "460000000027011", "name": "Manual", "sku": "MANUAL-DE", "rate": 12.0, "status": "active"}
TAXES = {
    "code": 0,
    "message": "success",
    "taxes": [
        {"tax_id": "982000000566009", "tax_name": "VAT 19", "tax_percentage": 19, "tax_type": "tax"},
        {"tax_id": "982000000566010", "tax_name": "VAT 7", "tax_percentage": 7, "tax_type": "tax"},
    ],
}


def catalogue() -> None:
    responses.get(f"{BOOKS}/items", match=[_sku("PUMP-100")], json=ok(items=[PUMP]))
    responses.get(f"{BOOKS}/items", match=[_sku("MANUAL-DE")], json=ok(items=[MANUAL]))
    responses.get(f"{BOOKS}/settings/taxes", json=TAXES)


def _sku(sku: str):
    return responses.matchers.query_param_matcher({"organization_id": ORG, "search_text": sku})


def _contacts(**params):
    return responses.matchers.query_param_matcher({"organization_id": ORG, "contact_type": "customer", **params})


# ---- OAuth and regions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("centre", "accounts", "api"),
    [
        ("com", "https://accounts.zoho.com", "https://www.zohoapis.com"),
        ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        ("com.au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        ("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        ("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
    ],
)
def test_the_data_centre_decides_the_accounts_and_api_servers(centre, accounts, api):
    config = {**CONFIG, "data_centre": centre}
    provider = ZohoBooksConnector.oauth_provider(config)
    assert provider.token_url == f"{accounts}/oauth/v2/token"
    url = urlsplit(ZohoBooksConnector.oauth_client(config, redirect_uri="https://hub/cb").authorization_url("s"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{accounts}/oauth/v2/auth"
    assert parse_qs(url.query)["scope"] == ["ZohoBooks.fullaccess.all,ZohoInventory.items.READ"]
    assert parse_qs(url.query)["access_type"] == ["offline"]
    # Without an api_domain in the token answer, the data centre's API server is used.
    plain = ZohoBooksConnector(config, tokens=MemoryTokenStore(tokens()))
    assert plain.api.base_url == api


def test_the_token_answers_api_domain_wins():
    assert connector().api.base_url == API


def test_the_config_schema_marks_the_client_secret_and_offers_the_regions():
    fields = {f.name: f for f in ZohoBooksConnector.config_schema}
    assert ZohoBooksConnector.secret_fields() == {"client_secret"}
    assert fields["data_centre"].choices == ("com", "eu", "in", "com.au", "jp", "ca", "com.cn", "sa", "uk", "ae")
    assert ZohoBooksConnector.mapping_problems(default_document("zoho_books")) == []


@responses.activate
def test_the_connection_test_reads_the_organisation():
    read = responses.get(
        f"{BOOKS}/organizations/{ORG}",
        json=ok(organization={"organization_id": ORG, "name": "Zylker GmbH", "currency_code": "EUR"}),
    )
    assert connector().test_connection() == "Zoho Books organisation Zylker GmbH (EUR)"
    assert query(read.calls[0]) == {"organization_id": ORG}
    assert read.calls[0].request.headers["Authorization"] == "Zoho-oauthtoken A1"


# ---- push ------------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("post", [False, True], ids=["draft", "posted"])
def test_push_sends_the_invoice_with_zohos_ids_for_customer_items_and_taxes(post):
    catalogue()
    responses.get(f"{BOOKS}/contacts", match=[_contacts(email="buyer@acme.example")], json=ok(contacts=[]))
    responses.get(f"{BOOKS}/contacts", match=[_contacts(contact_name="Acme GmbH")], json=ok(contacts=[ACME]))
    created = responses.post(f"{BOOKS}/invoices", json=ok(message="The invoice has been created.", invoice=invoice()))
    marked = responses.post(
        f"{BOOKS}/invoices/982000000567114/status/sent", json=ok(message="Invoice status has been changed to Sent.")
    )

    ref = connector(post=post).push_invoice(document(email="buyer@acme.example"))

    assert (ref.external_id, ref.external_number) == ("982000000567114", "INV-00003")
    assert ref.url == f"https://books.zoho.eu/app/{ORG}#/invoices/982000000567114"
    assert ref.status == (ExternalState.POSTED if post else ExternalState.DRAFT)
    assert created.call_count == 1
    assert marked.call_count == (1 if post else 0)
    call = created.calls[0]
    assert query(call) == {"organization_id": ORG}
    assert call.request.headers["Authorization"] == "Zoho-oauthtoken A1"
    assert call.request.headers["Content-Type"] == "application/json"
    assert sent(call) == {
        "customer_id": "460000000026049",
        "reference_number": "INV-000042",
        "date": "2026-11-23",
        "line_items": [
            {
                "item_id": "460000000027009",
                "description": "Pump",
                "quantity": 2,
                "rate": Decimal("1249.00"),
                "discount": "10%",
                "tax_id": "982000000566009",
            },
            {
                "item_id": "460000000027011",
                "description": "Manual",
                "quantity": 3,
                "rate": Decimal("12.00"),
                "tax_id": "982000000566010",
            },
        ],
        "discount_type": "item_level",
        "due_date": "2026-12-07",
        "notes": "D-000007",
    }
    # Every call carried the organisation and the token.
    assert all(query(c)["organization_id"] == ORG for c in responses.calls)
    assert all(c.request.headers["Authorization"] == "Zoho-oauthtoken A1" for c in responses.calls)


@responses.activate
def test_an_unknown_customer_is_created_when_the_mapping_allows_it():
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[{**ACME, "contact_name": "Acme Holding"}]))
    new = responses.post(f"{BOOKS}/contacts", json=ok(contact={**ACME, "contact_id": "460000000099001"}))
    created = responses.post(f"{BOOKS}/invoices", json=ok(invoice=invoice()))

    connector().push_invoice(document())

    assert sent(new.calls[0]) == {
        "contact_name": "Acme GmbH",
        "contact_type": "customer",
        "billing_address": {"city": "Berlin", "country": "DE"},
    }
    assert sent(created.calls[0])["customer_id"] == "460000000099001"


@responses.activate
def test_an_unknown_customer_is_refused_when_the_mapping_does_not_create_customers():
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[]))
    mapping = parse({**default_document("zoho_books"), "options": {"create_customers": False}})
    with pytest.raises(PermanentError) as refused:
        connector(mapping=mapping).push_invoice(document())
    assert refused.value.field == "customer"
    assert [c.request.method for c in responses.calls] == ["GET"] * len(responses.calls)


@responses.activate
def test_a_customer_billed_in_another_currency_is_refused_before_anything_is_created():
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[{**ACME, "currency_code": "USD"}]))
    with pytest.raises(PermanentError) as refused:
        connector().push_invoice(document())
    assert refused.value.field == "currency"
    assert "USD" in refused.value.message
    assert all(c.request.method == "GET" for c in responses.calls)


@responses.activate
def test_an_unknown_sku_is_refused_naming_the_line():
    responses.get(f"{BOOKS}/items", match=[_sku("PUMP-100")], json=ok(items=[PUMP]))
    # A looser search answer must not pass for the item.
    responses.get(f"{BOOKS}/items", match=[_sku("MANUAL-DE")], json=ok(items=[{**MANUAL, "sku": "MANUAL-DE-2"}]))
    every = responses.get(
        f"{BOOKS}/items",
        match=[_active_items(1)],
        json=ok(items=[PUMP, {**MANUAL, "sku": "MANUAL-DE-2"}], page_context={"has_more_page": False}),
    )
    responses.get(f"{BOOKS}/settings/taxes", json=TAXES)
    with pytest.raises(PermanentError) as refused:
        connector().push_invoice(document())
    assert refused.value.field == "lines[1].sku"
    assert every.call_count == 1
    assert all(c.request.method == "GET" for c in responses.calls)


def _active_items(page: int):
    return responses.matchers.query_param_matcher(
        {"organization_id": ORG, "filter_by": "Status.Active", "page": str(page), "per_page": "200"}
    )


@responses.activate
def test_an_item_the_search_misses_is_found_among_all_active_items_read_once_per_batch():
    # Zoho documents no SKU filter; its search looks at names and descriptions.
    responses.get(f"{BOOKS}/items", match=[_sku("PUMP-100")], json=ok(items=[]))
    responses.get(f"{BOOKS}/items", match=[_sku("MANUAL-DE")], json=ok(items=[]))
    pages = [
        responses.get(
            f"{BOOKS}/items", match=[_active_items(1)], json=ok(items=[PUMP], page_context={"has_more_page": True})
        ),
        responses.get(
            f"{BOOKS}/items", match=[_active_items(2)], json=ok(items=[MANUAL], page_context={"has_more_page": False})
        ),
    ]
    responses.get(f"{BOOKS}/settings/taxes", json=TAXES)
    responses.get(f"{BOOKS}/contacts", match=[_contacts(contact_name="Acme GmbH")], json=ok(contacts=[ACME]))
    payload = connector().build_payload(document(), dry_run=True)
    assert [line["item_id"] for line in payload["line_items"]] == [PUMP["item_id"], MANUAL["item_id"]]
    assert [page.call_count for page in pages] == [1, 1]


@responses.activate
@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Invalid value passed for customer_id", "customer_id"),
        ("Invalid value passed for tax_id", "line_items[].tax_id"),
    ],
)
def test_a_zoho_refusal_is_permanent_and_names_the_field(message, field):
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[ACME]))
    responses.post(f"{BOOKS}/invoices", status=400, json={"code": 4, "message": message})
    with pytest.raises(PermanentError) as refused:
        connector().push_invoice(document(discount="0"))
    assert refused.value.field == field
    assert message in refused.value.message


@responses.activate
def test_an_invoice_zoho_totals_differently_is_deleted_again_and_refused():
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[ACME]))
    responses.post(f"{BOOKS}/invoices", json=ok(invoice=invoice(total=2713.89)))
    deleted = responses.delete(f"{BOOKS}/invoices/982000000567114", json=ok(message="The invoice has been deleted."))
    marked = responses.post(f"{BOOKS}/invoices/982000000567114/status/sent", json=ok())
    with pytest.raises(PermanentError) as refused:
        connector(post=True).push_invoice(document())
    assert refused.value.field == "total"
    assert "2713.89" in refused.value.message
    assert "2713.88" in refused.value.message
    assert deleted.call_count == 1
    assert query(deleted.calls[0]) == {"organization_id": ORG}
    assert marked.call_count == 0


@responses.activate
def test_a_create_answered_without_the_invoice_is_uncertain():
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[ACME]))
    created = responses.post(f"{BOOKS}/invoices", body="<html><body>Gateway: please sign in</body></html>")
    with pytest.raises(UncertainOutcomeError, match="the answer has no invoice"):
        connector(post=True).push_invoice(document())
    assert created.call_count == 1
    assert responses.calls[-1].request.method == "POST"  # neither deleted nor marked sent


@responses.activate
def test_a_wrong_total_zoho_would_not_delete_is_parked_not_retried():
    """A retry would find the invoice by its reference and link it, wrong total and all."""
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[ACME]))
    responses.post(f"{BOOKS}/invoices", json=ok(invoice=invoice(total=2713.89)))
    deleted = responses.delete(f"{BOOKS}/invoices/982000000567114", status=503, body="")
    with pytest.raises(PermanentError) as refused:
        connector(post=True).push_invoice(document())
    assert deleted.call_count == 1
    assert refused.value.field == "total"
    assert "2713.89" in refused.value.message
    assert "Deleting Zoho invoice INV-00003 failed" in refused.value.message
    assert "delete it in Zoho Books before retrying" in refused.value.message
    assert [c.request.method for c in responses.calls][-2:] == ["POST", "DELETE"]  # not marked as sent


@responses.activate
def test_the_preview_shows_the_payload_without_creating_anything():
    catalogue()
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[]))
    preview = connector().preview_payload(document())
    assert preview["customer_id"] == "(new customer 'Acme GmbH', created by the push)"
    assert preview["line_items"][0]["rate"] == "1249.00"
    assert all(c.request.method == "GET" for c in responses.calls)


# ---- find-before-create ---------------------------------------------------------------------


@responses.activate
def test_find_invoice_looks_the_reference_up_and_takes_only_an_exact_match():
    found = responses.get(
        f"{BOOKS}/invoices",
        json=ok(
            invoices=[
                invoice(invoice_id="982000000567200", reference_number="INV-0000420", status="sent"),
                invoice(status="sent"),
            ]
        ),
    )
    ref = connector().find_invoice("INV-000042")
    assert query(found.calls[0]) == {"organization_id": ORG, "reference_number": "INV-000042"}
    assert (ref.external_id, ref.status) == ("982000000567114", ExternalState.POSTED)


@responses.activate
def test_a_draft_found_in_posted_mode_is_marked_sent_completing_the_lost_push():
    responses.get(f"{BOOKS}/invoices", json=ok(invoices=[invoice()]))
    marked = responses.post(f"{BOOKS}/invoices/982000000567114/status/sent", json=ok())
    ref = connector(post=True).find_invoice("INV-000042")
    assert marked.call_count == 1
    assert ref.status == ExternalState.POSTED


@responses.activate
def test_nothing_found_is_none():
    responses.get(f"{BOOKS}/invoices", json=ok(invoices=[], page_context={"page": 1, "has_more_page": False}))
    assert connector().find_invoice("INV-000042") is None


# ---- tokens and limits ------------------------------------------------------------------------


@responses.activate
def test_a_401_refreshes_the_token_and_repeats_the_call():
    responses.get(
        f"{BOOKS}/invoices",
        status=401,
        json={"code": 57, "message": "You are not authorized to perform this operation"},
    )
    refresh = responses.post(
        TOKEN_URL, json={"access_token": "A2", "api_domain": API, "token_type": "Bearer", "expires_in": 3600}
    )
    responses.get(f"{BOOKS}/invoices", json=ok(invoices=[]))
    store = MemoryTokenStore(tokens(api_domain=API))

    assert connector(store=store).find_invoice("INV-000042") is None

    assert parse_qs(refresh.calls[0].request.body) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["R1"],
        "client_id": ["1000.APPID"],
        "client_secret": ["app-secret"],
    }
    auth = [c.request.headers.get("Authorization") for c in responses.calls if c.request.method == "GET"]
    assert auth == ["Zoho-oauthtoken A1", "Zoho-oauthtoken A2"]
    assert (store.tokens.access_token, store.tokens.refresh_token) == ("A2", "R1")


@responses.activate
def test_a_revoked_refresh_token_asks_for_reauthorisation_and_tells_the_store():
    # Zoho refuses a revoked refresh token with HTTP 200 and an error member.
    responses.post(TOKEN_URL, json={"error": "invalid_code"})
    store = MemoryTokenStore(tokens(expires_in=10, api_domain=API))
    with pytest.raises(ReauthorizationRequired):
        connector(store=store).find_invoice("INV-000042")
    assert "invalid_code" in (store.revoked_reason or "")
    assert [c.request.url for c in responses.calls] == [TOKEN_URL]


@responses.activate
def test_a_429_waits_as_long_as_zoho_says_and_holds_the_pacer():
    responses.get(
        f"{BOOKS}/invoices",
        status=429,
        headers={"Retry-After": "30"},
        json={"code": 44, "message": "You have made too many requests continuously. Please try again after some time."},
    )
    pacer = RecordingPacer()
    with pytest.raises(RetryableError) as raised:
        connector(pacer=pacer).find_invoice("INV-000042")
    assert raised.value.wait == 30
    assert pacer.holds == [30]


THROTTLED = {"code": 44, "message": "You have made too many requests continuously. Please try again after some time."}


@responses.activate
def test_a_429_without_retry_after_waits_zohos_minute_and_holds_the_pacer():
    responses.get(f"{BOOKS}/invoices", status=429, json=THROTTLED)
    pacer = RecordingPacer()
    with pytest.raises(RetryableError) as raised:
        connector(pacer=pacer).find_invoice("INV-000042")
    assert raised.value.wait == 60  # Zoho's limit is per minute, and its 429 does not say how long
    assert pacer.holds == [60]


# ---- after the push ---------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    ("status", "balance", "state", "paid"),
    [
        ("sent", "2713.88", ExternalState.POSTED, "0"),
        ("partially_paid", "713.88", ExternalState.PARTIALLY_PAID, "2000.00"),
        ("overdue", "13.88", ExternalState.PARTIALLY_PAID, "2700.00"),
        ("paid", "0", ExternalState.PAID, "2713.88"),
        ("void", "2713.88", ExternalState.CANCELLED, "0"),
        ("draft", "2713.88", ExternalState.DRAFT, "0"),
    ],
)
def test_status_reads_payments_and_partial_payments_back(status, balance, state, paid):
    read = responses.get(
        f"{BOOKS}/invoices/982000000567114", json=ok(invoice=invoice(status=status, balance=float(balance)))
    )
    got = connector().invoice_status(ExternalRef("zoho_books", "982000000567114"))
    assert query(read.calls[0]) == {"organization_id": ORG}
    assert (got.status, got.amount_paid, got.amount_total) == (state, Decimal(paid), Decimal("2713.88"))
    assert got.external_number == "INV-00003"


@responses.activate
def test_cancel_voids_the_invoice():
    void = responses.post(
        f"{BOOKS}/invoices/982000000567114/status/void", json=ok(message="Invoice status has been changed to Void.")
    )
    connector().cancel_invoice(ExternalRef("zoho_books", "982000000567114"))
    assert void.call_count == 1
    assert query(void.calls[0]) == {"organization_id": ORG}


@responses.activate
@pytest.mark.parametrize(("inventory", "path"), [(True, "/inventory/v1/items"), (False, "/books/v3/items")])
def test_stock_follows_the_pages_to_the_end_and_reads_each_warehouse(inventory, path):
    items = f"{API}{path}"
    responses.get(
        items,
        match=[responses.matchers.query_param_matcher({"organization_id": ORG, "page": "1", "per_page": "200"})],
        json=ok(
            items=[
                {"item_id": "1", "sku": "PUMP-100", "item_type": "inventory", "stock_on_hand": 12.0},
                {"item_id": "2", "sku": "SERVICE-1", "item_type": "sales"},
            ],
            page_context={"page": 1, "per_page": 200, "has_more_page": True},
        ),
    )
    responses.get(
        items,
        match=[responses.matchers.query_param_matcher({"organization_id": ORG, "page": "2", "per_page": "200"})],
        json=ok(
            items=[{"item_id": "3", "sku": "MANUAL-DE", "item_type": "inventory", "stock_on_hand": 4.0}],
            page_context={"page": 2, "per_page": 200, "has_more_page": False},
        ),
    )
    responses.get(
        f"{items}/1",
        json=ok(
            item={
                "item_id": "1",
                "sku": "PUMP-100",
                "warehouses": [
                    {
                        "warehouse_id": "W1",
                        "warehouse_name": "Berlin",
                        "is_primary": True,
                        "warehouse_stock_on_hand": 10.0,
                        "warehouse_available_stock": 7.0,
                    },
                    {
                        "warehouse_id": "W2",
                        "warehouse_name": "Hamburg",
                        "warehouse_stock_on_hand": 2.5,
                        "warehouse_available_stock": 2.5,
                    },
                ],
            }
        ),
    )
    responses.get(
        f"{items}/3",
        json=ok(
            item={
                "item_id": "3",
                "sku": "MANUAL-DE",
                "locations": [
                    {
                        "location_id": "L1",
                        "location_name": "Berlin",
                        "location_stock_on_hand": 4.0,
                        "location_available_stock": 4.0,
                    }
                ],
            }
        ),
    )
    zoho = ZohoBooksConnector(
        {**CONFIG, "inventory": inventory, "stock_per_warehouse": True},
        tokens=MemoryTokenStore(tokens(api_domain=API)),
        pacer=RecordingPacer(),
    )
    levels = list(zoho.pull_stock())
    assert [(s.sku, s.warehouse, s.on_hand, s.reserved, s.available) for s in levels] == [
        ("PUMP-100", "Berlin", Decimal(10), Decimal(3), Decimal(7)),
        ("PUMP-100", "Hamburg", Decimal("2.5"), Decimal(0), Decimal("2.5")),
        ("MANUAL-DE", "Berlin", Decimal(4), Decimal(0), Decimal(4)),
    ]
    assert [urlsplit(c.request.url).path for c in responses.calls] == [path, f"{path}/1", path, f"{path}/3"]


# ---- through the sync engine -----------------------------------------------------------------


@responses.activate
def test_a_lost_answer_then_the_retry_gives_one_zoho_invoice(app, sales, admin):
    conn_id = make_connection(app, "Zoho", "zoho_books", CONFIG, document_mode=DocumentMode.POSTED)
    authorise_connection(app, conn_id, tokens(api_domain=API))
    won = won_deal(sales, admin)
    number = won["invoices"][0]["number"]
    responses.get(f"{BOOKS}/invoices", json=ok(invoices=[]))
    responses.get(f"{BOOKS}/items", json=ok(items=[PUMP]))
    responses.get(f"{BOOKS}/settings/taxes", json=TAXES)
    responses.get(f"{BOOKS}/contacts", json=ok(contacts=[ACME]))
    created = responses.post(f"{BOOKS}/invoices", body=requests.ReadTimeout("the answer was lost"))

    drain(app, rounds=1)

    assert created.call_count == 1
    assert sent(created.calls[0])["reference_number"] == number
    retry_due_after_one_attempt(app)

    # Zoho did create it: the retry finds it by reference and marks it sent instead of creating another.
    responses.replace(responses.GET, f"{BOOKS}/invoices", json=ok(invoices=[invoice(reference_number=number)]))
    marked = responses.post(f"{BOOKS}/invoices/982000000567114/status/sent", json=ok())
    drain(app)

    assert created.call_count == 1
    assert marked.call_count == 1
    link = linked_once_after_a_lost_answer(app, "app-secret")
    assert (link.external_id, link.external_number, link.state) == ("982000000567114", "INV-00003", "posted")


@responses.activate
def test_a_429_without_retry_after_puts_the_push_off_a_minute_for_every_worker(app, sales, admin):
    conn_id = make_connection(app, "Zoho", "zoho_books", CONFIG)
    authorise_connection(app, conn_id, tokens(api_domain=API))
    responses.get(f"{BOOKS}/invoices", status=429, json=THROTTLED)
    won_deal(sales, admin)
    drain(app)
    with app.app_context():
        event = db.session.query(OutboxEvent).one()
        assert (event.state, event.attempts) == (OutboxState.PENDING, 1)
        assert event.available_at - event.created_at >= timedelta(seconds=59)
        # The next worker to open the connection is told to wait, without calling Zoho.
        connector = open_connector(db.session.get(Connection, conn_id))
        with pytest.raises(RetryableError, match="asked to pause") as raised, connector.pacer.slot():
            pass
        assert 50 < raised.value.wait <= 60
    assert len(responses.calls) == 1


@responses.activate
def test_a_revoked_connection_parks_the_push_for_an_admin(app, sales, admin):
    conn_id = make_connection(app, "Zoho", "zoho_books", CONFIG)
    authorise_connection(app, conn_id, tokens(expires_in=10, api_domain=API))
    responses.post(TOKEN_URL, json={"error": "invalid_code"})
    won_deal(sales, admin)
    drain(app)
    with app.app_context():
        event = db.session.query(OutboxEvent).one()
        assert event.state == OutboxState.FAILED
        connection = db.session.get(Connection, conn_id)
        assert connection.oauth_state == Authorisation.REAUTHORIZE
        assert "invalid_code" in connection.attention
    assert [c.request.url for c in responses.calls] == [TOKEN_URL]


def test_a_zoho_connection_is_configured_through_the_api_without_showing_its_secret(admin):
    bad = admin.post(
        "/api/v1/connections",
        json={"name": "Zoho", "type": "zoho_books", "config": {**CONFIG, "data_centre": "de"}},
    )
    assert bad.status_code == 422
    assert "config.data_centre" in bad.json["errors"]
    created = admin.post("/api/v1/connections", json={"name": "Zoho", "type": "zoho_books", "config": CONFIG})
    assert created.status_code == 201, created.json
    assert created.json["config"]["data_centre"] == "eu"
    assert "client_secret" not in created.json["config"]
    assert "app-secret" not in json.dumps(admin.get(f"/api/v1/connections/{created.json['id']}").json)
    types = {t["type"]: t for t in admin.get("/api/v1/connection-types").json}
    secret = {f["name"] for t in ("zoho_books", "xero") for f in types[t]["config_schema"] if f["secret"]}
    assert secret == {"client_secret"}
    # Not authorised yet: the test says so, without calling Zoho.
    tried = admin.post(f"/api/v1/connections/{created.json['id']}/test")
    assert tried.json["ok"] is False
    assert "not been authorised" in tried.json["message"]


@responses.activate
def test_a_deal_lost_after_it_was_won_voids_the_zoho_invoice(app, sales, admin):
    conn_id = make_connection(app, "Zoho", "zoho_books", CONFIG)
    authorise_connection(app, conn_id, tokens(api_domain=API))
    won = won_deal(sales, admin)
    number = won["invoices"][0]["number"]
    responses.get(f"{BOOKS}/invoices", json=ok(invoices=[invoice(reference_number=number, status="sent")]))
    drain(app)  # found by its reference: linked, nothing created
    void = responses.post(f"{BOOKS}/invoices/982000000567114/status/void", json=ok())
    # The cancel asks the invoice's status first: one paid would be credited instead.
    sent_unpaid = invoice(reference_number=number, status="sent")
    responses.get(f"{BOOKS}/invoices/982000000567114", json=ok(invoice=sent_unpaid))

    assert (
        sales.post(f"/api/v1/deals/{won['id']}/lost", json={"reason": "cancelled by the customer"}).status_code == 200
    )
    drain(app)

    assert void.call_count == 1
    assert query(void.calls[0]) == {"organization_id": ORG}
    deal = sales.get(f"/api/v1/deals/{won['id']}").json
    assert deal["invoices"][0]["state"] == "cancelled"
    assert deal["invoices"][0]["links"][0]["state"] == "cancelled"


def test_the_pacer_keeps_to_the_calls_a_day_the_zoho_plan_allows(app):
    smallest = make_connection(app, "Zoho", "zoho_books", CONFIG)
    larger = make_connection(app, "Zoho 2", "zoho_books", {**CONFIG, "daily_calls": 10000})
    with app.app_context():
        limits = [open_connector(db.session.get(Connection, c)).pacer.limits for c in (smallest, larger)]
    assert [(lim.per_minute, lim.per_day) for lim in limits] == [(100, 1000), (100, 10000)]


@responses.activate
@pytest.mark.parametrize("status", [200, 400])
def test_a_throttled_token_refresh_is_a_wait_not_a_revoked_authorisation(status):
    # Zoho: at most 10 access tokens per refresh token in 10 minutes, then "Access Denied".
    responses.post(
        TOKEN_URL,
        status=status,
        json={
            "error": "Access Denied",
            "error_description": "You have made too many requests continuously. Please try again after some time.",
        },
    )
    store = MemoryTokenStore(tokens(expires_in=10))
    with pytest.raises(RetryableError) as raised:
        connector(store=store).test_connection()
    assert not isinstance(raised.value, ReauthorizationRequired)
    assert raised.value.wait == 60
    assert store.revoked_reason is None
    assert store.load().refresh_token == tokens().refresh_token


# ---- listing for the reconciliation report -----------------------------------------------------


@responses.activate
def test_invoices_of_the_period_are_listed_page_by_page():
    listed = [
        invoice(status="sent", date="2026-12-03", customer_name="Acme GmbH"),
        invoice(invoice_id="982000000567115", reference_number="INV-000043", status="partially_paid"),
        invoice(invoice_id="982000000567116", reference_number="", status="void"),
    ]
    period = {"date_start": "2026-12-01", "date_end": "2026-12-31"}
    more, last = (
        {"page": 1, "per_page": 200, "has_more_page": True},
        {"page": 2, "per_page": 200, "has_more_page": False},
    )
    pages = [
        responses.get(
            f"{BOOKS}/invoices",
            match=[
                responses.matchers.query_param_matcher(
                    {**period, "page": "1", "per_page": "200", "organization_id": ORG}
                )
            ],
            json=ok(invoices=listed[:2], page_context=more),
        ),
        responses.get(
            f"{BOOKS}/invoices",
            match=[
                responses.matchers.query_param_matcher(
                    {**period, "page": "2", "per_page": "200", "organization_id": ORG}
                )
            ],
            json=ok(invoices=listed[2:], page_context=last),
        ),
    ]

    got = list(connector().list_invoices(date(2026, 12, 1), date(2026, 12, 31)))

    assert [p.call_count for p in pages] == [1, 1]
    first, second, third = (*got[0], *got[1])
    assert (first.reference, first.external_id, first.number, first.total, first.tax) == (
        "INV-000042",
        "982000000567114",
        "INV-00003",
        Decimal("2713.88"),
        None,
    )
    assert (first.currency, first.customer, first.issue_date) == ("EUR", "Acme GmbH", date(2026, 12, 3))
    assert [i.state for i in (first, second, third)] == [
        ExternalState.POSTED,
        ExternalState.PARTIALLY_PAID,
        ExternalState.CANCELLED,
    ]
    assert third.reference is None
    assert first.url == f"https://books.zoho.eu/app/{ORG}#/invoices/982000000567114"


@responses.activate
def test_stock_in_all_costs_one_call_per_page_of_200_items():
    # 1,000 calls a day on the smallest plan: a call per item and pull would spend them on stock.
    items = [
        {"item_id": str(n), "sku": f"SKU-{n}", "item_type": "inventory", "stock_on_hand": n, "available_stock": n - 1}
        for n in range(1, 251)
    ]
    for page, chunk in ((1, items[:200]), (2, items[200:])):
        responses.get(
            f"{API}/inventory/v1/items",
            match=[
                responses.matchers.query_param_matcher({"organization_id": ORG, "page": str(page), "per_page": "200"})
            ],
            json=ok(items=chunk, page_context={"page": page, "has_more_page": page == 1}),
        )
    zoho = ZohoBooksConnector(CONFIG, tokens=MemoryTokenStore(tokens(api_domain=API)), pacer=RecordingPacer())
    levels = list(zoho.pull_stock())
    assert len(responses.calls) == 2
    assert len(levels) == 250
    assert (levels[9].sku, levels[9].warehouse, levels[9].on_hand, levels[9].reserved) == (
        "SKU-10",
        "main",
        Decimal(10),
        Decimal(1),
    )
