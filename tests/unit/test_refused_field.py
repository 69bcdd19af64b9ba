"""Which payload field a target's refusal message is about (connectors/refused_field.py)."""

from __future__ import annotations

import pytest

from connectors.refused_field import field_in_message

PAYLOAD = {
    "Date": "2026-11-23",
    "DueDate": "2026-12-07",
    "Contact": {"ContactID": "bd2270c3"},
    "customer_id": "460000000026049",
    "LineItems": [
        {"ItemCode": "PUMP-100", "AccountCode": "200", "Quantity": 2},
        {"ItemCode": "MANUAL-DE", "AccountCode": "200", "Quantity": 3},
    ],
}


@pytest.mark.parametrize(
    ("message", "field"),
    [
        # A value of the payload, quoted: its field and line.
        ("Item code 'MANUAL-DE' is not valid", "LineItems[1].ItemCode"),
        # The longest quoted value wins over a short one found inside it by chance.
        ("Invalid value passed for customer_id: 460000000026049", "customer_id"),
        # A field name, spelled with spaces or underscores; a line field names every line.
        ("Account code is not valid for this document", "LineItems[].AccountCode"),
        ("Invalid value passed for customer_id", "customer_id"),
        # The longer name wins: Due Date, not Date.
        ("Due Date must not be earlier than the invoice Date", "DueDate"),
        ("Something went wrong", None),
    ],
)
def test_the_message_names_the_field(message, field):
    assert field_in_message(message, PAYLOAD) == field


def test_short_values_are_not_taken_for_the_field():
    # "200" and "2" appear in many messages; they name nothing.
    assert field_in_message("Rate limit of 200 calls exceeded", PAYLOAD) is None
