"""How pulled levels get stored: a connection's first pull (COPYed straight into stock_levels on
PostgreSQL) stores a level reported twice once, with its last report; a pull that dies before its
commit leaves nothing, and its re-run stores everything once; the stock tables' keys (checked per
statement, not by foreign keys) still refuse strays, follow deletes, and hold against a delete
running while a pull writes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from connectors.documents import StockLevel as Level
from connectors.errors import RetryableError
from connectors.mini_ledger import MiniLedgerConnector
from hub.extensions import db
from hub.inventory import pull as pull_module
from hub.inventory.pull import pull_stock
from hub.inventory.writers import ChunkWriter, FirstPullWriter, StagedWriter, held, stock_writer, zero_levels
from hub.models import Connection, Product, StockHistory, StockLevel, SyncRun, Warehouse
from hub.models.base import utcnow
from tests.support.stock import set_stock

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def stored(connection_id: int) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    rows = db.session.execute(
        select(Warehouse.code, StockLevel.sku, StockLevel.on_hand, StockLevel.reserved, StockLevel.available)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(StockLevel.connection_id == connection_id)
    )
    return {(code, sku): (Decimal(a), Decimal(b), Decimal(c)) for code, sku, a, b, c in rows}


def level(sku: str, warehouse: str, on_hand: int, minutes: int = 0) -> Level:
    q = Decimal(on_hand)
    return Level(sku, warehouse, q, Decimal(0), q, T0 + timedelta(minutes=minutes))


@pytest.fixture
def pump(app):
    with app.app_context():
        product = Product(sku="PUMP", name="Pump", list_price=Decimal(100), currency="EUR")
        db.session.add(product)
        db.session.commit()
        return product.id


def test_a_first_pull_stores_a_level_reported_twice_once_with_its_last_report(app, connection, pump, monkeypatch):
    # Pages that moved while read: PUMP in WH1 comes again two chunks later, and a warehouse first
    # appears in a later chunk (the straight COPY is ended to look it up, then goes on).
    levels = [
        level("PUMP", "WH1", 5),
        level("A", "WH1", 1),
        level("B", "WH1", 2),
        level("A", "WH2", 3),
        level("PUMP", "WH1", 7, minutes=1),
        level("C", "WH2", 4),
    ]
    monkeypatch.setattr(pull_module, "CHUNK", 2)
    monkeypatch.setattr(MiniLedgerConnector, "pull_stock", lambda self, since=None: iter(levels))
    with app.app_context():
        # SQLite's writer compares chunk by chunk: it sees PUMP change within the pull, once more.
        again = db.engine.dialect.name != "postgresql"
        result = pull_stock(connection, full=True)
        assert (result.mode, result.rows, result.changed, result.error) == ("full", 6, 5 + again, None)
        assert result.product_ids == {pump}
        assert stored(connection) == {
            ("WH1", "PUMP"): (Decimal(7), Decimal(0), Decimal(7)),
            ("WH1", "A"): (Decimal(1), Decimal(0), Decimal(1)),
            ("WH1", "B"): (Decimal(2), Decimal(0), Decimal(2)),
            ("WH2", "A"): (Decimal(3), Decimal(0), Decimal(3)),
            ("WH2", "C"): (Decimal(4), Decimal(0), Decimal(4)),
        }
        pump_level = db.session.scalar(select(StockLevel).where(StockLevel.sku == "PUMP"))
        assert (pump_level.product_id, pump_level.as_of) == (pump, T0 + timedelta(minutes=1))
        history = db.session.execute(select(StockHistory.sku, StockHistory.on_hand).order_by(StockHistory.sku)).all()
        assert sorted((sku, Decimal(q)) for sku, q in history) == [
            ("A", Decimal(1)),
            ("A", Decimal(3)),
            ("B", Decimal(2)),
            ("C", Decimal(4)),
            *([("PUMP", Decimal(5))] if again else []),
            ("PUMP", Decimal(7)),
        ]


def test_the_writer_is_chosen_by_whether_the_connection_has_levels(app, connection, ledger, monkeypatch):
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"  # SQLite has no COPY: one upsert per chunk
        connection_row = db.session.get(Connection, connection)
        with stock_writer(connection_row, utcnow()) as writer:
            assert isinstance(writer, FirstPullWriter if postgres else ChunkWriter)
        db.session.rollback()
        # The plain path (HUB_PLAIN_PATHS=copy) stages a first pull too.
        monkeypatch.setenv("HUB_PLAIN_PATHS", "copy")
        with stock_writer(db.session.get(Connection, connection), utcnow()) as writer:
            assert isinstance(writer, StagedWriter if postgres else ChunkWriter)
        db.session.rollback()
        monkeypatch.delenv("HUB_PLAIN_PATHS")
        set_stock(ledger, {"sku": "A", "warehouse": "WH1", "on_hand": 1, "reserved": 0})
        assert pull_stock(connection, full=True).error is None
        with stock_writer(db.session.get(Connection, connection), utcnow()) as writer:
            assert isinstance(writer, StagedWriter if postgres else ChunkWriter)
        db.session.rollback()


@pytest.mark.postgresql  # statistics are PostgreSQL's planner's
@pytest.mark.parametrize("plain_paths", ["", "copy"], ids=["copied straight in", "staged"])
def test_a_first_pull_leaves_statistics_that_count_its_levels(app, connection, ledger, monkeypatch, plain_paths):
    """COPYed in one go, a catalogue would be invisible to the planner until autovacuum came by,
    and the next pull's joins would be planned for the few levels the statistics counted. The same
    when the first pull is staged like a later one (HUB_PLAIN_PATHS=copy)."""
    monkeypatch.setenv("HUB_PLAIN_PATHS", plain_paths)
    set_stock(ledger, *({"sku": f"S{i}", "warehouse": f"WH{i % 2}", "on_hand": i, "reserved": 0} for i in range(137)))
    with app.app_context():
        # Statistics outlive the rows: another test's pull must not have counted 137 already.
        db.session.execute(text("ANALYZE stock_levels"))
        db.session.commit()
        assert pull_stock(connection, full=True).error is None
        counted = db.session.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'stock_levels'::regclass")
        ).scalar_one()
        assert counted == count(StockLevel) == 137


class Killed(BaseException):
    """Stands for the worker dying: not an error the pull handles."""


@pytest.mark.parametrize("first", [True, False], ids=["first pull", "later pull"])
def test_a_pull_that_dies_after_writing_leaves_nothing_and_its_rerun_stores_everything_once(
    app, ledger, connection, pump, monkeypatch, first
):
    items = [{"sku": f"S{i:03d}", "warehouse": wh, "on_hand": i, "reserved": 0} for i in range(30) for wh in "XY"]
    if not first:
        set_stock(ledger, {"sku": "PUMP", "warehouse": "X", "on_hand": 1, "reserved": 0})
        with app.app_context():
            assert pull_stock(connection, full=True).error is None
    set_stock(ledger, *items, {"sku": "PUMP", "warehouse": "X", "on_hand": 3, "reserved": 0})
    levels_before = 0 if first else 1
    monkeypatch.setattr(pull_module, "CHUNK", 7)

    def die(product_ids):
        # Levels and history are written, the commit has not happened: the worker is killed here.
        raise Killed

    monkeypatch.setattr("hub.inventory.alerts.evaluate", die)
    with app.app_context():
        with pytest.raises(Killed):
            pull_stock(connection, full=True)
        db.session.rollback()  # what the dead worker's dropped connection does on the server
        assert count(StockLevel) == levels_before
        assert count(StockHistory) == levels_before
        assert count(Warehouse) == (0 if first else 1)

    monkeypatch.undo()
    with app.app_context():
        result = pull_stock(connection, full=True)
        assert (result.rows, result.changed, result.error) == (61, 61, None)
        assert count(StockLevel) == 61
        # One history row per level, and the earlier pull's one for PUMP.
        assert count(StockHistory) == 61 + levels_before
        assert count(StockHistory, StockHistory.sku == "PUMP") == 1 + levels_before
        assert stored(connection)[("X", "PUMP")] == (Decimal(3), Decimal(0), Decimal(3))
        assert db.session.scalar(select(StockLevel.product_id).where(StockLevel.sku == "PUMP")) == pump
        runs = db.session.scalars(select(SyncRun.outcome).where(SyncRun.operation == "pull_stock")).all()
        assert len(runs) == (1 if first else 2)


def test_a_page_that_fails_half_way_through_a_first_pull_leaves_nothing(app, ledger, connection, monkeypatch):
    set_stock(ledger, *({"sku": f"S{i:03d}", "warehouse": "X", "on_hand": i, "reserved": 0} for i in range(30)))
    monkeypatch.setattr("connectors.mini_ledger.STOCK_PAGE", 10)
    # Two chunks are written before the third page fails: on PostgreSQL the first pull's COPY is
    # open then, and is abandoned.
    monkeypatch.setattr(pull_module, "CHUNK", 7)
    real_get = MiniLedgerConnector.__init__

    def failing_third_page(self, *args, **kwargs):
        real_get(self, *args, **kwargs)
        get = self.http.get

        def get_page(path, **kw):
            if kw.get("params", {}).get("cursor") == 20:
                raise RetryableError("the ledger went away")
            return get(path, **kw)

        self.http.get = get_page

    monkeypatch.setattr(MiniLedgerConnector, "__init__", failing_third_page)
    with app.app_context():
        result = pull_stock(connection, full=True)
        assert result.error == "the ledger went away"
        assert (count(StockLevel), count(StockHistory)) == (0, 0)
    monkeypatch.undo()
    with app.app_context():
        result = pull_stock(connection, full=True)
        assert (result.rows, result.changed, result.error) == (30, 30, None)
        assert (count(StockLevel), count(StockHistory)) == (30, 30)


def test_stock_rows_must_sit_in_a_warehouse_of_their_connection_and_link_an_existing_product(
    app, ledger, connection, pump
):
    set_stock(ledger, {"sku": "PUMP", "warehouse": "WH1", "on_hand": 5, "reserved": 0})
    with app.app_context():
        assert pull_stock(connection, full=True).error is None
        level_row = db.session.scalar(select(StockLevel))
        other = Connection(name="Other", type="mini_ledger", config={})
        db.session.add(other)
        db.session.commit()
        other_id, warehouse_id = other.id, level_row.warehouse_id
        stray = {"warehouse_id": warehouse_id, "sku": "X", "on_hand": 1, "available": 1, "as_of": utcnow()}
        for model, values in (
            (StockHistory, {"connection_id": other_id, **stray}),
            (StockLevel, {"connection_id": other_id, "reserved": 0, "pulled_at": utcnow(), **stray}),
            (
                StockLevel,
                {"connection_id": connection, "reserved": 0, "pulled_at": utcnow(), **stray, "product_id": -1},
            ),
        ):
            db.session.add(model(**values))
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()
        # Moved to another connection's warehouse, or linked to no product, by an update.
        for change in ({"connection_id": other_id}, {"product_id": 0}):
            with pytest.raises(IntegrityError):
                db.session.execute(StockLevel.__table__.update().values(**change))
            db.session.rollback()
        with pytest.raises(IntegrityError):
            db.session.execute(StockHistory.__table__.update().values(connection_id=other_id))
        db.session.rollback()


def test_deleting_a_product_unlinks_its_levels_and_deleting_a_warehouse_drops_its_stock(app, ledger, connection, pump):
    set_stock(
        ledger,
        {"sku": "PUMP", "warehouse": "WH1", "on_hand": 5, "reserved": 0},
        {"sku": "PUMP", "warehouse": "WH2", "on_hand": 6, "reserved": 0},
    )
    with app.app_context():
        assert pull_stock(connection, full=True).error is None
        assert count(StockLevel, StockLevel.product_id == pump) == 2
        db.session.delete(db.session.get(Product, pump))
        db.session.commit()
        assert count(StockLevel) == 2
        assert count(StockLevel, StockLevel.product_id.is_not(None)) == 0
        db.session.delete(db.session.scalar(select(Warehouse).where(Warehouse.code == "WH1")))
        db.session.commit()
        assert [lv.warehouse.code for lv in db.session.scalars(select(StockLevel))] == ["WH2"]
        assert count(StockHistory) == 1


def _waiting_on_a_lock(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn, autocommit=True) as watcher:
        row = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        return row is not None and row[0] == "Lock"


@pytest.mark.postgresql  # SQLite has one writer at a time
@pytest.mark.parametrize("deleted", ["warehouse", "product"])
def test_a_delete_running_while_a_pull_writes_waits_for_it_and_then_sees_its_rows(
    app, connection, pump, monkeypatch, deleted
):
    with app.app_context():
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Known before the pull (a warehouse the pull creates is its own until it commits).
        db.session.add(Warehouse(connection_id=connection, code="WH1", name="WH1"))
        db.session.commit()
    levels = [level("PUMP", "WH1", 5), level("A", "WH1", 1)]
    monkeypatch.setattr(MiniLedgerConnector, "pull_stock", lambda self, since=None: iter(levels))
    # A warehouse, not its connection: deleting the connection would also wait for the pull's own
    # update of that connection row, a deadlock PostgreSQL ends by failing one of the two.
    sql, key = {
        "warehouse": ("DELETE FROM warehouses WHERE connection_id = %s", connection),
        "product": ("DELETE FROM products WHERE id = %s", pump),
    }[deleted]
    done = threading.Event()
    pid: list[int] = []

    def delete_meanwhile() -> None:
        with psycopg.connect(dsn, autocommit=True) as other:
            pid.append(other.info.backend_pid)
            other.execute(sql, (key,))
        done.set()

    def evaluate_then_wait(product_ids):
        # The pull has written its rows and holds what they refer to: the delete starts now, and
        # the pull commits once the delete is seen waiting.
        thread.start()
        deadline = time.monotonic() + 30
        while not (pid and _waiting_on_a_lock(dsn, pid[0])):
            assert not done.is_set(), "the delete went through without waiting for the pull"
            assert time.monotonic() < deadline, "the delete never waited for the pull"
            time.sleep(0.05)
        return []

    thread = threading.Thread(target=delete_meanwhile)
    monkeypatch.setattr("hub.inventory.alerts.evaluate", evaluate_then_wait)
    with app.app_context():
        assert pull_stock(connection, full=True).error is None
    thread.join(30)
    assert done.is_set()
    with app.app_context():
        if deleted == "warehouse":
            assert (count(StockLevel), count(StockHistory), count(Warehouse)) == (0, 0, 0)
        else:
            assert count(StockLevel) == 2
            assert count(StockLevel, StockLevel.product_id.is_not(None)) == 0


@pytest.mark.postgresql  # SQLite has one writer at a time
def test_a_warehouse_or_product_renamed_while_a_pull_writes_does_not_wait_for_it(app, connection, pump, monkeypatch):
    # The pull holds what its rows refer to by the key alone (FOR KEY SHARE): a delete waits for
    # it, a rename is no change of key and goes through at once. Were it to wait, it would wait for
    # a pull blocked on it here; the lock timeout ends that as an error.
    with app.app_context():
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        db.session.add(Warehouse(connection_id=connection, code="WH1", name="WH1"))
        db.session.commit()
    monkeypatch.setattr(MiniLedgerConnector, "pull_stock", lambda self, since=None: iter([level("PUMP", "WH1", 5)]))

    def rename_meanwhile(product_ids):
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("SET lock_timeout = '10s'")
            other.execute("UPDATE warehouses SET name = 'Main store' WHERE connection_id = %s", (connection,))
            other.execute("UPDATE products SET name = 'Pump, renamed' WHERE id = %s", (pump,))
        return []

    monkeypatch.setattr("hub.inventory.alerts.evaluate", rename_meanwhile)
    with app.app_context():
        assert pull_stock(connection, full=True).error is None
        assert db.session.scalars(select(Warehouse.name)).all() == ["Main store"]
        assert db.session.get(Product, pump).name == "Pump, renamed"
        assert count(StockLevel, StockLevel.product_id == pump) == 1


def _connection(name: str) -> Connection:
    row = Connection(name=name, type="mini_ledger", config={})
    db.session.add(row)
    db.session.commit()
    return row


def test_each_connection_stores_its_levels_in_warehouses_of_its_own(app, pump):
    # Two connections with a warehouse of the same code: each gets its own (mutants of
    # `_warehouse_ids`' look-up that find another connection's warehouse).
    with app.app_context():
        first, second = _connection("First"), _connection("Second")
        for connection, on_hand in ((first, 5), (second, 7)):
            with stock_writer(connection, T0) as writer:
                writer.add([level("PUMP", "WH1", on_hand)])
                assert writer.finish() == (1, {pump})
            db.session.commit()
        owners = dict(
            db.session.execute(select(Warehouse.id, Warehouse.connection_id).where(Warehouse.code == "WH1")).all()
        )
        assert sorted(owners.values()) == [first.id, second.id]
        placed = db.session.execute(select(StockLevel.connection_id, StockLevel.warehouse_id, StockLevel.on_hand))
        assert sorted((c, owners[w], Decimal(q)) for c, w, q in placed) == [
            (first.id, first.id, Decimal(5)),
            (second.id, second.id, Decimal(7)),
        ]


def test_what_a_connection_holds_is_its_stock_that_is_not_zero(app):
    # held(): each of on hand, reserved and available counts alone; another connection's stock
    # and other warehouses (when asked for some) do not.
    zero, one = Decimal(0), Decimal(1)
    with app.app_context():
        first, second = _connection("First"), _connection("Second")
        for connection, levels in (
            (
                first,
                [
                    Level("NOTHING", "WH1", zero, zero, zero, T0),
                    Level("ON-HAND", "WH1", one, zero, zero, T0),
                    Level("RESERVED", "WH1", zero, one, zero, T0),
                    Level("AVAILABLE", "WH1", zero, zero, one, T0),
                    Level("ALL", "WH2", one, one, one, T0),
                ],
            ),
            (second, [Level("ELSEWHERE", "WH1", one, one, one, T0)]),
        ):
            with stock_writer(connection, T0) as writer:
                writer.add(levels)
                writer.finish()
            db.session.commit()
        assert held(first) == {("ON-HAND", "WH1"), ("RESERVED", "WH1"), ("AVAILABLE", "WH1"), ("ALL", "WH2")}
        assert held(first, {"WH2"}) == {("ALL", "WH2")}
        assert held(first, set()) == set()
        assert held(second) == {("ELSEWHERE", "WH1")}


def test_a_complete_pull_sets_to_zero_what_the_target_no_longer_reports(app, connection, pump, monkeypatch):
    # Odoo deletes a quant that drops to nothing: a level a full read leaves out is zero from then
    # on, with a history row saying so, as of the pull (written by the database's own writer: on
    # PostgreSQL the staged one, like any other changed level).
    reports = [[level("PUMP", "WH1", 5), level("A", "WH2", 3)], [level("A", "WH2", 3, minutes=60)]]
    monkeypatch.setattr(MiniLedgerConnector, "pull_stock", lambda self, since=None: iter(reports.pop(0)))
    with app.app_context():
        assert pull_stock(connection, full=True).error is None
        result = pull_stock(connection, full=True)
        assert (result.rows, result.zeroed, result.changed, result.error) == (1, 1, 1, None)
        assert result.product_ids == {pump}
        zero = Decimal(0)
        assert stored(connection) == {
            ("WH1", "PUMP"): (zero, zero, zero),
            ("WH2", "A"): (Decimal(3), zero, Decimal(3)),
        }
        gone = db.session.scalar(select(StockLevel).where(StockLevel.sku == "PUMP"))
        assert gone.as_of == gone.pulled_at
        history = db.session.execute(
            select(StockHistory.on_hand, StockHistory.available, StockHistory.as_of)
            .where(StockHistory.sku == "PUMP")
            .order_by(StockHistory.id)
        ).all()
        assert [(Decimal(a), Decimal(b), at) for a, b, at in history] == [
            (Decimal(5), Decimal(5), T0),
            (zero, zero, gone.pulled_at),
        ]


def test_levels_of_nothing_come_in_a_stable_order():
    zero = Decimal(0)
    assert zero_levels({("B", "WH2"), ("A", "WH2"), ("A", "WH1")}, T0) == [
        Level("A", "WH1", zero, zero, zero, T0),
        Level("A", "WH2", zero, zero, zero, T0),
        Level("B", "WH2", zero, zero, zero, T0),
    ]


def test_a_later_pull_counts_and_records_only_the_levels_that_changed(app, pump):
    # A level reported again as it was is no change; one whose available moved alone is (the
    # stored levels compared by warehouse, SKU, on hand and available: `_upsert`'s look-up of
    # them). The products come from every chunk, not the last one only.
    with app.app_context():
        first = _connection("First")
        valve = Product(sku="VALVE", name="Valve", list_price=Decimal(10), currency="EUR")
        db.session.add(valve)
        db.session.commit()
        with stock_writer(first, T0) as writer:
            writer.add([level("PUMP", "WH1", 5), level("VALVE", "WH1", 5)])
            writer.add([level("A", "WH2", 1)])
            assert writer.finish() == (3, {pump, valve.id})
        db.session.commit()
        later = T0 + timedelta(hours=1)
        with stock_writer(first, later) as writer:
            writer.add([level("PUMP", "WH1", 5, minutes=60)])  # as it was
            writer.add([Level("VALVE", "WH1", Decimal(5), Decimal(1), Decimal(4), later)])  # 1 reserved now
            writer.add([level("A", "WH2", 1, minutes=60)])
            assert writer.finish() == (1, {valve.id})
        db.session.commit()
        history = db.session.execute(select(StockHistory.sku, StockHistory.available).order_by(StockHistory.id))
        assert [(sku, Decimal(q)) for sku, q in history] == [
            ("PUMP", Decimal(5)),
            ("VALVE", Decimal(5)),
            ("A", Decimal(1)),
            ("VALVE", Decimal(4)),
        ]
        assert stored(first.id)[("WH1", "VALVE")] == (Decimal(5), Decimal(1), Decimal(4))
