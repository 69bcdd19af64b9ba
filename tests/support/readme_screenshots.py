"""`make screenshots`: the README's pictures in docs/images/, drawn from the demo data by the
browser tests' chromium: the pipeline board as sales see it after log-in, in English, Russian and
Bengali (the browser's language picks the page's), and the PDF of an invoice for a customer who
prefers Bengali.

It works on a scratch SQLite database in a temporary folder (instance/ is never touched) and
serves the app on a free port for the time it takes. Each PNG is a 1280x800 window (the PDF: its
first page down to its last line) reduced to 128 colours, under 100 KB.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask
from flask_migrate import upgrade
from PIL import Image, ImageOps
from sqlalchemy import select
from werkzeug.serving import make_server

from hub import MIGRATIONS_DIR, create_app
from hub.audit import acting_as
from hub.extensions import db
from hub.models import ApiToken, User
from hub.seed import seed
from hub.services import company
from tests.support.ui_fixtures import CHROMIUM, CHROMIUM_ARGS, log_in, pdf_screenshot

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PASSWORD = "demo-password-1"
WINDOW = {"width": 1280, "height": 800}
BOARDS = {"en": "en-GB", "ru": "ru-RU", "bn": "bn-BD"}


def bengali_invoice(app: Flask) -> int:
    """A demo customer writing in Bengali wins a deal, through the API as sales would: its invoice's id."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "sales@demo.crmhub.test"))
        token, clear = ApiToken.issue(user, "screenshots")
        db.session.add(token)
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {clear}"}

    def post(path: str, body: dict | None = None) -> dict:
        answer = client.post(path, json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.get_data(as_text=True)
        return answer.json

    customer = post(
        "/api/v1/customers",
        {
            "name": "পদ্মা টেক্সটাইল লিমিটেড",
            "billing_street": "আগ্রাবাদ বাণিজ্যিক এলাকা ৫",
            "billing_city": "চট্টগ্রাম",
            "billing_country": "BD",
            "default_currency": "EUR",
            "preferred_language": "bn",
        },
    )
    lines = [
        {"sku": "PUMP-250", "quantity": 2, "description": "কেন্দ্রাতিগ পাম্প ২৫০ লি/মিনিট"},
        {"sku": "VALVE-50", "quantity": 12, "description": "বল ভালভ DN50", "discount_percent": "5"},
        {"sku": "SENSOR-P", "quantity": 4, "description": "চাপ সেন্সর ০–১৬ বার"},
    ]
    deal = post("/api/v1/deals", {"title": "পাম্প স্টেশন", "customer_id": customer["id"], "lines": lines})
    return post(f"/api/v1/deals/{deal['id']}/won")["invoices"][0]["id"]


def _drawn_height(picture: Image.Image, gap: int = 150) -> int:
    """Where the first blank band of `gap` rows starts (below the totals, above the page number), plus a margin."""
    ink = ImageOps.invert(picture.convert("L")).point(lambda v: 255 if v > 60 else 0)
    blank_since = None
    for y in range(picture.height):
        if ink.crop((0, y, picture.width, y + 1)).getbbox():
            blank_since = None
        elif blank_since is None:
            blank_since = y
        elif y - blank_since >= gap:
            return blank_since + 30
    return picture.height


def save(png: Path, trim: bool = False) -> None:
    """Reduce to 128 colours (GitHub shows the pictures scaled down anyway); `trim` cuts the white
    below the drawing (a PDF page's empty lower half)."""
    with Image.open(png) as image:
        picture = image.convert("RGB")
    if trim:
        picture = picture.crop((0, 0, picture.width, _drawn_height(picture)))
    picture.quantize(colors=128).save(png, optimize=True)
    print(f"{png.relative_to(IMAGES.parents[1])}: {picture.width}x{picture.height}, {png.stat().st_size // 1024} KB")


def shoot(app: Flask, invoice_id: int) -> None:
    from playwright.sync_api import sync_playwright

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for lang, locale in BOARDS.items():
                context = browser.new_context(base_url=base_url, locale=locale, viewport=WINDOW)
                page = context.new_page()
                log_in(page, "sales@demo.crmhub.test", PASSWORD)
                assert page.locator("html").get_attribute("lang") == lang
                page.screenshot(path=str(IMAGES / f"board-{lang}.png"))
                save(IMAGES / f"board-{lang}.png")
                context.close()
            context = browser.new_context(base_url=base_url, locale="bn-BD")
            page = context.new_page()
            log_in(page, "finance@demo.crmhub.test", PASSWORD)
            pdf = page.request.get(f"/invoices/{invoice_id}.pdf")
            assert pdf.ok, pdf.status
            save(pdf_screenshot(pdf.body(), "invoice-bn", folder=IMAGES, dpi=110), trim=True)
            context.close()
            browser.close()
    finally:
        server.shutdown()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["HUB_INSTANCE_PATH"] = scratch
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{scratch}/hub.db",
                "SECRET_KEY": "screenshots",
                "HUB_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            }
        )
        logging.getLogger("alembic").setLevel(logging.WARNING)
        with app.app_context(), acting_as(None, "seed-demo"):
            upgrade(directory=MIGRATIONS_DIR)
            # The demo connection's ERP is never reached: no worker runs here.
            seed(PASSWORD, erp_url="http://127.0.0.1:9")
            # The seller block of the PDF (the demo leaves the company page empty).
            company.save_profile(
                {
                    "name": "Hydro Parts Handels GmbH",
                    "address": "Hauptstraße 1\n10115 Berlin\nDeutschland",
                    "tax_id": "DE123456789",
                    "bank_details": "IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX",
                }
            )
        shoot(app, bengali_invoice(app))
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
