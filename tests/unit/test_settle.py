"""Cancel or credit (hub.sync.cancel.settle): decided by the target's own status of the invoice and
by whether the target credits its posted invoices. Each row of the table is one target's answer
and what the hub must then ask of it; the target here only records what it is asked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceStatus, Party
from connectors.errors import UnsupportedOperation
from hub.sync.cancel import Settled, settle

REF = ExternalRef("books", "41", "B-41", "https://books.example/41")
NOTE = ExternalRef("books", "7", "CN-7", "https://books.example/credit/7")
EARLIER_NOTE = ExternalRef("books", "6", "CN-6")
DOC = InvoiceDocument(
    number="INV-000042",
    idempotency_key="hub-42",
    deal_reference="D-000042",
    customer=Party("Acme GmbH"),
    currency="EUR",
    issue_date=date(2026, 12, 1),
    due_date=None,
    lines=(),
    subtotal=Decimal("100.00"),
    tax_total=Decimal("19.00"),
    total=Decimal("119.00"),
)
D, P, PP, PAID, C = (
    ExternalState.DRAFT,
    ExternalState.POSTED,
    ExternalState.PARTIALLY_PAID,
    ExternalState.PAID,
    ExternalState.CANCELLED,
)


class Target:
    """A target that answers `status` (None: it reports none) and records each call."""

    label = "Stub Books"

    def __init__(self, status: InvoiceStatus | None, *, credits_posted: bool = False, credits: bool = True) -> None:
        self.status = status
        self.credits_posted_invoices = credits_posted
        self.credits = credits
        self.calls: list[tuple] = []

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        self.calls.append(("status", ref))
        if self.status is None:
            raise UnsupportedOperation("no status here")
        return self.status

    def cancel_invoice(self, ref: ExternalRef) -> None:
        self.calls.append(("cancel", ref))

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        self.calls.append(("credit", ref, doc))
        if not self.credits:
            raise UnsupportedOperation("no credit notes")
        return NOTE

    def credit_note_of(self, ref: ExternalRef) -> ExternalRef | None:
        self.calls.append(("note of", ref))
        return EARLIER_NOTE


def _status(state: ExternalState, paid: str = "0") -> InvoiceStatus:
    return InvoiceStatus("41", state, Decimal("119.00"), Decimal(paid), "EUR")


CANCEL = [("status", REF), ("cancel", REF)]
CREDIT = [("status", REF), ("credit", REF, DOC)]


@pytest.mark.parametrize(
    ("status", "credits_posted", "calls", "settled"),
    [
        (None, False, CANCEL, Settled(C)),  # no status told: asked to cancel
        (_status(D), False, CANCEL, Settled(C)),
        (_status(D), True, CANCEL, Settled(C)),  # a draft is cancelled even where posted ones are credited
        (_status(P), False, CANCEL, Settled(C)),
        (_status(P), True, CREDIT, Settled(C, NOTE)),  # cancelled against its credit note (Tryton's refund)
        (_status(P, "0.50"), False, CREDIT, Settled(P, NOTE)),  # posted, but something was paid
        (_status(PP, "10.00"), False, CREDIT, Settled(PP, NOTE)),
        (_status(PP), False, CREDIT, Settled(PP, NOTE)),  # partly paid says so without an amount
        (_status(PAID, "119.00"), False, CREDIT, Settled(PAID, NOTE)),
        (_status(PAID, "119.00"), True, CREDIT, Settled(PAID, NOTE)),
        (_status(C), False, CANCEL, Settled(C)),  # cancelled there: cancelling again changes nothing
        (_status(C, "10.00"), False, CANCEL, Settled(C)),  # a cancelled invoice's payment is not credited
        (_status(C), True, [("status", REF), ("note of", REF)], Settled(C, EARLIER_NOTE)),  # the lost answer's note
    ],
)
def test_the_targets_status_decides_cancel_or_credit(status, credits_posted, calls, settled):
    target = Target(status, credits_posted=credits_posted)
    assert settle(target, REF, DOC, "Books (EU)") == settled
    assert target.calls == calls


def test_a_paid_invoice_where_the_target_takes_no_credit_notes_is_refused_with_what_to_do():
    target = Target(_status(PP, "10.00"), credits=False)
    with pytest.raises(UnsupportedOperation) as refused:
        settle(target, REF, DOC, "Books (EU)")
    assert refused.value.message == (
        "INV-000042 is paid in Books (EU) (10.00 EUR), so it cannot be cancelled there, and Stub Books takes "
        "no credit notes through the hub: credit it in Books (EU) by hand"
    )
    assert refused.value.__cause__ is None
    assert target.calls == CREDIT
