"""The API describes itself: a valid OpenAPI 3 document naming every route, and a docs page that
works offline (its assets come from the hub itself, never from a CDN)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from openapi_spec_validator import validate

V = "/api/v1"
CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def spec(client) -> dict:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    assert r.is_json
    return r.json


def test_the_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "CRM–ERP Hub"
    validate(spec)  # raises with the offending path when invalid


def test_every_api_route_is_documented_with_its_methods(app, spec):
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule != V and not rule.rule.startswith(V + "/"):
            continue
        path = CONVERTER.sub(r"{\1}", rule.rule)
        missing += [(path, m) for m in sorted(rule.methods - {"HEAD", "OPTIONS"}) if (path, m) not in documented]
    assert missing == []
    assert all(path.startswith(V) for path in spec["paths"])


def test_amounts_are_documented_as_the_strings_they_travel_as(spec, sales):
    """A deal's amounts are answered as "0.00"; a document saying `number` made clients (and the
    fuzz test, once it won a deal) read them as something else."""
    schemas = spec["components"]["schemas"]
    numbers = [
        (name, field)
        for name, s in schemas.items()
        for field, p in s.get("properties", {}).items()
        if p.get("type") == "number"
    ]
    assert numbers == []
    for field in ("total", "subtotal", "tax_total", "discount_total"):
        assert schemas["DealOut"]["properties"][field]["type"] == "string", field
    assert schemas["DealLineIn"]["properties"]["quantity"] == {"type": "string", "format": "decimal"}
    customer = sales.post("/api/v1/customers", json={"name": "Fjord"}).json
    line = {"description": "Valve", "quantity": 2, "unit_price": "48.50"}  # a number is still taken
    deal = sales.post("/api/v1/deals", json={"title": "D", "customer_id": customer["id"], "lines": [line]}).json
    assert (deal["total"], deal["lines"][0]["quantity"]) == ("97.00", "2.0000")


def test_path_parameters_and_errors_are_described(spec):
    for path, item in spec["paths"].items():
        for name in re.findall(r"{(\w+)}", path):
            declared = [p["name"] for p in item.get("parameters", []) if p["in"] == "path"]
            for operation in (op for key, op in item.items() if key != "parameters"):
                declared += [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert name in declared, f"{path} does not declare {name}"
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "errors"}
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert {"bearerAuth": []} in spec["security"]


class Assets(HTMLParser):
    """Every URL a page makes the browser load or go to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_docs_page_loads_only_local_assets(client, spec):
    r = client.get("/api/docs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "swagger-ui" in html
    assert '"/api/openapi.json"' in html

    for url in re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", html):
        assert urlsplit(url).hostname in (None, "localhost"), f"the docs page reaches out to {url}"
    parser = Assets()
    parser.feed(html)
    assert {u.rsplit("/", 1)[-1] for u in parser.urls} >= {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    for url in parser.urls:
        local = urljoin("http://localhost/api/docs", url)
        assert urlsplit(local).hostname == "localhost", url
        asset = client.get(urlsplit(local).path)
        assert asset.status_code == 200, url
        assert len(asset.data) > 1000, url
        asset.close()
    assert client.get("/api/docs/assets/../../../../etc/passwd").status_code == 404


def test_the_api_root_points_at_the_docs(client):
    r = client.get(V)
    assert r.status_code == 200
    assert r.json == {"openapi": "/api/openapi.json", "docs": "/api/docs"}
