"""JsonHttp's exact numbers: Decimals leave as JSON numbers with exactly their digits and come back
as Decimals, so money never passes through a float on the way to or from a target."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from connectors.http import dumps
from hub.jsonio import loads_stored


def test_decimals_are_written_with_exactly_their_digits():
    body = {"price": Decimal("19.90"), "qty": Decimal("1E+2"), "tiny": Decimal("0.0000001"), "on": date(2026, 11, 23)}
    text = dumps({**body, "lines": [[0, 0, {"name": 'Pump "100"', "ok": True, "none": None}]]})
    assert text == (
        '{"price": 19.90, "qty": 100, "tiny": 0.0000001, "on": "2026-11-23", '
        '"lines": [[0, 0, {"name": "Pump \\"100\\"", "ok": true, "none": null}]]}'
    )
    assert json.loads(text, parse_float=Decimal)["price"] == Decimal("19.90")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_what_is_no_json_number_is_refused(value):
    with pytest.raises(ValueError, match="cannot be sent as a JSON number"):
        dumps({"price": value})


@pytest.mark.parametrize(
    "text",
    ['{"tags": ["vip", "b2b"], "n": 1.5, "ok": true}', '{"huge": 123456789012345678901234567890}', "[NaN, Infinity]"],
)
@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_json_column_reads_as_the_json_module_reads_it(text, as_bytes):
    """Stored JSON is read by orjson when it can and by the json module otherwise (NaN, integers
    beyond 64 bits, which orjson would round to a float): the values are the json module's."""
    assert repr(loads_stored(text.encode() if as_bytes else text)) == repr(json.loads(text))
