"""The mapped lines of an invoice next to the document's lines they stand for.

The hosted targets compute line amounts themselves, and the hub checks them line by line against
its own (`connectors.arithmetic`): so the mapping must give one target line per document line, and
the amounts are compared in the currency's minor unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision

from connectors.documents import InvoiceDocument, InvoiceLine
from connectors.errors import PermanentError


def paired_lines(
    mapped_lines: Sequence[Mapping[str, Any]], doc: InvoiceDocument
) -> list[tuple[Mapping[str, Any], InvoiceLine]]:
    """Each mapped line with its document line; PermanentError (field `lines`) unless they pair one to one."""
    if len(mapped_lines) != len(doc.lines):
        raise PermanentError(
            f"the mapping gives {len(mapped_lines)} lines for {len(doc.lines)} in the document", field="lines"
        )
    return list(zip(mapped_lines, doc.lines, strict=True))


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount: 0.01 for EUR, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-get_currency_precision(currency))
