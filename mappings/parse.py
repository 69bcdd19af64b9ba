"""Reading and checking a mapping document: from YAML or JSON text to a compiled `MappingSpec`.

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

Parsing reports every problem of the document at once (`MappingInvalid`), each with its path, so a
refused save lists them all; a saved mapping never fails for its own sake at push time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import jmespath
import jmespath.exceptions
import yaml

from mappings.spec import FieldRule, LinesRule, MappingInvalid, MappingSpec, Problem, ProblemKind, Table
from mappings.values import coerce, convert_value, document_view, normalise_key, shown, storable

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
    return yaml.dump(storable(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


# Unicode's own line breaks: PyYAML writes them raw into a quoted scalar, and reading it back folds a
# NEL into a space, so a value edited in the YAML editor would change without anyone touching it.
_UNICODE_BREAKS = frozenset("\x85\u2028\u2029")


class _Dumper(yaml.SafeDumper):
    """YAML's safe dumper, writing text with a Unicode line break double-quoted (as \\N, \\L, \\P)."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if _UNICODE_BREAKS.intersection(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


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
            row_path = f"{path}.rows[{shown(raw_key)}]"
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
                    coerce(type_name, value)
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


def _declared_targets(document: Mapping[str, Any]) -> set[str]:
    fields_ = document.get("fields") if isinstance(document, Mapping) else None
    names = {str(k) for k in fields_} if isinstance(fields_, Mapping) else set()
    lines = document.get("lines") if isinstance(document, Mapping) else None
    if isinstance(lines, Mapping) and isinstance(lines.get("fields"), Mapping):
        target = lines.get("target", "lines")
        names |= {f"{target}[].{k}" for k in lines["fields"]}
    return names
