"""JSON in and out of the app with Decimal kept exact: 19.90 arrives as Decimal("19.90")."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

# orjson writes what Flask's encoder writes (keys sorted, non-string keys as strings), ten times
# faster; dates, times, dataclasses and Decimals go to Flask's own `default`, so they come out as
# before. What orjson refuses (an integer beyond 64 bits, say) is written by the json module.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


# Bounds on what a request's JSON may hold; what is beyond them is refused by name (see
# hub.api.base), never met in arithmetic or the database as a 500.
MAX_DEPTH = 32  # arrays and objects within each other
MAX_DIGITS = 30  # digits of a number, before and after the point
MAX_EXPONENT = 20  # a number's power of ten, either way (1e21 and 1e-21 are refused)


class OutOfRange(str):
    """A number of the input beyond the bounds, kept as its text until its path can be named."""


def _number(text: str) -> Decimal | OutOfRange:
    digits = sum(c.isdigit() for c in text.partition("e")[0].partition("E")[0])
    if digits > MAX_DIGITS:
        return OutOfRange(text)
    value = Decimal(text)
    if value and abs(value.adjusted()) > MAX_EXPONENT:
        return OutOfRange(text)
    return value


def _integer(text: str) -> int | OutOfRange:
    return OutOfRange(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


def loads(data: str | bytes) -> Any:
    """A request's JSON: non-integers as Decimal, numbers beyond the bounds as OutOfRange, and
    nesting too deep for the parser refused as invalid JSON."""
    try:
        return json.loads(data, parse_float=_number, parse_int=_integer)
    except RecursionError:
        raise json.JSONDecodeError(f"nested more than {MAX_DEPTH} deep", "", 0) from None


# 19 digits in a row: perhaps an integer beyond 64 bits, which orjson would read as a float.
_LONG_NUMBER, _LONG_NUMBER_BYTES = re.compile(r"\d{19}"), re.compile(rb"\d{19}")


def loads_stored(data: str | bytes) -> Any:
    """A JSON column's value, as the json module reads it; orjson reads it several times faster,
    and the json module takes what orjson refuses (NaN) or would round (huge integers)."""
    if not (_LONG_NUMBER if isinstance(data, str) else _LONG_NUMBER_BYTES).search(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


class DecimalJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", Decimal)
        return json.loads(s, **kwargs)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self.dump_bytes(obj, **kwargs).decode()

    def dump_bytes(self, obj: Any, **kwargs: Any) -> bytes:
        """`obj` as UTF-8 JSON; `indent` (the debug server's pretty answers) goes to the json module."""
        if "indent" not in kwargs:
            try:
                return orjson.dumps(obj, default=self.default, option=_ORJSON_OPTIONS)
            except orjson.JSONEncodeError:
                pass
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("sort_keys", self.sort_keys)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        return json.dumps(obj, **kwargs).encode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        indent = {"indent": 2} if (self.compact is None and self._app.debug) or self.compact is False else {}
        return self._app.response_class(self.dump_bytes(obj, **indent) + b"\n", mimetype=self.mimetype)
