"""A connection's mapping through the API (admin): versions, activation, diff, rollback, the audit
log, value tables row by row and as CSV, validation and preview, and a push parked on an unmapped
value that goes through once the row is added. Against the Mini Ledger; Tryton is in
test_mappings_tryton.py."""

from __future__ import annotations

import copy

import pytest

from hub.sync import jobs
from hub.sync.queue import get_queue
from hub.sync.worker import drain
from mappings.defaults import default_document
from tests.support.mapping_deals import win

V = "/api/v1"


def url(connection: int, rest: str = "") -> str:
    return f"{V}/connections/{connection}/mapping{rest}"


def with_currencies(document: dict, *codes: str) -> dict:
    changed = copy.deepcopy(document)
    changed["tables"]["currencies"]["rows"] = {c: c for c in codes}
    return changed


def test_a_new_connection_uses_the_shipped_default(admin, connection):
    r = admin.get(url(connection))
    assert r.status_code == 200
    assert (r.json["source"], r.json["version"]) == ("default", None)
    assert r.json["document"] == default_document("mini_ledger")
    assert "target: mini_ledger" in r.json["yaml"]
    tables = {t["name"]: t for t in r.json["tables"]}
    assert tables["currencies"]["unmapped"] == "refuse"
    assert {row["key"] for row in tables["currencies"]["rows"]} == {"EUR", "USD", "GBP", "CHF"}
    assert admin.get(url(connection, "/versions")).json == []


def test_versions_are_saved_as_drafts_activated_diffed_and_rolled_back(admin, connection, users):
    base = default_document("mini_ledger")
    v1 = admin.post(url(connection, "/versions"), json={"document": with_currencies(base, "EUR"), "note": "EUR only"})
    assert v1.status_code == 201, v1.json
    assert (v1.json["version"], v1.json["state"], v1.json["author"]) == (1, "draft", users["admin"]["email"])
    assert admin.get(url(connection)).json["source"] == "default"  # a draft changes nothing yet

    assert admin.post(url(connection, "/versions/1/activate")).json["state"] == "active"
    current = admin.get(url(connection)).json
    assert (current["source"], current["version"]) == ("version", 1)

    v2 = admin.post(
        url(connection, "/versions"),
        json={"yaml": "# as text\n" + current["yaml"].replace("EUR: EUR", "EUR: EURO"), "activate": True},
    )
    assert (v2.status_code, v2.json["state"]) == (201, "active"), v2.json
    states = {v["version"]: v["state"] for v in admin.get(url(connection, "/versions")).json}
    assert states == {1: "retired", 2: "active"}

    d = admin.get(url(connection, "/diff?from=1&to=2")).json
    assert (d["from"], d["to"]) == (1, 2)
    assert d["changes"] == [{"path": "tables.currencies.rows.EUR", "kind": "changed", "old": "EUR", "new": "EURO"}]
    assert "-      EUR: EUR\n+      EUR: EURO" in d["text"]
    assert admin.get(url(connection, "/diff")).json["changes"] == []  # active vs newest: the same

    back = admin.post(url(connection, "/rollback"), json={})
    assert back.status_code == 200, back.json
    assert (back.json["version"], back.json["state"], back.json["based_on"]) == (3, "active", 1)
    assert back.json["document"] == admin.get(url(connection, "/versions/1")).json["document"]
    to_default = admin.post(url(connection, "/rollback"), json={"version": 0}).json
    assert (to_default["version"], to_default["based_on"]) == (4, 0)
    assert admin.get(url(connection)).json["document"] == base
    states = {v["version"]: v["state"] for v in admin.get(url(connection, "/versions")).json}
    assert states == {1: "retired", 2: "retired", 3: "retired", 4: "active"}

    assert admin.put(url(connection, "/tables/products/rows/W-1"), json={"value": "I-1"}).status_code == 200

    # A connection that never synced can be deleted with its mapping and rows.
    assert admin.delete(f"{V}/connections/{connection}").status_code == 204
    assert admin.get(url(connection)).status_code == 404
    audit = admin.get(f"{V}/audit?entity=mapping_versions&per_page=200").json["items"]
    assert {(a["action"], a["actor"]) for a in audit} >= {
        ("create", users["admin"]["email"]),
        ("update", users["admin"]["email"]),
    }


def test_an_invalid_mapping_is_refused_whole_with_every_problem(admin, connection):
    bad = copy.deepcopy(default_document("mini_ledger"))
    bad["fields"]["reference"] = {"expr": "idempotency_key ||"}
    bad["lines"]["fields"]["sku"]["table"] = "skus"
    del bad["fields"]["currency"]
    r = admin.post(url(connection, "/versions"), json={"document": bad})
    assert r.status_code == 422
    assert set(r.json["errors"]) == {
        "document.fields.reference.expr",
        "document.lines.fields.sku.table",
        "document.fields.currency",
    }
    assert "connector needs this field" in r.json["errors"]["document.fields.currency"][0]
    assert admin.get(url(connection, "/versions")).json == []

    checked = admin.post(url(connection, "/validate"), json={"document": bad}).json
    assert checked["valid"] is False
    assert {p["path"] for p in checked["problems"]} == {
        "fields.reference.expr",
        "lines.fields.sku.table",
        "fields.currency",
    }
    assert admin.post(url(connection, "/versions"), json={"yaml": "fields: ["}).status_code == 422
    assert admin.post(url(connection, "/versions"), json={}).status_code == 422
    assert admin.post(url(connection, "/versions/9/activate")).status_code == 404
    assert admin.post(url(connection, "/rollback"), json={}).status_code == 409


def test_value_tables_row_by_row_and_as_csv(admin, connection):
    products = url(connection, "/tables/products")
    r = admin.put(f"{products}/rows/W-1", json={"value": "ITEM-1"})
    assert r.status_code == 200, r.json
    assert r.json == {"key": "W-1", "value": "ITEM-1", "source": "stored", "updated_at": r.json["updated_at"]}
    assert admin.put(f"{products}/rows/W-1", json={"value": "ITEM-01"}).json["value"] == "ITEM-01"
    assert admin.put(f"{products}/rows/A%2FB", json={"value": "ITEM-2"}).json["key"] == "A/B"
    assert admin.put(url(connection, "/tables/nope/rows/x"), json={"value": "y"}).status_code == 404

    csv_text = admin.get(f"{products}/csv").get_data(as_text=True)
    assert csv_text == "key,value\nA/B,ITEM-2\nW-1,ITEM-01\n"
    currencies = admin.get(url(connection, "/tables/currencies/csv")).get_data(as_text=True)
    assert currencies.splitlines()[:2] == ["key,value", "EUR,EUR"]  # inline rows of the mapping too

    bad = admin.put(f"{products}/csv", data="key,value\nX-1,I1\n,I2\nX-1,I3\na,b,c\n", content_type="text/csv")
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"line 3", "line 4", "line 5"}
    assert admin.get(f"{products}/csv").get_data(as_text=True) == csv_text  # nothing half-written

    good = admin.put(f"{products}/csv?replace=true", data="key,value\nX-1,I1\nW-1,ITEM-01\n", content_type="text/csv")
    assert good.json == {"added": 1, "changed": 0, "removed": 1}
    rows = admin.get(products).json["rows"]
    assert [(row["key"], row["value"], row["source"]) for row in rows] == [
        ("W-1", "ITEM-01", "stored"),
        ("X-1", "I1", "stored"),
    ]
    assert admin.delete(f"{products}/rows/X-1").status_code == 204
    assert admin.delete(f"{products}/rows/X-1").status_code == 404
    audit = admin.get(f"{V}/audit?entity=mapping_rows&per_page=200").json["items"]
    assert {a["action"] for a in audit} == {"create", "update", "delete"}
    assert {a["actor"] for a in audit} == {"admin@example.com"}
    assert admin.put(f"{products}/csv", data="sku;item\n", content_type="text/csv").status_code == 422


def test_decimal_keys_are_normalised_and_checked(admin, connection):
    document = copy.deepcopy(default_document("mini_ledger"))
    document["tables"]["tax_codes"] = {"key": "decimal", "value": "integer", "rows": {}}
    document["lines"]["fields"]["tax_code"] = {"expr": "tax_rate", "table": "tax_codes"}
    assert admin.post(url(connection, "/versions"), json={"document": document, "activate": True}).status_code == 201
    rows = url(connection, "/tables/tax_codes/rows")
    assert admin.put(f"{rows}/0.190", json={"value": 7}).json["key"] == "0.19"
    r = admin.put(f"{rows}/seven", json={"value": 7})
    assert (r.status_code, list(r.json["errors"])) == (422, ["key"])
    r = admin.put(f"{rows}/0.07", json={"value": "seven"})
    assert (r.status_code, list(r.json["errors"])) == (422, ["value"])
    # A new version whose table would no longer take the stored rows is refused.
    document["tables"]["tax_codes"]["value"] = "decimal"
    document["tables"]["tax_codes"]["key"] = "string"
    document["tables"]["tax_codes"]["rows"] = {}
    assert admin.post(url(connection, "/versions"), json={"document": document}).status_code == 201
    document["tables"]["tax_codes"] = {"key": "string", "value": "string", "unmapped": "refuse"}
    assert admin.put(f"{rows}/0.19", json={"value": 8}).status_code == 200


def test_preview_shows_the_payload_and_problems_without_sending(admin, sales, ledger, connection):
    deal = win(sales, admin)
    preview = admin.post(url(connection, "/preview"), json={"deal_id": deal["id"]})
    assert preview.status_code == 200, preview.json
    body = preview.json
    assert (body["valid"], body["problems"], body["invoice_number"]) == (True, [], deal["invoices"][0]["number"])
    assert body["payload"]["reference"] == deal["invoices"][0]["number"]
    assert body["payload"]["lines"][0]["total"] == "39.80"  # 2 × 19.90, no tax on this product
    assert ledger.ledger.invoices == {}  # nothing was sent


def test_preview_equals_what_the_push_sends(app, admin, sales, ledger, connection):
    deal = win(sales, admin)
    preview = admin.post(url(connection, "/preview"), json={"deal_id": deal["id"]}).json
    drain(app)
    (sent,) = ledger.ledger.invoices.values()
    assert sent["reference"] == preview["payload"]["reference"]
    assert sent["lines"] == preview["payload"]["lines"]
    assert sent["customer"] == preview["payload"]["customer"]


def test_an_unmapped_currency_is_parked_naming_it_and_retried_after_the_row_is_added(
    app, admin, sales, ledger, connection
):
    deal = win(sales, admin, currency="JPY")
    preview = admin.post(url(connection, "/preview"), json={"deal_id": deal["id"]}).json
    assert preview["valid"] is False
    assert preview["problems"] == [
        {
            "path": "currency",
            "message": "no entry for JPY in table currencies",
            "kind": "unmapped",
            "table": "currencies",
            "value": "JPY",
        }
    ]
    assert preview["payload"] is None

    drain(app)
    (failed,) = admin.get(f"{V}/sync/failed").json["items"]
    message = failed["last_error"]
    assert message == (
        "Ledger (mini_ledger): not sent, the mapping cannot map it: currency: no entry for JPY in table currencies."
        f" Add the missing rows to table currencies of connection 'Ledger' (PUT /api/v1/connections/{connection}"
        "/mapping/tables/<table>/rows/<value>), then retry."
    )
    assert ledger.ledger.invoices == {}  # refused before anything was sent, never converted at a rate of 1
    assert sales.get(f"/api/v1/deals/{deal['id']}").json["invoices"][0]["state"] == "failed"

    assert admin.put(url(connection, "/tables/currencies/rows/JPY"), json={"value": "JPY"}).status_code == 200
    assert admin.post(url(connection, "/preview"), json={"deal_id": deal["id"]}).json["valid"] is True
    assert admin.post(f"{V}/sync/failed/{failed['id']}/retry").status_code == 200
    drain(app)
    assert admin.get(f"{V}/sync/failed").json["total"] == 0
    (sent,) = ledger.ledger.invoices.values()
    assert sent["currency"] == "JPY"


def test_validate_a_saved_version_against_a_deal(admin, sales, connection):
    deal = win(sales, admin, currency="JPY")
    r = admin.post(url(connection, "/validate"), json={"version": 0, "deal_id": deal["id"]})
    assert r.json == {
        "valid": False,
        "problems": [
            {
                "path": "currency",
                "message": "no entry for JPY in table currencies",
                "kind": "unmapped",
                "table": "currencies",
                "value": "JPY",
            }
        ],
    }
    assert admin.post(url(connection, "/validate"), json={"version": 0, "deal_id": 999}).status_code == 422
    assert admin.post(url(connection, "/preview"), json={"deal_id": deal["id"], "version": 5}).status_code == 404
    assert admin.post(url(connection, "/preview"), json={}).status_code == 422


@pytest.mark.parametrize("role", ["sales", "finance", "operations"])
def test_only_admins_see_or_change_mappings(call, connection, role):
    who = call(role)
    assert who.get(url(connection)).status_code == 403
    assert who.post(url(connection, "/versions"), json={"document": default_document("mini_ledger")}).status_code == 403
    assert who.put(url(connection, "/tables/products/rows/X"), json={"value": "Y"}).status_code == 403


def test_the_reference_must_stay_the_idempotency_key(admin, sales, connection):
    # Retries find the first push by this key; a mapping that changes it would double invoices.
    document = copy.deepcopy(default_document("mini_ledger"))
    document["fields"]["reference"] = {"expr": "deal_reference", "required": True}
    assert admin.post(url(connection, "/versions"), json={"document": document, "activate": True}).status_code == 201
    deal = win(sales, admin)
    preview = admin.post(url(connection, "/preview"), json={"deal_id": deal["id"]}).json
    ((problem,),) = [preview["problems"]]
    assert problem["path"] == "reference"
    assert problem["message"].startswith(f"reference: the mapping gives '{deal['number']}', but it must be")


def test_a_large_csv_is_imported_in_a_job_that_reports_its_progress(app, admin, users, connection):
    text = "key,value\n" + "".join(f"SKU-{i},ITEM-{i}\n" for i in range(2500))
    with app.app_context():
        get_queue().enqueue(
            jobs.import_mapping_csv, connection, "products", text, False, users["admin"]["id"], job_id="csv-import-t"
        )
    drain(app)

    with app.app_context():
        job = get_queue().fetch_job("csv-import-t")
        assert job.return_value() == {"added": 2500, "changed": 0, "removed": 0}
        assert (job.get_meta()["done"], job.get_meta()["total"]) == (2501, 2501)  # the header is a line too
    exported = admin.get(url(connection, "/tables/products/csv")).get_data(as_text=True)
    assert "SKU-2499,ITEM-2499\n" in exported

    with app.app_context():  # bad lines are the job's answer, and nothing is written
        get_queue().enqueue(
            jobs.import_mapping_csv,
            connection,
            "products",
            "key,value\nX,1\nX,2\n",
            True,
            users["admin"]["id"],
            job_id="csv-import-bad",
        )
    drain(app)
    with app.app_context():
        answer = get_queue().fetch_job("csv-import-bad").return_value()
    assert answer["errors"] == {"line 3": ["Key X appears twice."]}
    assert "SKU-2499,ITEM-2499\n" in admin.get(url(connection, "/tables/products/csv")).get_data(as_text=True)
