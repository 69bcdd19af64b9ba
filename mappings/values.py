"""Values as the mapping engine holds them: table keys, typed field values, and the two views of a
document (what JMESPath sees, what is stored as JSON).

Money stays Decimal: numbers in the document and in the mapping are never turned into floats. Floats
that arrive anyway (from YAML) go through their shortest text, never through binary arithmetic.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_KEY_LENGTH = 200


def normalise_key(key_type: str, raw: Any) -> str:
    """The form a table key is stored and looked up in; ValueError when it cannot be a key.

    Decimal keys compare by value: 0.19, "0.190" and Decimal("0.19") are the same row."""
    if raw is None or isinstance(raw, bool | list | dict):
        raise ValueError(f"{shown(raw)} cannot be a table key")
    if key_type == "decimal":
        try:
            number = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError(f"{shown(raw)} is not a number") from None
        if not number.is_finite() or not _in_range(number):
            raise ValueError(f"{shown(raw)} is not a finite number of a sensible size")
        text = format(number.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    text = raw if isinstance(raw, str) else decimal_text(raw) if isinstance(raw, Decimal) else str(raw)
    text = text.strip()
    if not text:
        raise ValueError("an empty key")
    if len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"a key longer than {MAX_KEY_LENGTH} characters")
    return text


def convert_value(value_type: str, raw: Any) -> Any:
    """A table row's value in the table's value type; None stays None ("maps to nothing")."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    return coerce(value_type, raw)


def coerce(type_name: str, value: Any) -> Any:
    """`value` as `type_name`; ValueError saying why not. Floats go through their shortest text,
    so 0.19 read from YAML becomes Decimal("0.19"), never 0.18999999999999998."""
    if type_name == "any" or value is None:
        return value
    if isinstance(value, float):
        value = Decimal(repr(value))
    if type_name == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, Decimal):
            return decimal_text(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"expected text, got {kind_of(value)}")
    if type_name == "decimal":
        if isinstance(value, bool):
            raise ValueError("expected a number, got a boolean")
        if isinstance(value, Decimal | int):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                raise ValueError(f"expected a number, got {shown(value)}") from None
        else:
            raise ValueError(f"expected a number, got {kind_of(value)}")
        if not number.is_finite() or not _in_range(number):
            raise ValueError(f"expected a finite number of a sensible size, got {shown(value)}")
        return number
    if type_name == "integer":
        if isinstance(value, bool):
            raise ValueError("expected an integer, got a boolean")
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal) and value.is_finite() and _in_range(value) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
            return int(value)
        raise ValueError(f"expected an integer, got {shown(value)}")
    if type_name == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, got {shown(value)}")
    if type_name == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()[:10])
            except ValueError:
                raise ValueError(f"expected an ISO date, got {shown(value)}") from None
        raise ValueError(f"expected a date, got {kind_of(value)}")
    raise ValueError(f"unknown type {type_name}")


MAX_EXPONENT = 30


def _in_range(number: Decimal) -> bool:
    """Whether a number is of a size money and rates can have. Written out in full (keys, stored
    values, payloads), 1E+999999999 would be a gigabyte of digits."""
    return number.is_zero() or -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT


def decimal_text(number: Decimal) -> str:
    """A Decimal as plain digits (0.19, never 1.9E-1); out of range (only from arbitrary input) in
    exponent form rather than a gigabyte of digits."""
    return format(number, "f") if not number.is_finite() or _in_range(number) else str(number)


def kind_of(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shown(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- the document as expressions see it -----------------------------------------------------------


def document_view(document: Any) -> Any:
    """The canonical document as JMESPath sees it: dataclasses as objects, tuples as lists, dates as
    ISO text, enums as their value; Decimals stay Decimal (JMESPath compares and sums them exactly)."""
    if is_dataclass(document) and not isinstance(document, type):
        return {f.name: document_view(getattr(document, f.name)) for f in fields(document)}
    if isinstance(document, Mapping):
        return {str(k): document_view(v) for k, v in document.items()}
    if isinstance(document, list | tuple):
        return [document_view(v) for v in document]
    if isinstance(document, datetime | date):
        return document.isoformat()
    if isinstance(document, enum.Enum):
        return document.value
    if isinstance(document, float):
        return Decimal(repr(document))
    return document


def storable(value: Any) -> Any:
    """JSON-safe form of a mapping document (Decimals and dates as text) for storage and answers."""
    if isinstance(value, Mapping):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return storable(Decimal(repr(value)))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
