"""The Odoo connector against Odoo's external JSON-RPC API as Odoo documents it (`POST /jsonrpc`,
`common.authenticate`, `object.execute_kw`, errors as `{"code": 200, "message": "Odoo Server Error",
"data": {"name": "odoo.exceptions.…", "message": …}}`), served by `responses`: no Odoo runs here.
Every test asserts what the hub sends."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import AuthError, PermanentError, RetryableError, UncertainOutcomeError
from connectors.odoo import OdooConnector
from hub.extensions import db
from hub.models import DocumentMode, StockHistory
from hub.sync import jobs
from hub.sync.worker import drain
from mappings.defaults import default_document
from mappings.parse import parse
from tests.conftest import make_connection
from tests.support.erp_documents import invoice, won_deal
from tests.support.odoo_api import CONFIG, KEY, URL, FakeOdoo, Fault, ProxyPage, connector, known_catalogue
from tests.support.through_engine import linked_once_after_a_lost_answer, pulled_stock, retry_due_after_one_attempt

# ---- connection ------------------------------------------------------------------------------------


def test_test_connection_authenticates_with_the_api_key_and_names_the_version(odoo):
    assert connector().test_connection() == f"Odoo 17.0 at {URL}, database acme, user id 7"
    assert [b["params"] for b in odoo.bodies] == [
        {"service": "common", "method": "version", "args": []},
        {"service": "common", "method": "authenticate", "args": ["acme", "hub@acme.example", KEY, {}]},
    ]
    assert all(b["jsonrpc"] == "2.0" and b["method"] == "call" for b in odoo.bodies)


def test_a_refused_key_is_an_auth_error(odoo):
    odoo.handlers[("common", "authenticate")] = lambda args: False
    with pytest.raises(AuthError, match=r"refused login hub@acme\.example"):
        connector().find_invoice("INV-000042")


def test_access_denied_on_a_model_call_is_an_auth_error(odoo):
    odoo.on("account.move", "search_read", lambda a, k: Fault("AccessDenied", "Access Denied"))
    with pytest.raises(AuthError, match="AccessDenied: Access Denied"):
        connector().find_invoice("INV-000042")


def test_a_page_instead_of_the_answer_is_uncertain_for_a_create_and_retryable_for_a_search(odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    odoo.on("account.move", "create", lambda a, k: ProxyPage())
    with pytest.raises(UncertainOutcomeError, match="not a JSON-RPC answer: <html>"):
        connector().push_invoice(invoice())
    odoo.on("account.move", "search_read", lambda a, k: ProxyPage())
    with pytest.raises(RetryableError) as err:
        connector().find_invoice("INV-000042")
    assert not isinstance(err.value, UncertainOutcomeError)


def test_an_unexpected_server_error_is_retryable(odoo):
    odoo.on("account.move", "search_read", lambda a, k: Fault("psycopg2.errors.SerializationFailure", "conflict"))
    with pytest.raises(RetryableError) as err:
        connector().find_invoice("INV-000042")
    assert not isinstance(err.value, PermanentError | AuthError)


# ---- push --------------------------------------------------------------------------------------------


def test_push_creates_partner_and_invoice_then_posts_it(odoo):
    known_catalogue(odoo)
    odoo.on("res.country", "search_read", lambda a, k: [{"id": 57}])
    odoo.on("res.partner", "create", lambda a, k: [88])
    odoo.on("account.move", "create", lambda a, k: [501])
    odoo.on("account.move", "action_post", lambda a, k: False)
    odoo.on(
        "account.move",
        "search_read",
        lambda a, k: [
            {
                "id": 501,
                "name": "INV/2026/00012",
                "state": "posted",
                "ref": "INV-000042",
                "payment_state": "not_paid",
                "amount_total": 42.63,  # 2 × 19.90 less 10 %, + 19 %
            }
        ],
    )
    c = connector(post=True)
    ref = c.push_invoice(invoice(discount="10"))

    assert ref == ExternalRef(
        "odoo", "501", "INV/2026/00012", f"{URL}/web#id=501&model=account.move&view_type=form", ExternalState.POSTED
    )
    # Looked up first: partner by ref, then VAT, then name (each among companies, not contacts).
    partner_searches = [args[0] for _, _, args, _ in odoo.calls("res.partner", "search_read")]
    assert partner_searches == [
        [["ref", "=", "hub-7"], ["parent_id", "=", False]],
        [["vat", "=", "DE123456789"], ["parent_id", "=", False]],
        [["name", "=", "Acme GmbH"], ["parent_id", "=", False]],
    ]
    assert odoo.calls("product.product", "search_read")[0][2:] == (
        [[["default_code", "in", ["PUMP-100"]]]],
        {"fields": ["id", "default_code"], "order": "id asc"},
    )
    assert odoo.calls("account.tax", "search_read")[0][2] == [
        [
            ["type_tax_use", "=", "sale"],
            ["amount_type", "=", "percent"],
            ["amount", "=", 19],
            ["price_include", "=", False],
        ]
    ]
    assert odoo.calls("res.partner", "create")[0][2] == [
        [
            {
                "name": "Acme GmbH",
                "ref": "hub-7",
                "vat": "DE123456789",
                "email": "ap@acme.example",
                "street": "Hauptstr. 1",
                "city": "Berlin",
                "zip": "10115",
                "is_company": True,
                "country_id": 57,
            }
        ]
    ]
    ((_, _, args, kwargs),) = odoo.calls("account.move", "create")
    assert args == [
        [
            {
                "move_type": "out_invoice",
                "partner_id": 88,
                "ref": "INV-000042",
                "currency_id": 1,
                "invoice_date": "2026-11-23",
                "invoice_line_ids": [
                    [
                        0,
                        0,
                        {
                            "product_id": 31,
                            "quantity": 2,
                            "price_unit": 19.9,
                            "name": "Pump 100",
                            "discount": 10,
                            "tax_ids": [[6, 0, [5]]],
                        },
                    ]
                ],
                "invoice_date_due": "2026-12-23",
                "narration": "D-000007",
            }
        ]
    ]
    assert kwargs == {}
    assert odoo.calls("account.move", "action_post")[0][2] == [[501]]
    # Money travels as exact JSON numbers, never through a float.
    (raw,) = [body for body in odoo.raw if b'"account.move", "create"' in body]
    assert b'"price_unit": 19.90' in raw
    # The API key is in every call, but never in what the connector records.
    exchanges = c.take_exchanges()
    assert exchanges
    assert KEY not in json.dumps([e.request for e in exchanges], default=str)


def test_draft_mode_does_not_post_and_a_known_partner_is_reused(odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    odoo.on("account.move", "create", lambda a, k: [501])
    odoo.on(
        "account.move",
        "search_read",
        lambda a, k: [
            {
                "id": 501,
                "name": "/",
                "state": "draft",
                "ref": "INV-000042",
                "payment_state": "not_paid",
                "amount_total": 47.36,
            }
        ],
    )
    ref = connector().push_invoice(invoice())
    assert (ref.external_number, ref.status) == (None, ExternalState.DRAFT)
    assert len(odoo.calls("res.partner", "search_read")) == 1  # found by ref
    assert odoo.calls("res.partner", "create") == []
    assert odoo.calls("account.move", "action_post") == []
    assert odoo.calls("account.move", "create")[0][2][0][0]["partner_id"] == 88


def test_a_validation_error_is_permanent_and_names_the_field(odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    message = (
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
        "Model: Journal Entry (account.move)\nField: Journal (journal_id)\n"
    )
    odoo.on("account.move", "create", lambda a, k: Fault("ValidationError", message))
    with pytest.raises(PermanentError) as err:
        connector().push_invoice(invoice())
    assert err.value.field == "journal_id"
    assert "ValidationError: The operation cannot be completed" in err.value.message
    assert "debug" not in err.value.detail["data"]  # Odoo's traceback stays out of the run history


def test_an_unknown_journal_is_refused_before_the_partner_is_created(odoo):
    known_catalogue(odoo)
    odoo.on("account.journal", "search_read", lambda a, k: [])
    c = OdooConnector({**CONFIG, "journal": "INV2"}, mapping=parse(default_document("odoo")))
    with pytest.raises(PermanentError) as err:
        c.push_invoice(invoice())
    assert err.value.field == "journal"
    assert odoo.calls("account.journal")[0][2] == [[["code", "=", "INV2"], ["type", "=", "sale"]]]
    assert [name for _, name, _, _ in odoo.calls() if name == "create"] == []


def test_a_mapping_that_gives_the_wrong_type_is_refused_naming_the_field(odoo):
    document = default_document("odoo")
    del document["lines"]["fields"]["quantity"]["type"]
    document["lines"]["fields"]["quantity"]["expr"] = "to_string(quantity)"
    with pytest.raises(PermanentError) as err:
        OdooConnector(CONFIG, mapping=parse(document)).push_invoice(invoice())
    assert err.value.field == "lines[0].quantity"
    assert odoo.bodies == []


def test_an_unknown_sku_is_refused_before_anything_is_written(odoo):
    known_catalogue(odoo)
    odoo.on("product.product", "search_read", lambda a, k: [])
    with pytest.raises(PermanentError) as err:
        connector().push_invoice(invoice(sku="PUMP-999"))
    assert err.value.field == "lines[0].sku"
    assert "PUMP-999" in err.value.message
    assert [m for m, name, _, _ in odoo.calls() if name == "create"] == []


def test_unknown_products_are_created_when_the_mapping_allows_it(odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    odoo.on("product.product", "search_read", lambda a, k: [])
    odoo.on("product.product", "create", lambda a, k: [44])
    odoo.on("account.move", "create", lambda a, k: [501])
    odoo.on(
        "account.move",
        "search_read",
        lambda a, k: [
            {"id": 501, "name": "/", "state": "draft", "ref": "x", "payment_state": "not_paid", "amount_total": 47.36}
        ],
    )
    connector(create_products=True).push_invoice(invoice(sku="PUMP-999"))
    assert odoo.calls("product.product", "create")[0][2] == [
        [{"name": "Pump 100", "default_code": "PUMP-999", "list_price": 19.9}]
    ]
    assert odoo.calls("account.move", "create")[0][2][0][0]["invoice_line_ids"][0][2]["product_id"] == 44


def test_a_refused_post_deletes_the_drafts_so_the_retry_creates_again(odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    odoo.on("account.move", "create", lambda a, k: [501, 502])
    odoo.on(
        "account.move",
        "action_post",
        lambda a, k: Fault("UserError", "The entry INV/2026/00012 is in a locked period."),
    )
    odoo.on(
        "account.move",
        "search_read",
        lambda a, k: [{"id": 501, "amount_total": 47.36}, {"id": 502, "amount_total": 47.36}],
    )
    odoo.on("account.move", "unlink", lambda a, k: True)
    with pytest.raises(PermanentError, match="locked period"):
        connector(post=True).push_invoices([invoice("INV-1"), invoice("INV-2")])
    assert len(odoo.calls("account.move", "create")[0][2][0]) == 2  # one create call for the batch
    assert odoo.calls("account.move", "unlink")[0][2] == [[501, 502]]


def test_an_invoice_whose_odoo_total_differs_is_deleted_and_refused(odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    odoo.on("account.move", "create", lambda a, k: [501])
    odoo.on("account.move", "search_read", lambda a, k: [{"id": 501, "name": "/", "amount_total": 47.37}])
    odoo.on("account.move", "unlink", lambda a, k: True)
    with pytest.raises(PermanentError, match=r"Odoo computes 47\.37 EUR for INV-000042, the hub 47\.36"):
        connector(post=True).push_invoice(invoice())
    assert odoo.calls("account.move", "search_read")[0][2:] == (
        [[["id", "in", [501]]]],
        {"fields": ["id", "name", "state", "ref", "payment_state", "amount_total"]},
    )
    assert odoo.calls("account.move", "action_post") == []
    assert odoo.calls("account.move", "unlink")[0][2] == [[501]]


def test_find_invoices_is_one_search_on_ref(odoo):
    rows = [
        {"id": 501, "name": "INV/2026/00012", "state": "posted", "ref": "INV-1", "payment_state": "paid"},
        {"id": 502, "name": "/", "state": "draft", "ref": "INV-2", "payment_state": "not_paid"},
        {"id": 509, "name": "INV/2026/00019", "state": "posted", "ref": "INV-1", "payment_state": "not_paid"},
    ]
    odoo.on("account.move", "search_read", lambda a, k: rows)
    found = connector().find_invoices(["INV-1", "INV-2", "INV-3"])
    assert {k: (r.external_id, r.status) for k, r in found.items()} == {
        "INV-1": ("501", ExternalState.PAID),  # the oldest wins
        "INV-2": ("502", ExternalState.DRAFT),
    }
    assert odoo.calls() == [
        (
            "account.move",
            "search_read",
            [[["ref", "in", ["INV-1", "INV-2", "INV-3"]], ["move_type", "=", "out_invoice"]]],
            {"fields": ["id", "name", "state", "ref", "payment_state"], "order": "id asc"},
        )
    ]


# ---- after the push ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "payment_state", "residual", "expected", "paid"),
    [
        ("draft", "not_paid", 47.36, ExternalState.DRAFT, "0"),
        ("posted", "not_paid", 47.36, ExternalState.POSTED, "0"),
        ("posted", "partial", 27.36, ExternalState.PARTIALLY_PAID, "20.00"),
        ("posted", "in_payment", 0.0, ExternalState.PAID, "47.36"),
        ("posted", "paid", 0.0, ExternalState.PAID, "47.36"),
        ("posted", "reversed", 0.0, ExternalState.CANCELLED, "0"),  # settled by a credit note, not paid
        ("cancel", "not_paid", 47.36, ExternalState.CANCELLED, "0"),
    ],
)
def test_invoice_status_reads_payments_back(odoo, state, payment_state, residual, expected, paid):
    row = {
        "id": 501,
        "name": "INV/2026/00012",
        "state": state,
        "ref": "INV-000042",
        "payment_state": payment_state,
        "amount_total": 47.36,
        "amount_residual": residual,
        "currency_id": [1, "EUR"],
    }
    odoo.on("account.move", "search_read", lambda a, k: [row])
    status = connector().invoice_status(ExternalRef("odoo", "501"))
    assert (status.status, status.amount_paid, status.amount_total, status.currency) == (
        expected,
        Decimal(paid),
        Decimal("47.36"),
        "EUR",
    )
    assert isinstance(status.amount_paid, Decimal)
    assert odoo.calls()[0][2] == [[["id", "=", 501]]]


def test_status_of_a_deleted_invoice_is_permanent(odoo):
    odoo.on("account.move", "search_read", lambda a, k: [])
    with pytest.raises(PermanentError, match="no longer exists"):
        connector().invoice_status(ExternalRef("odoo", "501", "INV/2026/00012"))


def move(state, payment_state):
    return lambda a, k: [
        {"id": 501, "name": "INV/2026/00012", "state": state, "ref": "INV-1", "payment_state": payment_state}
    ]


def test_cancel_a_posted_invoice_resets_it_to_draft_first(odoo):
    odoo.on("account.move", "search_read", move("posted", "not_paid"))
    odoo.on("account.move", "button_draft", lambda a, k: True)
    odoo.on("account.move", "button_cancel", lambda a, k: True)
    connector().cancel_invoice(ExternalRef("odoo", "501"))
    assert [(name, args) for _, name, args, _ in odoo.calls()][1:] == [
        ("button_draft", [[501]]),
        ("button_cancel", [[501]]),
    ]


def test_cancel_a_draft_and_a_cancelled_invoice(odoo):
    odoo.on("account.move", "search_read", move("draft", "not_paid"))
    odoo.on("account.move", "button_cancel", lambda a, k: True)
    connector().cancel_invoice(ExternalRef("odoo", "501"))
    odoo.on("account.move", "search_read", move("cancel", "not_paid"))
    connector().cancel_invoice(ExternalRef("odoo", "501"))
    assert [name for _, name, _, _ in odoo.calls()] == ["search_read", "button_cancel", "search_read"]


@pytest.mark.parametrize("payment_state", ["paid", "partial", "in_payment"])
def test_a_paid_invoice_is_not_cancelled(odoo, payment_state):
    odoo.on("account.move", "search_read", move("posted", payment_state))
    with pytest.raises(PermanentError, match="credit note"):
        connector().cancel_invoice(ExternalRef("odoo", "501"))
    assert [name for _, name, _, _ in odoo.calls()] == ["search_read"]


# ---- stock -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [5, 4])
def test_stock_pull_pages_to_the_end_and_sums_per_warehouse(odoo, count):
    quants = [
        {
            "id": 1,
            "product_id": [31, "Pump"],
            "location_id": [8, "WH/Stock"],
            "quantity": 10.0,
            "reserved_quantity": 2.0,
        },
        {
            "id": 2,
            "product_id": [31, "Pump"],
            "location_id": [9, "WH/Stock/Shelf 1"],
            "quantity": 5.5,
            "reserved_quantity": 0.0,
        },
        {
            "id": 3,
            "product_id": [31, "Pump"],
            "location_id": [20, "BER/Stock"],
            "quantity": 3.0,
            "reserved_quantity": 1.0,
        },
        {
            "id": 4,
            "product_id": [32, "Manual"],
            "location_id": [8, "WH/Stock"],
            "quantity": 7.0,
            "reserved_quantity": 0.0,
        },
        {
            "id": 5,
            "product_id": [33, "No code"],
            "location_id": [8, "WH/Stock"],
            "quantity": 1.0,
            "reserved_quantity": 0.0,
        },
    ][:count]

    def page(args, kwargs):
        return quants[kwargs.get("offset", 0) :][: kwargs["limit"]]

    odoo.on("stock.quant", "search_read", page)
    odoo.on(
        "product.product",
        "search_read",
        lambda a, k: [
            {"id": 31, "default_code": "PUMP-100"},
            {"id": 32, "default_code": "MANUAL-DE"},
            {"id": 33, "default_code": False},
        ],
    )
    odoo.on(
        "stock.location",
        "search_read",
        lambda a, k: [
            {"id": 8, "warehouse_id": [1, "Main"]},
            {"id": 9, "warehouse_id": [1, "Main"]},
            {"id": 20, "warehouse_id": [2, "Berlin"]},
        ],
    )
    odoo.on("stock.warehouse", "search_read", lambda a, k: [{"id": 1, "code": "WH"}, {"id": 2, "code": "BER"}])
    c = connector()
    c.stock_page = 2
    levels = {(s.sku, s.warehouse): (s.on_hand, s.reserved, s.available) for s in c.pull_stock()}

    pages = [(args, kwargs) for _, _, args, kwargs in odoo.calls("stock.quant")]
    assert [k.get("offset", 0) for _, k in pages] == [0, 2, 4]  # until a page comes back short
    assert pages[0] == (
        [[["location_id.usage", "=", "internal"]]],
        {"fields": ["product_id", "location_id", "quantity", "reserved_quantity"], "limit": 2, "order": "id asc"},
    )
    expected = {
        ("PUMP-100", "WH"): (Decimal("15.5"), Decimal("2.0"), Decimal("13.5")),
        ("PUMP-100", "BER"): (Decimal("3.0"), Decimal("1.0"), Decimal("2.0")),
    }
    if count >= 4:
        expected[("MANUAL-DE", "WH")] = (Decimal("7.0"), Decimal("0.0"), Decimal("7.0"))
    assert levels == expected
    assert odoo.calls("product.product")[0][3]["context"] == {"active_test": False}


# ---- through the sync engine -------------------------------------------------------------------------


class OdooMoves:
    """Customer invoices kept as Odoo keeps them: created as drafts named "/", posted with a
    number, paid by registering payments (`pay`), deleted only as drafts. With
    `lose_create_answer` the first create is applied but its answer never arrives."""

    def __init__(self, odoo: FakeOdoo, *, lose_create_answer: bool = False) -> None:
        self.rows: dict[int, dict] = {}
        self.next_id = 501
        self.lose_create_answer = lose_create_answer
        odoo.on("account.move", "create", self.create)
        odoo.on("account.move", "action_post", self.post)
        odoo.on("account.move", "search_read", self.search_read)
        odoo.on("account.move", "unlink", self.unlink)

    def create(self, args, kwargs):
        ids = []
        for values in args[0]:
            move_id, self.next_id = self.next_id, self.next_id + 1
            self.rows[move_id] = {
                "id": move_id,
                "name": "/",
                "state": "draft",
                "ref": values["ref"],
                "payment_state": "not_paid",
                "amount_total": 47.36,  # 2 × 19.90 + 19 %
                "amount_residual": 47.36,
                "currency_id": [1, "EUR"],
            }
            ids.append(move_id)
        if self.lose_create_answer:
            self.lose_create_answer = False
            raise requests.exceptions.ReadTimeout("read timed out")
        return ids

    def unlink(self, args, kwargs):
        if any(self.rows[move_id]["state"] != "draft" for move_id in args[0]):
            return Fault("UserError", "You cannot delete an entry which has been posted once.")
        for move_id in args[0]:
            del self.rows[move_id]
        return True

    def post(self, args, kwargs):
        for move_id in args[0]:
            self.rows[move_id].update(state="posted", name=f"INV/2026/{move_id:05d}")
        return False

    def search_read(self, args, kwargs):
        field, op, value = args[0][0]
        found = [r for r in self.rows.values() if (r[field] in value if op == "in" else r[field] == value)]
        return [{k: r[k] for k in kwargs["fields"]} for r in found]

    def pay(self, move_id: int, residual: float, payment_state: str) -> None:
        self.rows[move_id].update(amount_residual=residual, payment_state=payment_state)


def test_a_lost_create_answer_then_the_retry_finds_the_invoice(app, sales, admin, odoo):
    """The create reaches Odoo but its answer is lost: the retry's search on `ref` finds the invoice
    instead of creating a second one."""
    known_catalogue(odoo, partner=[{"id": 88}])
    moves = OdooMoves(odoo, lose_create_answer=True)
    make_connection(app, "Odoo", "odoo", CONFIG, document_mode=DocumentMode.DRAFT)
    won = won_deal(sales, admin)
    number = won["invoices"][0]["number"]

    drain(app, rounds=1)
    assert [m["ref"] for m in moves.rows.values()] == [number]
    retry_due_after_one_attempt(app)
    drain(app)

    assert len(moves.rows) == 1
    assert len(odoo.calls("account.move", "create")) == 1
    link = linked_once_after_a_lost_answer(app, KEY)
    assert (link.external_id, link.state) == ("501", "draft")


def test_a_lost_create_answer_when_posting_takes_the_draft_back_and_posts_one_invoice(app, sales, admin, odoo):
    """Created, answer lost, so neither checked nor posted: the retry deletes that draft and creates,
    checks and posts the invoice, instead of linking a draft to a connection that posts."""
    known_catalogue(odoo, partner=[{"id": 88}])
    moves = OdooMoves(odoo, lose_create_answer=True)
    make_connection(app, "Odoo", "odoo", CONFIG, document_mode=DocumentMode.POSTED)
    number = won_deal(sales, admin)["invoices"][0]["number"]

    drain(app, rounds=1)
    assert [(m["ref"], m["state"]) for m in moves.rows.values()] == [(number, "draft")]
    retry_due_after_one_attempt(app)
    drain(app)

    assert [(m["id"], m["ref"], m["state"]) for m in moves.rows.values()] == [(502, number, "posted")]
    assert [args for _, _, args, _ in odoo.calls("account.move", "unlink")] == [[[501]]]
    assert [args for _, _, args, _ in odoo.calls("account.move", "action_post")] == [[[502]]]
    link = linked_once_after_a_lost_answer(app, KEY)
    assert (link.external_id, link.external_number, link.state) == ("502", "INV/2026/00502", "posted")


def test_the_push_look_up_deletes_no_posted_invoice_and_cancel_look_up_no_draft(odoo):
    moves = OdooMoves(odoo)
    moves.create([[{"ref": "INV-000042"}, {"ref": "INV-000043"}]], {})
    moves.post([[502]], {})
    found = connector(post=True).find_invoices(["INV-000042", "INV-000043"])
    assert list(found) == ["INV-000043"]
    assert list(moves.rows) == [502]
    moves.create([[{"ref": "INV-000044"}]], {})
    assert connector(post=True).find_invoice("INV-000044").status == ExternalState.DRAFT
    assert connector().find_invoices(["INV-000044"])["INV-000044"].status == ExternalState.DRAFT
    assert list(moves.rows) == [502, 503]


def test_posted_then_partly_then_fully_paid_in_odoo_shows_on_the_deal(app, sales, admin, call, odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    moves = OdooMoves(odoo)
    make_connection(app, "Odoo", "odoo", CONFIG, document_mode=DocumentMode.POSTED)
    won = won_deal(sales, admin)
    drain(app)
    finance = call("finance")
    url = f"/api/v1/invoices/{won['invoices'][0]['id']}"
    assert finance.get(url).json["state"] == "posted"
    assert odoo.calls("account.move", "action_post")[0][2] == [[501]]

    moves.pay(501, 27.36, "partial")
    jobs.pull_invoice_status()
    assert (finance.get(url).json["state"], finance.get(url).json["amount_paid"]) == ("partially_paid", "20.00")

    moves.pay(501, 0.0, "paid")
    jobs.pull_invoice_status()
    assert (finance.get(url).json["state"], finance.get(url).json["amount_paid"]) == ("paid", "47.36")
    assert sales.get(f"/api/v1/deals/{won['id']}").json["invoices"][0]["state"] == "paid"


def test_stock_pulled_from_odoo_reaches_the_hub(app, admin, call, odoo):
    odoo.on(
        "stock.quant",
        "search_read",
        lambda a, k: [
            {
                "id": 1,
                "product_id": [31, "Pump"],
                "location_id": [8, "WH/Stock"],
                "quantity": 40.0,
                "reserved_quantity": 4.0,
            }
        ],
    )
    odoo.on("product.product", "search_read", lambda a, k: [{"id": 31, "default_code": "PUMP-100"}])
    odoo.on("stock.location", "search_read", lambda a, k: [{"id": 8, "warehouse_id": [1, "Main"]}])
    odoo.on("stock.warehouse", "search_read", lambda a, k: [{"id": 1, "code": "WH"}])
    admin.post("/api/v1/products", json={"sku": "PUMP-100", "name": "Pump", "list_price": "19.90", "currency": "EUR"})
    connection_id = make_connection(app, "Odoo", "odoo", CONFIG)
    (level,) = pulled_stock(app, call("operations"), connection_id)
    assert (level["sku"], level["warehouse"]["code"], level["on_hand"], level["reserved"]) == (
        "PUMP-100",
        "WH",
        "40.0000",
        "4.0000",
    )


def test_the_admin_api_never_returns_the_api_key_and_tests_the_connection(app, admin, odoo):
    (odoo_type,) = [t for t in admin.get("/api/v1/connection-types").json if t["type"] == "odoo"]
    assert {f["name"]: f["secret"] for f in odoo_type["config_schema"]}["api_key"] is True
    r = admin.post("/api/v1/connections", json={"name": "Odoo", "type": "odoo", "config": CONFIG})
    assert r.status_code == 201, r.json
    assert KEY not in json.dumps(r.json)
    assert r.json["secrets_set"] == ["api_key"]
    result = admin.post(f"/api/v1/connections/{r.json['id']}/test").json
    assert result == {"ok": True, "message": f"Odoo 17.0 at {URL}, database acme, user id 7"}


def test_a_mapping_without_what_the_connector_needs_is_refused_when_saved(app, admin):
    connection_id = make_connection(app, "Odoo", "odoo", CONFIG)
    bad = default_document("odoo")
    del bad["fields"]["partner.name"]
    bad["options"]["create_partners"] = "yes"
    r = admin.post(f"/api/v1/connections/{connection_id}/mapping/versions", json={"document": bad})
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"document.fields.partner.name", "document.options.create_partners"}


def test_the_preview_looks_up_and_creates_nothing(app, sales, admin, odoo):
    known_catalogue(odoo)
    connection_id = make_connection(app, "Odoo", "odoo", CONFIG)
    won = won_deal(sales, admin)
    r = admin.post(f"/api/v1/connections/{connection_id}/mapping/preview", json={"deal_id": won["id"]})
    assert r.status_code == 200, r.json
    assert r.json["valid"] is True, r.json["problems"]
    payload = r.json["payload"]
    assert payload["partner_id"] == "(new partner 'Acme GmbH', created by the push)"
    assert payload["invoice_line_ids"][0][2]["price_unit"] == "19.9000"
    assert payload["ref"] == won["invoices"][0]["number"]
    assert [name for _, name, _, _ in odoo.calls() if name != "search_read"] == []


def test_a_refused_invoice_is_parked_in_the_failed_queue(app, sales, admin, odoo):
    known_catalogue(odoo, partner=[{"id": 88}])
    odoo.on("account.move", "search_read", lambda a, k: [])
    odoo.on(
        "account.move", "create", lambda a, k: Fault("UserError", "You can't create a new invoice in a locked period.")
    )
    make_connection(app, "Odoo", "odoo", CONFIG)
    won_deal(sales, admin)
    drain(app)
    (item,) = admin.get("/api/v1/sync/failed").json["items"]
    assert "Odoo (odoo) refused it" in item["last_error"]
    assert "locked period" in item["last_error"]


def test_a_product_whose_quant_odoo_deleted_drops_to_zero_at_the_next_pull(app, admin, call, odoo):
    quants = {
        31: {"id": 1, "product_id": [31, "Pump"], "location_id": [8, "WH/Stock"], "quantity": 40.0},
        32: {"id": 2, "product_id": [32, "Valve"], "location_id": [8, "WH/Stock"], "quantity": 3.0},
    }
    odoo.on("stock.quant", "search_read", lambda a, k: [{"reserved_quantity": 0.0, **q} for q in quants.values()])
    odoo.on(
        "product.product",
        "search_read",
        lambda a, k: [{"id": 31, "default_code": "PUMP-100"}, {"id": 32, "default_code": "VALVE-50"}],
    )
    odoo.on("stock.location", "search_read", lambda a, k: [{"id": 8, "warehouse_id": [1, "Main"]}])
    odoo.on("stock.warehouse", "search_read", lambda a, k: [{"id": 1, "code": "WH"}])
    connection_id = make_connection(app, "Odoo", "odoo", CONFIG)
    first = {lv["sku"]: lv["on_hand"] for lv in pulled_stock(app, call("operations"), connection_id)}
    assert first == {"PUMP-100": "40.0000", "VALVE-50": "3.0000"}
    # The last valves are sold: Odoo deletes the empty quant instead of keeping it at zero.
    del quants[32]
    second = {lv["sku"]: lv["on_hand"] for lv in pulled_stock(app, call("operations"), connection_id)}
    assert second == {"PUMP-100": "40.0000", "VALVE-50": "0.0000"}
    with app.app_context():
        history = db.session.execute(select(StockHistory.sku, StockHistory.on_hand).order_by(StockHistory.id)).all()
        assert [(sku, on_hand) for sku, on_hand in history if sku == "VALVE-50"] == [
            ("VALVE-50", Decimal("3")),
            ("VALVE-50", Decimal("0")),
        ]


# ---- listing for the reconciliation report -----------------------------------------------------


def listed_move(move_id: int, ref: str | bool, name: str = "/") -> dict:
    """An account.move as search_read gives it (many2one fields as [id, display name])."""
    return {
        "id": move_id,
        "name": name,
        "state": "posted" if name != "/" else "draft",
        "ref": ref,
        "payment_state": "not_paid",
        "invoice_date": "2026-12-03",
        "amount_total": 2713.88,
        "amount_tax": 429.68,
        "currency_id": [1, "EUR"],
        "partner_id": [44, "Acme GmbH"],
    }


def test_invoices_are_listed_by_date_in_pages_by_id(odoo, monkeypatch):
    monkeypatch.setattr("connectors.odoo.INVOICE_PAGE", 2)
    moves = [listed_move(10, "INV-000001", "INV/2026/00001"), listed_move(11, "INV-000002"), listed_move(12, False)]

    def page(args, kwargs):
        last = next(value for field, _, value in args[0] if field == "id")
        return [m for m in moves if m["id"] > last][: kwargs["limit"]]

    odoo.on("account.move", "search_read", page)
    pages = list(connector().list_invoices(date(2026, 12, 1), date(2026, 12, 31)))

    assert [len(p) for p in pages] == [2, 1]
    first = pages[0][0]
    assert (first.reference, first.external_id, first.number, first.state) == (
        "INV-000001",
        "10",
        "INV/2026/00001",
        ExternalState.POSTED,
    )
    assert (first.total, first.tax, first.currency, first.customer) == (
        Decimal("2713.88"),
        Decimal("429.68"),
        "EUR",
        "Acme GmbH",
    )
    assert first.url == f"{URL}/web#id=10&model=account.move&view_type=form"
    assert (pages[0][1].number, pages[0][1].state, pages[1][0].reference) == (None, ExternalState.DRAFT, None)
    domains = [args[0] for _, _, args, _ in odoo.calls("account.move", "search_read")]
    assert domains[0] == [
        ["move_type", "=", "out_invoice"],
        ["invoice_date", ">=", "2026-12-01"],
        ["invoice_date", "<=", "2026-12-31"],
        ["id", ">", 0],
    ]
    assert [d[-1] for d in domains] == [["id", ">", 0], ["id", ">", 11]]


def test_the_reports_look_up_takes_no_draft_back_when_posting(odoo):
    odoo.on("account.move", "search_read", lambda a, k: [listed_move(11, "INV-000002")])

    found = connector(post=True).look_up_invoices(["INV-000002"])

    assert found["INV-000002"].status == ExternalState.DRAFT
    assert [method for _, method, _, _ in odoo.calls()] == ["search_read"]  # no unlink
