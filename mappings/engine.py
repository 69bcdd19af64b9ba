"""The mapping engine: how a canonical document becomes a target's payload, as data.

A mapping document (YAML or JSON) names, for each target field, where its value comes from:

    target: tryton                      # the connector type it is written for
    fields:
      reference: {expr: idempotency_key, required: true}
      kind: {const: out}
      currency: {expr: currency, table: currencies, required: true}
      note: {expr: notes, default: ""}
    lines:                              # one sub-mapping applied to each line
      source: lines                     # JMESPath to the list (default: lines)
      fields:
        tax: {expr: tax_rate, table: taxes}
    tables:                             # value tables: tax rate → tax code, SKU → item id, ...
      taxes: {key: decimal, value: string, unmapped: refuse, rows: {"0.19": VAT19}}
    options:                            # the connector's own settings (operation or entity names)
      create_operation: СоздатьСчет

A field is `expr` (JMESPath over the document, or over the line in `lines`) or `const`, then
optionally looked up in `table`; `default` stands in when the source has no value (null) — never
when a table has no row for a value, so an unmapped tax rate or currency is always reported and
never silently replaced. `type` (string, decimal, integer, boolean, date, any) checks and converts
the result; `required` refuses a null. Dotted target names (`party.name`) build nested objects.

`options` are settings of the target that are not fields: which SOAP operation creates an invoice,
which OData entity holds it. The engine only checks they are an object of named values; the
connector checks their meaning (`Connector.mapping_options`).

A table's `unmapped` says what a value without a row does: `refuse` (a problem naming the value and
the table: the push is parked), `keep` (the value passes unchanged: the target looks it up itself)
or `empty` (the field becomes null: the connector decides).

Everything here is pure: no Flask, no database, nothing of `hub`. Problems carry their path
(`lines[2].tax: no entry for 0.07 in table taxes`) and every problem is reported, not only the first.
Money stays Decimal: numbers in the document and in the mapping are never turned into floats.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.functions
import jmespath.visitor
import yaml

TYPES = ("any", "string", "decimal", "integer", "boolean", "date")
KEY_TYPES = ("string", "decimal")
VALUE_TYPES = ("string", "decimal", "integer")
UNMAPPED = ("refuse", "keep", "empty")
# Letters of any script: 1C's fields and tabular sections are named in Cyrillic (`Товары`, `Количество`).
NAME = re.compile(r"^[^\W\d]\w*(\.[^\W\d]\w*)*$")
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
FIELD_KEYS = frozenset({"expr", "const", "table", "default", "required", "type", "description"})
TOP_KEYS = frozenset({"target", "description", "fields", "lines", "tables", "options"})
LINES_KEYS = frozenset({"target", "source", "fields"})
TABLE_KEYS = frozenset({"key", "value", "unmapped", "rows", "description"})
MAX_KEY_LENGTH = 200


class ProblemKind(enum.StrEnum):
    MAPPING = "mapping"  # the mapping document itself is wrong (bad JMESPath, unknown table, ...)
    EXPRESSION = "expression"  # a valid expression failed on this document (e.g. to_number of a list)
    UNMAPPED = "unmapped"  # a value has no row in a table that refuses unmapped values
    REQUIRED = "required"  # a required target field has no value
    TYPE = "type"  # a value is not of the field's type


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    kind: ProblemKind
    table: str | None = None
    value: str | None = None  # the unmapped value, as its table key

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "message": self.message,
            "kind": self.kind.value,
            "table": self.table,
            "value": self.value,
        }


class MappingError(Exception):
    """Base of the engine's errors: each carries every problem found, with its path."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class MappingInvalid(MappingError):
    """The mapping document is wrong: found when it is loaded or saved, never at push time."""


class MappingFailed(MappingError):
    """This document cannot be mapped (a value without a row, a required field without a value)."""

    @property
    def unmapped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.kind == ProblemKind.UNMAPPED)


@dataclass(frozen=True)
class Table:
    name: str
    key_type: str = "string"
    value_type: str = "string"
    unmapped: str = "refuse"
    rows: Mapping[str, Any] = field(default_factory=dict)  # normalised key → value (None: "nothing")
    description: str = ""


@dataclass(frozen=True)
class FieldRule:
    target: str
    expr: str | None = None
    compiled: Any = None
    const: Any = None
    has_const: bool = False
    table: str | None = None
    default: Any = None
    has_default: bool = False
    required: bool = False
    type: str = "any"


@dataclass(frozen=True)
class LinesRule:
    target: str
    source: str
    compiled: Any
    fields: tuple[FieldRule, ...]


@dataclass(frozen=True)
class MappingSpec:
    """A parsed, valid mapping. `document` is its storable form (JSON-safe: Decimals as text)."""

    target: str | None
    fields: tuple[FieldRule, ...]
    lines: LinesRule | None
    tables: Mapping[str, Table]
    document: Mapping[str, Any]
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def with_rows(self, rows: Mapping[str, Mapping[str, Any]]) -> MappingSpec:
        """The same mapping with more table rows (already normalised); these win over inline rows.

        The hub keeps rows edited one by one (SKU → item, customer → party) outside the versioned
        document and hands them in here."""
        tables = dict(self.tables)
        for name, extra in rows.items():
            if name in tables and extra:
                table = tables[name]
                tables[name] = Table(
                    table.name,
                    table.key_type,
                    table.value_type,
                    table.unmapped,
                    {**table.rows, **extra},
                    table.description,
                )
        return MappingSpec(self.target, self.fields, self.lines, tables, self.document, self.description, self.options)

    def target_names(self) -> set[str]:
        names = {f.target for f in self.fields}
        if self.lines is not None:
            names |= {f"{self.lines.target}[].{f.target}" for f in self.lines.fields}
        return names


@dataclass(frozen=True)
class Outcome:
    """What mapping one document gave: the payload (fields with problems left out) and every problem."""

    payload: dict[str, Any]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


# ---- keys and values --------------------------------------------------------------------------


def normalise_key(key_type: str, raw: Any) -> str:
    """The form a table key is stored and looked up in; ValueError when it cannot be a key.

    Decimal keys compare by value: 0.19, "0.190" and Decimal("0.19") are the same row."""
    if raw is None or isinstance(raw, bool | list | dict):
        raise ValueError(f"{_show(raw)} cannot be a table key")
    if key_type == "decimal":
        try:
            number = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
        except InvalidOperation:
            raise ValueError(f"{_show(raw)} is not a number") from None
        if not number.is_finite() or not _in_range(number):
            raise ValueError(f"{_show(raw)} is not a finite number of a sensible size")
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
    return _coerce(value_type, raw)


def _coerce(type_name: str, value: Any) -> Any:
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
        raise ValueError(f"expected text, got {_kind(value)}")
    if type_name == "decimal":
        if isinstance(value, bool):
            raise ValueError("expected a number, got a boolean")
        if isinstance(value, Decimal | int):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                raise ValueError(f"expected a number, got {_show(value)}") from None
        else:
            raise ValueError(f"expected a number, got {_kind(value)}")
        if not number.is_finite() or not _in_range(number):
            raise ValueError(f"expected a finite number of a sensible size, got {_show(value)}")
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
        raise ValueError(f"expected an integer, got {_show(value)}")
    if type_name == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, got {_show(value)}")
    if type_name == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()[:10])
            except ValueError:
                raise ValueError(f"expected an ISO date, got {_show(value)}") from None
        raise ValueError(f"expected a date, got {_kind(value)}")
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


def _kind(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
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


# ---- parsing --------------------------------------------------------------------------------------


def loads(text: str) -> dict[str, Any]:
    """A mapping document from YAML or JSON text (JSON is read as YAML); MappingInvalid if unreadable."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader, without aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        raise MappingInvalid([Problem(where, f"not valid YAML or JSON: {exc}", ProblemKind.MAPPING)]) from None
    if not isinstance(data, dict):
        raise MappingInvalid([Problem("document", "a mapping document is an object", ProblemKind.MAPPING)])
    return data


class _Loader(yaml.SafeLoader):
    """YAML's safe loader without aliases: `*name` repeats a node by reference, and a few nested
    ones make a small text expand to billions of values once the document is stored or compared."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def dumps(document: Mapping[str, Any]) -> str:
    """YAML text of a stored mapping document, keys in their order (what a diff compares)."""
    return yaml.safe_dump(storable(document), sort_keys=False, allow_unicode=True, width=120)


def check(document: Any) -> list[Problem]:
    """Every problem of a mapping document, each with its path in the document."""
    try:
        parse(document)
    except MappingInvalid as exc:
        return list(exc.problems)
    return []


def parse(document: Any) -> MappingSpec:
    """A mapping document (a dict, as loaded from YAML or JSON) checked and compiled.

    Raises MappingInvalid with every problem: unknown keys, bad JMESPath, unknown tables, bad
    table keys and values, types that do not exist."""
    problems: list[Problem] = []

    def bad(path: str, message: str) -> None:
        problems.append(Problem(path, message, ProblemKind.MAPPING))

    if not isinstance(document, Mapping):
        raise MappingInvalid([Problem("document", "a mapping document is an object", ProblemKind.MAPPING)])
    for key in document:
        if key not in TOP_KEYS:
            bad(str(key), f"unknown key; a mapping has {', '.join(sorted(TOP_KEYS))}")
    target = document.get("target")
    if target is not None and not isinstance(target, str):
        bad("target", "the connector type, as text")
    description = document.get("description") or ""
    if not isinstance(description, str):
        bad("description", "text")
        description = ""

    options = document.get("options") or {}
    if not isinstance(options, Mapping):
        bad("options", "an object of named settings")
        options = {}
    for key in options:
        if not isinstance(key, str) or not NAME.fullmatch(key) or "." in key:
            bad(f"options.{key}", "a setting name such as create_operation")
    tables = _parse_tables(document.get("tables"), bad)
    top = _parse_fields(document.get("fields"), "fields", tables, bad, required=True)
    lines = None
    raw_lines = document.get("lines")
    if raw_lines is not None:
        if not isinstance(raw_lines, Mapping):
            bad("lines", "an object with source and fields")
        else:
            for key in raw_lines:
                if key not in LINES_KEYS:
                    bad(f"lines.{key}", f"unknown key; lines have {', '.join(sorted(LINES_KEYS))}")
            line_target = raw_lines.get("target", "lines")
            if not isinstance(line_target, str) or not NAME.fullmatch(line_target) or "." in line_target:
                bad("lines.target", "a field name such as lines")
                line_target = "lines"
            if line_target in {f.target.split(".")[0] for f in top}:
                bad("lines.target", f"{line_target} is also a field of the document")
            source = raw_lines.get("source", "lines")
            compiled = _compile(source, "lines.source", bad)
            line_fields = _parse_fields(raw_lines.get("fields"), "lines.fields", tables, bad, required=True)
            lines = LinesRule(line_target, source if isinstance(source, str) else "", compiled, tuple(line_fields))
    if problems:
        raise MappingInvalid(problems)
    return MappingSpec(
        target=target,
        fields=tuple(top),
        lines=lines,
        tables=tables,
        document=storable(document),
        description=description,
        options=dict(options),
    )


def _compile(expr: Any, path: str, bad) -> Any:
    if not isinstance(expr, str) or not expr.strip():
        bad(path, "a JMESPath expression (text)")
        return None
    try:
        return jmespath.compile(expr)
    except jmespath.exceptions.JMESPathError as exc:
        # The library's message spans lines with a caret; the first line says what is wrong.
        bad(path, f"invalid JMESPath {expr!r}: {str(exc).splitlines()[0]}")
    except Exception as exc:  # the parser raises a few plain errors on odd input; all are mapping errors
        bad(path, f"invalid JMESPath {expr!r}: {exc}")
    return None


def _parse_tables(raw: Any, bad) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    if raw is None:
        return tables
    if not isinstance(raw, Mapping):
        bad("tables", "an object of tables by name")
        return tables
    for name, spec in raw.items():
        path = f"tables.{name}"
        if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
            bad(path, "a table name is lower case letters, digits and _ (at most 63)")
            continue
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            bad(path, "an object with key, value, unmapped and rows")
            continue
        for key in spec:
            if key not in TABLE_KEYS:
                bad(f"{path}.{key}", f"unknown key; a table has {', '.join(sorted(TABLE_KEYS))}")
        key_type = spec.get("key", "string")
        if key_type not in KEY_TYPES:
            bad(f"{path}.key", f"one of {', '.join(KEY_TYPES)}")
            key_type = "string"
        value_type = spec.get("value", "string")
        if value_type not in VALUE_TYPES:
            bad(f"{path}.value", f"one of {', '.join(VALUE_TYPES)}")
            value_type = "string"
        unmapped = spec.get("unmapped", "refuse")
        if unmapped not in UNMAPPED:
            bad(f"{path}.unmapped", f"one of {', '.join(UNMAPPED)}")
            unmapped = "refuse"
        rows: dict[str, Any] = {}
        raw_rows = spec.get("rows") or {}
        if not isinstance(raw_rows, Mapping):
            bad(f"{path}.rows", "an object of key: value")
            raw_rows = {}
        for raw_key, raw_value in raw_rows.items():
            row_path = f"{path}.rows[{_show(raw_key)}]"
            try:
                key = normalise_key(key_type, raw_key)
            except ValueError as exc:
                bad(row_path, f"bad key: {exc}")
                continue
            if key in rows:
                bad(row_path, f"the key {key} is given twice")
                continue
            try:
                rows[key] = convert_value(value_type, raw_value)
            except ValueError as exc:
                bad(row_path, f"bad value: {exc}")
        description = spec.get("description") or ""
        tables[name] = Table(
            name, key_type, value_type, unmapped, rows, description if isinstance(description, str) else ""
        )
    return tables


def _parse_fields(raw: Any, path: str, tables: Mapping[str, Table], bad, *, required: bool) -> list[FieldRule]:
    rules: list[FieldRule] = []
    if raw is None:
        if required:
            bad(path, "required: the target fields and where their values come from")
        return rules
    if not isinstance(raw, Mapping):
        bad(path, "an object of target field: rule")
        return rules
    for target, spec in raw.items():
        where = f"{path}.{target}"
        if not isinstance(target, str) or not NAME.fullmatch(target):
            bad(where, "a target field name is letters, digits and _, dotted for nested objects")
            continue
        if isinstance(spec, str):  # shorthand: a bare expression
            spec = {"expr": spec}
        if not isinstance(spec, Mapping):
            bad(where, "an expression, or an object with expr or const")
            continue
        for key in spec:
            if key not in FIELD_KEYS:
                bad(f"{where}.{key}", f"unknown key; a field has {', '.join(sorted(FIELD_KEYS))}")
        has_expr, has_const, has_default = "expr" in spec, "const" in spec, "default" in spec
        if has_expr and has_const:
            bad(where, "give either expr or const, not both")
        if not (has_expr or has_const or has_default):
            bad(where, "give expr, const or default")
        compiled = _compile(spec["expr"], f"{where}.expr", bad) if has_expr else None
        table = spec.get("table")
        if table is not None and table not in tables:
            known = ", ".join(sorted(tables)) or "none"
            bad(f"{where}.table", f"no table {table!r} in this mapping (tables: {known})")
        type_name = spec.get("type", "any")
        if type_name not in TYPES:
            bad(f"{where}.type", f"one of {', '.join(TYPES)}")
            type_name = "any"
        req = spec.get("required", False)
        if not isinstance(req, bool):
            bad(f"{where}.required", "true or false")
            req = False
        const, default = spec.get("const"), spec.get("default")
        for name, value in (("const", const), ("default", default)):
            if name in spec and value is not None:
                try:
                    _coerce(type_name, value)
                except ValueError as exc:
                    bad(f"{where}.{name}", str(exc))
        rules.append(
            FieldRule(
                target=target,
                expr=spec.get("expr") if has_expr else None,
                compiled=compiled,
                const=document_view(const),
                has_const=has_const,
                table=table,
                default=document_view(default),
                has_default=has_default,
                required=req,
                type=type_name,
            )
        )
    targets = [r.target for r in rules]
    for i, name in enumerate(targets):
        for other in targets[:i]:
            if name.startswith(other + ".") or other.startswith(name + "."):
                bad(f"{path}.{name}", f"clashes with {other}: one cannot be a value and an object")
    return rules


# ---- applying -------------------------------------------------------------------------------------


def evaluate(mapping: MappingSpec, document: Any) -> Outcome:
    """Map one document; never raises for anything the document holds. Fields with problems are
    left out of the payload (so a preview shows everything that could be mapped)."""
    root = document_view(document)
    problems: list[Problem] = []
    payload = _map_fields(mapping.fields, root, mapping.tables, "", problems)
    if mapping.lines is not None:
        rule = mapping.lines
        items = _search(rule.compiled, root, rule.target, problems)
        if items is None:
            items = []
        if not isinstance(items, list):
            problems.append(
                Problem(rule.target, f"{rule.source!r} gives {_kind(items)}, not a list", ProblemKind.EXPRESSION)
            )
            items = []
        payload[rule.target] = [
            _map_fields(rule.fields, item, mapping.tables, f"{rule.target}[{i}].", problems)
            for i, item in enumerate(items)
        ]
    return Outcome(payload, tuple(problems))


def apply(mapping: MappingSpec, document: Any) -> dict[str, Any]:
    """The target payload for a document; MappingFailed with every problem when it cannot be made."""
    outcome = evaluate(mapping, document)
    if outcome.problems:
        raise MappingFailed(outcome.problems)
    return outcome.payload


def validate(mapping: MappingSpec | Mapping[str, Any], document: Any = None) -> list[Problem]:
    """Every problem: of the mapping document itself, then (given a document) of mapping it."""
    if not isinstance(mapping, MappingSpec):
        try:
            mapping = parse(mapping)
        except MappingInvalid as exc:
            return list(exc.problems)
    if document is None:
        return []
    return list(evaluate(mapping, document).problems)


def missing_targets(mapping: MappingSpec | Mapping[str, Any], needed: Iterable[str]) -> list[Problem]:
    """Target fields a connector cannot do without that the mapping does not produce
    (`lines[].sku` names a line field). Also works on a document that does not parse, so that a
    refused save lists these problems together with the others."""
    have = mapping.target_names() if isinstance(mapping, MappingSpec) else _declared_targets(mapping)
    return [
        Problem(
            f"lines.fields.{name.split('].', 1)[1]}" if "[]." in name else f"fields.{name}",
            "the connector needs this field",
            ProblemKind.MAPPING,
        )
        for name in needed
        if name not in have
    ]


class _DecimalFunctions(jmespath.functions.Functions):
    """JMESPath's functions, taught that Decimal is a number: the library checks argument types
    by Python type name and would refuse `sum(lines[].net)` over Decimals, turn `to_number('1.10')`
    into a float and fail `to_string` of a Decimal."""

    def _get_allowed_pytypes(self, types):
        allowed, subtypes = super()._get_allowed_pytypes(types)
        if "int" in allowed:
            allowed = [*allowed, "Decimal"]
        subtypes = [(*s, "Decimal") if "int" in s else s for s in subtypes]
        return allowed, subtypes

    @jmespath.functions.signature({"types": []})
    def _func_to_string(self, arg):
        if isinstance(arg, Decimal):
            return decimal_text(arg)
        return super()._func_to_string(arg)

    @jmespath.functions.signature({"types": []})
    def _func_to_number(self, arg):
        if isinstance(arg, Decimal | int) and not isinstance(arg, bool):
            return arg
        if isinstance(arg, str):
            try:
                number = Decimal(arg.strip())
            except InvalidOperation:
                return None
            return number if number.is_finite() else None
        return None

    @jmespath.functions.signature({"types": []})
    def _func_type(self, arg):
        return "number" if isinstance(arg, Decimal) else super()._func_type(arg)


class _DecimalInterpreter(jmespath.visitor.TreeInterpreter):
    """Literals such as `0.19` are read by JMESPath as floats; here they are Decimals, so that
    a filter on `tax_rate == 0.19` compares exactly with the document's Decimals."""

    def visit_literal(self, node, value):
        return document_view(node["value"])


_OPTIONS = jmespath.Options(custom_functions=_DecimalFunctions())


def _declared_targets(document: Mapping[str, Any]) -> set[str]:
    fields_ = document.get("fields") if isinstance(document, Mapping) else None
    names = {str(k) for k in fields_} if isinstance(fields_, Mapping) else set()
    lines = document.get("lines") if isinstance(document, Mapping) else None
    if isinstance(lines, Mapping) and isinstance(lines.get("fields"), Mapping):
        target = lines.get("target", "lines")
        names |= {f"{target}[].{k}" for k in lines["fields"]}
    return names


def _search(compiled: Any, data: Any, path: str, problems: list[Problem]) -> Any:
    try:
        return _DecimalInterpreter(_OPTIONS).visit(compiled.parsed, data)
    except jmespath.exceptions.JMESPathError as exc:
        problems.append(Problem(path, f"expression failed: {str(exc).splitlines()[0]}", ProblemKind.EXPRESSION))
    except Exception as exc:
        # JMESPath functions meet arbitrary documents (to_string of a Decimal, sort of mixed types):
        # whatever they raise is this document's problem, reported, never a crash of the push.
        problems.append(Problem(path, f"expression failed: {type(exc).__name__}: {exc}", ProblemKind.EXPRESSION))
    return None


def _map_fields(
    rules: tuple[FieldRule, ...] | list[FieldRule],
    data: Any,
    tables: Mapping[str, Table],
    prefix: str,
    problems: list[Problem],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule in rules:
        path = prefix + rule.target
        found = len(problems)
        value = _value(rule, data, tables, path, problems)
        if len(problems) > found:
            continue
        if value is None and rule.required:
            problems.append(Problem(path, "required, but the document gives no value", ProblemKind.REQUIRED))
            continue
        _put(out, rule.target, value)
    return out


def _value(rule: FieldRule, data: Any, tables: Mapping[str, Table], path: str, problems: list[Problem]) -> Any:
    if rule.has_const:
        value = rule.const
    elif rule.compiled is not None:
        value = _search(rule.compiled, data, path, problems)
    else:
        value = None
    if value is None:
        # A default covers a missing source value, never a missing table row (see the module doc).
        value = rule.default if rule.has_default else None
    elif rule.table is not None:
        value = _lookup(tables[rule.table], value, path, problems)
        if value is _MISSING:
            return None
    if value is None:
        return None
    try:
        return _coerce(rule.type, value)
    except ValueError as exc:
        problems.append(Problem(path, str(exc), ProblemKind.TYPE))
        return None


_MISSING = object()


def _lookup(table: Table, value: Any, path: str, problems: list[Problem]) -> Any:
    try:
        key = normalise_key(table.key_type, value)
    except ValueError as exc:
        problems.append(Problem(path, f"cannot look up in table {table.name}: {exc}", ProblemKind.TYPE, table.name))
        return _MISSING
    if key in table.rows:
        return table.rows[key]
    if table.unmapped == "keep":
        return value
    if table.unmapped == "empty":
        return None
    problems.append(
        Problem(path, f"no entry for {key} in table {table.name}", ProblemKind.UNMAPPED, table=table.name, value=key)
    )
    return _MISSING


def _put(out: dict[str, Any], target: str, value: Any) -> None:
    *parents, last = target.split(".")
    node = out
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value


# ---- comparing versions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any
    kind: str  # added | removed | changed


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """What changed between two mapping documents, leaf by leaf (lists compared as wholes)."""
    changes: list[Change] = []
    _diff(storable(old), storable(new), "", changes)
    return changes


def _diff(old: Any, new: Any, path: str, changes: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            sub = _join(path, key)
            if key not in new:
                changes.append(Change(sub, old[key], None, "removed"))
            elif key not in old:
                changes.append(Change(sub, None, new[key], "added"))
            else:
                _diff(old[key], new[key], sub, changes)
    elif old != new:
        changes.append(Change(path or "document", old, new, "changed"))


def _join(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"
