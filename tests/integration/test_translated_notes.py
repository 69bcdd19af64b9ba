"""What the sync engine, the OAuth token store, purchase requests and alert deliveries write down
for later (migration 0026) is read in the reader's language: why an outbox event failed (the
failed queue), a sync run's note (the run history), why a provider refused a connection, why a
purchase request or an alert delivery failed. Each is kept in English and as its sentence; the
target's own words stay as it wrote them inside the translated sentence. Pages follow the user's
language, the API Accept-Language (English without one)."""

from __future__ import annotations

import html

import pytest
import responses
from flask_babel import force_locale
from sqlalchemy import select

from connectors.errors import PermanentError, RetryableError
from connectors.mini_ledger import MiniLedgerConnector
from connectors.quickbooks import PROVIDER
from hub.extensions import db
from hub.models import AlertDelivery, Connection, InvoiceNotice, OutboxEvent, OutboxState, SyncRun
from hub.sync.worker import drain
from tests.conftest import make_connection
from tests.support.alert_delivery import SECRET, channel, open_alert
from tests.support.onec_exchange import PASSWORD as ONEC_PASSWORD
from tests.support.onec_exchange import USER as ONEC_USER
from tests.support.onec_exchange import OneC
from tests.support.outbox_deals import won_deal
from tests.support.quickbooks_connection import REFUSED, FakeQuickBooks, store_tokens
from tests.support.sessions import BN, RU, logged_in, page_text

HEADERS = {"en": {}, "ru": RU, "bn": BN}


def said(client, path: str, pick) -> dict[str, str]:
    """`pick` of the API's answer at `path`, asked in each language."""
    answers = {}
    for code, headers in HEADERS.items():
        r = client.get(path, headers=headers)
        assert r.status_code == 200, r.json
        answers[code] = pick(r.json)
    return answers


def on_page(app, email: str, path: str, code: str) -> str:
    return html.unescape(page_text(logged_in(app, email, code).get(path)))


# ---- an outbox event's last error and its sync run's note ----------------------------------------


REFUSED_IT = {
    "en": "Ledger (mini_ledger) refused it: the total differs",
    "ru": "Ledger (mini_ledger) отклонила отправку: the total differs",
    "bn": "Ledger (mini_ledger) এটি প্রত্যাখ্যান করেছে: the total differs",
}


@pytest.fixture
def refused_push(app, sales, admin, connection, monkeypatch) -> dict:
    """A won deal whose push the ledger refused: parked in the failed queue."""

    def refuse(self, doc):
        raise PermanentError("the total differs", field="total")

    monkeypatch.setattr(MiniLedgerConnector, "push_invoice", refuse)
    deal = won_deal(sales, admin)
    drain(app)
    return deal


def test_a_failed_events_error_is_kept_in_english_and_as_its_sentence(app, refused_push):
    with app.app_context():
        (event,) = db.session.scalars(select(OutboxEvent).where(OutboxEvent.state == OutboxState.FAILED))
        assert event.last_error == REFUSED_IT["en"]  # for readers of the column
        assert event.last_error_message == {
            "id": "%(connection)s (%(type)s) refused it: %(message)s",
            "params": {"connection": "Ledger", "type": "mini_ledger", "message": "the total differs"},
        }
        (notice,) = db.session.scalars(select(InvoiceNotice))
        assert (notice.detail, notice.detail_message) == (event.last_error, event.last_error_message)


def test_the_failed_queue_says_why_in_the_readers_language(app, users, admin, call, refused_push):
    assert said(admin, "/api/v1/sync/failed", lambda page: page["items"][0]["last_error"]) == REFUSED_IT
    for code in ("ru", "bn"):
        page = on_page(app, users["admin"]["email"], "/admin/sync/failed", code)
        assert REFUSED_IT[code] in page
        assert REFUSED_IT["en"] not in page
    # The deal's invoice tells finance the same, the target's words inside.
    finance = call("finance")
    problem = said(finance, f"/api/v1/deals/{refused_push['id']}", lambda deal: deal["invoices"][0]["problems"][0])
    assert {code: p["detail"] for code, p in problem.items()} == REFUSED_IT


def test_a_sync_runs_note_is_said_in_the_readers_language(app, users, admin, refused_push):
    runs = said(admin, "/api/v1/sync/runs?outcome=failed", lambda page: page["items"][0]["error"])
    assert runs == REFUSED_IT
    for code in ("ru", "bn"):
        page = on_page(app, users["admin"]["email"], "/admin/sync/runs", code)
        assert REFUSED_IT[code] in page
        assert REFUSED_IT["en"] not in page


def test_a_push_given_up_on_counts_its_attempts_in_the_readers_language(app, sales, admin, connection, monkeypatch):
    def unreachable(self, doc):
        raise RetryableError("connection reset by peer")

    monkeypatch.setattr(MiniLedgerConnector, "push_invoice", unreachable)
    monkeypatch.setitem(app.config, "HUB_RETRY_MAX_ATTEMPTS", 1)
    won_deal(sales, admin)
    drain(app)
    runs = said(admin, "/api/v1/sync/runs?outcome=failed", lambda page: page["items"][0]["error"])
    assert runs == {
        "en": "gave up after 1 attempt: connection reset by peer",
        "ru": "прекращено после 1 попытки: connection reset by peer",
        "bn": "1 বার চেষ্টার পরে হাল ছেড়ে দেওয়া হয়েছে: connection reset by peer",
    }
    # The event keeps the target's words alone: there is nothing of the hub's to translate.
    failed = said(admin, "/api/v1/sync/failed", lambda page: page["items"][0]["last_error"])
    assert set(failed.values()) == {"connection reset by peer"}


def test_a_push_discarded_with_its_lost_deal_says_so_in_the_readers_language(app, sales, admin, connection):
    deal = won_deal(sales, admin)  # not drained: the push is never tried
    assert sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "went elsewhere"}).status_code == 200
    with app.app_context():
        (event,) = db.session.scalars(select(OutboxEvent).where(OutboxEvent.state == OutboxState.DISCARDED))
        assert event.last_error == "discarded: the deal was lost before the invoice was sent"
        with force_locale("ru"):
            assert event.last_error_text == "отброшено: сделка проиграна до отправки счёта"
        with force_locale("bn"):
            assert event.last_error_text == "বাদ দেওয়া হয়েছে: ইনভয়েস পাঠানোর আগেই ডিলটি হাতছাড়া হয়েছে"


def test_a_failed_event_written_before_0026_shows_its_stored_text(app, admin, refused_push):
    with app.app_context():
        db.session.execute(
            OutboxEvent.__table__.update().values(last_error="Ledger said no (old words).", last_error_message=None)
        )
        db.session.execute(SyncRun.__table__.update().values(error_message=None))
        db.session.commit()
    failed = said(admin, "/api/v1/sync/failed", lambda page: page["items"][0]["last_error"])
    assert set(failed.values()) == {"Ledger said no (old words)."}
    runs = said(admin, "/api/v1/sync/runs?outcome=failed", lambda page: page["items"][0]["error"])
    assert set(runs.values()) == {REFUSED_IT["en"]}


# ---- why a provider refused a connection's access ------------------------------------------------


PROVIDER_REFUSED = {
    "en": "the provider refused the refresh token: invalid_grant",
    "ru": "провайдер отклонил токен обновления: invalid_grant",
    "bn": "প্রদানকারী রিফ্রেশ টোকেন প্রত্যাখ্যান করেছে: invalid_grant",
}


@responses.activate
def test_a_refused_refresh_token_is_said_in_the_readers_language(app, users, admin, sales, books):
    store_tokens(app, books, expires_in=-60)
    FakeQuickBooks()
    responses.post(PROVIDER.token_url, status=400, json=REFUSED)
    won_deal(sales, admin)
    drain(app)
    won_deal(sales, admin)  # parked at once by the hub: the refused token is not tried again
    drain(app)
    with app.app_context():
        row = db.session.get(Connection, books)
        assert row.oauth_reason == PROVIDER_REFUSED["en"]  # for readers of the column
        assert row.oauth_reason_message["params"] == {"refusal": "invalid_grant"}

    reason = said(admin, f"/api/v1/connections/{books}", lambda c: c["authorization"]["reason"])
    assert reason == PROVIDER_REFUSED
    for code in ("ru", "bn"):
        for path in ("/admin/connections", f"/admin/connections/{books}"):
            page = on_page(app, users["admin"]["email"], path, code)
            assert PROVIDER_REFUSED[code] in page
            assert PROVIDER_REFUSED["en"] not in page

    # The pushes it parked say so too, the first with the provider's refusal, the second with the hub's.
    failed = said(admin, "/api/v1/sync/failed?sort=id", lambda page: [e["last_error"] for e in page["items"]])
    assert failed["ru"] == [
        f"Books (quickbooks): не отправлено, нужна повторная авторизация ({PROVIDER_REFUSED['ru']}). "
        "Авторизуйте подключение заново на странице подключений; после этого отправка повторится сама.",
        "Books (quickbooks): не отправлено, нужна повторная авторизация "
        f"(подключение нужно авторизовать заново: {PROVIDER_REFUSED['ru']}). "
        "Авторизуйте подключение заново на странице подключений; после этого отправка повторится сама.",
    ]
    assert failed["en"][1].startswith(
        f"Books (quickbooks): not sent, re-authorisation needed (the connection must be authorised again: "
        f"{PROVIDER_REFUSED['en']}). "
    )
    assert all(f"({PROVIDER_REFUSED['bn']})" in error for error in failed["bn"][:1])


# ---- why a purchase request failed ----------------------------------------------------------------


def test_a_failed_purchase_request_is_said_in_the_readers_language(app, call, ledger, alert):
    import requests

    ops = call("operations")
    requests.put(f"{ledger.url}/_faults", json={"error_rate": 1.0}, timeout=5)
    assert ops.post(f"/api/v1/alerts/{alert['id']}/purchase-request", json={}).status_code == 502
    errors = said(ops, f"/api/v1/alerts/{alert['id']}", lambda a: a["purchase_request"]["error"])
    assert errors["en"].startswith("Ledger did not take the purchase request: ")
    target_words = errors["en"].removeprefix("Ledger did not take the purchase request: ")
    assert "503" in target_words
    assert errors["ru"] == f"Ledger не приняла заявку на закупку: {target_words}"
    assert errors["bn"] == f"Ledger ক্রয়ের অনুরোধটি নেয়নি: {target_words}"


# ---- why an alert's delivery failed ----------------------------------------------------------------


def test_a_failed_alert_delivery_is_said_in_the_readers_language(
    app,
    admin,
    call,
    receiver,
    ledger,
    connection,
    pump,
):
    receiver.status = 500
    channel(admin, name="Hook", kind="webhook", config={"url": receiver.url}, secret=SECRET)
    opened = open_alert(app, call, ledger, connection, pump)
    errors = said(call("operations"), f"/api/v1/alerts/{opened['id']}", lambda a: a["deliveries"][0]["last_error"])
    assert errors == {
        "en": "webhook answered HTTP 500",
        "ru": "вебхук ответил HTTP 500",
        "bn": "ওয়েবহুক HTTP 500 উত্তর দিয়েছে",
    }
    with app.app_context():
        (delivery,) = db.session.scalars(select(AlertDelivery))
        assert delivery.last_error == "webhook answered HTTP 500"  # for readers of the column


# ---- the 1C exchange's refusals ----------------------------------------------------------------


def test_the_1c_exchanges_refusals_are_answered_in_english_and_kept_in_the_readers_language(app, users, admin):
    """1C is answered the protocol's English (its exchange log shows it); the run history and the
    connection's attention say the hub's refusal in the reader's language."""
    connection = make_connection(app, "1C", "onec_exchange", {"username": ONEC_USER, "password": ONEC_PASSWORD})
    one_c = OneC(app.test_client(use_cookies=False), password="wrong")
    refused = one_c.checkauth()
    assert (refused.status_code, refused.get_data(as_text=True)) == (401, "failure\nwrong user name or password")
    one_c = OneC(app.test_client(use_cookies=False))
    assert one_c.checkauth().status_code == 200
    post_me = one_c.call("catalog", "file", filename="import.xml")  # a file sent with GET
    assert (post_me.status_code, post_me.get_data(as_text=True)) == (405, "failure\nsend the file's content with POST")

    runs = said(admin, f"/api/v1/sync/runs?outcome=failed&connection_id={connection}", lambda page: page["items"])
    assert [run["error"] for run in runs["en"]] == ["send the file's content with POST", "wrong user name or password"]
    assert [run["error"] for run in runs["ru"]] == [
        "передайте содержимое файла методом POST",
        "неверное имя пользователя или пароль",
    ]
    assert [run["error"] for run in runs["bn"]] == ["ফাইলের বিষয়বস্তু POST দিয়ে পাঠান", "ভুল ব্যবহারকারীর নাম বা পাসওয়ার্ড"]
    attention = said(admin, f"/api/v1/connections/{connection}", lambda c: c["attention"])
    assert attention["en"] == "1C exchange: 1c_catalog_file failed: send the file's content with POST"
    assert attention["ru"].endswith(": передайте содержимое файла методом POST")
    assert attention["bn"].endswith(": ফাইলের বিষয়বস্তু POST দিয়ে পাঠান")
    # A file its CommerceML reader refuses: the reader's words are the hub's too, and so translated.
    one_c.upload("import.xml", '<?xml version="1.0" encoding="UTF-8"?><Каталог/>'.encode())
    wrong = one_c.call("catalog", "import", filename="import.xml").get_data(as_text=True)
    assert wrong == "failure\nthe document is <Каталог>, not <КоммерческаяИнформация>"
    latest = said(admin, f"/api/v1/sync/runs?outcome=failed&connection_id={connection}", lambda p: p["items"][0])
    assert latest["ru"]["error"] == "документ — <Каталог>, а не <КоммерческаяИнформация>"
    assert latest["bn"]["error"] == "নথিটি <Каталог>, <КоммерческаяИнформация> নয়"
    page = on_page(app, users["admin"]["email"], "/admin/sync/runs", "ru")
    assert "неверное имя пользователя или пароль" in page  # the recorded exchange beside it keeps 1C's answer
