"""Connector for Mini Ledger (`hub.demo_erp.mini_ledger`), the small JSON invoicing service the
demo, the engine's tests and the benchmarks run against. Also the simplest example of a connector.

Listing (the reconciliation report): `GET /api/invoices?issued_from=&issued_to=&after=&limit=`
hands out the invoices dated in a period by id, a page at a time. The ledger keeps no tax amount
of its own (its total is the sum of the lines' totals), so a listed invoice's tax is None."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import ConfigField
from connectors.documents import (
    ExternalRef,
    ExternalState,
    InvoiceDocument,
    InvoiceStatus,
    ListedInvoice,
    StockLevel,
)
from connectors.rest import RestConnector
from connectors.texts import N_
from mappings.values import storable

# Rows per stock page: big pages keep a 200,000-row pull to a few dozen round trips (the ledger
# takes up to 10,000).
STOCK_PAGE = 5000
# Pages read ahead of the caller: enough to keep reading while a page is written, few enough to
# hold (10 × 5,000 levels, some 20 MB).
PAGES_AHEAD = 10

FIND_CHUNK = 100
# Invoices per listing page (the ledger takes up to 10,000).
INVOICE_PAGE = 5000


def _levels(rows: list[dict[str, Any]]) -> list[StockLevel]:
    """A page's rows as levels. A page shares few distinct times and quantities: each is parsed
    once per page, not once per row."""
    times: dict[str, datetime] = {}
    numbers: dict[Any, Decimal] = {}
    levels = []
    for row in rows:
        stamp, on_hand, reserved = row["updated_at"], row["on_hand"], row.get("reserved", 0)
        as_of = times.get(stamp)
        if as_of is None:
            as_of = times[stamp] = datetime.fromisoformat(stamp).astimezone(UTC)
        if on_hand not in numbers:
            numbers[on_hand] = Decimal(str(on_hand))
        if reserved not in numbers:
            numbers[reserved] = Decimal(str(reserved))
        on_hand, reserved = numbers[on_hand], numbers[reserved]
        levels.append(StockLevel(row["sku"], row["warehouse"], on_hand, reserved, on_hand - reserved, as_of))
    return levels


class MiniLedgerConnector(RestConnector):
    type_name = "mini_ledger"
    label = "Mini Ledger"
    invoices_move_stock = True
    incremental_stock = True  # pull_stock(since) reads only what changed since then
    config_schema = (
        ConfigField("base_url", "url", N_("Base URL"), required=True, help=N_("e.g. http://127.0.0.1:8765")),
        ConfigField("api_key", "string", N_("API key"), required=True, secret=True),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=10),
    )

    required_targets = ("reference", "customer", "currency", "issue_date", "lines[].quantity", "lines[].total")

    url_setting = "base_url"

    def auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.config["api_key"]}

    def build_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The connection's mapping applied to the document, in JSON form (Decimals as exact text),
        plus the document mode."""
        return {**storable(self.map_document(doc)), "post": self.post}

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        return self.build_payload(doc)

    def test_connection(self) -> str:
        self.http.get("/api/invoices", params={"reference": "connection-test"})
        return f"Mini Ledger at {self.config['base_url']} answered"

    def _ref(self, invoice: dict[str, Any]) -> ExternalRef:
        return ExternalRef(
            system=self.type_name,
            external_id=str(invoice["id"]),
            external_number=invoice["number"],
            url=f"{self.config['base_url']}/api/invoices/{invoice['id']}",
            status=ExternalState(invoice["status"]),
        )

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        items = self.http.get("/api/invoices", params={"reference": idempotency_key})["items"]
        return self._ref(items[0]) if items else None

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """Many keys per call (the ledger takes up to 200 `reference` parameters)."""
        found: dict[str, ExternalRef] = {}
        for k in range(0, len(idempotency_keys), FIND_CHUNK):
            chunk = idempotency_keys[k : k + FIND_CHUNK]
            for item in self.http.get("/api/invoices", params={"reference": chunk})["items"]:
                found.setdefault(item["reference"], self._ref(item))
        return found

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        after: int | None = 0
        while after is not None:
            page = self.http.get(
                "/api/invoices",
                params={
                    "issued_from": issued_from.isoformat(),
                    "issued_to": issued_to.isoformat(),
                    "after": after,
                    "limit": INVOICE_PAGE,
                },
            )
            yield [self._listed(item) for item in page["items"]]
            after = page["next"]

    def _listed(self, invoice: dict[str, Any]) -> ListedInvoice:
        customer = invoice.get("customer")
        issued = invoice.get("issue_date")
        return ListedInvoice(
            reference=invoice.get("reference"),
            external_id=str(invoice["id"]),
            number=invoice.get("number"),
            total=Decimal(str(invoice["total"])),
            tax=None,
            currency=invoice["currency"],
            customer=customer.get("name") if isinstance(customer, dict) else customer,
            state=ExternalState(invoice["status"]),
            url=f"{self.config['base_url']}/api/invoices/{invoice['id']}",
            issue_date=date.fromisoformat(issued) if issued else None,
        )

    def look_up_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        return self.find_invoices(idempotency_keys)  # a read only here

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        """One call for the whole batch; the ledger creates all of them or, refusing one, none."""
        if len(docs) == 1:
            return [self.push_invoice(docs[0])]
        body = {"invoices": [self.build_payload(doc) for doc in docs]}
        items = self.http.post("/api/invoices/batch", json=body)["items"]
        return [self._ref(item) for item in items]

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        return self._ref(
            self.http.post(
                "/api/invoices", json=self.build_payload(doc), headers={"Idempotency-Key": doc.idempotency_key}
            )
        )

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        invoice = self.http.get(f"/api/invoices/{ref.external_id}")
        return InvoiceStatus(
            external_id=str(invoice["id"]),
            status=ExternalState(invoice["status"]),
            amount_total=Decimal(invoice["total"]),
            amount_paid=Decimal(invoice["amount_paid"]),
            currency=invoice["currency"],
            external_number=invoice["number"],
        )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        self.http.post(f"/api/invoices/{ref.external_id}/cancel")

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        """The ledger's credit note of the whole invoice (posted). One made earlier for the invoice
        is found first; the ledger also answers a repeated reference with the first credit note."""
        earlier = self.http.get("/api/credit-notes", params={"invoice_id": ref.external_id})["items"]
        note = earlier[0] if earlier else None
        if note is None:
            note = self.http.post(
                f"/api/invoices/{ref.external_id}/credit-notes", json={"reference": self.credit_reference(doc)}
            )
        return ExternalRef(
            system=self.type_name,
            external_id=str(note["id"]),
            external_number=note["number"],
            url=f"{self.config['base_url']}/api/credit-notes?invoice_id={ref.external_id}",
            status=ExternalState(note["status"]),
        )

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """The levels page by page. A helper thread reads and parses the next pages while the caller
        writes the ones before: on a full pull both take seconds, and each mostly waits on another
        process (the ledger, the database)."""
        pages: queue.Queue[list[StockLevel] | BaseException | None] = queue.Queue(maxsize=PAGES_AHEAD)
        stop = threading.Event()
        reader = threading.Thread(
            target=self._read_pages, args=(since, pages, stop), name="mini-ledger-stock", daemon=True
        )
        reader.start()
        try:
            while (page := pages.get()) is not None:
                if isinstance(page, BaseException):
                    raise page
                yield from page
        finally:
            stop.set()
            reader.join()

    def _read_pages(self, since: datetime | None, pages: queue.Queue, stop: threading.Event) -> None:
        """Put each page's levels on `pages`, then None; an error instead ends it. Gives up when
        `stop` is set (the caller stopped reading)."""

        def put(item: list[StockLevel] | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        params: dict[str, Any] = {"since": since.isoformat()} if since else {}
        cursor: int | None = 0
        try:
            while cursor is not None:
                page = self.http.get("/api/stock", params={**params, "cursor": cursor, "limit": STOCK_PAGE})
                if not put(_levels(page["items"])):
                    return
                cursor = page["next"]
        except BaseException as exc:  # handed to the caller's thread, which raises it
            put(exc)
            return
        put(None)

    def create_purchase_request(
        self, sku: str, warehouse: str | None, quantity: Decimal, reference: str
    ) -> ExternalRef:
        # The ledger answers a repeated reference with the request it made the first time.
        created = self.http.post(
            "/api/purchase-requests",
            json={"reference": reference, "sku": sku, "warehouse": warehouse, "quantity": str(quantity)},
        )
        return ExternalRef(
            system=self.type_name,
            external_id=str(created["id"]),
            external_number=created["number"],
            url=f"{self.config['base_url']}/api/purchase-requests/{created['id']}",
            status=ExternalState(created["status"]),
        )
