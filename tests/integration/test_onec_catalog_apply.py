"""What a 1C catalogue or offers file does to the hub (hub/exchange/catalog.py), applied as the
import applies it once the file is read: products created, renamed and their 1C Ид moved; list
prices by the configured price type (by Ид or name) and currency; stock per wanted warehouse,
variants added up, a full package zeroing what it leaves out; and the summary the run history
shows, counted exactly. Real database; the staged batches on disk as the import writes them.
Written against the mutants `make mutate` left of the module (docs/testing.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.onec.commerceml import (
    CatalogItem,
    InvalidExchangeFile,
    Offer,
    OffersPackage,
    OrderChange,
    Price,
    PriceType,
    Warehouse,
    WarehouseQuantity,
    item_to_json,
)
from hub.exchange import catalog
from hub.exchange.sessions import open_session
from hub.extensions import db
from hub.models import AuditEntry, Connection, MappingRow, Product, ReorderRule, StockAlert, StockLevel
from hub.models import Warehouse as HubWarehouse
from tests.conftest import make_connection
from tests.support.commerceml_files import IMPORT_XML, OFFERS_XML


def _connection(app, name: str = "1C", **config) -> int:
    return make_connection(app, name, "onec_exchange", {"username": name, "password": "p-1234", **config})


def _apply(app, connection_id: int, items: list, folder: Path) -> dict:
    """The items staged in two batches, as import_step leaves them, then applied and committed."""
    folder.mkdir(parents=True)
    half = len(items) // 2
    for n, batch in enumerate((items[:half], items[half:])):
        lines = "".join(json.dumps(item_to_json(i), ensure_ascii=False) + "\n" for i in batch)
        (folder / f"{n:06d}.jsonl").write_text(lines, encoding="utf-8")
    with app.app_context():
        summary = catalog.apply_staged(db.session.get(Connection, connection_id), folder)
        db.session.commit()
    return summary


def _products(app) -> dict[str, tuple]:
    with app.app_context():
        return {
            p.sku: (p.name, p.list_price, p.currency, p.unit, p.tax_rate, p.active)
            for p in db.session.scalars(select(Product))
        }


def _rows(app, connection_id: int) -> dict[str, tuple[int, str]]:
    with app.app_context():
        query = select(MappingRow).where(MappingRow.connection_id == connection_id)
        return {r.key: (r.id, r.value) for r in db.session.scalars(query)}


def _stock(app, connection_id: int) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    with app.app_context():
        query = select(StockLevel).where(StockLevel.connection_id == connection_id)
        return {(s.sku, s.warehouse.code): (s.on_hand, s.reserved, s.available) for s in db.session.scalars(query)}


def _product(app, sku: str, name: str, price: str, currency: str = "RUB") -> None:
    with app.app_context():
        db.session.add(Product(sku=sku, name=name, list_price=Decimal(price), currency=currency))
        db.session.commit()


def test_catalogue_products_created_renamed_moved_and_skipped(app, tmp_path):
    """Kills: the connection's currency not upper-cased; a new product's unit, tax rate, price,
    active flag; the name cut at 201 or not falling back to the SKU; `>` turned `>=` at SKU_LENGTH
    (64 characters fit); a product's 1C Ид that changed not moved on its row (`!=` turned `==`);
    every counter of the summary."""
    one_c = _connection(app, currency="eur")
    _product(app, "KEEP-1", "Old name", "5")
    _product(app, "SAME", "Same", "6")
    with app.app_context():
        for sku, guid in (("KEEP-1", "old-guid"), ("SAME", "g5")):
            db.session.add(MappingRow(connection_id=one_c, table_name="products", key=sku, value=guid))
        db.session.commit()
    kept_row = _rows(app, one_c)["KEEP-1"][0]
    items = [
        CatalogItem("new-guid", "KEEP-1", "New name"),
        CatalogItem("g2", None, ""),
        CatalogItem("g3", "S" * 64, "N" * 250),
        CatalogItem("g4", "T" * 65, "too long a SKU"),
        CatalogItem("g6", "U" * 70, "too long a SKU too"),
        CatalogItem("g5", "SAME", "Same"),
        OrderChange("INV-999999", None, posted=True),  # a file may hold order changes too
    ]
    summary = _apply(app, one_c, items, tmp_path / "staged")
    assert summary == {
        "orders_changed": [],
        "unknown_orders": ["INV-999999"],
        "products": 4,
        "created": 2,
        "renamed": 1,
        "priced": 0,
        "stock_levels": 0,
        "stock_changed": 0,
        "stock_zeroed": 0,
        "skipped": 2,
    }
    products = _products(app)
    assert set(products) == {"KEEP-1", "SAME", "g2", "S" * 64}
    assert products["g2"] == ("g2", Decimal(0), "EUR", "unit", Decimal(0), True)
    assert products["S" * 64][0] == "N" * 200
    assert products["KEEP-1"][:3] == ("New name", Decimal(5), "RUB")
    with app.app_context():
        created = db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "products", AuditEntry.action == "create", AuditEntry.entity_id == _id(app, "g2")
            )
        ).one()
        # Audited with every value it was made with (the columns' defaults would hide a wrong key).
        assert {k: v["new"] for k, v in created.changes.items()} == {
            "sku": "g2",
            "name": "g2",
            "list_price": "0",
            "currency": "EUR",
            "unit": "unit",
            "tax_rate": "0",
            "active": True,
        }
    rows = _rows(app, one_c)
    assert {sku: guid for sku, (_, guid) in rows.items()} == {
        "KEEP-1": "new-guid",
        "SAME": "g5",
        "g2": "g2",
        "S" * 64: "g3",
    }
    assert rows["KEEP-1"][0] == kept_row  # the row moved, not a second one
    # The moved Ид is how offers find the product now.
    stock = _apply(app, one_c, [Offer("new-guid#red", None, None, quantity=Decimal(3))], tmp_path / "offers")
    assert (stock["stock_levels"], _stock(app, one_c)) == (1, {("KEEP-1", "all"): (3, 0, 3)})


def _id(app, sku: str) -> str:
    with app.app_context():
        return str(db.session.scalar(select(Product.id).where(Product.sku == sku)))


def test_files_of_more_than_a_thousand_items_are_written_a_thousand_at_a_time(app, tmp_path):
    """Kills, past the first thousand: the pending products or prices not emptied (`= None`),
    the counters reset (`+=` turned `=`), and what the first thousand taught the rest: a product's
    moved row (`self.rows`) and its 1C Ид (`self.sku_of`, for an offer naming only the Ид)."""
    one_c = _connection(app)
    _product(app, "KEEP", "Old", "1")
    _product(app, "KEEP-2", "Old 2", "1")
    with app.app_context():
        db.session.add(MappingRow(connection_id=one_c, table_name="products", key="KEEP", value="old"))
        db.session.commit()
    kept_row = _rows(app, one_c)["KEEP"][0]
    items = [CatalogItem("mid", "KEEP", "New"), *(CatalogItem(f"g{n}", f"SKU-{n:04d}", f"P {n}") for n in range(999))]
    items += [
        CatalogItem("new", "KEEP", "New"),  # the second thousand: the row moved by the first
        CatalogItem("k2", "KEEP-2", "New 2"),
        Offer("g7#red", None, None, quantity=Decimal(2)),  # only the Ид, of a product of the first thousand
    ]
    summary = _apply(app, one_c, items, tmp_path / "staged")
    assert (summary["created"], summary["renamed"], summary["products"], summary["skipped"]) == (999, 2, 1002, 0)
    assert len(_products(app)) == 1001
    rows = _rows(app, one_c)
    assert (rows["KEEP"], rows["KEEP-2"][1], len(rows)) == ((kept_row, "new"), "k2", 1001)
    assert _stock(app, one_c) == {("SKU-0007", "all"): (2, 0, 2)}
    prices = [Offer(f"g{n}", None, None, prices=(Price(None, Decimal(n + 1), None),)) for n in range(999)]
    prices += [Offer("k2", None, None, prices=(Price(None, Decimal(5), None),))] * 2
    assert _apply(app, one_c, prices, tmp_path / "prices")["priced"] == 1000
    assert _products(app)["SKU-0998"][1] == Decimal(999)


def _offers_items() -> list:
    return [
        OffersPackage(False),
        PriceType("pt-retail", "Розничная", "RUB"),
        PriceType("pt-opt", "Оптовая", "RUB"),
        Warehouse("wh-main", "Основной"),
        Warehouse("wh-shop", ""),
        Warehouse("wh-far", "Дальний"),
        Offer(
            "id-P1",
            "P1",
            None,
            prices=(Price("pt-retail", Decimal(10), "RUB"), Price("pt-opt", Decimal(8), "руб.")),
            # An unwanted warehouse first: the wanted one after it still counts.
            warehouses=(WarehouseQuantity("wh-far", Decimal(7)), WarehouseQuantity("wh-main", Decimal(5))),
        ),
        Offer(
            "id-P2#v1",
            None,
            None,
            prices=(Price("pt-opt", Decimal(20), " usd "),),
            warehouses=(WarehouseQuantity("wh-shop", Decimal(1)),),
        ),
        Offer("id-P2#v2", None, None, warehouses=(WarehouseQuantity("wh-shop", Decimal(2)),)),
        Offer("id-P3", "P3", None, prices=(Price("pt-opt", Decimal(30), "EURO"),), quantity=Decimal(4)),
        Offer("id-P4", "P4", None, prices=(Price("pt-retail", Decimal(40), None),)),
        Offer("id-P5", "P5", None, prices=(Price("pt-opt", Decimal(50), "643"),)),
        Offer("unknown", None, None, quantity=Decimal(1)),
        Offer("id-long", "L" * 65, None, quantity=Decimal(1)),
    ]


def test_offers_prices_by_price_type_name_stock_of_wanted_warehouses(app, tmp_path):
    """Kills: the wanted warehouses (`warehouses` setting: split, stripped, filtered; `all`
    always wanted); the price type matched by name; a currency 1C writes as руб., 643 or in lower
    case, one that is no ISO code left alone (`len == 3`, `isalpha`); variants added up under
    their product (from 0); offers of unknown or too long SKUs skipped; reserved 0 and available
    the quantity; the warehouses' names (the code when 1C gives none, `all`'s own); the
    connection's stock times; and the full package zeroing the wanted stock it leaves out."""
    one_c = _connection(app, warehouses=" wh-main,,wh-shop ", price_type="Оптовая")
    for sku, price, currency in (("P1", "1", "RUB"), ("P2", "2", "RUB"), ("P3", "3", "RUB"), ("P4", "4", "RUB")):
        _product(app, sku, sku, price, currency)
    _product(app, "P5", "P5", "5", "EUR")
    with app.app_context():
        db.session.add(MappingRow(connection_id=one_c, table_name="products", key="P2", value="id-P2"))
        db.session.commit()
    before = _apply(
        app,
        one_c,
        [OffersPackage(True), Offer("id-P4", "P4", None, warehouses=(WarehouseQuantity("wh-main", Decimal(9)),))],
        tmp_path / "first",
    )
    assert before["stock_levels"] == 1
    summary = _apply(app, one_c, _offers_items(), tmp_path / "second")
    assert summary == {
        "products": 0,
        "created": 0,
        "renamed": 0,
        "priced": 3,
        "stock_levels": 3,
        "stock_changed": 4,
        "stock_zeroed": 1,
        "skipped": 2,
    }
    products = _products(app)
    assert {sku: products[sku][1:3] for sku in products} == {
        "P1": (Decimal(8), "RUB"),
        "P2": (Decimal(20), "USD"),
        "P3": (Decimal(3), "RUB"),
        "P4": (Decimal(4), "RUB"),
        "P5": (Decimal(50), "RUB"),
    }
    assert _stock(app, one_c) == {
        ("P1", "wh-main"): (5, 0, 5),
        ("P2", "wh-shop"): (3, 0, 3),
        ("P3", "all"): (4, 0, 4),
        ("P4", "wh-main"): (0, 0, 0),
    }
    with app.app_context():
        names = {w.code: w.name for w in db.session.scalars(select(HubWarehouse))}
        assert names == {"wh-main": "Основной", "wh-shop": "wh-shop", "all": "All warehouses (1C)"}
        connection = db.session.get(Connection, one_c)
        assert connection.stock_pulled_at is not None
        assert connection.stock_cursor == connection.stock_pulled_at


def test_the_price_type_by_its_id_or_the_first_price_when_none_is_set(app, tmp_path):
    by_id = _connection(app, "1C retail", price_type="pt-retail")
    first = _connection(app, "1C any")
    _product(app, "P1", "P1", "1")
    offer = Offer(
        "id-P1", "P1", None, prices=(Price("pt-opt", Decimal(8), None), Price("pt-retail", Decimal(11), None))
    )
    types = [PriceType("pt-opt", "Оптовая", "RUB"), PriceType("pt-retail", "Розничная", "RUB")]
    assert _apply(app, by_id, [*types, offer], tmp_path / "by-id")["priced"] == 1
    assert _products(app)["P1"][1:3] == (Decimal(11), "RUB")
    assert _apply(app, first, [offer, Offer("id-P1", "P1", None)], tmp_path / "first")["priced"] == 1
    assert _products(app)["P1"][1:3] == (Decimal(8), "RUB")


def test_a_price_in_what_no_invoice_can_be_made_in_is_left_alone(app, tmp_path):
    """The API refuses these as a product's currency (no currency, the testing code, gold, a
    withdrawn currency); a price 1C gives in one changes neither the price nor the currency."""
    one_c = _connection(app)
    codes = ("XXX", "xts", "XAU", "DEM")
    for n, _ in enumerate(codes):
        _product(app, f"P{n}", f"P{n}", "1")
    offers = [Offer(f"id-P{n}", f"P{n}", None, prices=(Price(None, Decimal(9), code),)) for n, code in enumerate(codes)]
    assert _apply(app, one_c, offers, tmp_path / "offers")["priced"] == 0
    assert {sku: p[1:3] for sku, p in _products(app).items()} == {f"P{n}": (Decimal(1), "RUB") for n in range(4)}


def test_a_full_package_of_one_wanted_warehouse_leaves_the_others_alone(app, tmp_path):
    """Kills `not self.wanted or w in self.wanted` changed in the warehouses a full package speaks for."""
    one_c = _connection(app, warehouses="wh-main")
    _product(app, "P1", "P1", "1")
    _apply(
        app, one_c, [Offer("id-P1", "P1", None, warehouses=(WarehouseQuantity("wh-main", Decimal(2)),))], tmp_path / "a"
    )
    other = _connection(app, "1C all")
    items = [Offer("id-P1", "P1", None, warehouses=(WarehouseQuantity("wh-shop", Decimal(4)),))]
    _apply(app, other, items, tmp_path / "b")
    # A full package declaring both warehouses, with stock in neither: each connection zeroes its own.
    package = [OffersPackage(False), Warehouse("wh-main", "M"), Warehouse("wh-shop", "S"), Offer("id-P1", "P1", None)]
    assert _apply(app, one_c, package, tmp_path / "c")["stock_zeroed"] == 0  # it reports no stock
    empty = [*package[:3], Offer("id-P9", "P9", None, warehouses=(WarehouseQuantity("wh-far", Decimal(1)),))]
    assert _apply(app, one_c, empty, tmp_path / "d")["stock_zeroed"] == 1
    assert _stock(app, one_c) == {("P1", "wh-main"): (0, 0, 0)}
    assert _stock(app, other) == {("P1", "wh-shop"): (4, 0, 4)}


def test_an_offer_finds_its_own_variant_a_sku_of_64_characters_and_names_only_its_warehouses(app, tmp_path):
    """Kills the offer's whole Ид not looked up before its product's (a variant 1C lists as a
    product of its own), `>` turned `>=` at SKU_LENGTH for offers, a warehouse name cut at 201,
    another connection's warehouse of the same code renamed, and the SKUs of offers looked up in
    another connection's rows or another table's."""
    one_c, other = _connection(app), _connection(app, "1C other")
    with app.app_context():
        for key, value in (("BASE", "p"), ("VAR-1", "p#v")):
            db.session.add(MappingRow(connection_id=one_c, table_name="products", key=key, value=value))
        # Rows that name no product of this connection: another connection's, another table's.
        db.session.add(MappingRow(connection_id=other, table_name="products", key="THEIRS", value="q"))
        db.session.add(MappingRow(connection_id=one_c, table_name="rates", key="EUR", value="t"))
        db.session.commit()
    _apply(app, other, [Offer("o", "X", None, warehouses=(WarehouseQuantity("wh-main", Decimal(1)),))], tmp_path / "o")
    items = [
        Warehouse("wh-main", "Склад " + "Ж" * 250),
        Offer("p#v", None, None, warehouses=(WarehouseQuantity("wh-main", Decimal(3)),)),
        Offer("s64", "S" * 64, None, quantity=Decimal(4)),
        Offer("q", None, None, quantity=Decimal(5)),
        Offer("t", None, None, quantity=Decimal(6)),
    ]
    assert _apply(app, one_c, items, tmp_path / "a")["skipped"] == 2
    assert _stock(app, one_c) == {("VAR-1", "wh-main"): (3, 0, 3), ("S" * 64, "all"): (4, 0, 4)}
    with app.app_context():
        names = {(w.connection_id, w.code): w.name for w in db.session.scalars(select(HubWarehouse))}
    assert names[(one_c, "wh-main")] == ("Склад " + "Ж" * 250)[:200]
    assert names[(other, "wh-main")] == "wh-main"


def _session(app, connection_id: int):
    session, _ = open_session(db.session.get(Connection, connection_id))
    return session


def test_an_import_step_by_step_counts_its_items_and_cleans_up(app, tmp_path):
    """Kills the position counted wrong (`+=` turned `=`), the batches staged out of order (the
    price type of the first batch is known to the offers of the last: `batches` counted down), the
    staged batches kept after the file is applied, and the state not marked done."""
    one_c = _connection(app, price_type="Розничная")
    _product(app, "CHAIR-1", "Chair", "1")
    data = OFFERS_XML.encode()
    path = tmp_path / "offers.xml"
    path.write_bytes(data)
    with app.app_context():
        session = _session(app, one_c)
        root = tmp_path / "session"
        steps = [catalog.import_step(session, root, "sub/offers.xml", path, batch=2) for _ in range(3)]
        assert [(s.done, s.position) for s in steps] == [(False, 2), (False, 4), (True, 6)]
        assert (steps[-1].summary["stock_levels"], steps[-1].summary["skipped"]) == (2, 1)
        assert steps[-1].summary["priced"] == 1
        assert not catalog.staged_folder(root, "sub/offers.xml").exists()
        assert catalog.staged_folder(root, "sub/offers.xml").name == "sub__offers.xml"
        again = catalog.import_step(session, root, "sub/offers.xml", path, batch=2)
        assert (again.done, again.position, again.summary) == (True, 6, steps[-1].summary)
        assert session.imports["sub/offers.xml"]["done"] is True
        db.session.rollback()


def test_a_file_that_breaks_halfway_forgets_what_it_staged(app, tmp_path):
    one_c = _connection(app)
    data = IMPORT_XML.format(encoding="UTF-8").encode()
    path = tmp_path / "import.xml"
    path.write_bytes(data[:-60])
    with app.app_context():
        session = _session(app, one_c)
        root = tmp_path / "session"
        session.imports = {"offers.xml": {"done": True, "position": 1, "batches": 1}}
        first = catalog.import_step(session, root, "import.xml", path, batch=2)
        assert (first.done, first.position) == (False, 2)
        with pytest.raises(InvalidExchangeFile):
            catalog.import_step(session, root, "import.xml", path, batch=2)
        assert not catalog.staged_folder(root, "import.xml").exists()
        assert list(session.imports) == ["offers.xml"]  # the other file's state stays
        path.write_bytes(data)
        steps = [catalog.import_step(session, root, "import.xml", path, batch=2) for _ in range(2)]
        assert [(s.done, s.position) for s in steps] == [(False, 2), (True, 3)]
        assert steps[-1].summary["created"] == 3
        db.session.rollback()


def test_offers_read_from_a_file_in_windows_1251(app, tmp_path):
    one_c = _connection(app)
    path = tmp_path / "offers.xml"
    path.write_bytes(OFFERS_XML.replace("UTF-8", "windows-1251").encode("cp1251"))
    _product(app, "CHAIR-1", "Chair", "1")
    with app.app_context():
        session = _session(app, one_c)
        steps = [catalog.import_step(session, tmp_path / "s", "offers.xml", path, batch=4) for _ in range(2)]
        assert [s.done for s in steps] == [False, True]
        db.session.commit()
    assert _products(app)["CHAIR-1"][1:3] == (Decimal("1499.90"), "RUB")


def test_a_catalogue_finds_the_hub_products_whatever_the_case_of_their_skus(app, tmp_path):
    """The API keeps SKUs unique regardless of case, and so does the import: 1C's CHAIR-1 is the
    hub's chair-1, renamed and linked under the hub's spelling, not a second product; the offers
    that follow price and stock it, also through a connection that never linked it."""
    one_c = _connection(app)
    _product(app, "chair-1", "Chair", "1")
    _product(app, "Desk-2", "Desk", "1")
    catalogue, offers = tmp_path / "import.xml", tmp_path / "offers.xml"
    catalogue.write_bytes(IMPORT_XML.format(encoding="UTF-8").encode())
    offers.write_bytes(OFFERS_XML.encode())
    with app.app_context():
        step = catalog.import_step(_session(app, one_c), tmp_path / "s", "import.xml", catalogue, batch=10)
        db.session.commit()
    assert (step.done, step.summary["created"], step.summary["renamed"]) == (True, 1, 2)
    assert {sku: p[0] for sku, p in _products(app).items()} == {
        "chair-1": "Стул офисный",
        "Desk-2": "Стол письменный",
        "c3d2": "Лампа без артикула",
    }
    assert {sku: value for sku, (_, value) in _rows(app, one_c).items()} == {
        "chair-1": "a1f0",
        "Desk-2": "b2e1",
        "c3d2": "c3d2",
    }
    other = _connection(app, "1C shop")
    for connection in (one_c, other):
        with app.app_context():
            db.session.execute(update(Product).where(Product.sku == "chair-1").values(list_price=Decimal(1)))
            step = catalog.import_step(_session(app, connection), tmp_path / "s", "offers.xml", offers, batch=10)
            db.session.commit()
        assert step.summary["priced"] == 1
        assert _products(app)["chair-1"][1:3] == (Decimal("1499.90"), "RUB")
        with app.app_context():
            query = select(StockLevel).where(StockLevel.connection_id == connection)
            stock = {(s.sku, s.warehouse.code): (s.on_hand, s.product_id) for s in db.session.scalars(query)}
            chair, desk = (
                db.session.scalar(select(Product.id).where(Product.sku == sku)) for sku in ("chair-1", "Desk-2")
            )
        assert stock == {
            ("chair-1", "wh-main"): (5, chair),
            ("chair-1", "wh-shop"): (2, chair),
            **({("Desk-2", "all"): (Decimal("3.5"), desk)} if connection == one_c else {}),
        }


def test_a_cyrillic_sku_is_found_as_written_whatever_lower_the_database_has(app, tmp_path):
    """SQLite's lower() folds ASCII only: the products are looked for by their exact SKU too, or
    НАСОС-1 would not be found and be inserted a second time (refused by the unique SKU)."""
    one_c = _connection(app)
    _product(app, "НАСОС-1", "Насос", "1")
    summary = _apply(app, one_c, [CatalogItem("n1", "НАСОС-1", "Насос новый")], tmp_path / "staged")
    assert (summary["created"], summary["renamed"]) == (0, 1)
    assert {sku: p[0] for sku, p in _products(app).items()} == {"НАСОС-1": "Насос новый"}


def _stocked(sku: str, quantity: int) -> Offer:
    return Offer(f"id-{sku}", sku, None, warehouses=(WarehouseQuantity("wh-main", Decimal(quantity)),))


def test_offers_outside_any_package_zero_nothing_they_leave_out(app, tmp_path):
    """Offers read without a ПакетПредложений around them (not CommerceML, but readable) are no
    full package: stock they do not list stays as it was (kills `full_stock` starting True)."""
    one_c = _connection(app)
    _product(app, "P1", "P1", "1")
    _product(app, "P2", "P2", "1")
    _apply(
        app, one_c, [Offer("id-P1", "P1", None, warehouses=(WarehouseQuantity("wh-main", Decimal(2)),))], tmp_path / "a"
    )
    summary = _apply(
        app, one_c, [Offer("id-P2", "P2", None, warehouses=(WarehouseQuantity("wh-main", Decimal(3)),))], tmp_path / "b"
    )
    assert summary["stock_zeroed"] == 0
    assert _stock(app, one_c) == {("P1", "wh-main"): (2, 0, 2), ("P2", "wh-main"): (3, 0, 3)}


def test_an_offers_file_weighs_the_alerts_of_the_products_it_changed_only(app, tmp_path):
    """The stock an offers file changes is weighed against its products' reorder rules, not the
    whole catalogue's (kills `evaluate(None)`): a rule of a product the file leaves alone waits for
    its own stock to change (or the scheduler's sweep)."""
    one_c = _connection(app)
    _product(app, "P1", "P1", "1")
    _product(app, "P2", "P2", "1")
    _apply(app, one_c, [_stocked("P1", 1), _stocked("P2", 1)], tmp_path / "a")
    with app.app_context():
        for sku in ("P1", "P2"):  # written without weighing them, as a rule made before any stock was
            product = db.session.scalar(select(Product).where(Product.sku == sku))
            db.session.add(ReorderRule(product=product, reorder_point=Decimal(5), target_level=Decimal(10)))
        db.session.commit()
    _apply(
        app, one_c, [Offer("id-P2", "P2", None, warehouses=(WarehouseQuantity("wh-main", Decimal(2)),))], tmp_path / "b"
    )
    with app.app_context():
        alerted = {a.product.sku for a in db.session.scalars(select(StockAlert))}
    assert alerted == {"P2"}


def test_of_two_products_that_differ_in_case_only_the_one_spelled_alike_else_the_older_is_found(app, tmp_path):
    """Products made before SKUs were unique regardless of case may be case twins: an item is the
    twin spelled as 1C spells it, and an item spelled as neither is the older twin (kills
    `_products_by_sku` 23, 26, 31–33: the SKUs asked for, the order by id, the choice between twins)."""
    one_c = _connection(app)
    _product(app, "pump-1", "older", "1")
    _product(app, "PUMP-1", "newer", "1")
    _apply(app, one_c, [CatalogItem("i1", "PUMP-1", "PUMP-1 as 1C has it")], tmp_path / "as-spelled")
    _apply(app, one_c, [CatalogItem("i2", "Pump-1", "spelled as neither")], tmp_path / "neither")
    assert {sku: p[0] for sku, p in _products(app).items()} == {
        "pump-1": "spelled as neither",
        "PUMP-1": "PUMP-1 as 1C has it",
    }


def test_offers_of_one_product_in_two_cases_add_up_and_an_unknown_skus_price_stops_nothing(app, tmp_path):
    """1C's Pump-1 and PUMP-1 are both the hub's pump-1: their stock in one warehouse adds up under
    the hub's spelling (kills `_spell_levels_as_the_hub` 25); a price for a SKU the hub has no
    product of, listed first, leaves the next offers' prices to be written (`_write_prices` 10)."""
    one_c = _connection(app)
    _product(app, "pump-1", "Pump", "1")
    _product(app, "desk-1", "Desk", "1")
    offers = [
        Offer("g", "GHOST-1", None, prices=(Price(None, Decimal(7), "RUB"),)),
        Offer("a", "Pump-1", None, warehouses=(WarehouseQuantity("wh-main", Decimal(2)),)),
        Offer("b", "PUMP-1", None, warehouses=(WarehouseQuantity("wh-main", Decimal(3)),)),
        Offer("d", "Desk-1", None, prices=(Price(None, Decimal(250), "RUB"),)),
    ]
    summary = _apply(app, one_c, offers, tmp_path / "offers")
    assert summary["priced"] == 1
    assert _products(app)["desk-1"][1] == Decimal(250)
    assert _stock(app, one_c) == {("pump-1", "wh-main"): (5, 0, 5)}


def test_stock_of_more_than_two_thousand_skus_spelled_otherwise_goes_to_the_hubs_products(app, tmp_path):
    """The SKUs are spelled as the hub spells them a thousand at a time, to the last one (kills
    `_spell_levels_as_the_hub` 8: only the slices starting in the first thousand)."""
    one_c = _connection(app)
    count = 2_100
    with app.app_context():
        db.session.add_all(
            Product(sku=f"sku-{n:05d}", name=f"P {n}", list_price=Decimal(1), currency="RUB") for n in range(count)
        )
        db.session.commit()
    offers = [_stocked(f"SKU-{n:05d}", 1) for n in range(count)]
    _apply(app, one_c, offers, tmp_path / "offers")
    with app.app_context():
        query = select(StockLevel.sku, StockLevel.product_id).where(StockLevel.connection_id == one_c)
        levels = dict(db.session.execute(query).all())
    assert len(levels) == count
    assert all(sku.startswith("sku-") and product is not None for sku, product in levels.items())
