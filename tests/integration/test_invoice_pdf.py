"""The invoice PDF prints every script and is an invoice a company can send: names in Cyrillic,
Bengali and both at once come out as text (read back with pypdf), in embedded font subsets; the
seller block from the company profile; labels, dates and amounts in the customer's language; the
number the invoice got in its target. The company profile page: admins only, CSRF, a logo that
is a PNG or JPEG of sane size."""

from __future__ import annotations

import io
import re
import subprocess

import pytest
from PIL import Image
from pypdf import PdfReader

from hub.sync.worker import drain
from tests.support.invoice_pdf import squeezed, text_of, win
from tests.support.sessions import logged_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pdf_of(caller, invoice: dict) -> bytes:
    response = caller.get(f"/invoices/{invoice['id']}.pdf")
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/pdf"
    return response.data


def fonts_of(data: bytes) -> dict[str, bool]:
    """Each font the pages use: its base name → whether its program is embedded in the file."""
    found = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            found[str(font["/BaseFont"])] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return found


NAMES = {
    "cyrillic": ("ООО «Ромашка» Пётр Иванов", "Стул офисный, ёлка", "Москва", "ул. Тверская, 7"),
    # The street's line starts in the Bengali font, the city's next line in the body font (a case
    # fpdf2 once drew without any font).
    "bengali": ("রবীন্দ্রনাথ ঠাকুর ট্রেডার্স", "কাঠের চেয়ার", "Dhaka", "মিরপুর রোড ১২"),
    "mixed": ("Acme ООО রহিম & Co", "Chair стул চেয়ার", "Köln", "Straße 5 улица রোড"),
}


@pytest.mark.parametrize("script", sorted(NAMES))
def test_names_in_every_script_are_text_in_embedded_font_subsets(app, sales, admin, call, script):
    name, description, city, street = NAMES[script]
    invoice = win(sales, admin, {"name": name, "billing_city": city, "billing_street": street}, description)

    data = pdf_of(call("finance"), invoice)

    text = text_of(data)
    for expected in (name, description, city, street, invoice["number"]):
        assert squeezed(expected) in text
    assert "?" not in text
    fonts = fonts_of(data)
    assert fonts, "the PDF uses no font"
    # Embedded, and subsets (a six-letter tag before the name): a few kB per script, not the whole font.
    assert all(fonts.values()), fonts
    assert all(re.fullmatch(r"/[A-Z]{6}\+\w+", base) for base in fonts), fonts
    bengali_fonts = {base for base in fonts if "Bengali" in base}
    assert bool(bengali_fonts) == (script != "cyrillic")


def _png(width: int = 120, height: int = 40) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(out, "PNG")
    return out.getvalue()


def _company_form(client, **fields):
    token = CSRF.search(client.get("/admin/company").get_data(as_text=True)).group(1)
    return client.post("/admin/company", data={"csrf_token": token, **fields}, content_type="multipart/form-data")


PROFILE = {
    "name": "ООО «Хаб Системс»",
    "address": "Невский проспект, 1\n191186 Санкт-Петербург",
    "tax_id": "7812345678",
    "bank_details": "Банк «Пример», р/с 40702810900000000001, БИК 044525225",
    "payment_terms": "Оплата в течение 14 дней",
    "footer": "Спасибо за покупку! ধন্যবাদ",
}


def test_the_seller_block_prints_the_company_profile_and_the_target_number(
    app, users, sales, admin, call, ledger, connection
):
    browser = logged_in(app, users["admin"]["email"])
    saved = _company_form(browser, **PROFILE, logo=(io.BytesIO(_png()), "logo.png"))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    invoice = win(sales, admin, {"name": "Acme GmbH"}, "Widget")
    drain(app)  # pushed to the ledger: the invoice has a number there
    (link,) = admin.get(f"/api/v1/invoices/{invoice['id']}").json["links"]
    assert link["external_number"]

    data = pdf_of(call("finance"), invoice)

    text = text_of(data)
    for value in PROFILE.values():
        assert squeezed(value) in text
    assert squeezed(f"Number in Ledger: {link['external_number']}") in text
    assert "Duedate:" in text
    assert "Billto" in text
    images = [
        obj for page in PdfReader(io.BytesIO(data)).pages for obj in page["/Resources"].get("/XObject", {}).values()
    ]
    assert [img.get_object()["/Subtype"] for img in images] == ["/Image"]


def test_labels_dates_and_amounts_are_in_the_customers_language(app, sales, admin, call):
    russian = win(sales, admin, {"name": "Иванов", "preferred_language": "ru"}, "Стул")
    english = win(sales, admin, {"name": "Smith"}, "Chair")

    text = text_of(pdf_of(call("finance"), russian))
    assert squeezed(f"Счёт {russian['number']}") in text
    for label in ("Итогокоплате", "Срокоплаты", "Покупатель"):
        assert label in text
    assert "г." in text  # Babel's Russian date: "7 дек. 2026 г."
    assert "2938,11€" in text  # 2 × 1 234,50 + 19 %, with the Russian decimal comma
    assert "Total due" not in text

    text = text_of(pdf_of(call("finance"), english))
    assert squeezed(f"Invoice {english['number']}") in text
    assert "Totaldue€2,938.11" in text


def test_a_customer_without_a_language_gets_the_instance_default(app, sales, admin, call, monkeypatch):
    invoice = win(sales, admin, {"name": "Петров"}, "Стул")
    monkeypatch.setitem(app.config, "HUB_DEFAULT_LOCALE", "ru")
    text = text_of(pdf_of(call("finance"), invoice))
    assert "Итогокоплате" in text


def test_the_customer_language_is_checked_and_kept_by_the_api_and_the_form(app, users, sales):
    refused = sales.post("/api/v1/customers", json={"name": "X", "preferred_language": "de"})
    assert refused.status_code == 422
    assert "preferred_language" in refused.json["errors"]
    made = sales.post("/api/v1/customers", json={"name": "রহিম", "preferred_language": "bn"}).json
    assert made["preferred_language"] == "bn"

    browser = logged_in(app, users["sales"]["email"])
    page = browser.get(f"/customers/{made['id']}/edit").get_data(as_text=True)
    assert '<option value="bn" selected>বাংলা</option>' in page
    token = CSRF.search(page).group(1)
    saved = browser.post(
        f"/customers/{made['id']}/edit", data={"csrf_token": token, "name": "রহিম", "preferred_language": ""}
    )
    assert saved.status_code == 302
    assert sales.get(f"/api/v1/customers/{made['id']}").json["preferred_language"] is None


# ---- the company profile page -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "finance", "operations"])
def test_the_company_page_is_for_admins_only(app, users, role):
    browser = logged_in(app, users[role]["email"])
    assert browser.get("/admin/company").status_code == 403
    token = browser.get("/csrf-token").json["csrf_token"]
    refused = browser.post("/admin/company", data={"csrf_token": token, "name": "Mine now"})
    assert refused.status_code == 403
    with app.app_context():
        from hub.services.company import profile

        assert profile().name == ""


def test_the_company_form_needs_its_csrf_token(app, users):
    browser = logged_in(app, users["admin"]["email"])
    refused = browser.post("/admin/company", data={"name": "Forged Ltd"})
    assert refused.status_code == 400
    with app.app_context():
        from hub.services.company import profile

        assert profile().name == ""


@pytest.mark.parametrize(
    ("upload", "says"),
    [
        (b"%PDF-1.4 not an image", "must be a PNG or JPEG"),
        (b"GIF89a" + _png()[6:], "must be a PNG or JPEG"),
        (_png()[:60], "must be a PNG or JPEG"),  # a truncated PNG
        (_png(4001, 10), "at most 4000 pixels"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * (1024 * 1024 + 10), "larger than 1 MB"),
    ],
    ids=["pdf", "gif", "truncated", "too-wide", "too-large"],
)
def test_a_logo_that_is_no_sane_png_or_jpeg_is_refused_naming_the_field(app, users, upload, says):
    browser = logged_in(app, users["admin"]["email"])
    refused = _company_form(browser, name="Hub Ltd", logo=(io.BytesIO(upload), "logo.png"))
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert re.search(rf'<p class="field-error" id="err-logo">[^<]*{says}', page), page
    with app.app_context():
        from hub.services.company import profile

        assert (profile().name, profile().logo) == ("", None)  # nothing half-written


def test_an_admin_saves_the_profile_with_a_jpeg_logo_and_removes_it(app, users):
    browser = logged_in(app, users["admin"]["email"])
    jpeg = io.BytesIO()
    Image.new("RGB", (200, 80), (200, 30, 30)).save(jpeg, "JPEG")
    assert _company_form(browser, name="Hub Ltd", logo=(io.BytesIO(jpeg.getvalue()), "logo.jpg")).status_code == 302
    logo = re.search(r'<img src="(/admin/company/logo/\d+)"', browser.get("/admin/company").get_data(as_text=True))
    shown = browser.get(logo.group(1))
    assert (shown.status_code, shown.mimetype, shown.data) == (200, "image/jpeg", jpeg.getvalue())
    page = browser.get("/admin/company").get_data(as_text=True)
    assert 'value="Hub Ltd"' in page

    # Saved again without a file: the logo stays; "remove" drops it.
    assert _company_form(browser, name="Hub Ltd 2").status_code == 302
    assert browser.get(logo.group(1)).status_code == 200
    assert _company_form(browser, name="Hub Ltd 2", remove_logo="on").status_code == 302
    assert browser.get(logo.group(1)).status_code == 404
    assert "/admin/company/logo" not in browser.get("/admin/company").get_data(as_text=True)
    blank = _company_form(browser, name="")
    assert blank.status_code == 422
    assert 'id="err-name"' in blank.get_data(as_text=True)


def test_without_its_fonts_the_pdf_is_refused_naming_the_missing_file(app, sales, admin, call, tmp_path, monkeypatch):
    invoice = win(sales, admin, {"name": "Иванов"}, "Стул")
    monkeypatch.setitem(app.config, "HUB_PDF_FONT_DIR", str(tmp_path))  # no fonts there: never a PDF of "?"
    response = call("finance").get(f"/invoices/{invoice['id']}.pdf")
    assert response.status_code == 503
    assert f"{tmp_path}/NotoSans-Regular.ttf" in response.get_data(as_text=True)
    assert "fonts-noto-core" in response.get_data(as_text=True)


def test_a_long_invoice_runs_over_pages_with_its_heads_and_never_splits_a_line(app, sales, admin, call):
    long = "Очень длинное описание товара " * 8 + "কাঠের চেয়ার " * 6
    descriptions = [f"Стул {n}" for n in range(60)]
    descriptions[33] = long  # where page 1 runs out
    win(sales, admin, {"name": "Иванов"}, "seed")  # the product exists
    customer = sales.post("/api/v1/customers", json={"name": "ООО «Много»"}).json
    lines = [{"sku": "W-1", "quantity": 1, "description": d} for d in descriptions]
    deal = sales.post("/api/v1/deals", json={"title": "Many", "customer_id": customer["id"], "lines": lines}).json
    invoice = sales.post(f"/api/v1/deals/{deal['id']}/won").json["invoices"][0]

    data = pdf_of(call("finance"), invoice)

    pages = len(PdfReader(io.BytesIO(data)).pages)
    assert pages >= 2
    texts = []
    for number in range(1, pages + 1):
        done = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), "-enc", "UTF-8", "-", "-"],
            input=data, capture_output=True, check=True,
        )  # fmt: skip
        texts.append("".join(done.stdout.decode().split()))
    assert [squeezed(long) in text for text in texts].count(True) == 1  # whole, on one page
    for text in texts:
        if "Стул" in text:
            assert "DescriptionQtyUnitpriceDisc.%TaxNet" in text  # the heads on every page of lines
    assert all(any(f"Стул{n}(W-1)" in text for text in texts) for n in range(60) if n != 33)


@pytest.mark.parametrize(
    ("size", "expected_mm"), [((120, 40), (54, 18)), ((4000, 10), (95, 0.2375)), ((10, 4000), (0.045, 18))]
)
def test_the_logo_is_18_mm_high_or_half_the_text_width_wide(app, users, sales, admin, call, size, expected_mm):
    browser = logged_in(app, users["admin"]["email"])
    assert _company_form(browser, name="Hub Ltd", logo=(io.BytesIO(_png(*size)), "logo.png")).status_code == 302
    invoice = win(sales, admin, {"name": "Acme"}, "Widget")

    page = PdfReader(io.BytesIO(pdf_of(call("finance"), invoice))).pages[0]

    placed = re.search(rb"([\d.]+) 0 0 ([\d.]+) [\d.]+ [\d.]+ cm /I", page.get_contents().get_data())
    width_mm, height_mm = (float(v) / 72 * 25.4 for v in placed.groups())
    assert (round(width_mm, 1), round(height_mm, 3)) == pytest.approx(expected_mm, abs=0.1)
