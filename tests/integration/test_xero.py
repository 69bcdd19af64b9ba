"""Xero with `responses`: requests and answers as Xero's Accounting API documentation shows them
(https://developer.xero.com/documentation/api/accounting/invoices, .../contacts, .../items,
.../http-response-codes; tenants from https://api.xero.com/connections). Each test asserts what the
connector sends: URL, query (`where`, `summarizeErrors`), headers (Bearer, xero-tenant-id), body."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import AuthError, PermanentError, RetryableError, UncertainOutcomeError
from connectors.oauth import Limits, MemoryTokenStore, ReauthorizationRequired
from connectors.xero import XeroConnector
from hub.extensions import db
from hub.models import DocumentMode, HubInvoice
from hub.sync.worker import drain
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.hosted_fixtures import RecordingPacer, authorise_connection, tokens, won_deal
from tests.support.recorded_requests import query, sent
from tests.support.through_engine import linked_once_after_a_lost_answer, make_retries_due
from tests.support.xero_api import (
    ACME,
    API,
    CONFIG,
    TAX_RATES,
    TENANT,
    answer,
    connector,
    document,
    line,
    xero_invoice,
    xero_total,
)

TOKEN_URL = "https://identity.xero.com/connect/token"


def validation_exception(*elements: dict) -> dict:
    """Xero's HTTP 400 body: the refused elements, each with its ValidationErrors."""
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": list(elements),
    }


def where(**params):
    return responses.matchers.query_param_matcher(params)


# ---- OAuth and the organisation ----------------------------------------------------------------


def test_the_app_authorises_at_xero_identity_with_the_accounting_scopes():
    provider = XeroConnector.oauth_provider(CONFIG)
    assert provider.token_url == TOKEN_URL
    assert provider.client_auth == "basic"
    url = urlsplit(XeroConnector.oauth_client(CONFIG, redirect_uri="https://hub/cb").authorization_url("st"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://login.xero.com/identity/connect/authorize"
    # Apps registered from 2 March 2026 can only ask for Xero's granular scopes.
    assert parse_qs(url.query)["scope"] == [
        "offline_access accounting.invoices accounting.payments accounting.contacts accounting.settings"
    ]
    older = XeroConnector.oauth_client({**CONFIG, "scopes": "broad"}, redirect_uri="https://hub/cb")
    assert parse_qs(urlsplit(older.authorization_url("st")).query)["scope"] == [
        "offline_access accounting.transactions accounting.contacts accounting.settings"
    ]
    assert XeroConnector.secret_fields() == {"client_secret"}
    assert XeroConnector.mapping_problems(default_document("xero")) == []


CONNECTIONS = [
    {
        "id": "e1eede29-f875-4a5d-8470-17f6a29a88b1",
        "authEventId": "d99ecdfe-391d-43d2-b834-17636ba90e8d",
        "tenantId": TENANT,
        "tenantType": "ORGANISATION",
        "tenantName": "Maple Florists",
        "createdDateUtc": "2019-07-09T23:40:30.1833130",
        "updatedDateUtc": "2020-05-15T01:35:13.8491980",
    },
    {
        "id": "32587c85-a9b3-4306-ac30-b416e8f2c841",
        "authEventId": "d99ecdfe-391d-43d2-b834-17636ba90e8d",
        "tenantId": "e0da6937-de07-4a14-adee-37abfac298ce",
        "tenantType": "ORGANISATION",
        "tenantName": "Demo Company (Global)",
        "createdDateUtc": "2020-05-15T01:35:13.8491980",
        "updatedDateUtc": "2020-05-15T01:35:13.8491980",
    },
]


@responses.activate
def test_authorised_keeps_the_named_organisation_of_the_connections():
    listed = responses.get("https://api.xero.com/connections", json=CONNECTIONS)
    got = connector(config={**CONFIG, "tenant": "Maple Florists"}).authorised(tokens("NEW"), {"code": "c"})
    assert listed.calls[0].request.headers["Authorization"] == "Bearer NEW"
    assert got.access_token == "NEW"
    assert got.extra == {"tenant_id": TENANT, "tenant_name": "Maple Florists"}


@responses.activate
def test_authorised_keeps_the_organisations_short_code_for_links_when_it_answers():
    responses.get("https://api.xero.com/connections", json=CONNECTIONS[:1])
    organisation = responses.get(
        f"{API}/Organisation", json=answer(Organisations=[{"Name": "Maple Florists", "ShortCode": "!mN2pq"}])
    )
    got = connector().authorised(tokens("NEW"), {})
    assert organisation.calls[0].request.headers["xero-tenant-id"] == TENANT
    assert got.extra == {"tenant_id": TENANT, "tenant_name": "Maple Florists", "short_code": "!mN2pq"}
    responses.replace(responses.GET, f"{API}/Organisation", status=503)
    assert "short_code" not in connector().authorised(tokens("NEW"), {}).extra  # links then go without it


@responses.activate
def test_one_connected_organisation_needs_no_setting_and_several_do():
    responses.get("https://api.xero.com/connections", json=CONNECTIONS[:1])
    assert connector().authorised(tokens("NEW"), {}).extra["tenant_id"] == TENANT
    responses.replace(responses.GET, "https://api.xero.com/connections", json=CONNECTIONS)
    with pytest.raises(PermanentError) as several:
        connector().authorised(tokens("NEW"), {})
    assert several.value.field == "tenant"
    assert "Demo Company (Global)" in several.value.message
    with pytest.raises(PermanentError, match="no organisation 'Other'"):
        connector(config={**CONFIG, "tenant": "Other"}).authorised(tokens("NEW"), {})
    responses.replace(responses.GET, "https://api.xero.com/connections", json=[])
    with pytest.raises(AuthError):
        connector().authorised(tokens("NEW"), {})


def test_tokens_without_an_organisation_ask_for_authorisation_without_calling_xero():
    with pytest.raises(ReauthorizationRequired):
        connector(store=MemoryTokenStore(tokens())).find_invoice("INV-000042")


@responses.activate
def test_the_connection_test_reads_the_organisation():
    read = responses.get(
        f"{API}/Organisation", json=answer(Organisations=[{"Name": "Maple Florists", "BaseCurrency": "NZD"}])
    )
    assert connector().test_connection() == "Xero organisation Maple Florists (NZD)"
    assert read.calls[0].request.headers["xero-tenant-id"] == TENANT


# ---- push ------------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(("post", "status"), [(False, "DRAFT"), (True, "AUTHORISED")])
def test_a_batch_is_one_create_call_with_contacts_found_or_created_in_one_call_each(post, status):
    found = responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    made = responses.post(
        f"{API}/Contacts",
        json=answer(Contacts=[{"ContactID": "0b2a7a5e-6a8c-4ad7-9b6e-1c0d6c4f6c11", "Name": "Bolt AG"}]),
    )
    rates = responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    created = responses.post(
        f"{API}/Invoices",
        json=answer(
            Invoices=[
                xero_invoice(Status=status),
                xero_invoice(
                    InvoiceID="5b96e86b-418e-48e8-8949-308c14aec278",
                    InvoiceNumber="INV-0011",
                    Reference="INV-000043",
                    Status=status,
                    Total=1486.31,
                ),
            ]
        ),
    )
    docs = [
        document(),
        document("INV-000043", customer="Bolt AG", hub_id=8, lines=[line("PUMP-100", "1249.00", "1", "0.19")]),
    ]

    refs = connector(post=post).push_invoices(docs)

    assert [(r.external_id, r.external_number, r.status) for r in refs] == [
        ("243216c5-369e-4056-ac67-05388f86dc81", "INV-0010", STATES[status]),
        ("5b96e86b-418e-48e8-8949-308c14aec278", "INV-0011", STATES[status]),
    ]
    assert query(found.calls[0]) == {
        "where": 'ContactNumber=="CRM-7" OR Name=="Acme GmbH" OR ContactNumber=="CRM-8" OR Name=="Bolt AG"'
    }
    assert query(made.calls[0]) == {"summarizeErrors": "false"}
    assert sent(made.calls[0]) == {
        "Contacts": [
            {
                "Name": "Bolt AG",
                "ContactNumber": "CRM-8",
                "EmailAddress": "buyer@acme.example",
                "Addresses": [{"AddressType": "POBOX", "City": "Berlin", "Country": "DE"}],
            }
        ]
    }
    assert query(rates.calls[0]) == {"where": 'Status=="ACTIVE"'}
    assert created.call_count == 1
    assert query(created.calls[0]) == {"summarizeErrors": "false", "unitdp": "4"}
    body = sent(created.calls[0])
    assert body["Invoices"][0] == {
        "Type": "ACCREC",
        "Reference": "INV-000042",
        "Date": "2026-11-23",
        "DueDate": "2026-12-07",
        "CurrencyCode": "EUR",
        "LineAmountTypes": "Exclusive",
        "Status": status,
        "Contact": {"ContactID": "bd2270c3-8706-4c11-9cfb-000b551c3f51"},
        "LineItems": [
            {
                "Description": "Pump-100",
                "Quantity": 2,
                "UnitAmount": Decimal("1249.00"),
                "ItemCode": "PUMP-100",
                "DiscountRate": 10,
                "TaxType": "OUTPUT2",
                "TaxAmount": Decimal("427.16"),
                "AccountCode": "200",
            },
            {
                "Description": "Manual-De",
                "Quantity": 3,
                "UnitAmount": Decimal("12.00"),
                "ItemCode": "MANUAL-DE",
                "TaxType": "OUTPUT3",
                "TaxAmount": Decimal("2.52"),
                "AccountCode": "200",
            },
        ],
    }
    assert body["Invoices"][1]["Contact"] == {"ContactID": "0b2a7a5e-6a8c-4ad7-9b6e-1c0d6c4f6c11"}
    for call in responses.calls:
        assert call.request.headers["xero-tenant-id"] == TENANT
        assert call.request.headers["Authorization"] == "Bearer A1"


STATES = {"DRAFT": ExternalState.DRAFT, "AUTHORISED": ExternalState.POSTED}


@responses.activate
def test_an_unknown_contact_is_refused_when_the_mapping_does_not_create_contacts():
    responses.get(f"{API}/Contacts", json=answer(Contacts=[]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    mapping = parse({**default_document("xero"), "options": {"create_customers": False}})
    with pytest.raises(PermanentError) as refused:
        connector(mapping=mapping).push_invoice(document())
    assert refused.value.field == "contact_name"
    assert all(c.request.method == "GET" for c in responses.calls)


@responses.activate
def test_a_validation_error_is_permanent_and_names_the_line_and_field():
    responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    responses.post(
        f"{API}/Invoices",
        status=400,
        json=validation_exception(
            {
                "Type": "ACCREC",
                "Reference": "INV-000042",
                "ValidationErrors": [{"Message": "Item code 'MANUAL-DE' is not valid"}],
            }
        ),
    )
    with pytest.raises(PermanentError) as refused:
        connector().push_invoice(document())
    assert refused.value.field == "LineItems[1].ItemCode"
    assert "Item code 'MANUAL-DE' is not valid" in refused.value.message


@responses.activate
def test_a_batch_refused_in_part_keeps_the_created_invoices_and_sends_only_the_refused_one_again():
    responses.get(
        f"{API}/Contacts", json=answer(Contacts=[ACME, {**ACME, "ContactNumber": "CRM-8", "Name": "Bolt AG"}])
    )
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    refused = {
        "InvoiceID": "00000000-0000-0000-0000-000000000000",
        "Reference": "INV-000043",
        "HasErrors": True,
        "StatusAttributeString": "ERROR",
        "ValidationErrors": [{"Message": "The TaxType code 'OUTPUT3' cannot be used with account code '200'."}],
    }
    created = responses.post(f"{API}/Invoices", json=answer(Invoices=[xero_invoice(), refused]))
    good, bad = document(), document("INV-000043", customer="Bolt AG", hub_id=8)
    xero = connector()

    with pytest.raises(PermanentError) as raised:
        xero.push_invoices([good, bad])
    assert "INV-000043" in raised.value.message
    assert raised.value.field == "LineItems[1].TaxType"

    # The engine then pushes them one by one: the created one is not sent again.
    assert xero.push_invoice(good).external_id == "243216c5-369e-4056-ac67-05388f86dc81"
    assert created.call_count == 1
    responses.replace(responses.POST, f"{API}/Invoices", json=answer(Invoices=[refused]))
    with pytest.raises(PermanentError):
        xero.push_invoice(bad)
    assert [i["Reference"] for i in sent(responses.calls[-1])["Invoices"]] == ["INV-000043"]


@responses.activate
def test_a_page_instead_of_the_answer_is_an_uncertain_outcome():
    responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    created = responses.post(f"{API}/Invoices", body="<html><body>Gateway: please sign in</body></html>")
    with pytest.raises(UncertainOutcomeError, match="the answer has no Invoices"):
        connector().push_invoice(document())
    assert created.call_count == 1


@responses.activate
def test_a_page_instead_of_the_new_contact_is_uncertain_and_no_invoice_is_sent():
    responses.get(f"{API}/Contacts", json=answer(Contacts=[]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    made = responses.post(f"{API}/Contacts", body="<html><body>Gateway: please sign in</body></html>")
    with pytest.raises(UncertainOutcomeError, match="the answer has no Contacts"):
        connector().push_invoice(document())
    assert made.call_count == 1
    assert [c.request.url for c in responses.calls if c.request.method == "POST"] == [
        made.url + "?summarizeErrors=false"
    ]


@responses.activate
def test_an_answer_that_does_not_match_what_was_sent_is_an_uncertain_outcome():
    responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    responses.post(f"{API}/Invoices", json=answer(Invoices=[]))
    with pytest.raises(UncertainOutcomeError):
        connector().push_invoice(document())


@responses.activate
def test_the_preview_shows_the_payload_without_creating_anything():
    responses.get(f"{API}/Contacts", json=answer(Contacts=[]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    preview = connector(post=True).preview_payload(document())
    assert preview["Contact"] == {"ContactID": "(new contact 'Acme GmbH', created by the push)"}
    assert preview["Status"] == "AUTHORISED"
    assert preview["LineItems"][0]["UnitAmount"] == "1249.00"
    assert all(c.request.method == "GET" for c in responses.calls)


@responses.activate
@pytest.mark.parametrize(("status", "taken_back"), [("DRAFT", "DELETED"), ("AUTHORISED", "VOIDED")])
def test_an_invoice_whose_total_xero_computes_otherwise_is_taken_back_and_refused(status, taken_back):
    """Xero applies its own tax (a TaxType of another rate, say): the invoice it made is deleted
    or voided, never linked, and the push is refused naming both totals."""
    responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    created = responses.post(f"{API}/Invoices", json=answer(Invoices=[xero_invoice(Status=status, Total=2720.00)]))
    voided = responses.post(
        f"{API}/Invoices/243216c5-369e-4056-ac67-05388f86dc81", json=answer(Invoices=[xero_invoice(Status=taken_back)])
    )
    xero = connector(post=status == "AUTHORISED")

    with pytest.raises(PermanentError) as refused:
        xero.push_invoices([document()])

    assert refused.value.message == (
        "Xero computes 2720.0 EUR for INV-000042, the hub 2713.88: check the tax rates (table taxes) and prices in Xero"
    )
    assert refused.value.field == "total"
    assert sent(voided.calls[0]) == {
        "Invoices": [{"InvoiceID": "243216c5-369e-4056-ac67-05388f86dc81", "Status": taken_back}]
    }
    # Not remembered as created: a retry sends it again rather than link the wrong one.
    with pytest.raises(PermanentError):
        xero.push_invoices([document()])
    assert created.call_count == 2


# ---- find-before-create ---------------------------------------------------------------------


@responses.activate
def test_find_invoices_asks_for_all_references_of_the_batch_in_one_call():
    found = responses.get(
        f"{API}/Invoices",
        json=answer(Invoices=[xero_invoice(Status="AUTHORISED"), xero_invoice(InvoiceID="x", Reference="INV-0000430")]),
    )
    got = connector().find_invoices(["INV-000042", "INV-000043"])
    assert found.call_count == 1
    assert query(found.calls[0]) == {
        "where": 'Type=="ACCREC" AND Status!="DELETED" AND (Reference=="INV-000042" OR Reference=="INV-000043")'
    }
    # URL-encoded on the wire.
    assert "Reference%3D%3D%22INV-000042%22" in found.calls[0].request.url
    assert list(got) == ["INV-000042"]
    assert got["INV-000042"].status == ExternalState.POSTED


# ---- tokens and limits ------------------------------------------------------------------------


@responses.activate
def test_a_401_refreshes_the_rotating_token_and_repeats_the_call():
    responses.get(
        f"{API}/Invoices",
        status=401,
        json={"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"},
    )
    refresh = responses.post(
        TOKEN_URL, json={"access_token": "A2", "refresh_token": "R2", "expires_in": 1800, "token_type": "Bearer"}
    )
    responses.get(f"{API}/Invoices", json=answer(Invoices=[]))
    store = MemoryTokenStore(tokens(tenant_id=TENANT))

    assert connector(store=store).find_invoice("INV-000042") is None

    assert (
        refresh.calls[0].request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"XERO-APP:xero-secret").decode()
    )
    assert parse_qs(refresh.calls[0].request.body) == {"grant_type": ["refresh_token"], "refresh_token": ["R1"]}
    auth = [c.request.headers["Authorization"] for c in responses.calls if c.request.method == "GET"]
    assert auth == ["Bearer A1", "Bearer A2"]
    assert (store.tokens.refresh_token, store.tokens.extra["tenant_id"]) == ("R2", TENANT)


@responses.activate
def test_a_revoked_refresh_token_asks_for_reauthorisation_and_tells_the_store():
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    store = MemoryTokenStore(tokens(expires_in=10, tenant_id=TENANT))
    with pytest.raises(ReauthorizationRequired):
        connector(store=store).find_invoice("INV-000042")
    assert "invalid_grant" in (store.revoked_reason or "")
    assert [c.request.url for c in responses.calls] == [TOKEN_URL]


@responses.activate
def test_a_429_waits_as_long_as_xero_says_and_holds_the_pacer():
    responses.get(
        f"{API}/Invoices", status=429, headers={"Retry-After": "41", "X-Rate-Limit-Problem": "minute"}, body=""
    )
    pacer = RecordingPacer()
    with pytest.raises(RetryableError) as raised:
        connector(pacer=pacer).find_invoice("INV-000042")
    assert raised.value.wait == 41
    assert pacer.holds == [41]
    # Xero's published limits per organisation, the day's included: the hub's pacer keeps to them.
    assert XeroConnector.limits == Limits(per_minute=60, concurrent=5, per_day=5000)


# ---- after the push ---------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    ("status", "paid", "state"),
    [
        ("DRAFT", "0", ExternalState.DRAFT),
        ("AUTHORISED", "0", ExternalState.POSTED),
        ("AUTHORISED", "1000.00", ExternalState.PARTIALLY_PAID),
        ("PAID", "2713.88", ExternalState.PAID),
        ("VOIDED", "0", ExternalState.CANCELLED),
    ],
)
def test_status_reads_payments_and_partial_payments_back(status, paid, state):
    invoice = xero_invoice(Status=status, AmountPaid=float(paid), AmountDue=float(Decimal("2713.88") - Decimal(paid)))
    read = responses.get(f"{API}/Invoices/243216c5-369e-4056-ac67-05388f86dc81", json=answer(Invoices=[invoice]))
    got = connector().invoice_status(ExternalRef("xero", "243216c5-369e-4056-ac67-05388f86dc81"))
    assert read.calls[0].request.headers["xero-tenant-id"] == TENANT
    assert (got.status, got.amount_paid, got.amount_total) == (state, Decimal(paid), Decimal("2713.88"))
    assert (got.currency, got.external_number) == ("EUR", "INV-0010")


@responses.activate
@pytest.mark.parametrize(("status", "target"), [("AUTHORISED", "VOIDED"), ("DRAFT", "DELETED")])
def test_cancel_voids_an_authorised_invoice_and_deletes_a_draft(status, target):
    url = f"{API}/Invoices/243216c5-369e-4056-ac67-05388f86dc81"
    responses.get(url, json=answer(Invoices=[xero_invoice(Status=status)]))
    changed = responses.post(url, json=answer(Invoices=[xero_invoice(Status=target)]))
    connector().cancel_invoice(ExternalRef("xero", "243216c5-369e-4056-ac67-05388f86dc81"))
    assert sent(changed.calls[0]) == {
        "Invoices": [{"InvoiceID": "243216c5-369e-4056-ac67-05388f86dc81", "Status": target}]
    }


@responses.activate
def test_a_paid_invoice_cannot_be_voided_and_says_why():
    url = f"{API}/Invoices/243216c5-369e-4056-ac67-05388f86dc81"
    responses.get(url, json=answer(Invoices=[xero_invoice(Status="PAID")]))
    responses.post(
        url,
        status=400,
        json=validation_exception(
            {"ValidationErrors": [{"Message": "Payments must be removed before this invoice can be voided."}]}
        ),
    )
    with pytest.raises(PermanentError, match="Payments must be removed"):
        connector().cancel_invoice(ExternalRef("xero", "243216c5-369e-4056-ac67-05388f86dc81"))


@responses.activate
def test_stock_is_the_quantity_on_hand_of_tracked_items_in_one_call():
    items = responses.get(
        f"{API}/Items",
        json=answer(
            Items=[
                {"ItemID": "1", "Code": "PUMP-100", "IsTrackedAsInventory": True, "QuantityOnHand": 12.5},
                {"ItemID": "2", "Code": "MANUAL-DE", "IsTrackedAsInventory": True, "QuantityOnHand": 0.0},
                {"ItemID": "3", "Code": "SERVICE", "IsTrackedAsInventory": False},
            ]
        ),
    )
    levels = list(connector(config={**CONFIG, "warehouse": "AKL"}).pull_stock())
    assert query(items.calls[0]) == {"where": "IsTrackedAsInventory==true"}
    assert [(s.sku, s.warehouse, s.on_hand, s.reserved, s.available) for s in levels] == [
        ("PUMP-100", "AKL", Decimal("12.5"), Decimal(0), Decimal("12.5")),
        ("MANUAL-DE", "AKL", Decimal(0), Decimal(0), Decimal(0)),
    ]
    assert items.call_count == 1


# ---- through the sync engine -----------------------------------------------------------------


def _connect(app, **fields) -> int:
    connection_id = make_connection(app, "Xero", "xero", CONFIG, **fields)
    authorise_connection(app, connection_id, tokens(tenant_id=TENANT))
    return connection_id


@responses.activate
def test_a_lost_answer_then_the_retry_gives_one_xero_invoice(app, sales, admin):
    _connect(app, document_mode=DocumentMode.POSTED)
    number = won_deal(sales, admin)["invoices"][0]["number"]
    responses.get(f"{API}/Invoices", json=answer(Invoices=[]))
    responses.get(f"{API}/Contacts", json=answer(Contacts=[]))
    responses.post(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    created = responses.post(f"{API}/Invoices", body=requests.ReadTimeout("the answer was lost"))

    drain(app, rounds=1)

    assert created.call_count == 1
    assert sent(created.calls[0])["Invoices"][0]["Reference"] == number
    assert sent(created.calls[0])["Invoices"][0]["Status"] == "AUTHORISED"
    make_retries_due(app)
    # Xero did create it: the retry finds it by its Reference instead of creating another.
    responses.replace(
        responses.GET, f"{API}/Invoices", json=answer(Invoices=[xero_invoice(Reference=number, Status="AUTHORISED")])
    )
    drain(app)

    assert created.call_count == 1
    link = linked_once_after_a_lost_answer(app, "xero-secret")
    assert (link.external_number, link.state) == ("INV-0010", "posted")


@responses.activate
def test_one_refused_invoice_of_a_batch_is_parked_and_the_other_is_linked_once(app, sales, admin):
    _connect(app)
    first = won_deal(sales, admin, customer="Acme GmbH")["invoices"][0]["number"]
    second = won_deal(sales, admin, customer="Bolt AG")["invoices"][0]["number"]
    responses.get(f"{API}/Invoices", json=answer(Invoices=[]))
    responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME, {**ACME, "ContactID": "c-2", "Name": "Bolt AG"}]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    refused = {
        "Reference": second,
        "HasErrors": True,
        "StatusAttributeString": "ERROR",
        "ValidationErrors": [{"Message": "Contact Bolt AG is archived."}],
    }

    def create(request):
        invoices = json.loads(request.body)["Invoices"]
        made = [
            refused if i["Reference"] == second else xero_invoice(Reference=i["Reference"], Total=xero_total(i))
            for i in invoices
        ]
        return 200, {}, json.dumps(answer(Invoices=made))

    created = responses.add_callback(responses.POST, f"{API}/Invoices", callback=create)

    drain(app)

    # The batch, then the refused one alone; the created one never again.
    sent_references = [[i["Reference"] for i in sent(c)["Invoices"]] for c in created.calls]
    assert sent_references[0] == [first, second]
    assert all(refs == [second] for refs in sent_references[1:])
    failed = admin.get("/api/v1/sync/failed").json
    assert [item["invoice_number"] for item in failed["items"]] == [second]
    assert "Contact Bolt AG is archived." in failed["items"][0]["last_error"]
    with app.app_context():
        links = [(inv.number, [link.external_number for link in inv.links]) for inv in db.session.query(HubInvoice)]
        assert sorted(links) == sorted([(first, ["INV-0010"]), (second, [])])


@responses.activate
def test_payments_in_xero_come_back_onto_the_hub_invoice_and_the_deal(app, sales, admin, call):
    from hub.sync.status import pull_invoice_status

    _connect(app, document_mode=DocumentMode.POSTED)
    won = won_deal(sales, admin)
    number = won["invoices"][0]["number"]
    responses.get(f"{API}/Invoices", json=answer(Invoices=[xero_invoice(Reference=number, Status="AUTHORISED")]))
    drain(app)  # found by its Reference (pushed before): linked, nothing created

    url = f"{API}/Invoices/243216c5-369e-4056-ac67-05388f86dc81"
    responses.get(url, json=answer(Invoices=[xero_invoice(Status="AUTHORISED", Total=2972.62, AmountPaid=1000.0)]))
    with app.app_context():
        assert pull_invoice_status() == 1
    invoice = call("finance").get(f"/api/v1/invoices/{won['invoices'][0]['id']}").json
    assert (invoice["state"], invoice["amount_paid"]) == ("partially_paid", "1000.00")

    responses.replace(
        responses.GET, url, json=answer(Invoices=[xero_invoice(Status="PAID", Total=2972.62, AmountPaid=2972.62)])
    )
    with app.app_context():
        assert pull_invoice_status() == 1
    deal = sales.get(f"/api/v1/deals/{won['id']}").json
    assert deal["invoices"][0]["state"] == "paid"
    assert deal["invoices"][0]["amount_paid"] == deal["total"] == "2972.62"
    assert all(c.request.method == "GET" for c in responses.calls)


@responses.activate
def test_a_create_sent_again_after_a_lost_answer_carries_the_same_idempotency_key():
    responses.get(f"{API}/Contacts", json=answer(Contacts=[ACME]))
    responses.get(f"{API}/TaxRates", json=answer(**TAX_RATES))
    lost = responses.post(f"{API}/Invoices", body=requests.ReadTimeout("the answer was lost"))
    with pytest.raises(RetryableError):
        connector().push_invoices([document()])
    responses.replace(responses.POST, f"{API}/Invoices", json=answer(Invoices=[xero_invoice()]))
    connector().push_invoices([document()])
    other = connector().push_invoices([document("INV-000043")])
    keys = [call.request.headers.get("Idempotency-Key") for call in lost.calls] + [
        c.request.headers.get("Idempotency-Key") for c in responses.calls if c.request.method == "POST"
    ][1:]
    # Xero answers a repeated key with the first request's answer instead of creating again.
    assert keys[0]
    assert keys[0] == keys[1] != keys[2]
    assert len(keys[0]) <= 128
    assert other[0].external_id == "243216c5-369e-4056-ac67-05388f86dc81"


@responses.activate
@pytest.mark.parametrize(
    ("status", "paid", "credited", "state", "settled"),
    [
        ("PAID", "0", "2713.88", ExternalState.PAID, "2713.88"),
        ("AUTHORISED", "0", "713.88", ExternalState.PARTIALLY_PAID, "713.88"),
        ("AUTHORISED", "1000.00", "713.88", ExternalState.PARTIALLY_PAID, "1713.88"),
    ],
)
def test_an_invoice_settled_by_a_credit_note_counts_as_paid(status, paid, credited, state, settled):
    invoice = xero_invoice(Status=status, AmountPaid=float(paid), AmountCredited=float(credited))
    responses.get(f"{API}/Invoices/243216c5-369e-4056-ac67-05388f86dc81", json=answer(Invoices=[invoice]))
    got = connector().invoice_status(ExternalRef("xero", "243216c5-369e-4056-ac67-05388f86dc81"))
    assert (got.status, got.amount_paid) == (state, Decimal(settled))


# ---- listing for the reconciliation report -----------------------------------------------------

DECEMBER = 'Type=="ACCREC" AND Status!="DELETED" AND Date>=DateTime(2026,12,01) AND Date<=DateTime(2026,12,31)'


@responses.activate
def test_invoices_of_the_period_are_listed_page_by_page(monkeypatch):
    monkeypatch.setattr("connectors.xero.INVOICE_PAGE", 2)
    listed = [
        xero_invoice(
            Status="AUTHORISED", TotalTax=429.68, Contact=ACME, DateString="2026-12-03T00:00:00", AmountPaid=100.0
        ),
        xero_invoice(InvoiceID="b", Reference="INV-000043", TotalTax=429.68, Contact=ACME),
        xero_invoice(InvoiceID="c", Reference="", Status="PAID", TotalTax=0.0, Contact=ACME),
    ]
    pages = [
        responses.get(f"{API}/Invoices", match=[where(where=DECEMBER, page="1")], json=answer(Invoices=listed[:2])),
        responses.get(f"{API}/Invoices", match=[where(where=DECEMBER, page="2")], json=answer(Invoices=listed[2:])),
    ]

    got = list(connector().list_invoices(date(2026, 12, 1), date(2026, 12, 31)))

    assert [p.call_count for p in pages] == [1, 1]
    assert [len(p) for p in got] == [2, 1]
    first, second, third = (*got[0], *got[1])
    assert (first.reference, first.external_id, first.number, first.total, first.tax) == (
        "INV-000042",
        "243216c5-369e-4056-ac67-05388f86dc81",
        "INV-0010",
        Decimal("2713.88"),
        Decimal("429.68"),
    )
    assert (first.currency, first.customer, first.issue_date) == ("EUR", "Acme GmbH", date(2026, 12, 3))
    assert [i.state for i in (first, second, third)] == [
        ExternalState.PARTIALLY_PAID,
        ExternalState.DRAFT,
        ExternalState.PAID,
    ]
    assert third.reference is None
    assert (
        first.url == "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=243216c5-369e-4056-ac67-05388f86dc81"
    )
