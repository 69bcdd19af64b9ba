"""ERPNext's REST API as the connector tests answer it with `responses`, in the shapes Frappe documents:
a fake that keeps every request the hub sent, Sales Invoices kept as ERPNext keeps them, the `erp`
fixture (a plugin of the root conftest) and a connector built on the default mapping."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors.erpnext import ERPNextConnector
from mappings.defaults import default_document
from mappings.parse import parse
from tests.support.complaints import Complaints

URL = "https://erp.example.com"
SECRET = "f3b2a1c0d9e8f7a6"
CONFIG = {"url": URL, "api_key": "8a9b7c6d5e4f3a2", "api_secret": SECRET, "company": "Acme Trading", "timeout": 5}
INVOICES = "/api/resource/Sales%20Invoice"


def refusal(status: int, exc_type: str, message: str, exception: str | None = None) -> tuple[int, dict]:
    """A Frappe error answer: the exception, its type, and the user-facing messages as a JSON list
    of JSON objects."""
    return status, {
        "exception": exception or f"frappe.exceptions.{exc_type}: {message}",
        "exc_type": exc_type,
        "exc": '["Traceback (most recent call last):\\n  ..."]',
        "_server_messages": json.dumps([json.dumps({"message": message, "title": "Message", "indicator": "red"})]),
    }


class FakeERPNext:
    """Answers `/api/...` from handlers by method and path, and keeps every request the hub sent."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.sent: list[dict] = []
        self.handlers: dict[tuple[str, str], object] = {}
        self.complaints = Complaints("the fake ERPNext")
        for method in (responses.GET, responses.POST, responses.PUT, responses.DELETE):
            rsps.add_callback(
                method, re.compile(re.escape(URL) + "/api/.*"), callback=self.complaints.guard(self._answer)
            )

    def on(self, method: str, path: str, handler) -> None:
        """`handler(query, body)` gives (status, JSON body[, headers]), or raises (a lost answer)."""
        self.handlers[(method, path)] = handler

    def _answer(self, request):
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = json.loads(request.body) if request.body else None
        self.sent.append(
            {
                "method": request.method,
                "url": request.url,
                "path": url.path,
                "query": query,
                "body": body,
                "raw": request.body,
            }
        )
        assert request.headers["Authorization"] == f"token 8a9b7c6d5e4f3a2:{SECRET}"
        status, answer, *headers = self.handlers[(request.method, url.path)](query, body)
        return status, {"Content-Type": "application/json", **(headers[0] if headers else {})}, json.dumps(answer)

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict]:
        return [s for s in self.sent if method in (None, s["method"]) and path in (None, s["path"])]


class ErpInvoices:
    """Sales Invoices kept as ERPNext keeps them: named from a series, inserted as drafts with the
    totals ERPNext computes (the line amounts, the company's `tax_rate`, the grand total rounded to
    whole units with its rounding adjustment), submitted by a PUT of `docstatus: 1`, deleted only
    while drafts, paid by payment entries that lower `outstanding_amount` (`pay`), cancelled to
    docstatus 2. `lose_create_answer` / `lose_submit_answer`: the change is made, its answer lost."""

    def __init__(
        self,
        erp: FakeERPNext,
        *,
        tax_rate: str = "0.19",
        lose_create_answer: bool = False,
        lose_submit_answer: bool = False,
        grand_total: str | None = None,
    ) -> None:
        self.erp = erp
        self.rows: dict[str, dict] = {}
        self.created = 0
        self.tax_rate = Decimal(tax_rate)
        self.grand_total = grand_total
        self.lose_create_answer = lose_create_answer
        self.lose_submit_answer = lose_submit_answer
        erp.on("GET", "/api/resource/Item", rows({"item_code": "PUMP-100"}))
        erp.on("GET", "/api/resource/Customer", rows({"name": "CUST-00042"}))
        erp.on("GET", INVOICES, self.search)
        erp.on("POST", INVOICES, self.create)
        erp.on("POST", "/api/method/frappe.client.cancel", self.cancel)

    def create(self, query, body):
        self.created += 1
        name = f"ACC-SINV-2026-{self.created:05d}"
        cent = Decimal("0.01")
        net = sum(Decimal(str(i["qty"])) * Decimal(str(i["rate"])) for i in body["items"]).quantize(cent)
        grand = Decimal(self.grand_total) if self.grand_total else net + (net * self.tax_rate).quantize(cent)
        rounded = grand.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        self.rows[name] = row = {
            **body,
            "name": name,
            "docstatus": 0,
            "status": "Draft",
            "net_total": float(net),
            "total_taxes_and_charges": float(grand - net),
            "grand_total": float(grand),
            "rounding_adjustment": float(rounded - grand),
            "rounded_total": float(rounded),
            "disable_rounded_total": 0,
            "outstanding_amount": float(rounded),
        }
        path = f"{INVOICES}/{name}"
        # A test's own handler for this invoice (a refusal) stays.
        self.erp.handlers.setdefault(("GET", path), self.document(name))
        self.erp.handlers.setdefault(("PUT", path), lambda q, b: self.update(name, b))
        self.erp.handlers.setdefault(("DELETE", path), lambda q, b: self.delete(name))
        if self.lose_create_answer:
            raise requests.exceptions.ReadTimeout("read timed out")
        return 200, {"data": row}

    def update(self, name: str, body: dict):
        row = self.rows[name]
        if body.get("docstatus") == 1:
            row.update(docstatus=1, status="Unpaid")
            if self.lose_submit_answer:
                raise requests.exceptions.ReadTimeout("read timed out")
        return 200, {"data": row}

    def delete(self, name: str):
        if self.rows[name]["docstatus"] != 0:
            return refusal(
                417,
                "ValidationError",
                f"Sales Invoice {name}: Submitted Record cannot be deleted. You must Cancel it first.",
            )
        del self.rows[name]
        return 202, {"message": "ok"}

    def search(self, query, body):
        (field, _, keys), _ = json.loads(query["filters"])
        wanted = json.loads(query["fields"])
        return 200, {"data": [{k: r[k] for k in wanted} for r in self.rows.values() if r[field] in keys]}

    def document(self, name: str):
        return lambda query, body: (200, {"data": self.rows[name]})

    def cancel(self, query, body):
        self.rows[body["name"]].update(docstatus=2, status="Cancelled")
        return 200, {"message": self.rows[body["name"]]}

    def pay(self, name: str, outstanding: float, status: str) -> None:
        self.rows[name].update(outstanding_amount=outstanding, status=status)


@pytest.fixture
def erp():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeERPNext(rsps)
        yield fake
    fake.complaints.check()


def connector(post: bool = False, config: dict | None = None, **options) -> ERPNextConnector:
    document = default_document("erpnext")
    document["options"].update(options)
    return ERPNextConnector(config or CONFIG, post=post, mapping=parse(document))


def rows(*data):
    """A list answer, one page of `data` as the query's limit_start and limit_page_length ask."""

    def page(query, body):
        start = int(query.get("limit_start", 0))
        return 200, {"data": list(data)[start : start + int(query.get("limit_page_length", 20))]}

    return page


def list_query(fields, filters, *, start=0, length=500, order_by="creation asc") -> dict:
    return {
        "fields": json.dumps(fields),
        "filters": json.dumps(filters),
        "order_by": order_by,
        "limit_start": str(start),
        "limit_page_length": str(length),
    }


def invoice_doc(docstatus: int, outstanding: float):
    doc = {"name": "ACC-SINV-2026-00012", "docstatus": docstatus, "grand_total": 47.36, "rounded_total": 47.36}
    return lambda q, b: (200, {"data": {**doc, "outstanding_amount": outstanding, "currency": "EUR"}})
