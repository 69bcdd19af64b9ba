"""Credit notes in the SaaS targets, with `responses` shaped as their public documentation shows
them: the request that makes the credit note, and the look-up that finds one made earlier (a
retried cancel after a lost answer) instead of making a second."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import responses

from connectors.documents import ExternalRef, ExternalState
from connectors.erpnext import MAKE_RETURN as ERP_MAKE_RETURN
from connectors.quickbooks.wire import request_id as qbo_request_id
from tests.support.credit_note_answers import ERP_MAPPED, QBO_MEMO, XERO_INVOICE_ID, XERO_LINES, XERO_NOTE
from tests.support.erp_documents import invoice as erp_document
from tests.support.erpnext_api import INVOICES as ERP_INVOICES
from tests.support.erpnext_api import connector as erp_connector
from tests.support.erpnext_api import invoice_doc as erp_invoice_doc
from tests.support.erpnext_api import list_query as erp_list_query
from tests.support.erpnext_api import rows as erp_rows
from tests.support.odoo_api import connector as odoo_connector
from tests.support.quickbooks_api import BASE as QBO_BASE
from tests.support.quickbooks_api import connector as qbo_connector
from tests.support.quickbooks_api import document as qbo_document
from tests.support.quickbooks_api import qbo_invoice
from tests.support.quickbooks_api import query_answer as qbo_query_answer
from tests.support.quickbooks_api import query_of as qbo_query_of
from tests.support.recorded_requests import query, sent
from tests.support.xero_api import API as XERO_API
from tests.support.xero_api import answer as xero_answer
from tests.support.xero_api import connector as xero_connector
from tests.support.xero_api import document as xero_document
from tests.support.xero_api import xero_invoice
from tests.support.zoho_books_api import BOOKS as ZOHO_BOOKS
from tests.support.zoho_books_api import ORG as ZOHO_ORG
from tests.support.zoho_books_api import connector as zoho_connector
from tests.support.zoho_books_api import document as zoho_document
from tests.support.zoho_books_api import invoice as zoho_invoice
from tests.support.zoho_books_api import ok as zoho_ok


@responses.activate
def test_xero_credits_a_paid_invoice_with_an_authorised_accreccredit_of_its_lines():
    found = responses.get(f"{XERO_API}/CreditNotes", json=xero_answer(CreditNotes=[]))
    paid = xero_invoice(
        Status="PAID", AmountPaid=2713.88, AmountDue=0.0, Contact={"ContactID": "bd2270c3"}, LineItems=XERO_LINES
    )
    read = responses.get(f"{XERO_API}/Invoices/{XERO_INVOICE_ID}", json=xero_answer(Invoices=[paid]))
    made = responses.put(f"{XERO_API}/CreditNotes", json=xero_answer(CreditNotes=[XERO_NOTE]))

    note = xero_connector().credit_invoice(ExternalRef("xero", XERO_INVOICE_ID), xero_document())

    assert query(found.calls[0])["where"] == (
        'Type=="ACCRECCREDIT" AND Status!="DELETED" AND Reference=="INV-000042-CN"'
    )
    assert query(read.calls[0]) == {"unitdp": "4"}
    assert query(made.calls[0]) == {"unitdp": "4"}
    assert made.calls[0].request.headers["xero-tenant-id"]
    body = sent(made.calls[0])
    (credit,) = body["CreditNotes"]
    assert {k: credit[k] for k in ("Type", "Contact", "Reference", "CurrencyCode", "Status")} == {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": "bd2270c3"},
        "Reference": "INV-000042-CN",
        "CurrencyCode": "EUR",
        "Status": "AUTHORISED",
    }
    # A credit note takes no discount: the discounted line goes as its quantity and amount.
    assert [
        (i["ItemCode"], i["Quantity"], i.get("UnitAmount"), i["LineAmount"], i["TaxAmount"])
        for i in credit["LineItems"]
    ] == [
        ("PUMP-100", Decimal("2.0"), None, Decimal("2248.2"), Decimal("427.16")),
        ("MANUAL-DE", Decimal("3.0"), Decimal("12.0"), Decimal("36.0"), Decimal("2.52")),
    ]
    assert "LineItemID" not in credit["LineItems"][0]  # a new line, not the invoice's
    assert (note.external_id, note.external_number, note.status) == (
        XERO_NOTE["CreditNoteID"],
        "CN-0005",
        ExternalState.POSTED,
    )
    assert note.url.endswith(f"creditNoteID={XERO_NOTE['CreditNoteID']}")


@responses.activate
def test_xero_finds_the_credit_note_made_before_and_makes_no_second():
    responses.get(f"{XERO_API}/CreditNotes", json=xero_answer(CreditNotes=[XERO_NOTE]))

    note = xero_connector().credit_invoice(ExternalRef("xero", XERO_INVOICE_ID), xero_document())

    assert note.external_number == "CN-0005"
    assert [c.request.method for c in responses.calls] == ["GET"]


# ---- QuickBooks Online: CreditMemo ---------------------------------------------------------------


@responses.activate
def test_quickbooks_credits_a_paid_invoice_with_a_credit_memo_of_its_lines():
    found = responses.get(f"{QBO_BASE}/query", json=qbo_query_answer("CreditMemo", []))
    responses.get(f"{QBO_BASE}/invoice/130", json={"Invoice": qbo_invoice(balance="0"), "time": "t"})
    made = responses.post(f"{QBO_BASE}/creditmemo", json={"CreditMemo": QBO_MEMO, "time": "t"})

    note = qbo_connector().credit_invoice(ExternalRef("quickbooks", "130"), qbo_document())

    assert qbo_query_of(found.calls[0])["query"] == ["select * from CreditMemo where DocNumber = 'INV-000042-CN'"]
    body = sent(made.calls[0])
    assert body == {
        "DocNumber": "INV-000042-CN",
        "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "Line": [  # the item line as QuickBooks holds it; not its id, nor the subtotal line
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": Decimal("97.0"),
                "SalesItemLineDetail": {
                    "ItemRef": {"value": "11", "name": "Pump"},
                    "UnitPrice": Decimal("48.5"),
                    "Qty": 2,
                },
            }
        ],
        "PrivateNote": "INV-000042-CN: credits invoice INV-000042",
    }
    assert qbo_query_of(made.calls[0])["requestid"] == [qbo_request_id("INV-000042-CN", body)]
    assert (note.external_id, note.external_number) == ("151", "INV-000042-CN")
    assert note.url == "https://app.sandbox.qbo.intuit.com/app/creditmemo?txnId=151"


@responses.activate
def test_quickbooks_finds_the_credit_memo_made_before_and_makes_no_second():
    responses.get(f"{QBO_BASE}/query", json=qbo_query_answer("CreditMemo", [QBO_MEMO]))

    note = qbo_connector().credit_invoice(ExternalRef("quickbooks", "130"), qbo_document())

    assert note.external_id == "151"
    assert [c.request.method for c in responses.calls] == ["GET"]


# ---- Zoho Books: creditnotes --------------------------------------------------------------------

ZOHO_LINES = [
    {
        "line_item_id": "982000000567021",
        "item_id": "460000000027009",
        "name": "Pump",
        "description": "Pump",
        "rate": 1249.0,
        "quantity": 2.0,
        "discount": "10.00%",
        "tax_id": "982000000557028",
        "item_total": 2248.2,
    }
]
ZOHO_NOTE = {
    "creditnote_id": "90300000072369",
    "creditnote_number": "CN-29",
    "reference_number": "INV-000042-CN",
    "status": "open",
    "customer_id": "460000000026049",
    "total": 2675.36,
    "balance": 2675.36,
}


@responses.activate
def test_zoho_books_credits_a_paid_invoice_with_an_open_credit_note_of_its_lines():
    found = responses.get(f"{ZOHO_BOOKS}/creditnotes", json=zoho_ok(creditnotes=[]))
    paid = zoho_invoice(status="paid", balance=0, line_items=ZOHO_LINES, is_inclusive_tax=False)
    responses.get(f"{ZOHO_BOOKS}/invoices/982000000567114", json=zoho_ok(invoice=paid))
    made = responses.post(f"{ZOHO_BOOKS}/creditnotes", json=zoho_ok(creditnote=ZOHO_NOTE))

    before = datetime.now(UTC).date().isoformat()
    note = zoho_connector().credit_invoice(ExternalRef("zoho_books", "982000000567114"), zoho_document())
    after = datetime.now(UTC).date().isoformat()

    assert query(found.calls[0]) == {"organization_id": ZOHO_ORG, "reference_number": "INV-000042-CN"}
    assert query(made.calls[0]) == {"organization_id": ZOHO_ORG}
    body = sent(made.calls[0])
    assert body.pop("date") in (before, after)  # today, in UTC
    assert body == {
        "customer_id": "460000000026049",
        "reference_number": "INV-000042-CN",
        "is_inclusive_tax": False,
        "line_items": [
            {
                "item_id": "460000000027009",
                "description": "Pump",
                "rate": Decimal("1249.0"),
                "quantity": Decimal("2.0"),
                "discount": "10.00%",
                "tax_id": "982000000557028",
            }
        ],
    }
    assert (note.external_id, note.external_number) == ("90300000072369", "CN-29")
    assert note.url == f"https://books.zoho.eu/app/{ZOHO_ORG}#/creditnotes/90300000072369"


@responses.activate
def test_zoho_books_finds_the_credit_note_made_before_and_opens_a_draft_one():
    responses.get(
        f"{ZOHO_BOOKS}/creditnotes",
        json=zoho_ok(
            creditnotes=[{**ZOHO_NOTE, "reference_number": "INV-000042-CN-2"}, {**ZOHO_NOTE, "status": "draft"}]
        ),
    )
    opened = responses.post(f"{ZOHO_BOOKS}/creditnotes/90300000072369/converttoopen", json=zoho_ok())

    note = zoho_connector().credit_invoice(ExternalRef("zoho_books", "982000000567114"), zoho_document())

    assert note.external_number == "CN-29"
    assert len(opened.calls) == 1
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]


# ---- ERPNext: a return Sales Invoice (is_return, return_against) ----------------------------------

ERP_RETURN_FIELDS = ["name", "docstatus", "status"]
ERP_RETURN_FILTERS = [["is_return", "=", 1], ["return_against", "=", "ACC-SINV-2026-00012"], ["docstatus", "!=", 2]]
# What make_sales_return answers (abridged): the invoice mapped to its return, not saved yet.


def test_erpnext_credits_a_paid_invoice_with_a_submitted_return(erp):
    erp.on("GET", f"{ERP_INVOICES}/ACC-SINV-2026-00012", erp_invoice_doc(1, 0))
    erp.on("GET", ERP_INVOICES, erp_rows())
    erp.on("POST", ERP_MAKE_RETURN, lambda q, b: (200, {"message": ERP_MAPPED}))
    draft = {**ERP_MAPPED, "po_no": "INV-000042-CN", "name": "ACC-SINV-2026-00013", "status": "Draft"}
    erp.on("POST", ERP_INVOICES, lambda q, b: (200, {"data": draft}))
    submitted = {**draft, "docstatus": 1, "status": "Return"}
    erp.on("PUT", f"{ERP_INVOICES}/ACC-SINV-2026-00013", lambda q, b: (200, {"data": submitted}))

    note = erp_connector().credit_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"), erp_document())

    (look_up,) = erp.requests("GET", ERP_INVOICES)
    assert look_up["query"] == erp_list_query(ERP_RETURN_FIELDS, ERP_RETURN_FILTERS)
    (make,) = erp.requests("POST", ERP_MAKE_RETURN)
    assert make["body"] == {"source_name": "ACC-SINV-2026-00012"}
    (insert,) = erp.requests("POST", ERP_INVOICES)
    assert insert["body"] == {**ERP_MAPPED, "po_no": "INV-000042-CN"}  # ERPNext's return, our reference
    (submit,) = erp.requests("PUT")
    assert submit["body"] == {"docstatus": 1}
    assert (note.external_id, note.status) == ("ACC-SINV-2026-00013", ExternalState.POSTED)
    assert note.url == "https://erp.example.com/app/sales-invoice/ACC-SINV-2026-00013"


def test_erpnext_finds_the_return_made_before_and_submits_a_draft_one(erp):
    erp.on("GET", f"{ERP_INVOICES}/ACC-SINV-2026-00012", erp_invoice_doc(1, 0))
    erp.on("GET", ERP_INVOICES, erp_rows({"name": "ACC-SINV-2026-00013", "docstatus": 0, "status": "Draft"}))
    submitted = {"name": "ACC-SINV-2026-00013", "docstatus": 1, "status": "Return"}
    erp.on("PUT", f"{ERP_INVOICES}/ACC-SINV-2026-00013", lambda q, b: (200, {"data": submitted}))

    note = erp_connector().credit_invoice(ExternalRef("erpnext", "ACC-SINV-2026-00012"), erp_document())

    assert note.external_id == "ACC-SINV-2026-00013"
    assert erp.requests("POST") == []  # no second return
    assert len(erp.requests("PUT")) == 1


# ---- Odoo: the account.move.reversal wizard --------------------------------------------------------

ODOO_REVERSAL_DOMAIN = [["reversed_entry_id", "=", 501], ["move_type", "=", "out_refund"], ["state", "!=", "cancel"]]


def test_odoo_credits_a_paid_invoice_by_reversing_it_and_posting_the_credit_note(odoo):
    reversals: list[dict] = []  # what Odoo holds: none until the wizard runs
    odoo.on("account.move", "search_read", lambda a, k: [dict(r) for r in reversals])
    odoo.on("account.move.reversal", "create", lambda a, k: 12)

    def reverse(args, kwargs):
        reversals.append({"id": 502, "name": "/", "state": "draft", "ref": "Reversal of: INV/2026/00012"})
        return {"type": "ir.actions.act_window", "res_model": "account.move", "res_id": 502}

    def post(args, kwargs):
        reversals[0].update(name="RINV/2026/00003", state="posted", payment_state="not_paid")
        return True

    odoo.on("account.move.reversal", "reverse_moves", reverse)
    odoo.on("account.move", "action_post", post)

    note = odoo_connector().credit_invoice(ExternalRef("odoo", "501", "INV/2026/00012"), erp_document())

    look_up, create, run, found, action_post, read_back = odoo.calls()
    assert look_up[1:3] == found[1:3] == read_back[1:3] == ("search_read", [ODOO_REVERSAL_DOMAIN])
    context = {"active_model": "account.move", "active_ids": [501], "active_id": 501}
    assert create == (
        "account.move.reversal",
        "create",
        [{"move_ids": [[6, 0, [501]]], "reason": "INV-000042: the deal was lost"}],
        {"context": context},
    )
    assert run == ("account.move.reversal", "reverse_moves", [[12]], {"context": context})
    assert action_post == ("account.move", "action_post", [[502]], {})
    assert (note.external_id, note.external_number, note.status) == ("502", "RINV/2026/00003", ExternalState.POSTED)


def test_odoo_finds_the_credit_note_made_before_and_reverses_no_second_time(odoo):
    posted = {"id": 502, "name": "RINV/2026/00003", "state": "posted", "ref": "", "payment_state": "not_paid"}
    odoo.on("account.move", "search_read", lambda a, k: [posted])

    note = odoo_connector().credit_invoice(ExternalRef("odoo", "501"), erp_document())

    assert note.external_number == "RINV/2026/00003"
    assert [name for _, name, _, _ in odoo.calls()] == ["search_read"]
