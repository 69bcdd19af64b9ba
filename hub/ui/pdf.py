"""The hub invoice as PDF, drawn with fpdf2 from the snapshot (the document as it was when the deal
was won — the same one every target received), so the PDF never disagrees with what was sent.

It prints every script: Debian's Noto fonts (`make fonts`) are embedded as subsets, Noto Sans for
Latin and Cyrillic with Noto Sans Bengali as its fallback for the characters it lacks, and HarfBuzz
(uharfbuzz) shapes the text so that Bengali conjuncts and vowel signs are drawn as they are
written. Labels, dates and amounts are in the invoice's language (the customer's preferred
language, else the instance default)."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from flask import current_app
from flask_babel import force_locale, gettext
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

from hub.errors import HubError
from hub.money import round_money

NEXT_LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
# After a cell in the right half, the next one starts under it, in the right half again.
RIGHT_HALF = {"new_x": XPos.LEFT, "new_y": YPos.NEXT}
FONT_DIR = "/usr/share/fonts/truetype/noto"
# family → style → file; the first family is the body font, the others its fallbacks in order.
FONTS = {
    "NotoSans": {"": "NotoSans-Regular.ttf", "B": "NotoSans-Bold.ttf"},
    "NotoSansBengali": {"": "NotoSansBengali-Regular.ttf", "B": "NotoSansBengali-Bold.ttf"},
}
BODY = "NotoSans"
LOGO_HEIGHT_MM = 18


class FontsMissing(HubError):
    """The PDF fonts are not installed: the PDF would print "?" for whatever script they cover."""

    status = 503
    code = "pdf_fonts_missing"


@dataclass(frozen=True)
class Seller:
    """The company profile as the PDF prints it."""

    name: str = ""
    address: str | None = None
    tax_id: str | None = None
    bank_details: str | None = None
    payment_terms: str | None = None
    footer: str | None = None
    logo: bytes | None = None


@dataclass(frozen=True)
class TargetNumber:
    """The invoice's number in a target system it was pushed to."""

    system: str
    number: str


def font_dir() -> Path:
    return Path(current_app.config.get("HUB_PDF_FONT_DIR") or FONT_DIR)


class InvoicePDF(FPDF):
    def __init__(self, footer_text: str | None) -> None:
        super().__init__(format="A4")
        # fontTools logs every glyph it keeps in a subset at INFO: pages of noise per PDF.
        logging.getLogger("fontTools").setLevel(logging.WARNING)
        self.footer_text = footer_text
        folder = font_dir()
        for family, styles in FONTS.items():
            for style, filename in styles.items():
                path = folder / filename
                if not path.is_file():
                    raise FontsMissing(
                        f"The PDF font {path} is missing: install Debian's fonts-noto-core (make fonts) "
                        "or set HUB_PDF_FONT_DIR to a folder holding the Noto Sans fonts."
                    )
                self.add_font(family, style, str(path))
        self.set_fallback_fonts([f for f in FONTS if f != BODY], exact_match=False)
        self.set_text_shaping(True)
        self.set_auto_page_break(True, margin=20)

    def _render_styled_text_line(self, *args: Any, **kwargs: Any) -> Any:
        # fpdf2 2.8.9: when a line starts in a fallback font (a Bengali name) before the page has
        # its font, fpdf2 sets the body font inside the line's q…Q and believes it set for the
        # page; the next line in the body font is then drawn with no font at all (poppler: "No
        # font in show", pypdf reads nothing). Setting the body font for the page first avoids it.
        if self.page and self.current_font is not None and not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(self.current_font, self.font_size_pt))
        return super()._render_styled_text_line(*args, **kwargs)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(BODY, size=8)
        if self.footer_text:
            self.cell(0, 4, self.footer_text.replace("\n", " · "), align="C", **NEXT_LINE)
        self.cell(0, 4, f"{self.page_no()}/{{nb}}", align="C")


class _Format:
    """Amounts, numbers and dates in the invoice's language."""

    def __init__(self, locale: str, currency: str) -> None:
        self.locale, self.currency = locale, currency

    def money(self, value: Any) -> str:
        return format_currency(round_money(Decimal(str(value)), self.currency), self.currency, locale=self.locale)

    def number(self, value: Any) -> str:
        return format_decimal(Decimal(str(value)).normalize(), locale=self.locale)

    def percent(self, rate: Any) -> str:
        return f"{format_decimal((Decimal(str(rate)) * 100).normalize(), locale=self.locale)} %"

    def day(self, value: Any) -> str:
        if not value:
            return "–"
        return format_date(value if isinstance(value, date) else date.fromisoformat(str(value)), "medium", self.locale)


def invoice_pdf(
    doc: dict[str, Any],
    seller: Seller | None = None,
    language: str = "en",
    target_numbers: Sequence[TargetNumber] = (),
) -> bytes:
    """The PDF of the invoice snapshot `doc`, sold by `seller`, with labels in `language`."""
    with force_locale(language):
        return _draw(doc, seller or Seller(), language, target_numbers)


COLUMNS = (70, 18, 28, 16, 16, 32)  # mm: description, then the figures
LINE_HEIGHT = 5


def _lines_table(pdf: InvoicePDF, heads: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """The lines, the description wrapped, the figures right-aligned; the heads again on each new
    page. Drawn by hand rather than with fpdf2's table(): with shaping on, that measures every
    cell a character at a time through HarfBuzz (3.5 s for 50 lines); here only text is shaped,
    the figures (digits, separators, a currency sign) are drawn as they are."""

    def head_row() -> None:
        pdf.set_font(BODY, "B", 9)
        for width, head, align in zip(COLUMNS, heads, "LRRRRR", strict=True):
            pdf.cell(width, 7, head, border="B", align=align)
        pdf.ln()

    head_row()
    pdf.set_font(BODY, size=9)
    for row in rows:
        # A row that may not fit above the page's foot is measured line by line (a long description
        # is shaped once per line it tries) and moves to the next page whole if it does not fit.
        estimate = math.ceil(pdf.get_string_width(row[0]) / (COLUMNS[0] - 2 * pdf.c_margin)) + 1
        if pdf.get_y() + estimate * LINE_HEIGHT + 1 > pdf.page_break_trigger:
            wrapped = pdf.multi_cell(COLUMNS[0], LINE_HEIGHT, row[0], align="L", dry_run=True, output="LINES")
            if pdf.get_y() + len(wrapped) * LINE_HEIGHT + 1 > pdf.page_break_trigger:
                pdf.add_page()
                head_row()
                pdf.set_font(BODY, size=9)
        x, y = pdf.get_x(), pdf.get_y()
        pdf.multi_cell(COLUMNS[0], LINE_HEIGHT, row[0], align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        bottom = pdf.get_y() + 1
        pdf.set_xy(x + COLUMNS[0], y)
        pdf.set_text_shaping(False)
        for width, value in zip(COLUMNS[1:], row[1:], strict=True):
            pdf.cell(width, LINE_HEIGHT, value, align="R")
        pdf.set_text_shaping(True)
        pdf.line(x, bottom, x + sum(COLUMNS), bottom)
        pdf.set_xy(x, bottom)


def _logo_size(logo: bytes, max_width: float) -> tuple[float, float]:
    """Width and height in mm: LOGO_HEIGHT_MM high, unless that makes it wider than `max_width`."""
    with Image.open(io.BytesIO(logo)) as image:
        ratio = image.width / image.height
    width = min(LOGO_HEIGHT_MM * ratio, max_width)
    return width, width / ratio


def _draw(doc: dict[str, Any], seller: Seller, language: str, target_numbers: Sequence[TargetNumber]) -> bytes:
    fmt = _Format(language, doc["currency"])
    title = gettext("Invoice %(number)s", number=doc["number"])
    pdf = InvoicePDF(seller.footer)
    pdf.set_lang(language)
    pdf.set_title(title)
    pdf.set_author(seller.name or "CRM-ERP Hub")
    pdf.set_creator("CRM-ERP Hub")
    pdf.add_page()
    width = pdf.epw
    top = pdf.get_y()

    # The seller, left: logo, name, address, tax id.
    if seller.logo:
        logo_width, logo_height = _logo_size(seller.logo, width / 2)
        pdf.image(io.BytesIO(seller.logo), w=logo_width, h=logo_height)
        pdf.ln(2)
    if seller.name:
        pdf.set_font(BODY, "B", 12)
        pdf.multi_cell(width / 2, 6, seller.name, align="L", **NEXT_LINE)
    pdf.set_font(BODY, size=9)
    if seller.address:
        pdf.multi_cell(width / 2, 4.5, seller.address, align="L", **NEXT_LINE)
    if seller.tax_id:
        pdf.multi_cell(width / 2, 4.5, gettext("Tax id: %(tax_id)s", tax_id=seller.tax_id), align="L", **NEXT_LINE)
    seller_bottom = pdf.get_y()

    # The invoice's facts, right.
    pdf.set_xy(pdf.l_margin + width / 2, top)
    pdf.set_font(BODY, "B", 18)
    pdf.multi_cell(width / 2, 9, title, align="R", **RIGHT_HALF)
    facts = [
        (gettext("Issue date"), fmt.day(doc.get("issue_date"))),
        (gettext("Due date"), fmt.day(doc.get("due_date"))),
        (gettext("Deal"), doc.get("deal_reference") or "–"),
    ]
    facts += [(gettext("Number in %(system)s", system=t.system), t.number) for t in target_numbers]
    for label, value in facts:
        pdf.set_font(BODY, size=9)
        pdf.multi_cell(width / 2, 5, f"{label}: {value}", align="R", **RIGHT_HALF)
    pdf.set_xy(pdf.l_margin, max(seller_bottom, pdf.get_y()) + 6)

    # The buyer.
    customer = doc["customer"]
    address = customer.get("address") or {}
    pdf.set_font(BODY, "B", 9)
    pdf.cell(0, 5, gettext("Bill to"), **NEXT_LINE)
    pdf.set_font(BODY, "B", 11)
    pdf.multi_cell(0, 6, customer["name"], align="L", **NEXT_LINE)
    pdf.set_font(BODY, size=9)
    for part in (
        address.get("street"),
        " ".join(p for p in (address.get("postal_code"), address.get("city")) if p),
        address.get("region"),
        address.get("country"),
        gettext("Tax id: %(tax_id)s", tax_id=customer["tax_id"]) if customer.get("tax_id") else None,
    ):
        if part:
            pdf.multi_cell(0, 4.5, part, align="L", **NEXT_LINE)
    pdf.ln(6)

    # The lines.
    heads = (gettext("Description"), gettext("Qty"), gettext("Unit price"), gettext("Disc. %"), gettext("Tax"),
             gettext("Net"))  # fmt: skip
    pdf.set_font(BODY, size=9)
    rows = [
        (
            str(line.get("description") or "") + (f" ({line['sku']})" if line.get("sku") else ""),
            fmt.number(line["quantity"]),
            fmt.money(line["unit_price"]),
            fmt.number(line.get("discount_percent") or 0),
            fmt.percent(line["tax_rate"]),
            fmt.money(line["net"]),
        )
        for line in doc["lines"]
    ]
    _lines_table(pdf, heads, rows)
    pdf.ln(3)

    # Taxes per rate, then the totals.
    label_width, value_width = width - 40, 40
    pdf.set_font(BODY, size=9)
    for tax in doc.get("taxes") or ():
        text = gettext("Tax %(rate)s on %(net)s", rate=fmt.percent(tax["rate"]), net=fmt.money(tax["net"]))
        pdf.cell(label_width, 5, text, align="R")
        pdf.cell(value_width, 5, fmt.money(tax["tax"]), align="R", **NEXT_LINE)
    for label, key in ((gettext("Net total"), "subtotal"), (gettext("Tax total"), "tax_total"),
                       (gettext("Total due"), "total")):  # fmt: skip
        pdf.set_font(BODY, "B" if key == "total" else "", 11 if key == "total" else 10)
        pdf.cell(label_width, 6, label, align="R")
        pdf.cell(value_width, 6, fmt.money(doc[key]), align="R", **NEXT_LINE)

    # How to pay.
    for heading, text in (
        (gettext("Payment terms"), seller.payment_terms),
        (gettext("Bank details"), seller.bank_details),
    ):
        if text:
            pdf.ln(4)
            pdf.set_font(BODY, "B", 9)
            pdf.cell(0, 5, heading, **NEXT_LINE)
            pdf.set_font(BODY, size=9)
            pdf.multi_cell(0, 4.5, text, align="L", **NEXT_LINE)
    if doc.get("notes"):
        pdf.ln(4)
        pdf.set_font(BODY, size=8)
        pdf.multi_cell(0, 4, doc["notes"], align="L", **NEXT_LINE)
    return bytes(pdf.output())
