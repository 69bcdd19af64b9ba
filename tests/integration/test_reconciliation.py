"""The reconciliation report against the Mini Ledger and a real Tryton: each fault put into the
target (an invoice deleted, one created twice by hand, a changed total, a hub-like reference the hub
never sent) is reported once and correctly, and nothing else; a re-push from the report fixes the
missing one. Also the API's answers to bad input and to roles that may not."""

from __future__ import annotations

import html
from datetime import date, timedelta
from decimal import Decimal

import pytest
import redis
import requests

from connectors.tryton.connector import TrytonConnector
from hub.extensions import db
from hub.models import Connection, DocumentMode, ReconciliationRun
from hub.models.base import utcnow
from hub.reconciliation import start_nightly_runs
from hub.sync import jobs
from hub.sync.queue import connection as queue_connection
from hub.sync.worker import drain
from tests.conftest import LEDGER_KEY, make_connection
from tests.support.services import free_port
from tests.support.sessions import logged_in, page_text

V = "/api/v1"


@pytest.fixture
def products(admin):
    for sku, price, tax in [("PUMP-100", "1249.00", "0.19"), ("MANUAL-DE", "12.00", "0.07")]:
        r = admin.post(
            f"{V}/products", json={"sku": sku, "name": sku, "list_price": price, "currency": "EUR", "tax_rate": tax}
        )
        assert r.status_code == 201, r.json


@pytest.fixture
def finance(call):
    return call("finance")


def win(sales, name: str, quantity: int) -> dict:
    """A won deal of `quantity` pumps and a manual for the customer `name`; its invoice."""
    customer = sales.post(f"{V}/customers", json={"name": name}).json
    lines = [{"sku": "PUMP-100", "quantity": quantity}, {"sku": "MANUAL-DE", "quantity": 1}]
    deal = sales.post(f"{V}/deals", json={"title": "Pumps", "customer_id": customer["id"], "lines": lines}).json
    won = sales.post(f"{V}/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    return won.json["invoices"][0]


def reconcile(app, caller, connection_id: int) -> dict:
    """A run for today, started through the API and run by the worker; the run with all its lines."""
    today = utcnow().date().isoformat()
    started = caller.post(f"{V}/connections/{connection_id}/reconciliations", json={"from": today, "to": today})
    assert started.status_code == 202, started.json
    assert started.json["state"] == "queued"
    drain(app)
    run = caller.get(f"{V}/reconciliations/{started.json['id']}?per_page=200").json
    assert run["state"] == "done", run["error"]
    assert run["progress"] == 100
    return run


def findings(run: dict) -> set[tuple]:
    return {
        (line["kind"], line["reference"], line["field"], line["hub_value"], line["target_value"])
        for line in run["lines"]["items"]
    }


class Ledger:
    """The Mini Ledger's API, as someone working in it by hand."""

    def __init__(self, server) -> None:
        self.url = server.url
        self.headers = {"X-Api-Key": LEDGER_KEY}

    def invoices(self, reference: str) -> list[dict]:
        return requests.get(f"{self.url}/api/invoices", params={"reference": reference}, headers=self.headers).json()[
            "items"
        ]

    def create(self, body: dict) -> dict:
        r = requests.post(f"{self.url}/api/invoices", json=body, headers=self.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def delete(self, invoice_id: int) -> None:
        assert requests.delete(f"{self.url}/api/invoices/{invoice_id}", headers=self.headers).status_code == 204


def copy_of(invoice: dict, reference: str) -> dict:
    return {key: invoice[key] for key in ("customer", "currency", "issue_date", "lines")} | {"reference": reference}


# ---- Mini Ledger -----------------------------------------------------------------------------


def test_each_fault_in_the_ledger_is_reported_once_and_nothing_else(app, sales, finance, products, connection, ledger):
    invoices = [win(sales, f"Customer {n}", n) for n in range(1, 6)]
    drain(app)
    target = Ledger(ledger)
    deleted, doubled, changed = (invoices[0]["number"], invoices[1]["number"], invoices[2]["number"])
    target.delete(target.invoices(deleted)[0]["id"])
    first = target.invoices(doubled)[0]
    second = target.create(copy_of(first, doubled))  # keyed in twice by hand
    ledger.ledger.invoices[target.invoices(changed)[0]["id"]]["total"] = "1.00"  # edited in the ledger
    stranger = target.create(copy_of(first, "INV-900001"))

    run = reconcile(app, finance, connection)

    assert findings(run) == {
        ("missing", deleted, None, invoices[0]["total"], None),
        ("duplicated", doubled, None, first["number"], f"2 invoices: {first['number']}, {second['number']}"),
        ("mismatched", changed, "total", invoices[2]["total"], "1.00"),
        ("unknown", "INV-900001", None, None, f"{stranger['number']}: {stranger['total']} EUR"),
    }
    assert run["counts"] == {"missing": 1, "duplicated": 1, "mismatched": 1, "unknown": 1}
    assert (run["hub_count"], run["target_count"], run["matched"]) == (5, 6, 2)
    lines = {line["kind"]: line for line in run["lines"]["items"]}
    assert lines["duplicated"]["target_external_id"] == str(second["id"])
    page = finance.get(f"{V}/reconciliations/{run['id']}?kind=mismatched&per_page=1").json["lines"]
    assert (page["total"], [line["reference"] for line in page["items"]]) == (1, [changed])
    assert finance.get(f"{V}/reconciliations/{run['id']}?kind=lost").status_code == 422
    searched = finance.get(f"{V}/reconciliations/{run['id']}?q={deleted}").json["lines"]["items"]
    assert [(line["kind"], line["reference"]) for line in searched] == [("missing", deleted)]
    assert lines["unknown"]["target_url"] == f"{ledger.url}/api/invoices/{stranger['id']}"
    assert lines["missing"]["invoice_id"] == invoices[0]["id"]


def test_a_repush_from_the_report_fixes_the_missing_invoice(app, sales, finance, products, connection, ledger):
    invoices = [win(sales, f"Customer {n}", n) for n in range(1, 4)]
    drain(app)
    target = Ledger(ledger)
    gone = invoices[1]["number"]
    target.delete(target.invoices(gone)[0]["id"])

    run = reconcile(app, finance, connection)
    (line,) = run["lines"]["items"]
    assert (line["kind"], line["reference"]) == ("missing", gone)

    pushed = finance.post(f"{V}/reconciliations/{run['id']}/lines/{line['id']}/repush")
    assert pushed.status_code == 202, pushed.json
    again = finance.post(f"{V}/reconciliations/{run['id']}/lines/{line['id']}/repush")
    assert again.status_code == 409  # already on its way: not queued twice
    drain(app)
    assert len(target.invoices(gone)) == 1

    clean = reconcile(app, finance, connection)
    assert clean["lines"]["items"] == []
    assert clean["counts"] == {"missing": 0, "duplicated": 0, "mismatched": 0, "unknown": 0}
    assert clean["matched"] == 3
    (link,) = finance.get(f"{V}/invoices/{invoices[1]['id']}").json["links"]
    assert link["external_id"] == str(target.invoices(gone)[0]["id"])


def test_an_invoice_the_target_dates_elsewhere_is_no_missing_one(app, sales, finance, products, connection, ledger):
    invoices = [win(sales, f"Customer {n}", n) for n in range(1, 3)]
    drain(app)
    moved = Ledger(ledger).invoices(invoices[0]["number"])[0]
    ledger.ledger.invoices[moved["id"]]["issue_date"] = "2020-01-31"  # re-dated in the ledger

    run = reconcile(app, finance, connection)

    today = utcnow().date().isoformat()
    assert findings(run) == {("mismatched", invoices[0]["number"], "issue_date", today, "outside the period")}
    (line,) = run["lines"]["items"]
    assert line["target_external_id"] == str(moved["id"])
    assert (run["hub_count"], run["target_count"], run["matched"]) == (2, 1, 1)


def test_a_cancelled_invoice_the_target_never_got_is_not_expected_there(
    app, sales, finance, products, connection, ledger
):
    kept = win(sales, "Customer", 1)
    drain(app)
    with app.app_context():
        db.session.query(Connection).update({"paused": True})  # the next push waits
        db.session.commit()
    customer = sales.post(f"{V}/customers", json={"name": "Lost"}).json
    deal = sales.post(
        f"{V}/deals",
        json={"title": "Lost", "customer_id": customer["id"], "lines": [{"sku": "PUMP-100", "quantity": 1}]},
    ).json
    lost = sales.post(f"{V}/deals/{deal['id']}/won").json["invoices"][0]
    assert sales.post(f"{V}/deals/{deal['id']}/lost", json={"reason": "budget"}).status_code == 200
    with app.app_context():
        db.session.query(Connection).update({"paused": False})
        db.session.commit()

    run = reconcile(app, finance, connection)

    assert run["lines"]["items"] == []
    assert (run["hub_count"], run["matched"]) == (1, 1)
    assert Ledger(ledger).invoices(kept["number"])
    assert Ledger(ledger).invoices(lost["number"]) == []  # its push was discarded before it was sent


def test_a_period_without_the_invoices_compares_none(app, sales, finance, products, connection, ledger):
    win(sales, "Customer", 1)
    drain(app)
    last_year = (utcnow().date() - timedelta(days=400)).isoformat()
    started = finance.post(f"{V}/connections/{connection}/reconciliations", json={"from": last_year, "to": last_year})
    drain(app)
    run = finance.get(f"{V}/reconciliations/{started.json['id']}").json
    assert (run["state"], run["hub_count"], run["target_count"], run["lines"]["items"]) == ("done", 0, 0, [])


def test_a_target_that_cannot_be_reached_fails_the_run_with_its_reason(app, finance, ledger):
    connection = make_connection(app, "Gone", "mini_ledger", {"base_url": "http://127.0.0.1:9", "api_key": "k"})
    today = utcnow().date().isoformat()
    started = finance.post(f"{V}/connections/{connection}/reconciliations", json={"from": today, "to": today})
    drain(app)
    run = finance.get(f"{V}/reconciliations/{started.json['id']}").json
    assert run["state"] == "failed"
    assert "127.0.0.1:9" in run["error"] or "Connection" in run["error"]


def test_the_nightly_run_starts_one_run_per_connection_that_can_list(app, connection, ledger):
    onec = make_connection(app, "1C", "onec_exchange", {"username": "1c", "password": "exchange-secret"})
    with app.app_context():
        assert start_nightly_runs(date(2026, 12, 6)) == 1
        assert start_nightly_runs(date(2026, 12, 6)) == 0  # one is queued already
        (run,) = db.session.query(ReconciliationRun).all()
        assert (run.connection_id, run.period_from, run.period_to) == (connection, date(2026, 11, 5), date(2026, 12, 6))
        assert run.requested_by_id is None
        assert onec != run.connection_id


def test_the_nightly_job_reports_on_the_last_month(app, sales, finance, products, connection, ledger):
    win(sales, "Customer", 1)
    drain(app)
    jobs.bind_app(app)

    assert jobs.reconcile_nightly() == 1
    drain(app)

    (run,) = finance.get(f"{V}/connections/{connection}/reconciliations").json["items"]
    assert (run["state"], run["requested_by_id"], run["to"]) == ("done", None, utcnow().date().isoformat())
    assert (run["hub_count"], run["matched"], run["counts"]["missing"]) == (1, 1, 0)


# ---- the API: bad input, permissions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "2026-12-01"}, "from"),
        ({"from": "2026-12-01"}, "to"),
        ({"from": "2026-13-01", "to": "2026-12-01"}, "from"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "to"),
    ],
)
def test_bad_periods_are_refused_naming_the_field(app, finance, connection, body, field):
    r = finance.post(f"{V}/connections/{connection}/reconciliations", json=body)
    assert r.status_code == 422
    assert list(r.json["errors"]) == [field]
    with app.app_context():
        assert db.session.query(ReconciliationRun).count() == 0


def test_unknown_connections_and_runs_are_404_and_unlisting_types_422(app, finance):
    body = {"from": "2026-12-01", "to": "2026-12-01"}
    assert finance.post(f"{V}/connections/999/reconciliations", json=body).status_code == 404
    assert finance.get(f"{V}/reconciliations/999").status_code == 404
    onec = make_connection(app, "1C", "onec_exchange", {"username": "1c", "password": "exchange-secret"})
    r = finance.post(f"{V}/connections/{onec}/reconciliations", json=body)
    assert r.status_code == 422
    assert "cannot list their invoices" in r.json["errors"]["connection_id"][0]


def test_only_finance_and_admins_reconcile(app, call, connection):
    body = {"from": "2026-12-01", "to": "2026-12-01"}
    path = f"{V}/connections/{connection}/reconciliations"
    assert call(None).post(path, json=body).status_code == 401
    for role in ("sales", "operations"):
        assert call(role).post(path, json=body).status_code == 403
    run = call("admin").post(path, json=body).json
    assert call("finance").post(path, json=body).status_code == 202
    for role in ("sales", "operations"):
        assert call(role).get(f"{V}/reconciliations/{run['id']}").status_code == 403
    assert call("admin").get(f"{V}/reconciliations/{run['id']}").status_code == 200
    assert call("finance").get(path).json["total"] == 2


def test_only_a_missing_line_can_be_pushed_again(app, sales, finance, products, connection, ledger):
    invoice = win(sales, "Customer", 1)
    drain(app)
    ledger.ledger.invoices[1]["currency"] = "USD"
    run = reconcile(app, finance, connection)
    (line,) = run["lines"]["items"]
    assert (line["kind"], line["field"], line["hub_value"], line["target_value"]) == (
        "mismatched",
        "currency",
        "EUR",
        "USD",
    )
    assert line["reference"] == invoice["number"]
    r = finance.post(f"{V}/reconciliations/{run['id']}/lines/{line['id']}/repush")
    assert r.status_code == 409
    assert finance.post(f"{V}/reconciliations/{run['id'] + 1}/lines/{line['id']}/repush").status_code == 404
    assert sales.post(f"{V}/reconciliations/{run['id']}/lines/{line['id']}/repush").status_code == 403


# ---- Tryton ----------------------------------------------------------------------------------


def test_each_fault_in_tryton_is_reported_once_and_a_repush_fixes_the_missing_one(
    app, sales, finance, products, tryton_db
):
    connection = make_connection(app, "Tryton", "tryton", tryton_db.config, document_mode=DocumentMode.DRAFT)
    invoices = [win(sales, f"Tryton Customer {n}", n) for n in range(1, 6)]
    drain(app)
    tryton = TrytonConnector(tryton_db.config)
    fields = ["id", "number", "lines", "total_amount", "tax_amount"]

    def held(reference: str) -> list[dict]:
        return tryton.search_read("account.invoice", [["reference", "=", reference]], fields, order=[["id", "ASC"]])

    deleted, doubled, changed = (invoices[0]["number"], invoices[1]["number"], invoices[2]["number"])
    tryton.call("model.account.invoice.delete", [held(deleted)[0]["id"]], changes_data=True)
    first = held(doubled)[0]
    today = utcnow().date()
    (copy_id,) = tryton.call(
        "model.account.invoice.copy", [first["id"]], {"reference": doubled, "invoice_date": today}, changes_data=True
    )
    edited = held(changed)[0]
    tryton.call(
        "model.account.invoice.line.write", edited["lines"][:1], {"unit_price": Decimal("1.0000")}, changes_data=True
    )
    (stranger_id,) = tryton.call(
        "model.account.invoice.copy",
        [first["id"]],
        {"reference": "INV-900001", "invoice_date": today},
        changes_data=True,
    )
    edited = held(changed)[0]  # as Tryton now computes it
    stranger = held("INV-900001")[0]

    run = reconcile(app, finance, connection)

    expected = {
        ("missing", deleted, None, invoices[0]["total"], None),
        ("duplicated", doubled, None, str(first["id"]), f"2 invoices: {first['id']}, {copy_id}"),
        ("mismatched", changed, "total", invoices[2]["total"], str(edited["total_amount"])),
        ("unknown", "INV-900001", None, None, f"{stranger_id}: {stranger['total_amount']} EUR"),
    }
    hub_tax = finance.get(f"{V}/invoices/{invoices[2]['id']}").json["tax_total"]
    if edited["tax_amount"] != Decimal(hub_tax):  # whether Tryton recomputes a draft's taxes on a write
        expected.add(("mismatched", changed, "tax", hub_tax, str(edited["tax_amount"])))
    assert findings(run) == expected
    assert edited["total_amount"] != Decimal(invoices[2]["total"])
    assert (run["hub_count"], run["target_count"], run["matched"]) == (5, 6, 2)
    unknown = next(line for line in run["lines"]["items"] if line["kind"] == "unknown")
    assert unknown["target_url"].endswith(f"/model/account.invoice/{stranger_id}")

    missing = next(line for line in run["lines"]["items"] if line["kind"] == "missing")
    assert finance.post(f"{V}/reconciliations/{run['id']}/lines/{missing['id']}/repush").status_code == 202
    drain(app)
    assert len(held(deleted)) == 1
    after = reconcile(app, finance, connection)
    assert findings(after) == expected - {("missing", deleted, None, invoices[0]["total"], None)}
    assert after["matched"] == 3


def test_a_run_the_job_queue_refused_says_so_in_the_readers_language(app, finance, connection):
    """Redis refusing the run's job (a real connection to a closed port): the run fails at once,
    and its reason is kept as a sentence, said in the reader's language on the page and in the API;
    the redis client's own words stay as it wrote them."""
    today = utcnow().date().isoformat()
    kept = queue_connection(app)  # made on first use
    app.extensions["hub_redis"] = redis.Redis(port=free_port(), socket_connect_timeout=1)
    try:
        started = finance.post(f"{V}/connections/{connection}/reconciliations", json={"from": today, "to": today})
    finally:
        app.extensions["hub_redis"] = kept
    run_id = started.json["id"]
    english = finance.get(f"{V}/reconciliations/{run_id}").json
    assert english["state"] == "failed"
    assert english["error"].startswith("The job queue is unavailable (")
    assert "Connection refused" in english["error"] or "connecting to" in english["error"]
    refusal = english["error"].removeprefix("The job queue is unavailable (").split("); ")[0]
    russian = finance.get(f"{V}/reconciliations/{run_id}", headers={"Accept-Language": "ru"}).json["error"]
    bengali = finance.get(f"{V}/reconciliations/{run_id}", headers={"Accept-Language": "bn"}).json["error"]
    assert russian == f"Очередь заданий недоступна ({refusal}); запустите проверку позже."
    assert bengali == f"কাজের সারি পাওয়া যাচ্ছে না ({refusal}); পরে আবার চালান।"
    page = html.unescape(page_text(logged_in(app, "finance@example.com", "ru").get(f"/reconciliations/{run_id}")))
    assert russian in page
    with app.app_context():
        assert db.session.get(ReconciliationRun, run_id).error == english["error"]  # the column keeps English
