"""Lists count their matches up to a limit: past it, `total` is a floor and `total_exact` says so."""

from __future__ import annotations

from hub.services import queries


def test_list_counts_up_to_the_limit_then_says_the_total_is_a_floor(sales, monkeypatch):
    for i in range(5):
        assert sales.post("/api/v1/customers", json={"name": f"Customer {i}"}).status_code == 201
    page = sales.get("/api/v1/customers?per_page=2").json
    assert (page["total"], page["total_exact"], len(page["items"])) == (5, True, 2)

    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    page = sales.get("/api/v1/customers?per_page=2&page=3").json
    assert (page["total"], page["total_exact"]) == (3, False)
    assert [c["name"] for c in page["items"]] == ["Customer 4"]  # paging goes on past the count


def test_a_list_over_the_limit_is_recounted_only_now_and_then_and_each_filter_on_its_own(sales, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    ids = [sales.post("/api/v1/customers", json={"name": f"Customer {i}"}).json["id"] for i in range(5)]
    assert sales.get("/api/v1/customers").json["total_exact"] is False
    for customer_id in ids[:4]:
        assert sales.delete(f"/api/v1/customers/{customer_id}").status_code == 204

    # Within the re-count interval the list is still taken to be over the limit, but a filter
    # is a list of its own and is counted exactly.
    assert (sales.get("/api/v1/customers").json["total_exact"], len(sales.get("/api/v1/customers").json["items"])) == (
        False,
        1,
    )
    assert sales.get("/api/v1/customers?q=Customer 4").json["total"] == 1

    monkeypatch.setattr(queries, "OVER_LIMIT_RECOUNT_S", 0.0)
    page = sales.get("/api/v1/customers").json
    assert (page["total"], page["total_exact"]) == (1, True)
