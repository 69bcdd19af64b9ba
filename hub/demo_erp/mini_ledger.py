"""Mini Ledger: a small, fast invoicing service with a JSON API, for the demo, the engine's tests
and the benchmarks. It can inject faults (errors, timeouts, answers lost after the invoice was
created) so that "never lost, never twice" can be shown against a real HTTP peer.

    python -m hub.demo_erp.mini_ledger --port 8765 --api-key secret

It checks the amounts it is sent, as a real ledger would: each line states quantity, unit_price,
tax_rate (discount_percent optional) and total; the ledger works the line out itself and refuses
(422, naming the field) a stated net, tax or total, or a document subtotal, tax_total or total, that
disagrees (`checked_amounts`).

API (header `X-Api-Key`):
    POST /api/invoices                    create; 201 {id, number, reference, status, ...}
    POST /api/invoices/batch              {"invoices": [...]} create all or none; 201 {"items": [...]}
    GET  /api/invoices?reference=R        {"items": [...]}; `reference` may repeat (up to 200)
    GET  /api/invoices?issued_from=D&issued_to=D&after=N&limit=L
                                          a page of the invoices dated in the period (ISO dates, both
                                          optional), by id after N: {"items": [...], "next": the
                                          `after` of the next page, or null}; L ≤ 10000
    DELETE /api/invoices/<id>             delete an invoice nothing was paid on (as by hand)
    GET  /api/invoices/<id>               one invoice with amount_paid
    POST /api/invoices/<id>/cancel        cancel
    POST /api/invoices/<id>/payments      {"amount": "10.00"} record a payment
    POST /api/invoices/<id>/credit-notes  {"reference": R} credit the whole invoice (a posted credit
                                          note of its total); 201, or 200 with the credit note made
                                          earlier with the same reference
    GET  /api/credit-notes?invoice_id=N   {"items": [...]}: the credit notes of an invoice
    GET  /api/stock?since=ISO&cursor=N&limit=L   {"items": [...], "next": cursor or null}; L ≤ 10000
    PUT  /api/stock                       {"items": [{sku, warehouse, on_hand, reserved}]} set stock
    POST /api/purchase-requests           {reference, sku, warehouse, quantity}; 201, or 200 with the
                                          request made earlier with the same reference
    GET  /api/purchase-requests/<id>      one purchase request
    GET  /_stats                          counts, duplicates by reference
    PUT  /_faults                         {"error_rate", "timeout_rate", "lost_answer_rate", "delay"}
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, abort, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server

from hub.jsonio import DecimalJSONProvider
from hub.money import is_currency, minor_unit, round_to


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.invoices: dict[int, dict[str, Any]] = {}
        self.last_invoice_id = 0  # ids are never reused, also after a deletion
        self.by_reference: dict[str, list[int]] = {}
        self.stock: dict[tuple[str, str], dict[str, Any]] = {}
        # The stock rows in (sku, warehouse) order, kept between pages: sorting 200,000 rows for
        # each page of a pull made the pull quadratic. Rebuilt when a level is set.
        self._ordered: list[dict[str, Any]] | None = None
        self.purchase_requests: dict[str, dict[str, Any]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}  # by reference
        self.faults = {"error_rate": 0.0, "timeout_rate": 0.0, "lost_answer_rate": 0.0, "delay": 0.0}
        self.lost_answer_sleep = 2.0
        self.random = random.Random(7)
        self.requests = 0

    def set_stock(self, items: list[dict[str, Any]]) -> None:
        """Set levels: items of {"sku", "warehouse", "on_hand", "reserved"}."""
        now = datetime.now(UTC).isoformat()
        with self.lock:
            for item in items:
                self.stock[(item["sku"], item["warehouse"])] = {**item, "updated_at": now}
            self._ordered = None

    def ordered_stock(self) -> list[dict[str, Any]]:
        with self.lock:
            if self._ordered is None:
                self._ordered = [self.stock[key] for key in sorted(self.stock)]
            return self._ordered

    def add_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create one invoice from a validated body; the caller holds the lock."""
        self.last_invoice_id += 1
        invoice_id = self.last_invoice_id
        total = sum((Decimal(str(ln["total"])) for ln in body["lines"]), Decimal(0))
        invoice = {
            "id": invoice_id,
            "number": f"ML-{invoice_id:06d}",
            "reference": body["reference"],
            "customer": body["customer"],
            "currency": body["currency"],
            "issue_date": body.get("issue_date"),
            "lines": body["lines"],
            "total": str(total),
            "amount_paid": "0",
            "status": "posted" if body.get("post") else "draft",
            "created_at": datetime.now(UTC).isoformat(),
        }
        self.invoices[invoice_id] = invoice
        self.by_reference.setdefault(body["reference"], []).append(invoice_id)
        return invoice

    def delete_invoice(self, invoice_id: int) -> None:
        """Forget an invoice; the caller holds the lock."""
        invoice = self.invoices.pop(invoice_id)
        self.by_reference[invoice["reference"]].remove(invoice_id)

    def invoice_page(
        self, issued_from: str | None, issued_to: str | None, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Up to `limit` invoices with an id above `after` dated in the period (ISO dates compare as
        text), and the `after` of the next page (None after the last). Ids only grow, so a page
        walks on from its cursor instead of scanning from the start."""
        items: list[dict[str, Any]] = []
        with self.lock:
            for invoice_id in range(after + 1, self.last_invoice_id + 1):
                invoice = self.invoices.get(invoice_id)
                if invoice is None:
                    continue
                issued = invoice.get("issue_date") or ""
                if (issued_from and issued < issued_from) or (issued_to and issued > issued_to):
                    continue
                items.append(invoice)
                if len(items) == limit:
                    more = invoice_id < self.last_invoice_id
                    return items, invoice_id if more else None
        return items, None


# What a line's amounts are made of; each line must state them, and its stated amounts must agree.
LINE_FIELDS = ("quantity", "unit_price", "tax_rate", "total")
# The document's totals, each the sum of the lines' amount of that name; stating them is optional.
DOCUMENT_TOTALS = {"subtotal": "net", "tax_total": "tax", "total": "total"}


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def checked_amounts(body: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The ledger books amounts it works out itself, as accountants' software does: each line's net
    is quantity × unit price less its discount, its tax the net at its rate, both rounded half up
    to the currency's minor unit. An amount the sender states (a line's net, tax and total, the
    document's subtotal, tax total and total) that disagrees is refused, naming the field and both
    amounts: what the sender computed differently is a bug to see, not to book."""
    if not isinstance(body["currency"], str) or not is_currency(body["currency"]):
        return {f"{prefix}currency": "an ISO 4217 currency code"}
    if not isinstance(body["lines"], list):
        return {f"{prefix}lines": "a list"}
    unit = minor_unit(body["currency"])
    problems: dict[str, str] = {}
    sums = {"net": Decimal(0), "tax": Decimal(0), "total": Decimal(0)}
    for i, line in enumerate(body["lines"]):
        where = f"{prefix}lines[{i}]"
        if not isinstance(line, dict):
            problems[where] = "an object"
            continue
        values = {name: _number(line.get(name)) for name in (*LINE_FIELDS, "discount_percent")}
        missing = [name for name in LINE_FIELDS if values[name] is None]
        for name in missing:
            problems[f"{where}.{name}"] = "required, a number"
        if values["quantity"] is not None and values["quantity"] <= 0:
            problems[f"{where}.quantity"] = "must be positive"
        discount = values["discount_percent"] if values["discount_percent"] is not None else Decimal(0)
        if missing or not Decimal(0) <= discount <= 100:
            if not missing:
                problems[f"{where}.discount_percent"] = "between 0 and 100"
            continue
        quantity, price, rate = values["quantity"], values["unit_price"], values["tax_rate"]
        net = round_to(quantity * price * (100 - discount) / 100, unit)
        tax = round_to(net * rate, unit)
        made = {"net": net, "tax": tax, "total": net + tax}
        percent = f"{(rate * 100).normalize():f}"
        how = f"{quantity} × {price}" + (f" less {discount} %" if discount else "") + f" at {percent} % tax"
        for name, amount in made.items():
            stated = _number(line.get(name)) if name in line else amount
            if stated is None:
                problems[f"{where}.{name}"] = "a number"
            elif stated != amount:
                problems[f"{where}.{name}"] = f"is {stated}, but {how} makes {amount}"
            sums[name] += amount
    if problems:
        return problems
    for name, of in DOCUMENT_TOTALS.items():
        if name in body:
            stated = _number(body[name])
            if stated is None:
                problems[f"{prefix}{name}"] = "a number"
            elif stated != sums[of]:
                problems[f"{prefix}{name}"] = f"is {stated}, but the lines make {sums[of]}"
    return problems


def create_app(api_key: str = "demo-key", ledger: Ledger | None = None) -> Flask:
    app = Flask(__name__)
    app.json_provider_class = DecimalJSONProvider
    app.json = DecimalJSONProvider(app)
    state = ledger or Ledger()
    app.extensions["ledger"] = state

    def fault(kind: str) -> bool:
        rate = state.faults.get(kind, 0.0)
        return rate > 0 and state.random.random() < rate

    @app.before_request
    def _guard():
        state.requests += 1
        if request.path.startswith("/_"):
            return None
        if request.headers.get("X-Api-Key") != api_key:
            return jsonify({"error": "invalid api key"}), 401
        if state.faults["delay"]:
            time.sleep(state.faults["delay"])
        if fault("error_rate"):
            return jsonify({"error": "injected failure"}), 503
        if fault("timeout_rate"):
            time.sleep(state.lost_answer_sleep)
            return jsonify({"error": "too late"}), 504
        return None

    def _take_from_stock(lines: list[dict[str, Any]]) -> None:
        # Like QuickBooks or Zoho inventory items: invoicing goods takes them out of the first
        # warehouse that holds the SKU.
        now = datetime.now(UTC).isoformat()
        for line in lines:
            for key in sorted(k for k in state.stock if k[0] == line.get("sku")):
                row = state.stock[key]
                row["on_hand"] = str(Decimal(str(row["on_hand"])) - Decimal(str(line["quantity"])))
                row["updated_at"] = now
                break

    def _problems(body: Any, prefix: str = "") -> dict[str, str]:
        if not isinstance(body, dict):
            return {prefix or "body": "an object"}
        required = ("reference", "customer", "currency", "lines")
        problems = {f"{prefix}{k}": "required" for k in required if not body.get(k)}
        if problems:
            return problems
        return checked_amounts(body, prefix)

    def _refused(problems: dict[str, str]):
        return jsonify({"error": "validation failed", "message": str(problems), "fields": problems}), 422

    @app.post("/api/invoices")
    def create_invoice():
        body = request.get_json(silent=True) or {}
        problems = _problems(body)
        if problems:
            return _refused(problems)
        with state.lock:
            invoice = state.add_invoice(body)
            _take_from_stock(body["lines"])
        if fault("lost_answer_rate"):
            time.sleep(state.lost_answer_sleep)  # created, but the client gives up waiting
        return jsonify(invoice), 201

    @app.post("/api/invoices/batch")
    def create_invoices():
        """Several invoices in one call: all are created, or none when one is refused."""
        bodies = (request.get_json(silent=True) or {}).get("invoices") or []
        problems: dict[str, str] = {} if bodies else {"invoices": "required"}
        for i, body in enumerate(bodies):
            problems.update(_problems(body, f"invoices[{i}]."))
        if problems:
            return _refused(problems)
        with state.lock:
            created = [state.add_invoice(body) for body in bodies]
            for body in bodies:
                _take_from_stock(body["lines"])
        if fault("lost_answer_rate"):
            time.sleep(state.lost_answer_sleep)
        return jsonify({"items": created}), 201

    @app.get("/api/invoices")
    def find_invoices():
        references = request.args.getlist("reference")
        if not references and any(k in request.args for k in ("issued_from", "issued_to", "after", "limit")):
            return list_invoices()
        if len(references) > 200:
            return jsonify({"error": "at most 200 references per call"}), 400
        with state.lock:
            if not references:
                items = list(state.invoices.values())
            else:
                items = [state.invoices[n] for ref in references for n in state.by_reference.get(ref, ())]
        return jsonify({"items": items})

    def list_invoices():
        try:
            after = int(request.args.get("after", 0))
            limit = min(int(request.args.get("limit", 1000)), 10000)
        except ValueError:
            return jsonify({"error": "after and limit must be integers"}), 400
        items, next_after = state.invoice_page(
            request.args.get("issued_from"), request.args.get("issued_to"), after, max(limit, 1)
        )
        return jsonify({"items": items, "next": next_after})

    def _invoice(invoice_id: int) -> dict[str, Any]:
        invoice = state.invoices.get(invoice_id)
        if invoice is None:
            abort(404)
        return invoice

    @app.get("/api/invoices/<int:invoice_id>")
    def get_invoice(invoice_id: int):
        return jsonify(_invoice(invoice_id))

    @app.delete("/api/invoices/<int:invoice_id>")
    def delete_invoice(invoice_id: int):
        with state.lock:
            invoice = _invoice(invoice_id)
            if Decimal(invoice["amount_paid"]) > 0:
                return jsonify({"error": "paid invoices cannot be deleted"}), 409
            state.delete_invoice(invoice_id)
        return "", 204

    @app.post("/api/invoices/<int:invoice_id>/cancel")
    def cancel_invoice(invoice_id: int):
        with state.lock:
            invoice = _invoice(invoice_id)
            if Decimal(invoice["amount_paid"]) > 0:
                return jsonify({"error": "paid invoices cannot be cancelled"}), 409
            invoice["status"] = "cancelled"
        return jsonify(invoice)

    @app.post("/api/invoices/<int:invoice_id>/payments")
    def pay_invoice(invoice_id: int):
        amount = Decimal(str((request.get_json(silent=True) or {}).get("amount", "0")))
        with state.lock:
            invoice = _invoice(invoice_id)
            paid = Decimal(invoice["amount_paid"]) + amount
            invoice["amount_paid"] = str(paid)
            invoice["status"] = "paid" if paid >= Decimal(invoice["total"]) else "partially_paid"
        return jsonify(invoice)

    @app.post("/api/invoices/<int:invoice_id>/credit-notes")
    def credit_invoice(invoice_id: int):
        """Credit the whole invoice; a repeated reference answers with the credit note made the
        first time. A draft or a cancelled invoice has nothing to credit."""
        reference = (request.get_json(silent=True) or {}).get("reference")
        if not reference:
            return _refused({"reference": "required"})
        with state.lock:
            invoice = _invoice(invoice_id)
            earlier = state.credit_notes.get(reference)
            if earlier is not None:
                return jsonify(earlier), 200
            if invoice["status"] in ("draft", "cancelled"):
                return jsonify({"error": f"a {invoice['status']} invoice cannot be credited"}), 409
            number = len(state.credit_notes) + 1
            note = {
                "id": number,
                "number": f"CN-{number:06d}",
                "reference": reference,
                "invoice_id": invoice_id,
                "currency": invoice["currency"],
                "total": invoice["total"],
                "status": "posted",
                "created_at": datetime.now(UTC).isoformat(),
            }
            state.credit_notes[reference] = note
        if fault("lost_answer_rate"):
            time.sleep(state.lost_answer_sleep)
        return jsonify(note), 201

    @app.get("/api/credit-notes")
    def find_credit_notes():
        invoice_id = request.args.get("invoice_id", type=int)
        with state.lock:
            items = [n for n in state.credit_notes.values() if invoice_id is None or n["invoice_id"] == invoice_id]
        return jsonify({"items": items})

    @app.put("/api/stock")
    def set_stock():
        state.set_stock((request.get_json(silent=True) or {}).get("items", []))
        return jsonify({"count": len(state.stock)})

    @app.get("/api/stock")
    def get_stock():
        since = request.args.get("since")
        cursor = int(request.args.get("cursor", 0))
        limit = min(int(request.args.get("limit", 1000)), 10000)
        rows = state.ordered_stock()
        if since:
            rows = [r for r in rows if r["updated_at"] > since]
        page = rows[cursor : cursor + limit]
        return jsonify({"items": page, "next": cursor + limit if cursor + limit < len(rows) else None})

    @app.post("/api/purchase-requests")
    def create_purchase_request():
        body = request.get_json(silent=True) or {}
        problems = {k: "required" for k in ("reference", "sku", "quantity") if not body.get(k)}
        if not problems and Decimal(str(body["quantity"])) <= 0:
            problems["quantity"] = "must be positive"
        if problems:
            return jsonify({"error": "validation failed", "message": str(problems), "fields": problems}), 422
        with state.lock:
            earlier = state.purchase_requests.get(body["reference"])
            if earlier is not None:
                return jsonify(earlier), 200
            number = len(state.purchase_requests) + 1
            created = {
                "id": number,
                "number": f"PR-{number:06d}",
                "reference": body["reference"],
                "sku": body["sku"],
                "warehouse": body.get("warehouse"),
                "quantity": str(body["quantity"]),
                "status": "draft",
            }
            state.purchase_requests[body["reference"]] = created
        return jsonify(created), 201

    @app.get("/api/purchase-requests/<int:request_id>")
    def get_purchase_request(request_id: int):
        with state.lock:
            found = [r for r in state.purchase_requests.values() if r["id"] == request_id]
        if not found:
            abort(404)
        return jsonify(found[0])

    @app.get("/_stats")
    def stats():
        with state.lock:
            refs = Counter(i["reference"] for i in state.invoices.values())
        return jsonify(
            {
                "invoices": len(state.invoices),
                "references": len(refs),
                "duplicates": {ref: n for ref, n in refs.items() if n > 1},
                "requests": state.requests,
            }
        )

    @app.put("/_faults")
    def set_faults():
        body = request.get_json(silent=True) or {}
        for key in state.faults:
            if key in body:
                state.faults[key] = float(body[key])
        if "lost_answer_sleep" in body:
            state.lost_answer_sleep = float(body["lost_answer_sleep"])
        return jsonify(state.faults)

    return app


class LedgerServer:
    """Mini Ledger on a free local port in a background thread."""

    def __init__(self, api_key: str = "demo-key", port: int = 0) -> None:
        self.app = create_app(api_key)
        self.ledger: Ledger = self.app.extensions["ledger"]
        self.api_key = api_key
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, self.app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="mini-ledger")

    def start(self) -> LedgerServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self) -> LedgerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default="demo-key")
    args = parser.parse_args()
    server = LedgerServer(args.api_key, args.port)
    print(f"Mini Ledger on {server.url}", flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main()
