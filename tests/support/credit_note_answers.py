"""Credit notes as the SaaS targets answer them (Xero, QuickBooks, ERPNext), with the invoice lines
Xero credits."""

from __future__ import annotations

XERO_INVOICE_ID = "243216c5-369e-4056-ac67-05388f86dc81"
XERO_NOTE = {
    "CreditNoteID": "249f15fa-f2a7-4acc-8769-0984103f2225",
    "CreditNoteNumber": "CN-0005",
    "Type": "ACCRECCREDIT",
    "Reference": "INV-000042-CN",
    "Status": "AUTHORISED",
    "RemainingCredit": 2713.88,
    "Total": 2713.88,
    "CurrencyCode": "EUR",
    "UpdatedDateUTC": "/Date(1551812346157+0000)/",
}
XERO_LINES = [
    {
        "LineItemID": "52208ff9-528a-4985-a9ad-b2b1d4210e38",
        "ItemCode": "PUMP-100",
        "Description": "Pump",
        "Quantity": 2.0,
        "UnitAmount": 1249.0,
        "DiscountRate": 10.0,
        "AccountCode": "200",
        "TaxType": "OUTPUT2",
        "TaxAmount": 427.16,
        "LineAmount": 2248.2,
    },
    {
        "LineItemID": "6e2f3a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "ItemCode": "MANUAL-DE",
        "Description": "Manual",
        "Quantity": 3.0,
        "UnitAmount": 12.0,
        "AccountCode": "200",
        "TaxType": "OUTPUT3",
        "TaxAmount": 2.52,
        "LineAmount": 36.0,
    },
]

QBO_MEMO = {
    "Id": "151",
    "SyncToken": "0",
    "DocNumber": "INV-000042-CN",
    "TxnDate": "2026-12-06",
    "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
    "TotalAmt": 97.0,
    "Balance": 97.0,
    "RemainingCredit": 97.0,
}

ERP_MAPPED = {
    "doctype": "Sales Invoice",
    "customer": "CUST-00042",
    "company": "Acme Trading",
    "currency": "EUR",
    "is_return": 1,
    "return_against": "ACC-SINV-2026-00012",
    "po_no": "INV-000042",
    "items": [{"item_code": "PUMP-100", "qty": -2.0, "rate": 19.9, "sales_invoice_item": "a1b2c3"}],
    "docstatus": 0,
}
