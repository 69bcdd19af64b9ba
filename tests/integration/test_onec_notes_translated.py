"""The notes the 1C exchange writes on a deal (paid, shipped, a payment counted, set aside or undone,
1C's order number and status) are read in the reader's language, amounts and dates as the locale
writes them, on the deal page and in the API; their subject and body keep the English the exchange
always wrote, which it matches to note a shipment once. 1C drives the exchange through the Flask
test client with real change files (tests/integration/test_onec_exchange.py); real database."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select, update

from hub.extensions import db
from hub.models import Activity, ActivityKind, HubInvoice
from hub.models.base import utcnow
from tests.conftest import make_connection
from tests.support.onec_exchange import PASSWORD, USER, OneC, payment_document, payments_file, won_deal
from tests.support.sessions import BN, RU, logged_in, page_text

NBSP = "\xa0"
HEADERS = {"en": {}, "ru": RU, "bn": BN}
# 1C (Управление торговлей) in windows-1251: the order paid, shipped, with 1C's number and its own
# word for the order's status.
CHANGES = """<?xml version="1.0" encoding="windows-1251"?>
<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-11-22T09:00:00">
  <Документ><Ид>{order}</Ид><Номер>{order}</Номер><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Номер по 1С</Наименование><Значение>ЗК-0042</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Проведен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата оплаты по 1С</Наименование><Значение>2026-11-21T08:30:00</Значение>
    </ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата отгрузки по 1С</Наименование><Значение>2026-11-22</Значение>
    </ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Статус заказа</Наименование><Значение>Отгружен</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
</КоммерческаяИнформация>
"""


@pytest.fixture
def one_c(app):
    make_connection(app, "1C", "onec_exchange", {"username": USER, "password": PASSWORD, "file_limit": 1000})
    return OneC(app.test_client(use_cookies=False))


def exported(one_c: OneC, sales, admin) -> dict:
    """A won deal whose invoice (2 × 899.90 RUB + 20 % = 2159.76) 1C fetched and acknowledged."""
    deal = won_deal(sales, admin)
    one_c.start()
    one_c.call("sale", "query")
    assert one_c.call("sale", "success").get_data(as_text=True) == "success"
    return deal


def notes(app, deal_id: int) -> list[Activity]:
    with app.app_context():
        rows = db.session.scalars(select(Activity).where(Activity.deal_id == deal_id).order_by(Activity.id)).all()
        db.session.expunge_all()
        return list(rows)


def said_by_api(sales, deal_id: int, code: str) -> list[tuple[str, str | None]]:
    r = sales.get(f"/api/v1/activities?deal_id={deal_id}", headers=HEADERS[code])
    assert r.status_code == 200, r.json
    return [(a["subject"], a["body"]) for a in sorted(r.json["items"], key=lambda a: a["id"])]


def paid_and_shipped(number: str) -> dict[str, list[tuple[str, str]]]:
    """The two notes of CHANGES, as each language says them."""
    return {
        "en": [
            (f"{number} paid according to 1C on 2026-11-21", "1C order number ЗК-0042. 1C status: Отгружен."),
            (
                f"{number} shipped according to 1C",
                "Shipped on 2026-11-22. 1C order number ЗК-0042. 1C status: Отгружен.",
            ),
        ],
        "ru": [
            (f"{number} оплачен 21.11.2026 по данным 1С", "Номер заказа в 1С: ЗК-0042. Статус в 1С: Отгружен."),
            (
                f"{number} отгружен по данным 1С",
                "Отгружен 22.11.2026. Номер заказа в 1С: ЗК-0042. Статус в 1С: Отгружен.",
            ),
        ],
        "bn": [
            (f"1C অনুযায়ী {number} 21/11/2026 তারিখে পরিশোধিত", "1C-তে অর্ডার নম্বর ЗК-0042। 1C-তে অবস্থা: Отгружен।"),
            (
                f"1C অনুযায়ী {number} চালান করা হয়েছে",
                "22/11/2026 তারিখে চালান করা হয়েছে। 1C-তে অর্ডার নম্বর ЗК-0042। 1C-তে অবস্থা: Отгружен।",
            ),
        ],
    }


def on_page(page: str, subject: str, body: str | None) -> bool:
    """The note as the deal page's timeline shows it (subject, then the body below)."""
    return html.escape(subject) in page and (body is None or f"<br>{html.escape(body)}</li>" in page)


# ---- the order's notes: paid, shipped, 1C's number and status ----------------------------------


def test_a_paid_and_shipped_order_is_noted_in_each_readers_language(app, users, one_c, sales, admin):
    deal = exported(one_c, sales, admin)
    number = deal["invoices"][0]["number"]
    one_c.upload("documents___1.xml", CHANGES.format(order=number).encode("cp1251"), part=1000, kind="sale")
    expected = paid_and_shipped(number)
    # The columns keep the English the exchange always wrote (other code reads them).
    assert [(n.subject, n.body) for n in notes(app, deal["id"])] == [
        (f"{number} paid according to 1C on 2026-11-21", "1C order number ЗК-0042. 1C status: Отгружен."),
        (f"{number} shipped according to 1C", "Shipped on 2026-11-22. 1C order number ЗК-0042. 1C status: Отгружен."),
    ]
    for code in ("en", "ru", "bn"):
        assert said_by_api(sales, deal["id"], code) == expected[code]
        page = page_text(logged_in(app, users["sales"]["email"], code).get(f"/deals/{deal['id']}"))
        for subject, body in expected[code]:
            assert on_page(page, subject, body), (code, subject)
    ru = logged_in(app, users["sales"]["email"], "ru")
    assert "according to 1C" not in page_text(ru.get(f"/deals/{deal['id']}"))
    customer_page = page_text(ru.get(f"/customers/{deal['customer']['id']}"))  # the customer's timeline: subjects
    assert all(html.escape(subject) in customer_page for subject, _ in expected["ru"])
    assert "according to 1C" not in customer_page
    # One note in the API, in the language asked for.
    first = notes(app, deal["id"])[0]
    one = sales.get(f"/api/v1/activities/{first.id}", headers=RU).json
    assert (one["subject"], one["body"], one["kind"]) == (*expected["ru"][0], "note")


def test_the_same_shipment_is_noted_once_whatever_language_it_is_read_in(app, one_c, sales, admin):
    """The exchange finds its shipment note by the English subject: 1C sending the order again (a
    later shipping date) writes no second one."""
    deal = exported(one_c, sales, admin)
    number = deal["invoices"][0]["number"]
    data = CHANGES.format(order=number)
    later = data.replace("2026-11-22<", "2026-11-25<")
    one_c.upload("documents___1.xml", data.encode("cp1251"), part=1000, kind="sale")
    one_c.upload("documents___2.xml", later.encode("cp1251"), part=1000, kind="sale")
    subjects = [n.subject for n in notes(app, deal["id"])]
    assert subjects == [f"{number} paid according to 1C on 2026-11-21", f"{number} shipped according to 1C"]


def test_a_shipment_noted_before_the_sentences_were_kept_is_not_noted_again(app, one_c, sales, admin):
    """A note from before 0027 (its English only) counts as the shipment's note as before."""
    deal = exported(one_c, sales, admin)
    number = deal["invoices"][0]["number"]
    with app.app_context():
        invoice = db.session.scalars(select(HubInvoice).where(HubInvoice.number == number)).one()
        db.session.add(
            Activity(
                kind=ActivityKind.NOTE,
                subject=f"{number} shipped according to 1C",
                body="Shipped on 2026-11-20.",
                occurred_at=utcnow(),
                deal_id=invoice.deal_id,
                customer_id=invoice.customer_id,
            )
        )
        db.session.commit()
    one_c.upload("documents___1.xml", CHANGES.format(order=number).encode("cp1251"), part=1000, kind="sale")
    assert [(n.subject, n.subject_message is None) for n in notes(app, deal["id"])] == [
        (f"{number} shipped according to 1C", True),
        (f"{number} paid according to 1C on 2026-11-21", False),
    ]


# ---- payments: counted, set aside, undone --------------------------------------------------------


def test_payments_are_noted_with_their_amounts_as_the_reader_writes_money(app, users, one_c, sales, admin):
    deal = exported(one_c, sales, admin)
    a = deal["invoices"][0]["number"]
    counted = payments_file([payment_document(a, "ПП-0001", "1000.50"), payment_document(a, "ПП-0002", "0")], "UTF-8")
    one_c.upload("documents___1.xml", counted, part=1000, kind="sale")
    undone = payments_file([payment_document(a, "ПП-0001", "1000.50", paid=False)], "UTF-8")
    one_c.upload("documents___2.xml", undone, part=1000, kind="sale")
    assert [(n.subject, n.body) for n in notes(app, deal["id"])] == [
        (f"{a} payment ПП-0001 according to 1C", "1000.5 paid on 2026-11-23: 1000.5 of 2159.76."),
        (f"{a} payment ПП-0002 according to 1C", "0 not counted: the invoice is partially_paid in the hub."),
        (f"{a} payment ПП-0001 undone in 1C", "1000.5 taken off: 0 of 2159.76 paid."),
    ]
    expected = {
        "en": [
            (f"{a} payment ПП-0001 according to 1C", "RUB1,000.50 paid on 2026-11-23: RUB1,000.50 of RUB2,159.76."),
            (f"{a} payment ПП-0002 according to 1C", "RUB0.00 not counted: the invoice is partially paid in the hub."),
            (f"{a} payment ПП-0001 undone in 1C", "RUB1,000.50 taken off: RUB0.00 of RUB2,159.76 paid."),
        ],
        "ru": [
            (
                f"{a}: оплата ПП-0001 по данным 1С",
                f"23.11.2026 оплачено 1{NBSP}000,50{NBSP}₽: всего 1{NBSP}000,50{NBSP}₽ из 2{NBSP}159,76{NBSP}₽.",
            ),
            (f"{a}: оплата ПП-0002 по данным 1С", f"Сумма 0,00{NBSP}₽ не учтена: в хабе счёт частично оплачен."),
            (
                f"{a}: оплата ПП-0001 отменена в 1С",
                f"Сумма 1{NBSP}000,50{NBSP}₽ снята: оплачено 0,00{NBSP}₽ из 2{NBSP}159,76{NBSP}₽.",
            ),
        ],
        "bn": [
            (
                f"1C অনুযায়ী {a}-এর পরিশোধ ПП-0001",
                "23/11/2026 তারিখে 1,000.50RUB পরিশোধিত: 2,159.76RUB-এর মধ্যে 1,000.50RUB।",
            ),
            (f"1C অনুযায়ী {a}-এর পরিশোধ ПП-0002", "0.00RUB গণনা করা হয়নি: হাবে ইনভয়েসটি আংশিক পরিশোধিত।"),
            (
                f"{a}-এর পরিশোধ ПП-0001 1C-তে বাতিল হয়েছে",
                "1,000.50RUB বাদ দেওয়া হয়েছে: 2,159.76RUB-এর মধ্যে 0.00RUB পরিশোধিত।",
            ),
        ],
    }
    for code in ("en", "ru", "bn"):
        assert said_by_api(sales, deal["id"], code) == expected[code]
        page = page_text(logged_in(app, users["sales"]["email"], code).get(f"/deals/{deal['id']}"))
        for subject, body in expected[code]:
            assert on_page(page, subject, body), (code, subject)


# ---- notes without a sentence: older ones, edited ones, people's own --------------------------


def test_notes_written_before_0027_show_their_stored_text(app, users, one_c, sales, admin):
    deal = exported(one_c, sales, admin)
    number = deal["invoices"][0]["number"]
    one_c.upload("documents___1.xml", CHANGES.format(order=number).encode("cp1251"), part=1000, kind="sale")
    with app.app_context():
        db.session.execute(update(Activity).values(subject_message=None, body_message=None))
        db.session.commit()
    english = paid_and_shipped(number)["en"]
    assert said_by_api(sales, deal["id"], "ru") == english
    page = page_text(logged_in(app, users["sales"]["email"], "bn").get(f"/deals/{deal['id']}"))
    for subject, body in english:
        assert on_page(page, subject, body)


def test_a_note_someone_edited_shows_what_they_wrote(app, one_c, sales, admin):
    deal = exported(one_c, sales, admin)
    number = deal["invoices"][0]["number"]
    one_c.upload("documents___1.xml", CHANGES.format(order=number).encode("cp1251"), part=1000, kind="sale")
    first = notes(app, deal["id"])[0]
    r = sales.patch(f"/api/v1/activities/{first.id}", json={"body": "Paid"}, headers=RU)
    assert r.status_code == 200, r.json
    # The subject is still the exchange's sentence; the body is a person's word, not looked up.
    assert (r.json["subject"], r.json["body"]) == (paid_and_shipped(number)["ru"][0][0], "Paid")


def test_a_persons_own_note_is_shown_as_written(app, users, sales):
    customer = sales.post("/api/v1/customers", json={"name": "ООО Ромашка"}).json
    deal = sales.post("/api/v1/deals", json={"title": "Офис", "customer_id": customer["id"]}).json
    body = {"kind": "call", "subject": "Paid", "body": "posted", "deal_id": deal["id"]}
    assert sales.post("/api/v1/activities", json=body).status_code == 201
    assert said_by_api(sales, deal["id"], "ru") == [("Paid", "posted")]  # not the catalogue's "Оплачено"
    page = page_text(logged_in(app, users["sales"]["email"], "ru").get(f"/deals/{deal['id']}"))
    assert on_page(page, "Paid", "posted")
