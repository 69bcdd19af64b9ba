"""The Mini Ledger connector's stock reading, which reads pages ahead in a helper thread: every page
in order, an error on a later page raised in the caller, and a read stopped half-way ending cleanly."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests

from connectors.errors import RetryableError
from connectors.mini_ledger import MiniLedgerConnector
from tests.conftest import LEDGER_KEY

ROWS = [{"sku": f"S{i:03d}", "warehouse": "W", "on_hand": i, "reserved": 1} for i in range(25)]


@pytest.fixture
def connector(ledger, monkeypatch):
    monkeypatch.setattr("connectors.mini_ledger.STOCK_PAGE", 4)  # 25 levels: 7 pages
    monkeypatch.setattr("connectors.mini_ledger.PAGES_AHEAD", 2)
    requests.put(f"{ledger.url}/api/stock", json={"items": ROWS}, headers={"X-Api-Key": LEDGER_KEY}, timeout=5)
    connector = MiniLedgerConnector({"base_url": ledger.url, "api_key": LEDGER_KEY, "timeout": 2})
    yield connector
    connector.close()


def test_every_page_is_read_in_order(connector):
    levels = list(connector.pull_stock())
    assert [(lv.sku, lv.on_hand, lv.reserved, lv.available) for lv in levels] == [
        (row["sku"], Decimal(row["on_hand"]), Decimal(1), Decimal(row["on_hand"] - 1)) for row in ROWS
    ]
    pages = [(ex.method, ex.url) for ex in connector.take_exchanges()]
    assert pages == [("GET", f"{connector.config['base_url']}/api/stock")] * 7


def test_an_error_on_a_later_page_is_raised_in_the_caller(connector, ledger):
    levels = connector.pull_stock()
    first = [next(levels) for _ in range(4)]
    assert [lv.sku for lv in first] == ["S000", "S001", "S002", "S003"]
    requests.put(f"{ledger.url}/_faults", json={"error_rate": 1.0}, timeout=5)
    with pytest.raises(RetryableError):
        # The pages already read ahead come first, then the failed one's error.
        list(levels)
    assert not [t for t in threading.enumerate() if t.name.startswith("mini-ledger-stock")]


def test_a_read_stopped_half_way_ends_the_reader(connector):
    levels = connector.pull_stock()
    assert next(levels).sku == "S000"
    levels.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("mini-ledger-stock")]
