"""Reading a target's invoice list page after page, for the reconciliation report.

Targets page their lists differently (a page number, a start position, a "more pages" flag); what
is the same is the loop: read a page, hand on what it holds, stop when the target says it was the
last. `listed_pages` is that loop; each connector says how to read its page n.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from connectors.documents import ListedInvoice


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
