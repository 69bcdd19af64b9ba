"""The ERPNext connector against Frappe's REST API as Frappe documents it (`/api/resource/<DocType>`
with `fields`/`filters` as JSON in the query and `limit_start`/`limit_page_length` pages,
`Authorization: token key:secret`, refusals as 417 with `exc_type` and `_server_messages`), served
by `responses`: no ERPNext runs here. Every test asserts what the hub sends."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import AuthError, PermanentError, RetryableError, UncertainOutcomeError
from hub.models import DocumentMode
from hub.sync import jobs
from hub.sync.worker import drain
from mappings.defaults import default_document
from tests.conftest import make_connection
from tests.support.erp_documents import invoice, won_deal
from tests.support.erpnext_api import (
    CONFIG,
    INVOICES,
    SECRET,
    URL,
    ErpInvoices,
    connector,
    invoice_doc,
    list_query,
    refusal,
    rows,
)
from tests.support.through_engine import linked_once_after_a_lost_answer, pulled_stock, retry_due_after_one_attempt

# ---- connection ------------------------------------------------------------------------------------


def test_test_connection_names_the_api_user_and_checks_the_company(erp):
    erp.on("GET", "/api/method/frappe.auth.get_logged_user", lambda q, b: (200, {"message": "hub@acme.example"}))
    erp.on("GET", "/api/resource/Company/Acme%20Trading", lambda q, b: (200, {"data": {"name": "Acme Trading"}}))
    assert connector().test_connection() == f"ERPNext at {URL} as hub@acme.example, company Acme Trading"
    assert [(s["method"], s["path"]) for s in erp.sent] == [
        ("GET", "/api/method/frappe.auth.get_logged_user"),
        ("GET", "/api/resource/Company/Acme%20Trading"),
    ]


def test_an_unknown_company_names_the_setting(erp):
    erp.on("GET", "/api/method/frappe.auth.get_logged_user", lambda q, b: (200, {"message": "hub@acme.example"}))
    erp.on(
        "GET",
        "/api/resource/Company/Acme%20Trading",
        lambda q, b: refusal(404, "DoesNotExistError", "Company Acme Trading not found"),
    )
    with pytest.raises(PermanentError) as err:
        connector().test_connection()
    assert err.value.field == "company"


def test_refused_credentials_are_an_auth_error(erp):
    erp.on(
        "GET",
        "/api/method/frappe.auth.get_logged_user",
        lambda q, b: refusal(401, "AuthenticationError", "Invalid API key or secret"),
    )
    with pytest.raises(AuthError, match="AuthenticationError: Invalid API key or secret") as refused:
        connector().test_connection()
    assert refused.value.status == 401


def test_a_user_without_the_permission_is_an_auth_error_saying_403(erp):
    erp.on("GET", INVOICES, lambda q, b: refusal(403, "PermissionError", "No permission for Sales Invoice"))
    with pytest.raises(AuthError, match="PermissionError: No permission for Sales Invoice") as refused:
        connector().find_invoice("INV-000042")
    assert refused.value.status == 403


def test_rate_limiting_waits_as_long_as_erpnext_says(erp):
    erp.on("GET", INVOICES, lambda q, b: (429, {"exc_type": "RateLimitExceededError"}, {"Retry-After": "60"}))
    with pytest.raises(RetryableError) as err:
        connector().find_invoice("INV-000042")
    assert err.value.wait == 60


# ---- push --------------------------------------------------------------------------------------------


def test_a_create_answered_without_the_invoice_is_uncertain(erp):
    """Sent, maybe applied, but unreadable: the retry must look it up before creating another."""
    erp.on("GET", "/api/resource/Item", rows({"item_code": "PUMP-100"}))
    erp.on("GET", "/api/resource/Customer", rows({"name": "CUST-00042"}))
    erp.on("POST", INVOICES, lambda q, b: (200, "<html><body>Gateway: please sign in</body></html>"))
    with pytest.raises(UncertainOutcomeError, match="the answer has no data"):
        connector().push_invoice(invoice())
    assert len(erp.requests("POST", INVOICES)) == 1


def test_push_creates_the_customer_inserts_a_draft_checks_its_total_and_submits_it(erp):
    invoices = ErpInvoices(erp)
    erp.on("GET", "/api/resource/Customer", rows())
    erp.on("POST", "/api/resource/Customer", lambda q, b: (200, {"data": {"name": "Acme GmbH", **b}}))
    ref = connector(post=True).push_invoice(invoice(discount="10"))

    assert ref == ExternalRef(
        "erpnext",
        "ACC-SINV-2026-00001",
        "ACC-SINV-2026-00001",
        f"{URL}/app/sales-invoice/ACC-SINV-2026-00001",
        ExternalState.POSTED,
    )
    item_list, tax_search, name_search, new_customer, new_invoice, submit = erp.sent
    assert item_list["query"] == list_query(["item_code"], [["item_code", "in", ["PUMP-100"]]])
    assert [tax_search["query"], name_search["query"]] == [
        {
            "fields": '["name"]',
            "filters": '[["tax_id", "=", "DE123456789"]]',
            "order_by": "creation asc",
            "limit_page_length": "1",
        },
        {
            "fields": '["name"]',
            "filters": '[["customer_name", "=", "Acme GmbH"]]',
            "order_by": "creation asc",
            "limit_page_length": "1",
        },
    ]
    assert new_customer["body"] == {
        "customer_name": "Acme GmbH",
        "customer_type": "Company",
        "tax_id": "DE123456789",
        "email_id": "ap@acme.example",
    }
    assert (new_invoice["method"], new_invoice["path"]) == ("POST", INVOICES)
    # A draft (no docstatus): ERPNext computes its totals before anything is submitted.
    assert new_invoice["body"] == {
        "customer": "Acme GmbH",
        "company": "Acme Trading",
        "currency": "EUR",
        "posting_date": "2026-11-23",
        "set_posting_time": 1,
        "po_no": "INV-000042",
        "items": [{"item_code": "PUMP-100", "qty": 2, "rate": 17.91, "description": "Pump 100 (10 % discount)"}],
        "due_date": "2026-12-23",
        "remarks": "D-000007",
    }
    # The discounted rate travels as an exact JSON number, never through a float.
    assert b'"rate": 17.91,' in new_invoice["raw"]
    # ERPNext's grand total 42.63 is the hub's (rounded total 43.00: its rounding adjustment).
    assert invoices.rows["ACC-SINV-2026-00001"]["rounded_total"] == 43.0
    assert (submit["method"], submit["path"], submit["body"]) == (
        "PUT",
        f"{INVOICES}/ACC-SINV-2026-00001",
        {"docstatus": 1},
    )
    assert invoices.rows["ACC-SINV-2026-00001"]["docstatus"] == 1


def test_draft_mode_does_not_submit_and_a_known_customer_is_reused(erp):
    invoices = ErpInvoices(erp)
    ref = connector().push_invoice(invoice())
    assert (ref.external_id, ref.status) == ("ACC-SINV-2026-00001", ExternalState.DRAFT)
    (body,) = [s["body"] for s in erp.requests("POST")]
    assert body["customer"] == "CUST-00042"
    assert "docstatus" not in body
    assert body["items"][0]["rate"] == 19.9
    assert len(erp.requests("GET", "/api/resource/Customer")) == 1  # found by tax id
    assert erp.requests("PUT") == erp.requests("DELETE") == []
    assert invoices.rows["ACC-SINV-2026-00001"]["docstatus"] == 0


@pytest.mark.parametrize("post", [False, True])
def test_a_total_erpnext_computes_otherwise_deletes_the_draft_and_is_refused(erp, post):
    """ERPNext applies its own taxes (here 20 %, not the hub's 19 %): the draft is taken back, never
    submitted, and the push is refused naming both totals."""
    invoices = ErpInvoices(erp, tax_rate="0.20")
    with pytest.raises(PermanentError) as err:
        connector(post=post).push_invoice(invoice())
    assert err.value.field == "total"
    assert err.value.message.startswith(
        "ERPNext computes a grand total of 47.76 EUR for INV-000042 (rounded 48.0), the hub 47.36: "
    )
    (delete,) = erp.requests("DELETE")
    assert delete["path"] == f"{INVOICES}/ACC-SINV-2026-00001"
    assert erp.requests("PUT") == []
    assert invoices.rows == {}


@pytest.mark.parametrize(
    ("currency", "hub_total", "grand_total", "agrees"),
    [
        ("EUR", "47.36", "47.36", True),
        ("EUR", "47.36", "47.364", True),  # a site with three decimals: the same cents
        ("EUR", "47.36", "47.37", False),  # a cent apart is another invoice
        ("EUR", "47.36", "47.0", False),  # the rounded total is not the grand total
        ("JPY", "4736", "4736.0", True),  # no minor unit
        ("JPY", "4736", "4737.0", False),
    ],
)
def test_totals_agree_to_the_currencys_minor_unit(erp, currency, hub_total, grand_total, agrees):
    ErpInvoices(erp, grand_total=grand_total)
    doc = replace(invoice(), currency=currency, total=Decimal(hub_total))
    if agrees:
        assert connector().push_invoice(doc).status == ExternalState.DRAFT
        assert erp.requests("DELETE") == []
    else:
        with pytest.raises(PermanentError, match=f"grand total of {grand_total} {currency} .* the hub {hub_total}:"):
            connector().push_invoice(doc)
        assert len(erp.requests("DELETE")) == 1


def test_an_invoice_in_a_currency_of_three_decimals_is_refused_before_anything_is_sent(erp):
    """ERPNext keeps every amount to the site's currency precision (2 by default): a KWD invoice
    would lose its third decimal (connectors/erpnext/payload.py); the hub refuses such a deal when it is won."""
    ErpInvoices(erp)
    doc = replace(invoice(), currency="KWD")
    with pytest.raises(PermanentError) as refused:
        connector().push_invoice(doc)
    assert refused.value.field == "currency"
    assert erp.requests("POST") == []


def test_a_wrong_total_whose_draft_cannot_be_deleted_says_to_delete_it(erp):
    ErpInvoices(erp, tax_rate="0.20")
    erp.on(
        "DELETE",
        f"{INVOICES}/ACC-SINV-2026-00001",
        lambda q, b: refusal(403, "PermissionError", "No permission to delete Sales Invoice"),
    )
    with pytest.raises(PermanentError) as err:
        connector().push_invoice(invoice())
    assert err.value.field == "total"
    assert "the hub 47.36" in err.value.message
    assert err.value.message.endswith(
        "Deleting the ERPNext draft ACC-SINV-2026-00001 failed (ERPNext refused DELETE "
        f"{URL}{INVOICES}/ACC-SINV-2026-00001: PermissionError: No permission to delete Sales Invoice): "
        "delete it in ERPNext before retrying"
    )


def test_a_refused_submit_deletes_the_draft(erp):
    invoices = ErpInvoices(erp)
    erp.on(
        "PUT",
        f"{INVOICES}/ACC-SINV-2026-00001",
        lambda q, b: refusal(417, "ValidationError", "Posting Date 2026-11-23 is in a closed Accounting Period"),
    )
    with pytest.raises(PermanentError, match="closed Accounting Period"):
        connector(post=True).push_invoice(invoice())
    assert [(s["method"], s["path"]) for s in erp.sent[-2:]] == [
        ("PUT", f"{INVOICES}/ACC-SINV-2026-00001"),
        ("DELETE", f"{INVOICES}/ACC-SINV-2026-00001"),
    ]
    assert invoices.rows == {}


@pytest.mark.parametrize(
    ("exc_type", "message", "exception", "field"),
    [
        (
            "MandatoryError",
            "Error: Value missing for Sales Invoice: Customer",
            "frappe.exceptions.MandatoryError: [Sales Invoice, new-sales-invoice-ab12]: customer",
            "customer",
        ),
        ("LinkValidationError", "Could not find Row #1: Item Code: PUMP-100", None, "lines[0].item_code"),
        ("ValidationError", "Due Date cannot be before Posting Date", None, "due_date"),
        ("ValidationError", "Price cannot be changed for a closed period", None, None),
    ],
)
def test_a_validation_error_is_permanent_and_names_the_field(erp, exc_type, message, exception, field):
    erp.on("GET", "/api/resource/Item", rows({"item_code": "PUMP-100"}))
    erp.on("GET", "/api/resource/Customer", rows({"name": "CUST-00042"}))
    erp.on("POST", INVOICES, lambda q, b: refusal(417, exc_type, message, exception))
    with pytest.raises(PermanentError) as err:
        connector(post=True).push_invoice(invoice())
    assert err.value.field == field
    assert err.value.message == f"ERPNext refused POST {URL}{INVOICES}: {exc_type}: {message}"
    assert "exc" not in err.value.detail  # Frappe's traceback stays out of the run history


def test_an_unknown_item_is_refused_before_anything_is_written(erp):
    erp.on("GET", "/api/resource/Item", rows())
    with pytest.raises(PermanentError) as err:
        connector().push_invoice(invoice(sku="PUMP-999"))
    assert err.value.field == "lines[0].item_code"
    assert erp.requests("POST") == []


def test_unknown_items_are_created_when_the_mapping_allows_it(erp):
    ErpInvoices(erp)
    erp.on("GET", "/api/resource/Item", rows())
    erp.on("POST", "/api/resource/Item", lambda q, b: (200, {"data": b}))
    connector(create_items=True, item_group="Pumps").push_invoice(invoice(sku="PUMP-999"))
    assert erp.requests("POST", "/api/resource/Item")[0]["body"] == {
        "item_code": "PUMP-999",
        "item_name": "Pump 100",
        "item_group": "Pumps",
    }


def test_find_invoices_is_one_filtered_list_on_the_reference_field(erp):
    erp.on(
        "GET",
        INVOICES,
        rows(
            {"name": "ACC-SINV-2026-00001", "custom_hub_ref": "INV-1", "docstatus": 2, "status": "Cancelled"},
            {"name": "ACC-SINV-2026-00001-1", "custom_hub_ref": "INV-1", "docstatus": 1, "status": "Paid"},
            {"name": "ACC-SINV-2026-00002", "custom_hub_ref": "INV-2", "docstatus": 0, "status": "Draft"},
        ),
    )
    found = connector(config={**CONFIG, "reference_field": "custom_hub_ref"}).find_invoices(["INV-1", "INV-2", "INV-3"])
    assert {k: (r.external_id, r.status) for k, r in found.items()} == {
        "INV-1": ("ACC-SINV-2026-00001-1", ExternalState.PAID),  # the amended one, not the cancelled
        "INV-2": ("ACC-SINV-2026-00002", ExternalState.DRAFT),
    }
    ((sent),) = erp.sent
    assert sent["query"] == list_query(
        ["name", "custom_hub_ref", "docstatus", "status"],
        [["custom_hub_ref", "in", ["INV-1", "INV-2", "INV-3"]], ["company", "=", "Acme Trading"]],
    )
    # Filters travel URL-encoded in the query string.
    assert "filters=%5B%5B%22custom_hub_ref%22%2C+%22in%22%2C+%5B%22INV-1%22" in sent["url"]


def test_the_push_look_up_of_a_posting_connection_deletes_drafts_find_invoice_only_reads(erp):
    """A draft the look-up finds for a connection that submits was left by a push whose answer was
    lost before its total was checked: it is deleted and the push makes it again. find_invoice
    (used by cancelling, too) never deletes."""
    erp.on(
        "GET",
        INVOICES,
        rows(
            {"name": "ACC-SINV-2026-00001", "po_no": "INV-1", "docstatus": 1, "status": "Unpaid"},
            {"name": "ACC-SINV-2026-00002", "po_no": "INV-2", "docstatus": 0, "status": "Draft"},
        ),
    )
    erp.on("DELETE", f"{INVOICES}/ACC-SINV-2026-00002", lambda q, b: (202, {"message": "ok"}))
    assert connector(post=True).find_invoice("INV-2").status == ExternalState.DRAFT
    assert erp.requests("DELETE") == []

    found = connector(post=True).find_invoices(["INV-1", "INV-2"])
    assert {k: r.external_id for k, r in found.items()} == {"INV-1": "ACC-SINV-2026-00001"}
    (delete,) = erp.requests("DELETE")
    assert delete["path"] == f"{INVOICES}/ACC-SINV-2026-00002"


def test_a_draft_the_look_up_cannot_delete_stops_the_push(erp):
    erp.on("GET", INVOICES, rows({"name": "ACC-SINV-2026-00002", "po_no": "INV-2", "docstatus": 0}))
    erp.on("DELETE", f"{INVOICES}/ACC-SINV-2026-00002", lambda q, b: (502, {"message": "Bad Gateway"}))
    with pytest.raises(UncertainOutcomeError):
        connector(post=True).find_invoices(["INV-2"])


# ---- after the push ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docstatus", "status", "outstanding", "expected", "paid"),
    [
        (0, "Draft", 47.0, ExternalState.DRAFT, "0"),
        (1, "Unpaid", 47.0, ExternalState.POSTED, "0.0"),
        (1, "Partly Paid", 27.0, ExternalState.PARTIALLY_PAID, "20.0"),
        (1, "Overdue", 27.0, ExternalState.PARTIALLY_PAID, "20.0"),  # overdue, yet partly paid
        (1, "Overdue", 47.0, ExternalState.POSTED, "0.0"),
        (1, "Paid", 0, ExternalState.PAID, "47.0"),
        (1, "Credit Note Issued", 0, ExternalState.CANCELLED, "0"),  # settled by the credit note, not paid
        (2, "Cancelled", 47.0, ExternalState.CANCELLED, "0"),
    ],
)
def test_invoice_status_reads_payments_back(erp, docstatus, status, outstanding, expected, paid):
    doc = {
        "name": "ACC-SINV-2026-00012",
        "docstatus": docstatus,
        "status": status,
        "grand_total": 47.36,
        "rounded_total": 47.0,
        "disable_rounded_total": 0,
        "outstanding_amount": outstanding,
        "currency": "EUR",
    }
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", lambda q, b: (200, {"data": doc}))
    result = connector().invoice_status(ExternalRef("erpnext", "ACC-SINV-2026-00012"))
    assert (result.status, result.amount_paid, result.amount_total, result.currency) == (
        expected,
        Decimal(paid),
        Decimal("47.0"),  # the rounded total: what the outstanding amount is measured against
        "EUR",
    )
    assert isinstance(result.amount_paid, Decimal)


def test_without_rounding_the_grand_total_counts(erp):
    doc = {
        "name": "ACC-SINV-2026-00012",
        "docstatus": 1,
        "status": "Partly Paid",
        "grand_total": 47.36,
        "rounded_total": 0,
        "disable_rounded_total": 1,
        "outstanding_amount": 7.36,
    }
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", lambda q, b: (200, {"data": doc}))
    result = connector().invoice_status(ExternalRef("erpnext", "ACC-SINV-2026-00012"))
    assert (result.status, result.amount_paid, result.amount_total) == (
        ExternalState.PARTIALLY_PAID,
        Decimal("40.00"),
        Decimal("47.36"),
    )


def test_status_of_a_deleted_invoice_is_permanent(erp):
    erp.on(
        "GET",
        f"{INVOICES}/ACC-SINV-2026-00012",
        lambda q, b: refusal(404, "DoesNotExistError", "Sales Invoice ACC-SINV-2026-00012 not found"),
    )
    with pytest.raises(PermanentError, match="no longer exists"):
        connector().invoice_status(ExternalRef("erpnext", "ACC-SINV-2026-00012"))


def test_cancel_a_submitted_invoice(erp):
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", invoice_doc(1, 47.36))
    erp.on("POST", "/api/method/frappe.client.cancel", lambda q, b: (200, {"message": {"docstatus": 2}}))
    connector().cancel_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"))
    (cancel,) = erp.requests("POST")
    assert (cancel["path"], cancel["body"]) == (
        "/api/method/frappe.client.cancel",
        {"doctype": "Sales Invoice", "name": "ACC-SINV-2026-00012"},
    )


def test_cancel_deletes_a_draft_and_leaves_a_cancelled_one(erp):
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", invoice_doc(0, 47.36))
    erp.on("DELETE", f"{INVOICES}/ACC-SINV-2026-00012", lambda q, b: (202, {"message": "ok"}))
    connector().cancel_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"))
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", invoice_doc(2, 47.36))
    connector().cancel_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"))
    assert [s["method"] for s in erp.sent] == ["GET", "DELETE", "GET"]


def test_a_paid_invoice_is_not_cancelled(erp):
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00012", invoice_doc(1, 7.36))
    with pytest.raises(PermanentError, match=r"has 40\.00 EUR paid against it"):
        connector().cancel_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"))
    assert erp.requests("POST") == []


# ---- stock -------------------------------------------------------------------------------------------


def test_stock_pull_pages_through_the_bins_of_the_companys_warehouses(erp):
    bins = [
        {"item_code": "PUMP-100", "warehouse": "Stores - AT", "actual_qty": 10.0, "reserved_qty": 2.0},
        {"item_code": "PUMP-100", "warehouse": "Berlin - AT", "actual_qty": 3.5, "reserved_qty": 0.0},
        {"item_code": "MANUAL-DE", "warehouse": "Stores - AT", "actual_qty": 7, "reserved_qty": 0},
        {"item_code": "GASKET", "warehouse": "Stores - AT", "actual_qty": 0.0, "reserved_qty": 1.0},
        {"item_code": "VALVE", "warehouse": "Berlin - AT", "actual_qty": 1.25, "reserved_qty": 0.25},
    ]
    erp.on("GET", "/api/resource/Warehouse", rows({"name": "Stores - AT"}, {"name": "Berlin - AT"}))
    erp.on("GET", "/api/resource/Bin", rows(*bins))
    c = connector()
    c.page_size = 2
    levels = [(s.sku, s.warehouse, s.on_hand, s.reserved, s.available) for s in c.pull_stock()]

    assert levels == [
        ("PUMP-100", "Stores - AT", Decimal("10.0"), Decimal("2.0"), Decimal("8.0")),
        ("PUMP-100", "Berlin - AT", Decimal("3.5"), Decimal("0.0"), Decimal("3.5")),
        ("MANUAL-DE", "Stores - AT", Decimal(7), Decimal(0), Decimal(7)),
        ("GASKET", "Stores - AT", Decimal("0.0"), Decimal("1.0"), Decimal("-1.0")),
        ("VALVE", "Berlin - AT", Decimal("1.25"), Decimal("0.25"), Decimal("1.00")),
    ]
    warehouse_filters = [["company", "=", "Acme Trading"], ["is_group", "=", 0]]
    assert [p["query"] for p in erp.requests("GET", "/api/resource/Warehouse")] == [
        list_query(["name"], warehouse_filters, start=start, length=2) for start in (0, 2)
    ]
    assert [p["query"] for p in erp.requests("GET", "/api/resource/Bin")] == [
        list_query(
            ["item_code", "warehouse", "actual_qty", "reserved_qty"],
            [["warehouse", "in", ["Stores - AT", "Berlin - AT"]]],
            start=start,
            length=2,
            order_by="name asc",
        )
        for start in (0, 2, 4)
    ]


# ---- through the sync engine -------------------------------------------------------------------------


def test_a_lost_create_answer_then_the_retry_finds_the_invoice(app, sales, admin, erp):
    """Draft mode: the Sales Invoice is created but the answer is lost; the retry's filtered list on
    `po_no` finds it instead of creating a second one."""
    invoices = ErpInvoices(erp, lose_create_answer=True)
    make_connection(app, "ERPNext", "erpnext", CONFIG)
    won = won_deal(sales, admin)
    number = won["invoices"][0]["number"]

    drain(app, rounds=1)
    assert [(row["po_no"], row["docstatus"]) for row in invoices.rows.values()] == [(number, 0)]
    retry_due_after_one_attempt(app)
    drain(app)

    assert len(invoices.rows) == 1
    assert len(erp.requests("POST", INVOICES)) == 1
    link = linked_once_after_a_lost_answer(app, SECRET)
    assert (link.external_id, link.state) == ("ACC-SINV-2026-00001", "draft")


def test_a_lost_create_answer_of_a_posting_connection_is_made_again_checked_and_submitted(app, sales, admin, erp):
    """Its total was never checked nor the draft submitted: the retry's look-up deletes the draft,
    and the push inserts, checks and submits a new one. One invoice in ERPNext, submitted."""
    invoices = ErpInvoices(erp, lose_create_answer=True)
    make_connection(app, "ERPNext", "erpnext", CONFIG, document_mode=DocumentMode.POSTED)
    won = won_deal(sales, admin)

    drain(app, rounds=1)
    assert [row["docstatus"] for row in invoices.rows.values()] == [0]
    retry_due_after_one_attempt(app)
    invoices.lose_create_answer = False
    drain(app)

    assert [(name, row["po_no"], row["docstatus"]) for name, row in invoices.rows.items()] == [
        ("ACC-SINV-2026-00002", won["invoices"][0]["number"], 1)
    ]
    assert [s["path"] for s in erp.requests("DELETE")] == [f"{INVOICES}/ACC-SINV-2026-00001"]
    link = linked_once_after_a_lost_answer(app, SECRET)
    assert (link.external_id, link.state) == ("ACC-SINV-2026-00002", "posted")


def test_a_lost_submit_answer_does_not_make_a_second_invoice(app, sales, admin, erp):
    """The submit went through but its answer was lost: deleting the draft is refused (ERPNext
    deletes only drafts) and the retry finds the submitted invoice."""
    invoices = ErpInvoices(erp, lose_submit_answer=True)
    make_connection(app, "ERPNext", "erpnext", CONFIG, document_mode=DocumentMode.POSTED)
    won_deal(sales, admin)

    drain(app, rounds=1)
    retry_due_after_one_attempt(app)
    drain(app)

    assert [row["docstatus"] for row in invoices.rows.values()] == [1]
    assert len(erp.requests("POST", INVOICES)) == 1
    assert len(erp.requests("DELETE")) == 1  # refused: submitted
    link = linked_once_after_a_lost_answer(app, SECRET)
    assert (link.external_id, link.state) == ("ACC-SINV-2026-00001", "posted")


def test_payments_in_erpnext_show_on_the_deal(app, sales, admin, call, erp):
    invoices = ErpInvoices(erp)
    make_connection(app, "ERPNext", "erpnext", CONFIG, document_mode=DocumentMode.POSTED)
    won = won_deal(sales, admin)
    drain(app)
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00001", invoices.document("ACC-SINV-2026-00001"))
    finance = call("finance")
    url = f"/api/v1/invoices/{won['invoices'][0]['id']}"
    assert finance.get(url).json["state"] == "posted"

    invoices.pay("ACC-SINV-2026-00001", 27.0, "Partly Paid")
    jobs.pull_invoice_status()
    assert (finance.get(url).json["state"], finance.get(url).json["amount_paid"]) == ("partially_paid", "20.00")

    invoices.pay("ACC-SINV-2026-00001", 0, "Paid")
    jobs.pull_invoice_status()
    assert (finance.get(url).json["state"], finance.get(url).json["amount_paid"]) == ("paid", "47.00")
    assert sales.get(f"/api/v1/deals/{won['id']}").json["invoices"][0]["state"] == "paid"


def test_a_lost_deal_cancels_the_submitted_invoice(app, sales, admin, erp):
    invoices = ErpInvoices(erp)
    make_connection(app, "ERPNext", "erpnext", CONFIG, document_mode=DocumentMode.POSTED)
    won = won_deal(sales, admin)
    drain(app)
    erp.on("GET", f"{INVOICES}/ACC-SINV-2026-00001", invoices.document("ACC-SINV-2026-00001"))
    r = sales.post(f"/api/v1/deals/{won['id']}/lost", json={"reason": "Customer withdrew"})
    assert r.status_code == 200, r.json
    drain(app)
    (cancel,) = erp.requests("POST", "/api/method/frappe.client.cancel")
    assert cancel["body"] == {"doctype": "Sales Invoice", "name": "ACC-SINV-2026-00001"}
    assert invoices.rows["ACC-SINV-2026-00001"]["docstatus"] == 2
    assert sales.get(f"/api/v1/deals/{won['id']}").json["invoices"][0]["state"] == "cancelled"


def test_stock_pulled_from_erpnext_reaches_the_hub(app, admin, call, erp):
    erp.on("GET", "/api/resource/Warehouse", rows({"name": "Stores - AT"}))
    erp.on(
        "GET",
        "/api/resource/Bin",
        rows({"item_code": "PUMP-100", "warehouse": "Stores - AT", "actual_qty": 40.0, "reserved_qty": 4.0}),
    )
    admin.post("/api/v1/products", json={"sku": "PUMP-100", "name": "Pump", "list_price": "19.90", "currency": "EUR"})
    connection_id = make_connection(app, "ERPNext", "erpnext", CONFIG)
    (level,) = pulled_stock(app, call("operations"), connection_id)
    assert (level["sku"], level["warehouse"]["code"], level["on_hand"], level["reserved"]) == (
        "PUMP-100",
        "Stores - AT",
        "40.0000",
        "4.0000",
    )


def test_the_admin_api_never_returns_the_secret_and_tests_the_connection(app, admin, erp):
    erp.on("GET", "/api/method/frappe.auth.get_logged_user", lambda q, b: (200, {"message": "hub@acme.example"}))
    erp.on("GET", "/api/resource/Company/Acme%20Trading", lambda q, b: (200, {"data": {"name": "Acme Trading"}}))
    (erp_type,) = [t for t in admin.get("/api/v1/connection-types").json if t["type"] == "erpnext"]
    assert {f["name"] for f in erp_type["config_schema"] if f["secret"]} == {"api_secret"}
    r = admin.post("/api/v1/connections", json={"name": "ERPNext", "type": "erpnext", "config": CONFIG})
    assert r.status_code == 201, r.json
    assert SECRET not in json.dumps(r.json)
    assert r.json["secrets_set"] == ["api_secret"]
    result = admin.post(f"/api/v1/connections/{r.json['id']}/test").json
    assert result == {"ok": True, "message": f"ERPNext at {URL} as hub@acme.example, company Acme Trading"}


def test_a_mapping_without_what_the_connector_needs_is_refused_when_saved(app, admin):
    connection_id = make_connection(app, "ERPNext", "erpnext", CONFIG)
    bad = default_document("erpnext")
    del bad["fields"]["customer_name"]
    bad["options"]["create_customers"] = "yes"
    r = admin.post(f"/api/v1/connections/{connection_id}/mapping/versions", json={"document": bad})
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"document.fields.customer_name", "document.options.create_customers"}


def test_the_preview_looks_up_and_creates_nothing(app, sales, admin, erp):
    erp.on("GET", "/api/resource/Item", rows({"item_code": "PUMP-100"}))
    erp.on("GET", "/api/resource/Customer", rows())
    connection_id = make_connection(app, "ERPNext", "erpnext", CONFIG, document_mode=DocumentMode.POSTED)
    won = won_deal(sales, admin)
    r = admin.post(f"/api/v1/connections/{connection_id}/mapping/preview", json={"deal_id": won["id"]})
    assert r.status_code == 200, r.json
    assert r.json["valid"] is True, r.json["problems"]
    payload = r.json["payload"]
    assert payload["customer"] == "(new customer 'Acme GmbH', created by the push)"
    assert payload["po_no"] == won["invoices"][0]["number"]
    assert "docstatus" not in payload  # inserted as a draft, submitted once its total is checked
    assert payload["items"] == [{"item_code": "PUMP-100", "qty": "2.0000", "rate": "19.90", "description": "Pump 100"}]
    assert erp.requests("POST") == []


def test_a_refused_invoice_is_parked_in_the_failed_queue_naming_the_field(app, sales, admin, erp):
    erp.on("GET", "/api/resource/Item", rows({"item_code": "PUMP-100"}))
    erp.on("GET", "/api/resource/Customer", rows({"name": "CUST-00042"}))
    erp.on("GET", INVOICES, rows())
    erp.on("POST", INVOICES, lambda q, b: refusal(417, "ValidationError", "Due Date cannot be before Posting Date"))
    make_connection(app, "ERPNext", "erpnext", CONFIG)
    won_deal(sales, admin)
    drain(app)
    (item,) = admin.get("/api/v1/sync/failed").json["items"]
    assert "ERPNext (erpnext) refused it" in item["last_error"]
    assert "Due Date cannot be before Posting Date" in item["last_error"]
    assert item["last_run"]["response"][-1]["status"] == 417


# ---- listing for the reconciliation report -----------------------------------------------------


def test_invoices_of_the_period_are_listed_page_by_page(erp):
    def invoice_row(name: str, reference: str, docstatus: int, status: str) -> dict:
        return {
            "name": name,
            "po_no": reference,
            "posting_date": "2026-12-03",
            "grand_total": 2713.88,
            "total_taxes_and_charges": 429.68,
            "currency": "EUR",
            "customer_name": "Acme GmbH",
            "docstatus": docstatus,
            "status": status,
        }

    listed = [
        invoice_row("ACC-SINV-2026-00001", "INV-000001", 1, "Unpaid"),
        invoice_row("ACC-SINV-2026-00002", "INV-000002", 1, "Partly Paid"),
        invoice_row("ACC-SINV-2026-00003", "", 0, "Draft"),
    ]
    erp.on("GET", "/api/resource/Sales%20Invoice", rows(*listed))
    client = connector()
    client.page_size = 2

    pages = list(client.list_invoices(date(2026, 12, 1), date(2026, 12, 31)))

    assert [len(p) for p in pages] == [2, 1]
    first, second, third = (*pages[0], *pages[1])
    assert (first.reference, first.external_id, first.total, first.tax, first.currency, first.customer) == (
        "INV-000001",
        "ACC-SINV-2026-00001",
        Decimal("2713.88"),
        Decimal("429.68"),
        "EUR",
        "Acme GmbH",
    )
    assert [i.state for i in (first, second, third)] == [
        ExternalState.POSTED,
        ExternalState.PARTIALLY_PAID,
        ExternalState.DRAFT,
    ]
    assert (third.reference, first.url) == (None, f"{URL}/app/sales-invoice/ACC-SINV-2026-00001")
    fields = ["name", "po_no", "posting_date", "grand_total", "total_taxes_and_charges", "currency"]
    fields += ["customer_name", "docstatus", "status"]
    filters = [
        ["company", "=", "Acme Trading"],
        ["is_return", "=", 0],
        ["posting_date", ">=", "2026-12-01"],
        ["posting_date", "<=", "2026-12-31"],
    ]
    assert [r["query"] for r in erp.requests("GET", "/api/resource/Sales%20Invoice")] == [
        list_query(fields, filters, start=0, length=2),
        list_query(fields, filters, start=2, length=2),
    ]
