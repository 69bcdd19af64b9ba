"""What every API resource shares: the blueprint class, Decimal-exact JSON parsing, list
arguments (page, sort, search) and the list envelope. Pages of a list and look-ups that 404 or
422 by field name are in `hub.services.queries`, shared with the pages and the services."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from datetime import UTC
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import request
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from hub.i18n import (
    AT_LEAST,
    AT_MOST,
    BETWEEN,
    GREATER,
    NESTED,
    NOT_A_CURRENCY,
    NOT_TENDER,
    OUT_OF_RANGE,
    PLACES,
    english_form,
)
from hub.jsonio import MAX_DEPTH, MAX_DIGITS, MAX_EXPONENT, OutOfRange, loads
from hub.money import is_currency, is_tender, round_money
from hub.services.queries import COUNT_LIMIT
from hub.services.versions import ANY, etag_of

# PostgreSQL `integer`: every id and count column. A larger number in the input is refused by
# name (422), or is no route (404) in a path, instead of failing in the database (500).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class DecimalParser(FlaskParser):
    """Parses JSON bodies with Decimal for non-integers, so 19.9 never passes through float."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        return loads(req.get_data(cache=True))

    def _process_location_data(self, location_data, schema, req, location, unknown, validators):
        # Fractions are looked for in the input as sent (the schema cuts 1.5 to 1); ranges in the
        # loaded values (a query string's numbers are text until then).
        problems = _unusable_values(location_data) or _integers_out_of_range(schema, location_data, sent=True)
        if problems:
            raise ma.ValidationError(problems)
        data = super()._process_location_data(location_data, schema, req, location, unknown, validators)
        problems = _integers_out_of_range(schema, data)
        if problems:
            raise ma.ValidationError(problems)
        return data


def _unusable_values(data: Any, path: str = "", depth: int = 0) -> dict[str, list[str]]:
    """What a request's JSON holds that no field can take, by path: text with a NUL character
    (PostgreSQL cannot store or even compare it) or a lone surrogate (no valid UTF-8), numbers
    beyond hub.jsonio's bounds, and nesting deeper than its MAX_DEPTH."""
    where = path or "_schema"
    if isinstance(data, OutOfRange):
        return {where: [_filled(english_form(OUT_OF_RANGE, MAX_DIGITS), digits=MAX_DIGITS, exponent=MAX_EXPONENT)]}
    if isinstance(data, str):
        if "\x00" in data:
            return {where: ["Must not contain NUL characters."]}
        if SURROGATE.search(data):
            return {where: ["Not valid Unicode text (a lone surrogate)."]}
        return {}
    if depth > MAX_DEPTH and isinstance(data, Mapping | list | tuple):
        return {where: [_filled(NESTED, depth=MAX_DEPTH)]}
    found: dict[str, list[str]] = {}
    if isinstance(data, Mapping):
        prefix = f"{path}." if path else ""
        for key in data:
            found.update(_unusable_values(key, f"{prefix}{key}", depth + 1))
            found.update(_unusable_values(data[key], f"{prefix}{key}", depth + 1))
    elif isinstance(data, list | tuple):
        for i, item in enumerate(data):
            found.update(_unusable_values(item, f"{path}[{i}]", depth + 1))
    return found


SURROGATE = re.compile("[\ud800-\udfff]")


def _filled(template: str, **values: Any) -> str:
    """An English message with its values (hub.i18n.FILLED_IN says it again in the reader's language)."""
    return template % values


def _integers_out_of_range(schema: ma.Schema, data: Any, path: str = "", sent: bool = False) -> dict[str, list[str]]:
    """Integer fields (also in nested schemas and lists) whose value the database cannot hold, or
    that is no whole number; `data` as sent (keys as the input names them) or as loaded."""
    problems: dict[str, list[str]] = {}
    if not isinstance(data, Mapping):
        return problems
    for name, field in schema.fields.items():
        key = field.data_key or name if sent else name
        if key in data:
            problems.update(_field_out_of_range(field, data[key], f"{path}{field.data_key or name}", sent))
    return problems


def _field_out_of_range(field: ma.fields.Field, value: Any, path: str, sent: bool = False) -> dict[str, list[str]]:
    if isinstance(field, ma.fields.Integer) and isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        return {path: [_filled(BETWEEN, min=INT_MIN, max=INT_MAX)]}
    if isinstance(field, ma.fields.Integer) and isinstance(value, Decimal) and value != value.to_integral_value():
        return {path: ["Must be a whole number."]}  # marshmallow would cut 1.5 to 1
    if isinstance(field, ma.fields.List) and isinstance(value, list):
        found: dict[str, list[str]] = {}
        for i, item in enumerate(value):
            found.update(_field_out_of_range(field.inner, item, f"{path}[{i}]", sent))
        return found
    if isinstance(field, ma.fields.Nested):
        items = value if isinstance(value, list) else [value]
        found = {}
        for i, item in enumerate(items):
            where = f"{path}[{i}]." if isinstance(value, list) else f"{path}."
            found.update(_integers_out_of_range(field.schema, item, where, sent))
        return found
    return {}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = DecimalParser()

    def arguments(self, schema: type[ma.Schema] | ma.Schema, **kwargs: Any):
        # One schema instance per endpoint: given a class, webargs builds an instance (copying
        # every field) on each request, a fifth of a small list request's time.
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def etag(self, obj: Callable) -> Callable:
        """The record a view returns goes out with its version as `ETag`, and the OpenAPI document
        says so, and, on PATCH, PUT and DELETE, that `If-Match` is taken and a stale one gets 412.
        Innermost, under `response`. The view passes `if_match()` to its service, which checks it
        against the record as locked for the write.

        Not flask-smorest's own `etag`: that one requires If-Match on every write (428 without),
        which would break every client that does not send one yet, and checks it in the view, before
        the service locks the row, so two writes sent with one tag could both pass."""

        def decorator(func: Callable) -> Callable:
            @wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                record = func(*args, **kwargs)
                if record is None:
                    return None
                return record, {"ETag": f'"{etag_of(record)}"'}

            wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))  # type: ignore[attr-defined]
            wrapper._apidoc["etag"] = True  # type: ignore[attr-defined]
            return wrapper

        return self._decorate_view_func_or_method_view(decorator, obj)

    def _prepare_etag_doc(self, doc, doc_info, *, api, spec, method, **kwargs):
        if not doc_info.get("etag"):
            return doc
        if method.upper() in CHECKED:
            doc.setdefault("parameters", []).append(IF_MATCH)
            doc["responses"][412] = STALE
        for status in doc_info.get("success_status_codes", []):
            if status != 204:
                doc["responses"][status].setdefault("headers", {})["ETag"] = ETAG
        return doc


CHECKED = frozenset({"PATCH", "PUT", "DELETE"})
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of the record as the client read it (or `*`): the write is made only if the "
    "record is still that version, else 412 and nothing is written. Compared strongly: a weak tag (W/...) "
    "never matches. Without it the write is made whatever the version (the last writer wins).",
}
STALE = {
    "description": "If-Match names no current version: the record was changed since it was read. Nothing "
    "is written; read it again and reapply the change. `errors` names If-Match.",
    "content": {"application/json": {"schema": "Error"}},
}
ETAG = {
    "description": "The record's version, for If-Match on its PATCH and DELETE: it changes with every change "
    "of the record (for a deal also of its lines)",
    "schema": {"type": "string"},
}


def if_match() -> frozenset[str] | None:
    """The versions the request's If-Match accepts, for a service to check (hub.services.versions):
    None without the header; `ANY` for `*`. Weak tags are left out: If-Match compares strongly
    (RFC 9110, 13.1.1), so none of them can match."""
    if "If-Match" not in request.headers:
        return None
    tags = request.if_match
    return frozenset({ANY}) if tags.star_tag else frozenset(tags.as_set())


# ---- fields -------------------------------------------------------------------------------


class Currency(ma.fields.String):
    """An ISO 4217 code of a currency that is legal tender today; lower case is accepted and
    upper-cased. `any_code=True` takes every ISO 4217 code: a filter finds what older records hold."""

    def __init__(self, *, any_code: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.any_code = any_code

    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs).strip().upper()
        if not is_currency(code):
            raise ma.ValidationError(_filled(NOT_A_CURRENCY, value=value))
        if not self.any_code and not is_tender(code):
            raise ma.ValidationError(_filled(NOT_TENDER, value=value))
        return code


PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", re.ASCII)


class Amount(ma.fields.Decimal):
    """A Decimal dumped as a string, refusing NaN, Infinity and more decimals than `places`."""

    def __init__(
        self,
        places: int = 4,
        minimum: Decimal | None = None,
        maximum: Decimal | None = None,
        exclusive_minimum: bool = False,
        **kwargs: Any,
    ) -> None:
        if isinstance(kwargs.get("load_default"), Decimal):
            # Documented as the string an amount travels as ("0"), not as the Decimal it is loaded as.
            kwargs["metadata"] = {"default": str(kwargs["load_default"]), **kwargs.get("metadata", {})}
        super().__init__(as_string=True, allow_nan=False, **kwargs)
        self.max_places = places
        self.minimum, self.maximum, self.exclusive_minimum = minimum, maximum, exclusive_minimum

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ma.ValidationError("Not a valid number.")
        if isinstance(value, str) and not PLAIN_NUMBER.fullmatch(value.strip()):
            # Decimal() also reads "1_000", "١٢" and "１２": the API takes numbers as JSON writes them.
            raise ma.ValidationError("Not a valid number: digits 0-9 with a point for decimals, such as 1234.50.")
        try:
            number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        except InvalidOperation as exc:
            raise ma.ValidationError("Not a valid number.") from exc
        if not number.is_finite():
            raise ma.ValidationError("Special numeric values (nan or infinity) are not permitted.")
        if number.as_tuple().exponent < -self.max_places:  # type: ignore[operator]
            raise ma.ValidationError(_filled(english_form(PLACES, self.max_places), num=self.max_places))
        if abs(number) >= Decimal(10) ** 14:
            raise ma.ValidationError("Too large.")
        if self.minimum is not None:
            if self.exclusive_minimum and number <= self.minimum:
                raise ma.ValidationError(_filled(GREATER, min=self.minimum))
            if not self.exclusive_minimum and number < self.minimum:
                raise ma.ValidationError(_filled(AT_LEAST, min=self.minimum))
        if self.maximum is not None and number > self.maximum:
            raise ma.ValidationError(_filled(AT_MOST, max=self.maximum))
        return number


class Money(ma.fields.Decimal):
    """An amount dumped as a string rounded to its object's currency (`obj.currency`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(as_string=True, dump_only=True, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(round_money(value, obj.currency))


class Moment(ma.fields.AwareDateTime):
    """A time with its offset (2026-03-01T09:30:00+05:00), kept in UTC: refused by name when its
    UTC time falls outside years 1 to 9999 (0001-01-01T00:00:00+05:00 is in year 0 there), which
    no datetime, and so no column, holds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=None, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ma.ValidationError("Out of range: in UTC, a time from year 1 to 9999.") from None


def partial(schema: type[ma.Schema]) -> ma.Schema:
    """The PATCH variant of a schema: every field optional, and its own name in the OpenAPI document."""
    name = schema.__name__.removesuffix("Schema") + "Patch"
    return type(name, (schema,), {})(partial=True)


class Text(ma.fields.String):
    """A string with surrounding whitespace removed before it is validated and stored."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def stripped(max_length: int, required: bool = False, **kwargs: Any) -> ma.fields.String:
    """A trimmed text field that refuses blank input when required."""
    validators = [ma.validate.Length(max=max_length)]
    if required:
        validators.append(ma.validate.Length(min=1, error="Must not be blank."))
    return Text(required=required, validate=validators, **kwargs)


# ---- lists --------------------------------------------------------------------------------


class ListArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    sort = ma.fields.String(load_default=None, metadata={"description": "field, or -field for descending"})
    q = ma.fields.String(
        load_default=None, validate=ma.validate.Length(max=200), metadata={"description": "search text"}
    )


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "page": ma.fields.Integer(required=True),
            "per_page": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(
                required=True,
                metadata={"description": f"matching items, counted up to {COUNT_LIMIT:,} (see total_exact)"},
            ),
            "total_exact": ma.fields.Boolean(
                required=True,
                metadata={"description": f"false when more than {COUNT_LIMIT:,} items match: total is then a floor"},
            ),
        },
        name=name,
    )
