"""1C's site exchange (CommerceML 2) driven with the Flask test client as 1C drives it: checkauth,
init, then orders (query, success, order changes) or the catalogue (file parts, zip, import with
progress). Real database, real files under the instance folder, the real run history."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.exchange import throttle
from hub.extensions import db
from hub.models import (
    Activity,
    AuditEntry,
    Connection,
    ExchangeSession,
    ExternalLink,
    HubInvoice,
    InvoiceState,
    MappingRow,
    OutboxEvent,
    Product,
    RunOutcome,
    StockAlert,
    StockHistory,
    StockLevel,
    SyncRun,
    Warehouse,
)
from tests.conftest import PASSWORD as LOGIN_PASSWORD
from tests.conftest import make_connection
from tests.support.commerceml_files import IMPORT_XML, OFFERS_XML
from tests.support.onec_exchange import (
    CHANGES,
    PASSWORD,
    URL,
    USER,
    OneC,
    exported_orders,
    orders_in,
    payment_document,
    payments_file,
    won_deal,
    zipped,
)


@pytest.fixture
def client(app):
    return app.test_client(use_cookies=False)  # 1C sends the cookie it was given, as a header


@pytest.fixture
def onec(app) -> int:
    return make_connection(
        app,
        "1C",
        "onec_exchange",
        {"username": USER, "password": PASSWORD, "import_batch": 2, "file_limit": 1000, "max_total_bytes": 200_000},
    )


def _runs(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(r.operation, r.outcome.value) for r in db.session.scalars(select(SyncRun).order_by(SyncRun.id))]


# ---- orders ------------------------------------------------------------------------------------


def test_orders_are_sent_until_acknowledged_then_never_again(app, client, sales, admin, onec):
    deal = won_deal(sales, admin)
    number = deal["invoices"][0]["number"]
    with app.app_context():
        # 1C fetches its orders itself: nothing is queued to push to it.
        assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    one_c = OneC(client)
    one_c.start()
    (order,) = orders_in(one_c.call("sale", "query"))
    assert order.findtext("Ид") == number
    assert order.findtext("ХозОперация") == "Заказ товара"
    assert order.findtext("Валюта") == "RUB"
    assert order.findtext("Курс") == "1"
    assert order.findtext("Сумма") == "2159.76"
    assert order.findtext("Контрагенты/Контрагент/Наименование") == "ООО Ромашка"
    assert order.findtext("Контрагенты/Контрагент/ИНН") == "7701234567"
    assert order.findtext("Товары/Товар/Артикул") == "CHAIR-1"
    assert order.findtext("Товары/Товар/ЦенаЗаЕдиницу") == "899.9"
    assert order.findtext("Товары/Товар/Количество") == "2"
    assert order.findtext("Товары/Товар/СтавкиНалогов/СтавкаНалога/Ставка") == "20"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExternalLink)) == 0  # not before success

    assert one_c.call("sale", "success").get_data(as_text=True) == "success"
    with app.app_context():
        link = db.session.scalars(select(ExternalLink)).one()
        assert (link.connection_id, link.external_id, link.state) == (onec, number, "draft")
        assert db.session.scalars(select(HubInvoice)).one().state == InvoiceState.SENT

    later = OneC(client)
    later.start()
    assert orders_in(later.call("sale", "query")) == []
    assert ("1c_sale_query", "success") in _runs(app)
    assert ("1c_sale_success", "success") in _runs(app)


def test_a_lost_deal_cancels_its_order_in_1c_once(app, client, sales, admin, onec):
    deal = won_deal(sales, admin)
    number = deal["invoices"][0]["number"]
    first = OneC(client)
    first.start()
    (order,) = orders_in(first.call("sale", "query"))
    assert order.findtext("ЗначенияРеквизитов/ЗначениеРеквизита[Наименование='Отменен']/Значение") is None
    first.call("sale", "success")
    assert sales.post(f"/api/v1/deals/{deal['id']}/lost", json={"reason": "budget cut"}).status_code == 200

    second = OneC(client)
    second.start()
    (order,) = orders_in(second.call("sale", "query"))
    assert order.findtext("Ид") == number
    assert order.findtext("ЗначенияРеквизитов/ЗначениеРеквизита[Наименование='Отменен']/Значение") == "true"
    second.call("sale", "success")
    with app.app_context():
        assert db.session.scalars(select(ExternalLink)).one().state == "cancelled"
    third = OneC(client)
    third.start()
    assert orders_in(third.call("sale", "query")) == []


def test_orders_of_a_query_without_success_are_sent_again(app, client, sales, admin, onec):
    number = won_deal(sales, admin)["invoices"][0]["number"]
    first = OneC(client)
    first.start()
    assert [o.findtext("Ид") for o in orders_in(first.call("sale", "query"))] == [number]
    # The exchange broke off: 1C never said success.
    second = OneC(client)
    second.start()
    assert [o.findtext("Ид") for o in orders_in(second.call("sale", "query"))] == [number]
    assert second.call("sale", "success").get_data(as_text=True) == "success"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExternalLink)) == 1


def test_an_order_the_mapping_cannot_map_is_held_back_and_shown(app, client, sales, admin, onec):
    # The admin makes the rates table refuse currencies it has no row for.
    document = admin.get(f"/api/v1/connections/{onec}/mapping").json["document"]
    document["tables"]["rates"]["unmapped"] = "refuse"
    saved = admin.post(f"/api/v1/connections/{onec}/mapping/versions", json={"document": document, "activate": True})
    assert saved.status_code == 201, saved.json
    eur = won_deal(sales, admin, sku="EUR-1", currency="EUR")["invoices"][0]["number"]
    rub = won_deal(sales, admin)["invoices"][0]["number"]
    one_c = OneC(client)
    one_c.start()
    assert [o.findtext("Ид") for o in orders_in(one_c.call("sale", "query"))] == [rub]
    with app.app_context():
        failed = db.session.scalars(select(SyncRun).where(SyncRun.outcome == RunOutcome.FAILED)).one()
        assert failed.object_id == db.session.scalar(select(HubInvoice.id).where(HubInvoice.number == eur))
        assert "rate: no entry for EUR in table rates" in failed.error


def test_an_order_in_a_currency_without_a_rate_leaves_the_rate_to_1c(app, client, sales, admin, onec):
    won_deal(sales, admin, sku="EUR-1", currency="EUR")
    one_c = OneC(client)
    one_c.start()
    (order,) = orders_in(one_c.call("sale", "query"))
    assert order.findtext("Валюта") == "EUR"
    assert order.find("Курс") is None


def test_answers_in_windows_1251_when_configured(app, client, sales, admin):
    make_connection(
        app, "1C cp1251", "onec_exchange", {"username": USER, "password": PASSWORD, "encoding": "windows-1251"}
    )
    won_deal(sales, admin)
    one_c = OneC(client)
    assert one_c.checkauth().content_type == "text/plain; charset=windows-1251"
    response = one_c.call("sale", "query")
    assert response.content_type == "application/xml; charset=windows-1251"
    assert response.data.startswith(b"<?xml version='1.0' encoding='windows-1251'?>")
    assert "Ромашка".encode("cp1251") in response.data
    assert orders_in(response)[0].findtext("Контрагенты/Контрагент/Наименование") == "ООО Ромашка"


def test_order_changes_from_1c_land_on_the_invoices_and_deals(app, client, sales, admin, onec):
    paid_deal, cancelled_deal = won_deal(sales, admin), won_deal(sales, admin)
    paid, cancelled = paid_deal["invoices"][0]["number"], cancelled_deal["invoices"][0]["number"]
    one_c = OneC(client)
    one_c.start()
    orders_in(one_c.call("sale", "query"))
    one_c.call("sale", "success")
    data = CHANGES.format(paid=paid, cancelled=cancelled).encode("cp1251")
    one_c.upload("orders-1.xml", data, part=1000, kind="sale")
    with app.app_context():
        invoices = {i.number: i for i in db.session.scalars(select(HubInvoice))}
        assert invoices[paid].state == InvoiceState.PAID
        assert invoices[paid].amount_paid == Decimal("2159.76")
        assert invoices[cancelled].state == InvoiceState.CANCELLED
        link = db.session.scalar(select(ExternalLink).where(ExternalLink.invoice_id == invoices[paid].id))
        assert (link.state, link.external_number) == ("paid", "ЗК-0042")
        notes = db.session.scalars(select(Activity.subject).where(Activity.deal_id == paid_deal["id"])).all()
        assert sorted(notes) == [f"{paid} paid according to 1C on 2026-11-21", f"{paid} shipped according to 1C"]
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "invoices", AuditEntry.entity_id == str(invoices[paid].id))
        ).all()
        assert any(a.actor == "1C exchange (1C)" and a.changes["state"]["new"] == "paid" for a in audit)
    deal = sales.get(f"/api/v1/deals/{cancelled_deal['id']}").json
    assert deal["invoices"][0]["state"] == "cancelled"
    # The same changes again change nothing more.
    one_c.upload("orders-2.xml", data, part=1000, kind="sale")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Activity)) == 3


# ---- catalogue ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["UTF-8", "windows-1251"])
def test_catalogue_in_parts_and_zipped_then_imported_with_progress(app, client, admin, onec, encoding):
    codec = "utf-8" if encoding == "UTF-8" else "cp1251"
    # Operations watch CHAIR-1: 1C will report 7 on hand over its warehouses, below the point of 8.
    product = admin.post(
        "/api/v1/products", json={"sku": "CHAIR-1", "name": "Chair", "list_price": "1", "currency": "RUB"}
    ).json
    one_c = OneC(client)
    one_c.start("catalog")
    catalogue = IMPORT_XML.format(encoding=encoding).encode(codec)
    one_c.upload("import.xml", catalogue, part=400)  # three parts, appended
    offers = OFFERS_XML.replace('encoding="UTF-8"', f'encoding="{encoding}"').encode(codec)
    one_c.upload("offers.zip", zipped({"offers.xml": offers}), part=400)

    assert one_c.import_file("import.xml") == ["progress", "success"]  # 3 products, 2 per call
    assert (
        admin.post(
            "/api/v1/reorder-rules", json={"product_id": product["id"], "reorder_point": 8, "target_level": 20}
        ).status_code
        == 201
    )
    assert one_c.import_file("offers.xml") == ["progress", "progress", "success"]  # 5 items
    assert one_c.import_file("offers.xml") == ["success"]  # asked again: already done, nothing twice

    with app.app_context():
        products = {p.sku: p for p in db.session.scalars(select(Product))}
        assert set(products) == {"CHAIR-1", "DESK-2", "c3d2"}
        assert products["CHAIR-1"].name == "Стул офисный"
        assert (products["CHAIR-1"].list_price, products["CHAIR-1"].currency) == (Decimal("1499.90"), "RUB")
        assert products["DESK-2"].list_price == Decimal(0)
        rows = dict(
            db.session.execute(select(MappingRow.key, MappingRow.value).where(MappingRow.connection_id == onec)).all()
        )
        assert rows == {"CHAIR-1": "a1f0", "DESK-2": "b2e1", "c3d2": "c3d2"}
        levels = {
            (lv.sku, lv.warehouse.code): lv.available
            for lv in db.session.scalars(select(StockLevel).where(StockLevel.connection_id == onec))
        }
        # DESK-2's offer names only its Ид (with a variant): found through the catalogue's Ид.
        assert levels == {
            ("CHAIR-1", "wh-main"): Decimal(5),
            ("CHAIR-1", "wh-shop"): Decimal(2),
            ("DESK-2", "all"): Decimal("3.5"),
        }
        names = dict(db.session.execute(select(Warehouse.code, Warehouse.name)).all())
        assert names["wh-main"] == "Основной склад"
        alert = db.session.scalars(select(StockAlert)).one()
        assert alert.product_id == product["id"]
        assert alert.projected == Decimal(7)  # no warehouse on the rule: both 1C warehouses count
        session = db.session.scalars(select(ExchangeSession)).one()
        assert session.imports["offers.xml"]["done"] is True
        created = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "products", AuditEntry.action == "create")
        ).all()
        by_id = {int(a.entity_id): a for a in created if a.actor == "1C exchange (1C)"}
        assert {by_id[products[s].id].changes["sku"]["new"] for s in ("DESK-2", "c3d2")} == {"DESK-2", "c3d2"}
        assert by_id[products["DESK-2"].id].changes["name"]["new"] == "Стол письменный"
        # Renamed and repriced in bulk, and audited as the ORM would have: old and new values.
        updates = db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.entity == "products",
                AuditEntry.action == "update",
                AuditEntry.entity_id == str(products["CHAIR-1"].id),
            )
            .order_by(AuditEntry.id)
        ).all()
        assert [(a.actor, a.changes) for a in updates] == [
            ("1C exchange (1C)", {"name": {"old": "Chair", "new": "Стул офисный"}}),
            ("1C exchange (1C)", {"list_price": {"old": "1.0000", "new": "1499.90"}}),
        ]
        assert products["CHAIR-1"].updated_at > products["CHAIR-1"].created_at
    assert ("1c_catalog_import", "success") in _runs(app)


def _offers(opening: str, offers: str, warehouses: tuple[str, ...] = ("wh-main", "wh-shop")) -> bytes:
    """An offers.xml: the package's opening tag, its Склады, these Предложение elements."""
    stores = "".join(f"<Склад><Ид>{w}</Ид><Наименование>{w}</Наименование></Склад>" for w in warehouses)
    closing = "</" + opening[1:].split(" ")[0].rstrip(">") + ">"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация ВерсияСхемы="2.08">'
        f"{opening}<Склады>{stores}</Склады><Предложения>{offers}</Предложения>{closing}</КоммерческаяИнформация>"
    ).encode()


def _offer(sku: str, **stock: int) -> str:
    places = "".join(f'<Склад ИдСклада="{w}" КоличествоНаСкладе="{q}"/>' for w, q in stock.items())
    return f"<Предложение><Ид>id-{sku}</Ид><Артикул>{sku}</Артикул>{places}</Предложение>"


def _exchange_offers(client, data: bytes, url: str = URL) -> None:
    one_c = OneC(client, url=url)
    one_c.start("catalog")
    one_c.upload("offers.xml", data, part=1000)
    assert one_c.import_file("offers.xml")[-1] == "success"


def _levels(app, connection_id: int) -> dict[tuple[str, str], Decimal]:
    with app.app_context():
        return {
            (lv.sku, lv.warehouse.code): lv.on_hand
            for lv in db.session.scalars(select(StockLevel).where(StockLevel.connection_id == connection_id))
        }


def test_a_full_offers_package_zeroes_what_it_leaves_out_and_a_changes_package_only_what_it_lists(
    app, client, admin, onec
):
    desk = admin.post(
        "/api/v1/products", json={"sku": "DESK", "name": "Desk", "list_price": "1", "currency": "RUB"}
    ).json
    assert (
        admin.post(
            "/api/v1/reorder-rules", json={"product_id": desk["id"], "reorder_point": 1, "target_level": 5}
        ).status_code
        == 201
    )
    other = make_connection(
        app, "1C other", "onec_exchange", {"username": USER, "password": PASSWORD, "file_limit": 1000}
    )
    first = (
        _offer("CHAIR", **{"wh-main": 5, "wh-shop": 2})
        + _offer("DESK", **{"wh-main": 4})
        + _offer("LAMP", **{"wh-far": 6})
    )
    _exchange_offers(client, _offers("<ПакетПредложений>", first, ("wh-main", "wh-shop", "wh-far")), f"{URL}/{onec}")
    _exchange_offers(client, _offers("<ПакетПредложений>", _offer("LAMP", **{"wh-main": 9})), f"{URL}/{other}")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StockAlert)) == 0

    # Full, for wh-main and wh-shop: DESK and CHAIR's wh-shop are gone from them, wh-far is not its business.
    full = '<ПакетПредложений СодержитТолькоИзменения="false">'
    _exchange_offers(client, _offers(full, _offer("CHAIR", **{"wh-main": 5})), f"{URL}/{onec}")
    zeroed = {
        ("CHAIR", "wh-main"): Decimal(5),
        ("CHAIR", "wh-shop"): Decimal(0),
        ("DESK", "wh-main"): Decimal(0),
        ("LAMP", "wh-far"): Decimal(6),
    }
    assert _levels(app, onec) == zeroed
    assert _levels(app, other) == {("LAMP", "wh-main"): Decimal(9)}  # another connection's stock stays
    with app.app_context():
        # Written as a pull writes: history of the change, and the alert the change raises.
        history = db.session.scalars(select(StockHistory).where(StockHistory.sku == "DESK")).all()
        assert [h.on_hand for h in history] == [4, 0]
        alert = db.session.scalars(select(StockAlert)).one()
        assert (alert.product_id, alert.projected) == (desk["id"], Decimal(0))

    # Changes only: CHAIR's wh-main changes, nothing else does.
    changes = '<ПакетПредложений СодержитТолькоИзменения="true">'
    _exchange_offers(client, _offers(changes, _offer("CHAIR", **{"wh-main": 1})), f"{URL}/{onec}")
    assert _levels(app, onec) == {**zeroed, ("CHAIR", "wh-main"): Decimal(1)}
    # A full package of prices alone (prices.xml) says nothing about stock.
    prices = (
        "<Предложение><Ид>id-CHAIR</Ид><Артикул>CHAIR</Артикул><Цены><Цена><ЦенаЗаЕдиницу>10</ЦенаЗаЕдиницу>"
        "</Цена></Цены></Предложение>"
    )
    _exchange_offers(client, _offers("<ПакетПредложений>", prices), f"{URL}/{onec}")
    assert _levels(app, onec) == {**zeroed, ("CHAIR", "wh-main"): Decimal(1)}


# ---- refusals ----------------------------------------------------------------------------------


def test_wrong_password_and_missing_cookie_are_refused(app, client, onec):
    refused = OneC(client, password="not-the-password").checkauth()
    assert refused.status_code == 401
    assert refused.get_data(as_text=True) == "failure\nwrong user name or password"
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    no_cookie = OneC(client).call("sale", "query")
    assert no_cookie.status_code == 401
    assert no_cookie.get_data(as_text=True).startswith("failure\nno exchange session")
    forged = OneC(client)
    forged.cookie = "hub_1c_exchange=made-up"
    assert forged.call("sale", "query").get_data(as_text=True).startswith("failure\nthe exchange session has expired")
    assert _runs(app) == [("1c_sale_checkauth", "failed")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExchangeSession)) == 0
        assert db.session.get(Connection, onec).attention == "1C exchange refused: wrong user name or password"
    assert OneC(client).checkauth().status_code == 200
    with app.app_context():
        assert db.session.get(Connection, onec).attention is None


def _login(client, password: str, address: str, user: str = USER):
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return client.get(
        URL,
        query_string={"type": "catalog", "mode": "checkauth"},
        headers={"Authorization": f"Basic {credentials}"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_wrong_passwords_lock_the_log_in_for_a_while(app, client, onec, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_EXCHANGE_LOGIN_FAILURES", 3)
    monkeypatch.setitem(app.config, "HUB_EXCHANGE_LOCKOUT_SECONDS", 600)
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    clock = {"now": start}
    monkeypatch.setattr(throttle, "now", lambda: clock["now"])

    for guess in ("guess-1", "guess-2", "guess-3"):
        refused = _login(client, guess, "198.51.100.7")
        assert (refused.status_code, refused.get_data(as_text=True)) == (401, "failure\nwrong user name or password")
    # Locked: even the right password, from any address, is refused without being checked.
    for address in ("198.51.100.7", "203.0.113.9"):
        locked = _login(client, PASSWORD, address)
        assert locked.status_code == 429
        assert locked.get_data(as_text=True) == (
            "failure\ntoo many wrong passwords: log-ins are refused until 2026-11-23 12:10:00 UTC"
        )
        assert locked.headers["Retry-After"] == "600"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExchangeSession)) == 0
        assert "too many wrong passwords" in db.session.get(Connection, onec).attention
        assert [r[1] for r in _runs(app)] == ["failed"] * 5

    clock["now"] = start + timedelta(seconds=599)
    assert _login(client, PASSWORD, "203.0.113.9").status_code == 429
    clock["now"] = start + timedelta(seconds=600)
    assert _login(client, PASSWORD, "203.0.113.9").status_code == 200
    with app.app_context():
        assert db.session.get(Connection, onec).attention is None
    # The good log-in cleared the count: two more slips do not lock it again.
    assert [_login(client, "slip", "203.0.113.9").status_code for _ in range(2)] == [401, 401]
    assert _login(client, PASSWORD, "203.0.113.9").status_code == 200


def test_one_address_guessing_user_names_is_locked_out_alone(app, client, onec, monkeypatch):
    monkeypatch.setitem(app.config, "HUB_EXCHANGE_LOGIN_FAILURES", 3)
    for user in ("admin", "1c", "exchange"):  # no connection has these users: only the address counts
        assert _login(client, "x", "198.51.100.7", user=user).status_code == 401
    assert _login(client, PASSWORD, "198.51.100.7").status_code == 429
    assert _login(client, PASSWORD, "203.0.113.9").status_code == 200  # 1C itself calls from elsewhere


def test_a_session_is_bound_to_its_connection(app, client, onec):
    other = make_connection(app, "1C other", "onec_exchange", {"username": "someone", "password": "other-password"})
    one_c = OneC(client, url=f"{URL}/{onec}")
    one_c.start()
    elsewhere = OneC(client, url=f"{URL}/{other}")
    elsewhere.cookie = one_c.cookie
    assert elsewhere.call("sale", "query").status_code == 401
    # The right credentials at another connection's URL are refused too.
    assert OneC(client, url=f"{URL}/{other}").checkauth().status_code == 401


def test_login_sessions_and_api_tokens_do_not_open_the_exchange(client, users, onec):
    token = users["admin"]["token"]
    response = client.get(
        URL, query_string={"type": "sale", "mode": "query"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.get_data(as_text=True).startswith("failure\n")


ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    + "<КоммерческаяИнформация><Каталог><Товары><Товар><Ид>&e;</Ид></Товар></Товары></Каталог>".encode()
    + "</КоммерческаяИнформация>".encode()
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    + "<КоммерческаяИнформация><Каталог><Товары><Товар><Ид>&d;</Ид></Товар></Товары></Каталог>".encode()
    + "</КоммерческаяИнформация>".encode()
)


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"import.xml": ENTITY}, "DOCTYPE"),
        ({"import.xml": LAUGHS}, "DOCTYPE"),
        ({"import.xml": IMPORT_XML.format(encoding="UTF-8").encode()[:-120]}, "not well-formed"),
        (
            {
                "bundle.zip": zipped(
                    {"../../evil.xml": b"<x/>", "import.xml": IMPORT_XML.format(encoding="UTF-8").encode()}
                )
            },
            "leaves",
        ),
        ({"bundle.zip": zipped({"import.xml": b" " * 300_000})}, "unpacks to more than"),
    ],
    ids=["external-entity", "billion-laughs", "truncated", "zip-slip", "zip-bomb"],
)
def test_hostile_files_are_refused_and_nothing_is_imported(app, client, onec, files, says):
    one_c = OneC(client)
    one_c.start("catalog")
    for name, data in files.items():
        one_c.upload(name, data, part=900)
    # A truncated file reads well until its end: the first batches answer progress, staged only.
    for _ in range(5):
        response = one_c.call("catalog", "import", filename="import.xml")
        if response.get_data(as_text=True) != "progress\n2 items read":
            break
    assert response.status_code == (413 if "more than" in says else 400), response.get_data(as_text=True)
    first, reason = response.get_data(as_text=True).split("\n", 1)
    assert first == "failure"
    assert says in reason
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Product)) == 0
        assert db.session.scalar(select(func.count()).select_from(MappingRow)) == 0
        assert says in db.session.scalar(select(SyncRun.error).where(SyncRun.outcome == RunOutcome.FAILED))
        assert says in db.session.get(Connection, onec).attention
    assert not list(Path(app.instance_path).rglob("evil.xml"))


def test_a_part_beyond_file_limit_is_refused_and_not_kept(app, client, onec):
    one_c = OneC(client)
    one_c.start("catalog")
    response = one_c.call("catalog", "file", "POST", b"<" * 1001, filename="import.xml")
    assert response.status_code == 413
    assert response.get_data(as_text=True).startswith("failure\nimport.xml: the part is larger than file_limit")
    with app.app_context():
        session = db.session.scalars(select(ExchangeSession)).one()
        assert session.uploaded_bytes == 0
    assert one_c.call("catalog", "import", filename="import.xml").status_code == 404


def test_an_admin_sets_it_up_through_the_api_and_the_password_stays_secret(app, admin, client):
    created = admin.post(
        "/api/v1/connections",
        json={"name": "1C UT", "type": "onec_exchange", "config": {"username": USER, "password": PASSWORD}},
    )
    assert created.status_code == 201, created.json
    assert PASSWORD not in created.get_data(as_text=True)
    assert created.json["config"]["file_limit"] == 8_000_000
    tested = admin.post(f"/api/v1/connections/{created.json['id']}/test")
    assert tested.json["ok"] is True
    assert f"user '{USER}'" in tested.json["message"]
    refused = admin.post(
        "/api/v1/connections",
        json={"name": "1C bad", "type": "onec_exchange", "config": {"username": USER, "encoding": "koi8-r"}},
    )
    assert refused.status_code == 422
    assert set(refused.json["errors"]) == {"config.password", "config.encoding"}
    # The connection works for 1C at once.
    assert OneC(client).checkauth().status_code == 200


def _card(page: str, connection_id: int) -> str:
    return page.split(f'id="connection-{connection_id}"', 1)[1].split("</section>", 1)[0]


def test_the_connections_page_says_when_1c_last_called_and_how_it_went(app, client, users, onec):
    browser = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").get_data(as_text=True)).group(1)
    browser.post("/login", data={"email": users["admin"]["email"], "password": LOGIN_PASSWORD, "csrf_token": token})
    assert "Not called yet" in _card(browser.get("/admin/connections").get_data(as_text=True), onec)

    OneC(client, password="not-the-password").checkauth()
    card = _card(browser.get("/admin/connections").get_data(as_text=True), onec)
    assert "Last call just now: 1c_sale_checkauth, failed (wrong user name or password)" in card
    OneC(client).start()
    card = _card(browser.get("/admin/connections").get_data(as_text=True), onec)
    assert "Last call just now: 1c_sale_init, success" in card


def test_the_session_may_come_as_sessid_and_stays_out_of_the_history(app, client, onec):
    one_c = OneC(client)
    assert one_c.checkauth().status_code == 200
    token = one_c.cookie.split("=", 1)[1]
    one_c.cookie = None
    response = one_c.call("sale", "init", sessid=token)
    assert response.get_data(as_text=True) == "zip=yes\nfile_limit=1000"
    with app.app_context():
        runs = db.session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        assert [r.operation for r in runs] == ["1c_sale_checkauth", "1c_sale_init"]
        assert runs[1].request[0]["url"] == "/exchange/1c?type=sale&mode=init"
        assert all(token not in str(r.request) + str(r.response) for r in runs)


def test_zipped_order_changes_are_unpacked_and_applied(app, client, sales, admin, onec):
    number = won_deal(sales, admin)["invoices"][0]["number"]
    one_c = OneC(client)
    one_c.start()
    orders_in(one_c.call("sale", "query"))
    one_c.call("sale", "success")
    changes = CHANGES.format(paid=number, cancelled="INV-999999").encode("cp1251")
    one_c.upload("orders.zip", zipped({"orders-7.xml": changes}), part=1000, kind="sale")
    with app.app_context():
        assert db.session.scalars(select(HubInvoice)).one().state == InvoiceState.PAID
        run = db.session.scalars(select(SyncRun).where(SyncRun.operation == "1c_sale_file")).one()
        # The order 1C names that the hub does not know is reported, not guessed at.
        assert run.response[0]["body"]["orders-7.xml"]["unknown_orders"] == ["INV-999999"]


# ---- order changes as real 1C writes them -----------------------------------------------------

# What 1C (Управление торговлей 11) uploads: windows-1251, several documents, an unpaid order whose
# empty date requisites are written as a bare `T` (Latin here, Cyrillic there), and an order marked
# for deletion instead of cancelled.
REAL_CHANGES = """<?xml version="1.0" encoding="windows-1251"?>
<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-11-22T10:15:03">
  <Документ><Ид>{unpaid}</Ид><Номер>{unpaid}</Номер><Дата>2026-11-20</Дата><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Номер по 1С</Наименование><Значение>ЗК-0050</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Проведен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Дата оплаты по 1С</Наименование><Значение>T</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>Дата отгрузки по 1С</Наименование><Значение>Т</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>ПометкаУдаления</Наименование><Значение>false</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
  <Документ><Ид>{paid}</Ид><Номер>{paid}</Номер><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Проведен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата оплаты по 1С</Наименование><Значение>22.11.2026 9:41:00</Значение>
    </ЗначениеРеквизита>
    <ЗначениеРеквизита>
      <Наименование>Дата отгрузки по 1С</Наименование><Значение>0001-01-01T00:00:00</Значение>
    </ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
  <Документ><Ид>{deleted}</Ид><Номер>{deleted}</Номер><ЗначенияРеквизитов>
    <ЗначениеРеквизита><Наименование>Дата оплаты по 1С</Наименование><Значение>T</Значение></ЗначениеРеквизита>
    <ЗначениеРеквизита><Наименование>ПометкаУдаления</Наименование><Значение>true</Значение></ЗначениеРеквизита>
  </ЗначенияРеквизитов></Документ>
</КоммерческаяИнформация>
"""


def _states(app) -> dict[str, InvoiceState]:
    with app.app_context():
        return {i.number: i.state for i in db.session.scalars(select(HubInvoice))}


def test_changes_with_empty_dates_as_1c_writes_them_then_import_apply_once(app, client, sales, admin, onec):
    one_c, (unpaid, paid, deleted) = exported_orders(sales, admin, client, 3)
    data = REAL_CHANGES.format(unpaid=unpaid, paid=paid, deleted=deleted).encode("cp1251")
    one_c.upload("documents___f3a1.xml", data, part=1000, kind="sale")
    # Newer 1C versions ask to import what they uploaded: it was applied already, once.
    response = one_c.call("sale", "import", filename="documents___f3a1.xml")
    assert response.get_data(as_text=True) == "success"
    assert _states(app) == {unpaid: InvoiceState.POSTED, paid: InvoiceState.PAID, deleted: InvoiceState.CANCELLED}
    with app.app_context():
        notes = db.session.scalars(select(Activity.subject)).all()
        assert sorted(notes) == [
            f"{unpaid} posted in 1C",
            f"{paid} paid according to 1C on 2026-11-22",
            f"{deleted} cancelled in 1C",
        ]
        link = db.session.scalar(select(ExternalLink).join(HubInvoice).where(HubInvoice.number == unpaid))
        assert link.external_number == "ЗК-0050"
    assert [run for run in _runs(app) if run[1] != "success"] == []


def test_a_change_file_whose_last_part_fills_file_limit_is_applied_at_import(app, client, sales, admin, onec):
    one_c, (paid,) = exported_orders(sales, admin, client, 1)
    data = CHANGES.format(paid=paid, cancelled="INV-999999").encode("cp1251")
    data += b" " * (-len(data) % 1000)  # every part exactly file_limit: none says it is the last
    one_c.upload("orders-9.xml", data, part=1000, kind="sale")
    assert _states(app) == {paid: InvoiceState.SENT}
    answer = one_c.call("sale", "import", filename="orders-9.xml").get_data(as_text=True)
    assert answer == "success\nnot changed, never sent to this exchange: INV-999999"
    assert _states(app) == {paid: InvoiceState.PAID}


def test_import_of_a_change_file_never_uploaded_is_refused(app, client, onec):
    one_c = OneC(client)
    one_c.start()
    response = one_c.call("sale", "import", filename="orders-1.xml")
    assert response.status_code == 404
    assert response.get_data(as_text=True).startswith("failure\norders-1.xml: no such file")


def test_init_with_a_version_answers_the_session_key_and_the_hubs_version(app, client, onec):
    one_c = OneC(client)
    assert one_c.checkauth().status_code == 200
    token = one_c.cookie.split("=", 1)[1]
    answer = one_c.call("sale", "init", version="3.1").get_data(as_text=True)
    assert answer.split("\n") == ["zip=yes", "file_limit=1000", f"sessid={token}", "version=2.08"]
    # 1C then sends the key as `sessid` on every call, which opens the session as the cookie does.
    one_c.cookie = None
    assert one_c.call("sale", "query", sessid=token).status_code == 200


def test_a_change_file_changes_only_orders_sent_to_its_own_exchange(app, client, sales, admin, onec):
    one_c, (exported,) = exported_orders(sales, admin, client, 1)
    # Won after 1C's last query: never sent to this exchange (an invoice of another system alike).
    other = won_deal(sales, admin)["invoices"][0]["number"]
    data = CHANGES.format(paid=other, cancelled=exported).replace("ЗК-0042", "FORGED-1").encode("cp1251")
    response = one_c.call("sale", "file", "POST", data, filename="orders-5.xml")
    assert response.get_data(as_text=True) == f"success\nnot changed, never sent to this exchange: {other}"
    states = _states(app)
    assert states[other] == InvoiceState.PENDING
    assert states[exported] == InvoiceState.CANCELLED  # its own order is applied as before
    with app.app_context():
        invoice = db.session.scalars(select(HubInvoice).where(HubInvoice.number == other)).one()
        assert invoice.amount_paid == 0
        assert db.session.scalars(select(ExternalLink).where(ExternalLink.invoice_id == invoice.id)).all() == []
        run = db.session.scalars(select(SyncRun).where(SyncRun.operation == "1c_sale_file")).one()
        assert run.response[0]["body"]["orders-5.xml"]["unknown_orders"] == [other]


# ---- partial payments -------------------------------------------------------------------------

# 1C with partial payments (1C-Bitrix's exchange from the 1C module's version 6) sends an order in a
# Контейнер with a Документ per payment: ХозОперация «Выплата безналичных денег» (or наличных, or
# «Эквайринговая операция»), its Сумма, and the order's number in Основание. Each invoice here is
# 2 × 899.90 + 20 % = 2159.76.
CONTAINER = """<Контейнер>
  <Документ><Ид>{order}</Ид><Номер>{order}</Номер><ХозОперация>Заказ товара</ХозОперация><Сумма>2159.76</Сумма>
    <ЗначенияРеквизитов>
      <ЗначениеРеквизита><Наименование>Проведен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
      <ЗначениеРеквизита>
        <Наименование>Дата оплаты по 1С</Наименование><Значение>{paid_on}</Значение>
      </ЗначениеРеквизита>
    </ЗначенияРеквизитов></Документ>
{payments}</Контейнер>
"""


def _paid(app) -> dict[str, tuple[InvoiceState, Decimal, str]]:
    with app.app_context():
        return {
            i.number: (
                i.state,
                i.amount_paid,
                db.session.scalars(select(ExternalLink.state).where(ExternalLink.invoice_id == i.id)).one(),
            )
            for i in db.session.scalars(select(HubInvoice))
        }


def test_partial_payments_from_1c_add_up_to_the_amount_paid_then_to_paid(app, client, sales, admin, onec):
    one_c, (a, b, c) = exported_orders(sales, admin, client, 3)
    # windows-1251, several orders: `a` paid in part (1C dates the order's payment all the same),
    # `b` paid off by two payments of one file (by bank, by card), `c`'s payment not made yet.
    first = payments_file(
        [
            CONTAINER.format(
                order=a, paid_on="2026-11-23T10:00:00", payments=payment_document(a, "ПП-0001", "1000.00")
            ),
            CONTAINER.format(
                order=b,
                paid_on="T",
                payments=payment_document(b, "ПП-0002", "1000")
                + payment_document(b, "ЭК-0001", "1159,76", operation="Эквайринговая операция"),
            ),
            CONTAINER.format(
                order=c,
                paid_on="T",
                payments=payment_document(c, "ПКО-0001", "500.00", paid=False, operation="Выплата наличных денег"),
            ),
        ],
        "windows-1251",
    )
    one_c.upload("documents___1.xml", first, part=1000, kind="sale")
    assert _paid(app) == {
        a: (InvoiceState.PARTIALLY_PAID, Decimal("1000"), "partially_paid"),
        b: (InvoiceState.PAID, Decimal("2159.76"), "paid"),
        c: (InvoiceState.POSTED, Decimal(0), "posted"),
    }
    # UTF-8, later: 1C sends `a`'s first payment again with the second; the first counts once.
    second = payments_file(
        [
            CONTAINER.format(
                order=a,
                paid_on="2026-11-24T09:00:00",
                payments=payment_document(a, "ПП-0001", "1000.00") + payment_document(a, "ПП-0003", "1159.76"),
            )
        ],
        "UTF-8",
    )
    one_c.upload("documents___2.xml", second, part=1000, kind="sale")
    assert _paid(app)[a] == (InvoiceState.PAID, Decimal("2159.76"), "paid")
    one_c.upload("documents___3.xml", second, part=1000, kind="sale")  # again: nothing more
    assert _paid(app)[a] == (InvoiceState.PAID, Decimal("2159.76"), "paid")
    with app.app_context():
        invoice = db.session.scalars(select(HubInvoice).where(HubInvoice.number == a)).one()
        notes = db.session.scalars(
            select(Activity.subject).where(Activity.deal_id == invoice.deal_id).order_by(Activity.id)
        ).all()
        assert notes == [
            f"{a} posted in 1C",
            f"{a} payment ПП-0001 according to 1C",
            f"{a} payment ПП-0003 according to 1C",
        ]
        body = db.session.scalar(
            select(Activity.body).where(Activity.subject == f"{a} payment ПП-0003 according to 1C")
        )
        assert body.startswith("1159.76 paid on 2026-11-23: 2159.76 of 2159.76.")


def test_a_payment_1c_undoes_after_it_was_counted_is_taken_off_and_noted(app, client, sales, admin, onec):
    one_c, (a,) = exported_orders(sales, admin, client, 1)
    paid = payments_file(
        [
            CONTAINER.format(
                order=a,
                paid_on="T",
                payments=payment_document(a, "ПП-0001", "500.00") + payment_document(a, "ПП-0002", "1659.76"),
            )
        ],
        "UTF-8",
    )
    one_c.upload("documents___1.xml", paid, part=1000, kind="sale")
    assert _paid(app)[a] == (InvoiceState.PAID, Decimal("2159.76"), "paid")
    undone = payments_file(
        [
            CONTAINER.format(
                order=a,
                paid_on="T",
                payments=payment_document(a, "ПП-0001", "500.00", paid=False)
                + payment_document(a, "ПП-0002", "1659.76"),
            )
        ],
        "UTF-8",
    )
    one_c.upload("documents___2.xml", undone, part=1000, kind="sale")
    assert _paid(app)[a] == (InvoiceState.PARTIALLY_PAID, Decimal("1659.76"), "partially_paid")
    one_c.upload("documents___3.xml", undone, part=1000, kind="sale")  # again: taken off once
    assert _paid(app)[a] == (InvoiceState.PARTIALLY_PAID, Decimal("1659.76"), "partially_paid")
    with app.app_context():
        (body,) = db.session.scalars(
            select(Activity.body).where(Activity.subject == f"{a} payment ПП-0001 undone in 1C")
        ).all()
        assert body.startswith("500 taken off: 1659.76 of 2159.76 paid.")
    # 1C marks it paid again: it counts again.
    one_c.upload("documents___4.xml", paid, part=1000, kind="sale")
    assert _paid(app)[a] == (InvoiceState.PAID, Decimal("2159.76"), "paid")


def test_a_payment_counts_once_even_after_its_note_on_the_deal_was_deleted(app, client, sales, admin, onec):
    """The deal's note tells sales; it is not the record that the payment was counted."""
    one_c, (a,) = exported_orders(sales, admin, client, 1)
    paid = payments_file(
        [CONTAINER.format(order=a, paid_on="T", payments=payment_document(a, "ПП-0001", "500.00"))], "UTF-8"
    )
    one_c.upload("documents___1.xml", paid, part=1000, kind="sale")
    with app.app_context():
        note = db.session.scalars(
            select(Activity).where(Activity.subject == f"{a} payment ПП-0001 according to 1C")
        ).one()
        note_id = note.id
        db.session.remove()
    assert sales.delete(f"/api/v1/activities/{note_id}").status_code == 204
    one_c.upload("documents___2.xml", paid, part=1000, kind="sale")  # 1C sends it again
    assert _paid(app)[a] == (InvoiceState.PARTIALLY_PAID, Decimal("500"), "partially_paid")


def test_a_payment_for_an_order_never_sent_here_changes_nothing(app, client, sales, admin, onec):
    one_c, (a,) = exported_orders(sales, admin, client, 1)
    data = payments_file([payment_document("INV-999999", "ПП-0009", "100.00")], "UTF-8")
    one_c.upload("documents___1.xml", data, part=1000, kind="sale")
    with app.app_context():
        runs = db.session.scalars(select(SyncRun).where(SyncRun.operation == "1c_sale_file").order_by(SyncRun.id))
        assert runs.all()[-1].response[0]["body"]["documents___1.xml"]["unknown_orders"] == ["INV-999999"]
    assert _paid(app)[a] == (InvoiceState.SENT, Decimal(0), "draft")


def test_each_log_in_keeps_only_the_newest_few_sessions_and_their_files(app, client, onec):
    from hub.exchange.sessions import LIVE_SESSIONS, folder

    cookies = []
    for _ in range(LIVE_SESSIONS + 3):
        one_c = OneC(client)
        one_c.start("catalog")
        one_c.upload("import.xml", b"<x/>", part=1000)
        cookies.append(one_c.cookie)
    with app.app_context():
        sessions = db.session.scalars(select(ExchangeSession).where(ExchangeSession.connection_id == onec)).all()
        assert len(sessions) == LIVE_SESSIONS
        folders = [folder(s) for s in sessions]
        assert all((f / "import.xml").exists() for f in folders)
        assert len([p for p in folders[0].parent.iterdir() if p.is_dir()]) == LIVE_SESSIONS
    # The oldest sessions are over: their cookies open nothing.
    stale = OneC(client)
    stale.cookie = cookies[0]
    assert stale.call("catalog", "init").status_code in (401, 403)


def test_a_refused_archive_does_not_poison_the_rest_of_the_session(app, client, admin, onec):
    one_c = OneC(client)
    one_c.start("catalog")
    one_c.upload("broken.zip", b"PK\x03\x04" + b"\x00" * 200, part=1000)
    refused = one_c.call("catalog", "import", filename="import.xml")
    assert refused.get_data(as_text=True).startswith("failure")
    # The same session goes on: the next file imports.
    one_c.upload("import.xml", IMPORT_XML.format(encoding="UTF-8").encode(), part=1000)
    assert one_c.import_file("import.xml")[-1] == "success"


def test_the_session_key_stays_out_of_the_access_logs(app):
    import logging

    from hub.exchange.sessions import HideSessionKeys

    line = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - "%s" %s',
        ("127.0.0.1", "GET /exchange/1c?sessid=abc123&mode=init HTTP/1.1", "200"),
        None,
    )
    access = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s"', None, None)
    access.args = {"h": "127.0.0.1", "r": "GET /exchange/1c?type=sale&sessid=s3cr3t-key HTTP/1.1"}
    for record in (line, access):
        assert any(isinstance(f, HideSessionKeys) for f in logging.getLogger(record.name).filters)
        assert HideSessionKeys().filter(record)
        text = record.getMessage()
        assert "sessid=***" in text
        assert "abc123" not in text
        assert "s3cr3t-key" not in text


@pytest.mark.parametrize("encoding", ["utf-8", "windows-1251"])
def test_a_bengali_name_reaches_1c_whole_in_either_encoding(app, client, sales, admin, encoding):
    """windows-1251 has no Bengali: the XML writes what it cannot hold as character references
    (&#2480;…), which every XML reader, 1C's included, turns back into the name, instead of "?"."""
    make_connection(app, "1C", "onec_exchange", {"username": USER, "password": PASSWORD, "encoding": encoding})
    name, line = "রবীন্দ্রনাথ ঠাকুর ООО", "কাঠের চেয়ার"
    customer = sales.post("/api/v1/customers", json={"name": name, "default_currency": "RUB"}).json
    admin.post(
        "/api/v1/products",
        json={"sku": "CHAIR-1", "name": line, "list_price": "899.90", "currency": "RUB", "tax_rate": "0.2"},
    )
    deal = sales.post(
        "/api/v1/deals",
        json={"title": "Office", "customer_id": customer["id"], "lines": [{"sku": "CHAIR-1", "quantity": 1}]},
    ).json
    assert sales.post(f"/api/v1/deals/{deal['id']}/won").status_code == 200
    one_c = OneC(client)
    assert one_c.checkauth().status_code == 200

    response = one_c.call("sale", "query")

    assert b"?" * 3 not in response.data
    if encoding == "windows-1251":
        assert b"&#2480;" in response.data  # র
        assert "ООО".encode("cp1251") in response.data  # what the code page holds, it holds as itself
    (order,) = orders_in(response)
    assert order.findtext("Контрагенты/Контрагент/Наименование") == name
    assert order.findtext("Товары/Товар/Наименование") == line
