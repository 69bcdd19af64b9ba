"""The small helpers several connectors share: a line's mapped tax as the target's tax code
(connectors.tax_codes), mapped numbers (mapped_types.number), answer numbers and create answers
(http.decimal_of, http.created), whether a failed request may have arrived (http.may_have_arrived),
and the amount paid (documents.amount_paid)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from connectors.documents import ExternalState, amount_paid
from connectors.errors import PermanentError, UncertainOutcomeError
from connectors.http import created, decimal_of, may_have_arrived
from connectors.mapped_types import number
from connectors.tax_codes import tax_code

RATES = [(Decimal("19.0"), "OUTPUT2"), (Decimal(7), "OUTPUT3"), (Decimal(0), "EXEMPT"), (Decimal(0), "ZERORATED")]


def code(tax, rates=RATES):
    asked = []

    def listed():
        asked.append(True)
        return rates

    return tax_code(tax, "lines[1].tax", system="Xero", code="Xero TaxType", rates=listed), len(asked)


def test_a_rate_is_the_code_of_the_one_tax_of_that_percentage():
    assert code(Decimal("0.19")) == ("OUTPUT2", 1)
    assert code(Decimal("0.07")) == ("OUTPUT3", 1)


def test_a_code_passes_as_it_is_and_nothing_is_no_tax_without_reading_the_rates():
    assert code("OUTPUT9") == ("OUTPUT9", 0)
    assert code(None) == (None, 0)
    assert code("") == (None, 0)


@pytest.mark.parametrize(
    ("tax", "message"),
    [
        (Decimal("0.16"), "lines[1].tax: Xero has no taxes of 16 %; name the Xero TaxType in the mapping's table"),
        (Decimal(0), "lines[1].tax: Xero has 2 (EXEMPT, ZERORATED) taxes of 0 %"),
        (True, "lines[1].tax: a Xero TaxType or a rate, not True"),
        (["OUTPUT2"], "lines[1].tax: a Xero TaxType or a rate, not ['OUTPUT2']"),
    ],
)
def test_a_rate_without_exactly_one_tax_or_another_value_is_refused_naming_the_line(tax, message):
    with pytest.raises(PermanentError) as refused:
        code(tax)
    assert refused.value.field == "lines[1].tax"
    assert refused.value.message.startswith(message)


def test_a_mapped_number_is_a_decimal_and_anything_else_is_refused_naming_it():
    assert number(2, "lines[0].quantity", "Zoho") == Decimal(2)
    assert number(Decimal("19.90"), "lines[0].rate", "Zoho") == Decimal("19.90")
    for value in ("2", True, None, 2.5):
        with pytest.raises(PermanentError) as refused:
            number(value, "lines[0].quantity", "Zoho")
        assert refused.value.field == "lines[0].quantity"
        assert refused.value.message == f"lines[0].quantity: the mapping gives {value!r}; Zoho needs a number"


def test_answer_numbers_become_the_decimals_they_were_written_as():
    assert decimal_of(2713.88) == Decimal("2713.88")
    assert decimal_of(0.1 + 0.2) == Decimal("0.30000000000000004")  # the float it is, not a rounded guess
    assert decimal_of(Decimal("19.90")) == Decimal("19.90")
    assert decimal_of(7) == Decimal(7)
    assert decimal_of("12.5") == Decimal("12.5")
    assert decimal_of(None) == decimal_of("") == Decimal(0)


@pytest.mark.parametrize(
    ("state", "paid"),
    [
        (ExternalState.DRAFT, Decimal(0)),
        (ExternalState.POSTED, Decimal("20.00")),
        (ExternalState.PARTIALLY_PAID, Decimal("20.00")),
        (ExternalState.PAID, Decimal("47.36")),
        (ExternalState.CANCELLED, Decimal(0)),
    ],
)
def test_the_amount_paid_is_the_total_less_what_is_due_while_the_invoice_stands(state, paid):
    assert amount_paid(state, Decimal("47.36"), Decimal("27.36")) == paid


def test_a_create_answer_without_its_record_is_an_uncertain_outcome():
    assert created({"invoice": {"invoice_id": "1"}}, "invoice", "Zoho Books INV-1") == {"invoice_id": "1"}
    for answer in ("<html>Gateway</html>", None, {"code": 0}, {"invoice": None}):
        with pytest.raises(UncertainOutcomeError) as uncertain:
            created(answer, "invoice", "Zoho Books INV-1")
        assert uncertain.value.message.startswith("Zoho Books INV-1: the answer has no invoice")
        assert uncertain.value.detail == answer


@pytest.mark.parametrize(
    ("exc", "arrived"),
    [
        (requests.ConnectTimeout("connect timed out"), False),
        (requests.ConnectionError("HTTPConnectionPool: NewConnectionError: [Errno 111] Connection refused"), False),
        (requests.ConnectionError("Failed to resolve 'erp.invalid' (Name or service not known)"), False),
        (requests.ReadTimeout("read timed out"), True),
        (requests.ConnectionError("Connection aborted: RemoteDisconnected"), True),
    ],
)
def test_only_a_request_that_never_connected_cannot_have_arrived(exc, arrived):
    assert may_have_arrived(exc) is arrived
