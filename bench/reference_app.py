"""The stateless reference for bench/won_api.py: what "won → invoice" costs with nothing but a
pass-through. `POST /deals/<id>/won` builds the deal's invoice in memory, posts it to the Mini
Ledger and answers with the ledger's invoice: no database, no queue, no retry, no idempotency.

    gunicorn 'bench.reference_app:create_app()'   (LEDGER_URL, LEDGER_KEY from the environment)
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal

import requests
from flask import Flask, jsonify

_local = threading.local()
PRICE, TAX, CENT = Decimal("19.90"), Decimal("1.19"), Decimal("0.01")


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.headers["X-Api-Key"] = os.environ["LEDGER_KEY"]
    return session


def create_app() -> Flask:
    app = Flask(__name__)
    ledger = os.environ["LEDGER_URL"].rstrip("/")

    @app.post("/deals/<int:deal_id>/won")
    def won(deal_id: int):
        quantity = Decimal(1 + deal_id % 5)
        invoice = {
            "reference": f"REF-{deal_id:06d}",
            "customer": {"name": f"Bench customer {deal_id % 20}"},
            "currency": "EUR",
            "lines": [{"sku": f"BENCH-{deal_id % 200:03d}", "quantity": str(quantity), "unit_price": "19.90",
                       "tax_rate": "0.19", "total": str((quantity * PRICE * TAX).quantize(CENT))}],
        }  # fmt: skip
        answer = _session().post(f"{ledger}/api/invoices", json=invoice, timeout=10)
        answer.raise_for_status()
        return jsonify({"deal": deal_id, "invoice": answer.json()["number"]})

    @app.get("/")
    def ready():
        return "ok"

    return app
