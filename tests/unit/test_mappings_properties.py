"""The mapping engine's promises over generated mappings and documents (Hypothesis), beyond the
examples of test_mappings_engine.py: a valid mapping reads back from its stored YAML unchanged and maps
alike; evaluating never raises, and applying raises only MappingFailed with the problems evaluation
reported; a diff is empty exactly when nothing changed, and reads the same both ways; table keys and
numbers keep their value through every form the engine puts them in."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mappings.diff import diff
from mappings.evaluate import apply, evaluate
from mappings.parse import TYPES, dumps, loads, parse
from mappings.spec import MappingFailed, Problem
from mappings.values import coerce, decimal_text, normalise_key, storable

# ---- mappings ------------------------------------------------------------------------------------

EXPRESSIONS = [
    "number",
    "currency",
    "notes",
    "customer.name",
    "customer.hub_id",
    "total",
    "issue_date",
    "lines[0].sku",
    "sum(lines[].net)",
    "length(lines)",
    "to_string(total)",
    "to_number(number)",
    "notes || 'none'",
    "lines[?tax_rate == `0.19`].sku | [0]",
    "max_by(lines, &net).sku",
    "customer",
    "lines",
]
LINE_EXPRESSIONS = ["sku", "quantity", "unit_price", "tax_rate", "net", "description", "to_string(net)", "sku || net"]
DECIMAL_KEYS = ["0", "0.07", "0.19", "0.2", "1", "-5", "1000000"]
STRING_KEYS = ["EUR", "USD", "JPY", "PUMP-100", "A", "7", "Müller", "Товар"]

# What a stored document can hold as a field's const or default (see test_decimal_consts_... below).
stored_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**9), max_value=10**9), st.text(max_size=8)
)
finite_decimals = st.decimals(
    min_value=Decimal("-1E12"), max_value=Decimal("1E12"), allow_nan=False, allow_infinity=False, places=4
)
table_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@st.composite
def tables(draw) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in draw(st.lists(table_names, unique=True, max_size=3)):
        key_type = draw(st.sampled_from(["string", "decimal"]))
        value_type = draw(st.sampled_from(["string", "decimal", "integer"]))
        values = {
            "string": st.one_of(st.none(), st.text(min_size=1, max_size=6).filter(str.strip)),
            "decimal": st.one_of(st.none(), finite_decimals.map(decimal_text)),
            "integer": st.one_of(st.none(), st.integers(min_value=-(10**6), max_value=10**6)),
        }[value_type]
        keys = draw(st.lists(st.sampled_from(DECIMAL_KEYS if key_type == "decimal" else STRING_KEYS), unique=True))
        table = {"key": key_type, "value": value_type, "rows": {k: draw(values) for k in keys}}
        if draw(st.booleans()):
            table["unmapped"] = draw(st.sampled_from(["refuse", "keep", "empty"]))
        out[name] = table
    return out


@st.composite
def field_rules(draw, expressions: list[str], table_names: list[str]) -> dict[str, Any]:
    """Rules that parse: their targets never clash (`a` beside `a.b`), their consts and defaults fit
    their types."""
    rules: dict[str, Any] = {}
    for i in range(draw(st.integers(min_value=1, max_value=6))):
        target = f"f{i}" if draw(st.booleans()) else f"n{i}.v{i}"
        kind = draw(st.sampled_from(["bare", "expr", "const"]))
        if kind == "bare":
            rules[target] = draw(st.sampled_from(expressions))
            continue
        rule: dict[str, Any] = (
            {"expr": draw(st.sampled_from(expressions))} if kind == "expr" else {"const": draw(stored_scalars)}
        )
        if kind == "expr":
            rule["type"] = draw(st.sampled_from(TYPES))
            if draw(st.booleans()):
                rule["default"] = None if rule["type"] != "any" else draw(stored_scalars)
        if table_names and draw(st.booleans()):
            rule["table"] = draw(st.sampled_from(table_names))
        if draw(st.booleans()):
            rule["required"] = draw(st.booleans())
        rules[target] = rule
    return rules


@st.composite
def mapping_documents(draw) -> dict[str, Any]:
    tables_ = draw(tables())
    document: dict[str, Any] = {"fields": draw(field_rules(EXPRESSIONS, list(tables_)))}
    if draw(st.booleans()):
        document["target"] = draw(st.sampled_from(["tryton", "xero", "example"]))
    if draw(st.booleans()):
        document["lines"] = {
            "target": "items",
            "source": draw(st.sampled_from(["lines", "lines[?quantity > `0`]", "customer"])),
            "fields": draw(field_rules(LINE_EXPRESSIONS, list(tables_))),
        }
    if tables_:
        document["tables"] = tables_
    if draw(st.booleans()):
        document["options"] = {"create_operation": draw(st.text(max_size=10))}
    return document


# ---- documents -----------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**12), max_value=10**12), finite_decimals, st.text(max_size=8)
)
lines_ = st.fixed_dictionaries(
    {
        "sku": st.one_of(st.none(), st.sampled_from(STRING_KEYS), st.text(max_size=6)),
        "description": st.text(max_size=10),
        "quantity": st.one_of(finite_decimals, st.integers(min_value=-5, max_value=10**6)),
        "unit_price": finite_decimals,
        "tax_rate": st.one_of(st.sampled_from([Decimal(k) for k in DECIMAL_KEYS]), finite_decimals),
        "net": finite_decimals,
    },
    optional={"extra": json_scalars},
)
canonical = st.fixed_dictionaries(
    {
        "number": st.one_of(st.text(max_size=10), st.sampled_from(["INV-000042", "42", "0.5"])),
        "currency": st.one_of(st.sampled_from(STRING_KEYS), json_scalars),
        "notes": st.one_of(st.none(), st.text(max_size=10)),
        "customer": st.fixed_dictionaries(
            {"name": st.text(max_size=10), "hub_id": st.one_of(st.none(), st.integers(min_value=1, max_value=10))}
        ),
        "total": finite_decimals,
        "issue_date": st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
        "lines": st.lists(lines_, max_size=4),
    }
)
# The canonical shape, and the same keys holding anything (documents from a hand-edited preview).
documents = st.one_of(
    canonical,
    st.dictionaries(st.sampled_from(["number", "currency", "notes", "customer", "total", "lines"]), json_scalars),
)


@settings(max_examples=150, deadline=None)
@given(mapping_documents())
def test_a_valid_mapping_reads_back_from_its_stored_yaml_unchanged(document):
    spec = parse(document)
    text = dumps(spec.document)
    again = parse(loads(text))
    assert again.document == spec.document
    assert dumps(again.document) == text
    assert again.target_names() == spec.target_names()


@settings(max_examples=150, deadline=None)
@given(mapping_documents(), documents)
def test_a_stored_mapping_maps_every_document_as_the_one_saved(mapping, document):
    saved, stored = parse(mapping), parse(loads(dumps(parse(mapping).document)))
    assert evaluate(stored, document) == evaluate(saved, document)


@settings(max_examples=200, deadline=None)
@given(mapping_documents(), documents)
def test_mapping_never_raises_and_apply_fails_only_with_the_problems_evaluation_found(mapping, document):
    spec = parse(mapping)
    outcome = evaluate(spec, document)
    targets = {name.split(".")[0] for name in spec.target_names()} | ({spec.lines.target} if spec.lines else set())
    assert set(outcome.payload) <= {name.split("[]")[0] for name in targets}
    assert all(isinstance(p, Problem) and p.path and p.message for p in outcome.problems)
    if outcome.problems:
        with pytest.raises(MappingFailed) as failed:  # and nothing else
            apply(spec, document)
        assert failed.value.problems == outcome.problems
    else:
        assert apply(spec, document) == outcome.payload


@settings(max_examples=100, deadline=None)
@given(mapping_documents())
def test_a_decimal_const_keeps_its_value_through_storage_when_the_field_is_typed(mapping):
    # A number held as a const is stored as text (JSON-safe); typed `decimal`, the field reads it back
    # as the same number.
    for rule in mapping["fields"].values():
        if isinstance(rule, dict) and "const" in rule:
            rule["const"], rule["type"] = Decimal("0.19"), "decimal"
    saved = parse(mapping)
    stored = parse(loads(dumps(saved.document)))
    assert evaluate(stored, {}).payload == evaluate(saved, {}).payload


# ---- diff ----------------------------------------------------------------------------------------

trees = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=15,
)
tree_documents = st.dictionaries(st.text(max_size=6), trees, max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.one_of(mapping_documents(), tree_documents))
@example({"\x85": None})  # NEL, which PyYAML's own dumper folded into a space
def test_a_document_compared_with_itself_has_no_changes(document):
    assert diff(document, document) == []
    assert diff(document, parse_or_same(document)) == []


def parse_or_same(document: dict[str, Any]) -> Any:
    """The stored form of a document read back from its YAML (what the history page compares)."""
    return loads(dumps(document))


@settings(max_examples=200, deadline=None)
@given(tree_documents, tree_documents)
def test_a_diff_is_empty_exactly_when_nothing_changed_and_reads_the_same_both_ways(old, new):
    forward, backward = diff(old, new), diff(new, old)
    assert (forward == []) == (storable(old) == storable(new))
    flipped = {"added": "removed", "removed": "added", "changed": "changed"}
    assert sorted((c.path, flipped[c.kind], c.new, c.old) for c in forward) == sorted(
        (c.path, c.kind, c.old, c.new) for c in backward
    )
    assert len({c.path for c in forward}) == len(forward)


# ---- values --------------------------------------------------------------------------------------


@given(finite_decimals, st.integers(min_value=0, max_value=4))
def test_a_decimal_key_is_the_same_row_however_the_number_is_written(number, zeros):
    key = normalise_key("decimal", number)
    written = decimal_text(number) + ("0" * zeros if "." in decimal_text(number) else "")
    assert normalise_key("decimal", written) == key
    assert normalise_key("decimal", f"  {written} ") == key
    assert normalise_key("decimal", key) == key
    assert Decimal(key) == number
    if number == number.to_integral_value() and abs(number) < 10**12:
        assert normalise_key("decimal", int(number)) == key


@given(st.text(min_size=1, max_size=200).filter(str.strip))
def test_a_text_key_is_its_stripped_text_and_normalising_again_changes_nothing(text):
    key = normalise_key("string", text)
    assert key == text.strip()
    assert normalise_key("string", key) == key


@given(finite_decimals)
def test_a_number_keeps_its_value_through_text_storage_and_yaml(number):
    assert coerce("decimal", decimal_text(number)) == number
    assert "E" not in decimal_text(number)
    assert coerce("decimal", loads(dumps({"n": storable(number)}))["n"]) == number
    assert coerce("string", number) == decimal_text(number)


def test_text_with_a_unicode_line_break_reads_back_from_yaml_unchanged():
    # Found by test_a_document_compared_with_itself_has_no_changes: the YAML editor shows dumps()
    # of the stored document, and saving it unchanged turned "A\x85B" into "A B".
    document = {
        "fields": {"memo": {"const": "line\x85next"}, "code": {"expr": "sku", "table": "items"}},
        "tables": {"items": {"rows": {"PUMP\x85100": "P\u2028100", "A": "x\u2029y"}}},
    }
    again = parse(loads(dumps(parse(document).document)))
    assert again.document == parse(document).document
    assert apply(again, {"sku": "PUMP\x85100"}) == {"memo": "line\x85next", "code": "P\u2028100"}
