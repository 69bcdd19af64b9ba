"""The hub invoice as PDF, drawn with fpdf2 from the snapshot (the document as it was when the deal
was won — the same one every target received), so the PDF never disagrees with what was sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hub.money import round_money
from hub.ui.core import quantity

NEXT_LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


def _text(value: Any) -> str:
    # The core fonts speak Latin-1; other characters become "?" rather than failing the download.
    return str(value if value is not None else "").encode("latin-1", "replace").decode("latin-1")


def _amount(value: Any, currency: str) -> str:
    # "EUR 1,234.50": the code rather than a symbol that the core fonts may lack.
    return f"{currency} {round_money(Decimal(str(value)), currency):,}"


def invoice_pdf(doc: dict[str, Any]) -> bytes:
    cur = doc["currency"]
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {doc['number']}")
    pdf.set_author("CRM-ERP Hub")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _text(f"Invoice {doc['number']}"), **NEXT_LINE)
    pdf.set_font("Helvetica", size=10)
    dates = f"Issued {doc['issue_date']} - due {doc.get('due_date') or '-'} - deal {doc['deal_reference']}"
    pdf.cell(0, 6, _text(dates), **NEXT_LINE)
    pdf.ln(4)
    customer = doc["customer"]
    address = customer.get("address") or {}
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, _text(customer["name"]), **NEXT_LINE)
    pdf.set_font("Helvetica", size=10)
    for part in (
        address.get("street"),
        " ".join(p for p in (address.get("postal_code"), address.get("city")) if p),
        address.get("country"),
        f"Tax id {customer['tax_id']}" if customer.get("tax_id") else None,
    ):
        if part:
            pdf.cell(0, 5, _text(part), **NEXT_LINE)
    pdf.ln(6)
    widths = (70, 20, 30, 20, 20, 30)
    pdf.set_font("Helvetica", "B", 9)
    for width, head in zip(widths, ("Description", "Qty", "Unit price", "Disc. %", "Tax", "Net"), strict=True):
        pdf.cell(width, 7, head, border="B", align="L" if head == "Description" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for line in doc["lines"]:
        cells = (
            _text(f"{line['description']}" + (f" ({line['sku']})" if line.get("sku") else ""))[:48],
            _text(quantity(Decimal(str(line["quantity"])))),
            _amount(line["unit_price"], cur),
            _text(quantity(Decimal(str(line.get("discount_percent") or 0)))),
            _text(f"{Decimal(str(line['tax_rate'])) * 100:.0f} %"),
            _amount(line["net"], cur),
        )
        for width, value, align in zip(widths, cells, "LRRRRR", strict=True):
            pdf.cell(width, 6, value, align=align)
        pdf.ln()
    pdf.ln(3)
    for label, key in (("Net", "subtotal"), ("Tax", "tax_total"), ("Total", "total")):
        pdf.set_font("Helvetica", "B" if key == "total" else "", 10)
        pdf.cell(sum(widths) - 40, 6, label, align="R")
        pdf.cell(40, 6, _amount(doc[key], cur), align="R", **NEXT_LINE)
    if doc.get("notes"):
        pdf.ln(6)
        pdf.set_font("Helvetica", "I", 9)
        pdf.multi_cell(0, 5, _text(doc["notes"]))
    return bytes(pdf.output())
