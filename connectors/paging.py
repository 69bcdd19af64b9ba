"""Reading a target's invoice list page after page, for the reconciliation report.

Targets page their lists differently (a page number, a start position, a "more pages" flag); what
is the same is the loop: read a page, hand on what it holds, stop when the target says it was the
last. `listed_pages` is that loop; each connector says how to read its page n. Each row becomes
a `ListedInvoice` by `listed_invoice`, which takes what a status read knows from the row's
`ExternalRef` and each target's own fields by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from connectors.documents import ExternalRef, ExternalState, ListedInvoice


def listed_pages(
    read_page: Callable[[int], tuple[Sequence[Any], bool]],
    listed: Callable[[Any], ListedInvoice],
) -> Iterator[list[ListedInvoice]]:
    """The invoices of pages 1, 2, … as `ListedInvoice`s, a page at a time.

    `read_page(n)` gives page n's invoices and whether another page may follow; an empty page
    yields nothing."""
    page = 1
    while True:
        invoices, more = read_page(page)
        if invoices:
            yield [listed(invoice) for invoice in invoices]
        if not more:
            return
        page += 1


def listed_invoice(
    ref: ExternalRef,
    *,
    reference: str | None,
    total: Decimal,
    tax: Decimal | None,
    currency: str | None,
    customer: str | None,
    issued: str | None,
    state: ExternalState | None = None,
) -> ListedInvoice:
    """A listed invoice: id, number, address and (unless `state` says better) state from `ref`,
    as a status read gives them; `issued` is the date as ISO text (none when empty)."""
    return ListedInvoice(
        reference=reference or None,
        external_id=ref.external_id,
        number=ref.external_number,
        total=total,
        tax=tax,
        currency=currency or "",
        customer=customer,
        state=state if state is not None else ref.status,
        url=ref.url,
        issue_date=date.fromisoformat(issued) if issued else None,
    )
