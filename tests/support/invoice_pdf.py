"""What the invoice PDF tests share: a won deal's invoice for a customer of the test's choosing,
and a PDF's text as poppler reads it."""

from __future__ import annotations

import subprocess


def win(sales, admin, customer: dict, description: str) -> dict:
    """A won deal of one line for a new customer: its hub invoice."""
    if admin.get("/api/v1/products?sku=W-1").json["total"] == 0:
        product = {"sku": "W-1", "name": "Widget", "list_price": "1234.50", "currency": "EUR", "tax_rate": "0.19"}
        assert admin.post("/api/v1/products", json=product).status_code == 201
    made = sales.post("/api/v1/customers", json={"default_currency": "EUR", **customer})
    assert made.status_code == 201, made.json
    deal = sales.post(
        "/api/v1/deals",
        json={
            "title": "Order",
            "customer_id": made.json["id"],
            "lines": [{"sku": "W-1", "quantity": 2, "description": description}],
        },
    ).json
    won = sales.post(f"/api/v1/deals/{deal['id']}/won")
    assert won.status_code == 200, won.json
    return won.json["invoices"][0]


def text_of(data: bytes) -> str:
    """The PDF's text as poppler's pdftotext reads it (`make fonts` installs poppler-utils),
    without white space: extractors put spaces where glyphs stand apart (around a Bengali vowel
    sign), which says nothing about the characters or their order. (pypdf reads shaped Bengali
    glyphs without their ToUnicode text, so it is not the judge here.)"""
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True)
    assert not done.stderr, done.stderr  # e.g. "No font in show": a line drawn without its font
    return "".join(done.stdout.decode("utf-8").split())


def squeezed(text: str) -> str:
    return "".join(text.split())
