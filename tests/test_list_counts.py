"""Lists count their matches up to a limit: past it, `total` is a floor and `total_exact` says so."""

from __future__ import annotations

from hub.api import base


def test_list_counts_up_to_the_limit_then_says_the_total_is_a_floor(sales, monkeypatch):
    for i in range(5):
        assert sales.post("/api/v1/customers", json={"name": f"Customer {i}"}).status_code == 201
    page = sales.get("/api/v1/customers?per_page=2").json
    assert (page["total"], page["total_exact"], len(page["items"])) == (5, True, 2)

    monkeypatch.setattr(base, "COUNT_LIMIT", 3)
    page = sales.get("/api/v1/customers?per_page=2&page=3").json
    assert (page["total"], page["total_exact"]) == (3, False)
    assert [c["name"] for c in page["items"]] == ["Customer 4"]  # paging goes on past the count
