"""Applying a parsed mapping to a canonical document: the target's payload, or every problem.

JMESPath runs over `document_view(document)`, taught that Decimal is a number, so sums and filters
stay exact. A field's `default` stands in when its source gives null, never when a table has no row
for a value: an unmapped tax rate or currency is always reported and never silently replaced.
Problems carry their path (`lines[2].tax: no entry for 0.07 in table taxes`) and every problem is
reported, not only the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.functions
import jmespath.visitor

from mappings.parse import parse
from mappings.spec import FieldRule, MappingFailed, MappingInvalid, MappingSpec, Outcome, Problem, ProblemKind, Table
from mappings.values import coerce, decimal_text, document_view, kind_of, normalise_key


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
                Problem(rule.target, f"{rule.source!r} gives {kind_of(items)}, not a list", ProblemKind.EXPRESSION)
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
        return coerce(rule.type, value)
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
