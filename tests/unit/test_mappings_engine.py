"""The mapping engine on its own: pure functions over canonical documents, no Flask, no database."""

from __future__ import annotations

import ast
import pathlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mappings
from connectors.documents import Address, InvoiceDocument, InvoiceLine, Party, TaxAmount
from mappings.defaults import default_document, default_mapping, default_types
from mappings.diff import diff
from mappings.evaluate import apply, evaluate, validate
from mappings.parse import check, loads, missing_targets, parse
from mappings.spec import MappingFailed, MappingInvalid, MappingSpec, Problem, ProblemKind
from mappings.values import convert_value, normalise_key


def line(sku: str | None, rate: str, net: str = "10.00", **more) -> InvoiceLine:
    return InvoiceLine(
        sku=sku,
        description=more.pop("description", f"{sku} item"),
        quantity=Decimal(more.pop("quantity", "1")),
        unit_price=Decimal(net),
        discount_percent=Decimal(0),
        tax_rate=Decimal(rate),
        net=Decimal(net),
        tax=(Decimal(net) * Decimal(rate)).quantize(Decimal("0.01")),
        total=Decimal(net) + (Decimal(net) * Decimal(rate)).quantize(Decimal("0.01")),
    )


def document(*lines: InvoiceLine, currency: str = "EUR", notes: str | None = "D-000007 Pumps") -> InvoiceDocument:
    lines = lines or (line("PUMP-100", "0.19"),)
    return InvoiceDocument(
        number="INV-000042",
        idempotency_key="INV-000042",
        deal_reference="D-000007",
        customer=Party(name="Acme GmbH", tax_id="DE123", address=Address(city="Berlin", country="DE"), hub_id=7),
        currency=currency,
        issue_date=date(2026, 11, 23),
        due_date=None,
        lines=tuple(lines),
        subtotal=sum((ln.net for ln in lines), Decimal(0)),
        tax_total=sum((ln.tax for ln in lines), Decimal(0)),
        total=sum((ln.total for ln in lines), Decimal(0)),
        taxes=(TaxAmount(Decimal("0.19"), Decimal("10.00"), Decimal("1.90")),),
        notes=notes,
    )


MAPPING = {
    "target": "example",
    "fields": {
        "ref": {"expr": "idempotency_key", "required": True},
        "kind": {"const": "ACCREC"},
        "customer.name": "customer.name",
        "customer.city": {"expr": "customer.address.city"},
        "customer.party_id": {"expr": "customer.hub_id", "table": "parties", "type": "integer"},
        "currency": {"expr": "currency", "table": "currencies", "required": True},
        "memo": {"expr": "notes", "default": "(none)"},
        "issued": {"expr": "issue_date", "type": "date"},
        "due": {"expr": "due_date", "default": None},
        "untaxed": {"expr": "sum(lines[].net)", "type": "decimal"},
        "status": {"expr": "status", "default": "DRAFT", "type": "string"},
    },
    "lines": {
        "target": "items",
        "fields": {
            "item": {"expr": "sku", "table": "items", "required": True},
            "qty": {"expr": "quantity", "type": "decimal", "required": True},
            "tax_code": {"expr": "tax_rate", "table": "tax_codes", "required": True},
            "account": {"const": "4000"},
        },
    },
    "tables": {
        "tax_codes": {"key": "decimal", "rows": {"0.19": "VAT19", "0.070": "VAT7", "0": None}},
        "currencies": {"rows": {"EUR": "1", "USD": "2"}},
        "items": {"unmapped": "keep", "rows": {"PUMP-100": "ITEM-1"}},
        "parties": {"value": "integer", "unmapped": "empty", "rows": {"7": 4711}},
    },
}


def test_fields_constants_defaults_tables_and_nested_lines():
    doc = document(line("PUMP-100", "0.19", "10.00", quantity="2"), line("MANUAL-DE", "0.07", "3.50"))
    payload = apply(parse(MAPPING), doc)
    assert payload == {
        "ref": "INV-000042",
        "kind": "ACCREC",
        "customer": {"name": "Acme GmbH", "city": "Berlin", "party_id": 4711},
        "currency": "1",
        "memo": "D-000007 Pumps",
        "issued": date(2026, 11, 23),
        "due": None,
        "untaxed": Decimal("13.50"),
        "status": "DRAFT",
        "items": [
            {"item": "ITEM-1", "qty": Decimal("2"), "tax_code": "VAT19", "account": "4000"},
            {"item": "MANUAL-DE", "qty": Decimal("1"), "tax_code": "VAT7", "account": "4000"},
        ],
    }
    # Money never became a float on the way.
    assert isinstance(payload["untaxed"], Decimal)
    assert apply(parse(MAPPING), document(notes=None))["memo"] == "(none)"


def test_every_unmapped_value_is_reported_with_its_path_table_and_value():
    doc = document(line("PUMP-100", "0.19"), line("X", "0.19"), line("Y", "0.07"), line(None, "0.16"), currency="JPY")
    with pytest.raises(MappingFailed) as failed:
        apply(parse(MAPPING), doc)
    assert [str(p) for p in failed.value.problems] == [
        "currency: no entry for JPY in table currencies",
        "items[3].item: required, but the document gives no value",
        "items[3].tax_code: no entry for 0.16 in table tax_codes",
    ]
    (currency, _missing, rate) = failed.value.problems
    assert (rate.kind, rate.table, rate.value) == (ProblemKind.UNMAPPED, "tax_codes", "0.16")
    assert failed.value.unmapped == (currency, rate)


def test_the_issue_example_path():
    mapping = {
        "fields": {"ref": "number"},
        "lines": {"fields": {"tax_code": {"expr": "tax_rate", "table": "tax_codes"}}},
        "tables": {"tax_codes": {"key": "decimal", "rows": {"0.19": "A"}}},
    }
    doc = document(line("A", "0.19"), line("B", "0.19"), line("C", "0.07"))
    assert [str(p) for p in validate(mapping, doc)] == ["lines[2].tax_code: no entry for 0.07 in table tax_codes"]


def test_a_default_never_stands_in_for_a_missing_row():
    # A currency the table does not have is refused even though the field has a default: no "rate 1".
    mapping = {
        "fields": {"rate": {"expr": "currency", "table": "rates", "default": "1", "type": "decimal"}},
        "tables": {"rates": {"value": "decimal", "rows": {"EUR": "1", "USD": "0.92"}}},
    }
    spec = parse(mapping)
    assert apply(spec, document(currency="USD")) == {"rate": Decimal("0.92")}
    assert [str(p) for p in validate(spec, document(currency="CHF"))] == ["rate: no entry for CHF in table rates"]


def test_row_mapped_to_nothing_and_required():
    spec = parse(MAPPING)
    with pytest.raises(MappingFailed) as failed:
        apply(spec, document(line("PUMP-100", "0")))
    assert [str(p) for p in failed.value.problems] == ["items[0].tax_code: required, but the document gives no value"]


def test_bad_mappings_report_every_problem_with_its_path():
    bad = {
        "fields": {
            "a": {"expr": "lines[?"},
            "b": {"expr": "x", "const": 1},
            "c": {"table": "nope", "expr": "currency"},
            "d": {"expr": "x", "type": "float"},
            "e": {},
            "f": {"expr": "x", "colour": "red"},
            "g": {"const": "abc", "type": "decimal"},
        },
        "lines": {"source": "lines[", "fields": {"x": {"expr": "sum(", "required": "yes"}}},
        "tables": {
            "Bad-Name": {},
            "rates": {"key": "decimal", "value": "integer", "unmapped": "guess", "rows": {"x": 1, "0.1": "one"}},
        },
        "colour": "blue",
    }
    paths = [p.path for p in check(bad)]
    assert paths == [
        "colour",
        "tables.Bad-Name",
        "tables.rates.unmapped",
        "tables.rates.rows['x']",
        "tables.rates.rows['0.1']",
        "fields.a.expr",
        "fields.b",
        "fields.c.table",
        "fields.d.type",
        "fields.e",
        "fields.f.colour",
        "fields.g.const",
        "lines.source",
        "lines.fields.x.expr",
        "lines.fields.x.required",
    ]
    with pytest.raises(MappingInvalid) as invalid:
        parse(bad)
    assert "fields.a.expr: invalid JMESPath 'lines[?'" in str(invalid.value)
    assert all(p.kind == ProblemKind.MAPPING for p in invalid.value.problems)


def test_an_expression_that_fails_on_a_document_is_a_problem_not_a_crash():
    spec = parse({"fields": {"n": "abs(customer)", "s": "sort(lines[].[sku, tax_rate][])", "ok": "currency"}})
    outcome = evaluate(spec, document(line("A", "0.19"), line(None, "0.19")))
    assert outcome.payload == {"ok": "EUR"}
    assert [p.path for p in outcome.problems] == ["n", "s"]
    assert {p.kind for p in outcome.problems} == {ProblemKind.EXPRESSION}


def test_decimal_functions_and_literals_are_exact():
    spec = parse(
        {
            "fields": {
                "sum": "sum(lines[].net)",
                "vat19": "length(lines[?tax_rate == `0.19`])",
                "text": "to_string(total)",
                "number": "to_number('0.10')",
            }
        }
    )
    payload = apply(spec, document(line("A", "0.19", "0.10"), line("B", "0.19", "0.20")))
    assert payload == {"sum": Decimal("0.30"), "vat19": 2, "text": "0.36", "number": Decimal("0.10")}


def test_yaml_text_loads_floats_as_exact_decimals():
    spec = parse(loads("fields:\n  rate: {const: 0.19, type: decimal}\n"))
    assert apply(spec, document()) == {"rate": Decimal("0.19")}
    with pytest.raises(MappingInvalid, match="not valid YAML"):
        loads("fields: [")


def test_stored_rows_win_over_inline_rows():
    spec = parse(MAPPING).with_rows({"tax_codes": {"0.19": "VAT19-NEW"}, "unknown": {"x": "y"}})
    assert apply(spec, document())["items"][0]["tax_code"] == "VAT19-NEW"


def test_diff_names_each_change():
    new = {**MAPPING, "fields": {**MAPPING["fields"], "kind": {"const": "ACCPAY"}}}
    new["tables"] = {**MAPPING["tables"], "tax_codes": {"key": "decimal", "rows": {"0.19": "V19", "0": None}}}
    changes = [(c.path, c.kind, c.old, c.new) for c in diff(MAPPING, new)]
    assert changes == [
        ("fields.kind.const", "changed", "ACCREC", "ACCPAY"),
        ("tables.tax_codes.rows['0.19']", "changed", "VAT19", "V19"),
        ("tables.tax_codes.rows['0.070']", "removed", "VAT7", None),
    ]


def test_target_names_may_be_cyrillic_but_not_start_with_a_digit():
    spec = parse(
        {
            "fields": {"Комментарий": "number", "counterparty.ИНН": "customer.tax_id"},
            "lines": {"target": "Товары", "fields": {"Количество": "quantity"}},
        }
    )
    payload = apply(spec, document())
    assert payload["Комментарий"] == document().number
    assert payload["counterparty"] == {"ИНН": document().customer.tax_id}
    assert [line["Количество"] for line in payload["Товары"]] == [line.quantity for line in document().lines]
    with pytest.raises(MappingInvalid) as bad:
        parse({"fields": {"1Поле": "number", "поле-2": "number"}})
    assert [p.path for p in bad.value.problems] == ["fields.1Поле", "fields.поле-2"]


def test_missing_targets_a_connector_needs():
    spec = parse({"fields": {"reference": "number"}, "lines": {"fields": {"qty": "quantity"}}})
    problems = missing_targets(spec, ["reference", "currency", "lines[].sku"])
    assert [p.path for p in problems] == ["fields.currency", "lines.fields.sku"]


def test_options_are_named_settings_kept_through_table_rows_and_checked_by_the_connector():
    from connectors.base import ConfigField, Connector

    spec = parse({**MAPPING, "options": {"create_operation": "СоздатьСчет"}})
    assert spec.with_rows({"tax_codes": {"0.19": "V"}}).options == {"create_operation": "СоздатьСчет"}
    with pytest.raises(MappingInvalid) as bad:
        parse({**MAPPING, "options": ["create"]})
    assert [p.path for p in bad.value.problems] == ["options"]

    class Soapish(Connector):
        type_name = "soapish"
        mapping_options = (ConfigField("create_operation", required=True), ConfigField("timeout", "integer"))

    problems = Soapish.mapping_problems({**MAPPING, "options": {"timeout": "soon", "extra": 1}})
    assert sorted((p.path, p.message) for p in problems) == [
        ("options.create_operation", "required"),
        ("options.extra", "unknown setting"),
        ("options.timeout", "must be integer"),
    ]


def test_target_names_may_be_russian_as_1c_names_its_fields():
    spec = parse(
        {
            "fields": {"ВнешнийНомер": "idempotency_key", "Контрагент.Наименование": "customer.name"},
            "lines": {"target": "Товары", "fields": {"Артикул": "sku"}},
        }
    )
    payload = apply(spec, document(line("PUMP-100", "0.19")))
    assert payload == {
        "ВнешнийНомер": "INV-000042",
        "Контрагент": {"Наименование": "Acme GmbH"},
        "Товары": [{"Артикул": "PUMP-100"}],
    }
    with pytest.raises(MappingInvalid) as bad:
        parse({"fields": {"1Номер": "number", "Номер-2": "number", "Контрагент..ИНН": "customer.tax_id"}})
    assert sorted(p.path for p in bad.value.problems) == ["fields.1Номер", "fields.Контрагент..ИНН", "fields.Номер-2"]


@pytest.mark.parametrize("type_name", default_types())
def test_the_shipped_defaults_load_and_map_a_document(type_name):
    assert set(default_types()) >= {"tryton", "mini_ledger"}
    spec = default_mapping(type_name)
    assert spec.target == type_name
    assert check(default_document(type_name)) == []
    outcome = evaluate(spec, document(line("PUMP-100", "0.19"), line("MANUAL-DE", "0.07")))
    # A table may refuse a rate its target lacks (1C's VAT enumeration has no 19 %): reported, never guessed.
    assert all(p.kind == ProblemKind.UNMAPPED for p in outcome.problems), outcome.problems
    # Where the reference and the lines go is the mapping's choice (1C: Комментарий, Товары).
    assert outcome.payload[spec.options.get("reference_field", "reference")] == "INV-000042"
    assert len(outcome.payload[spec.lines.target]) == 2


def test_the_engine_never_imports_the_hub_or_flask():
    for path in pathlib.Path(mappings.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [n for n in names if n.split(".")[0] in ("hub", "flask", "sqlalchemy", "connectors")], path


# ---- property: arbitrary documents give a payload or problems, never an exception ----------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.text(max_size=12),
    st.floats(allow_nan=True),
    st.dates(),
)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
keys = st.sampled_from(
    ["number", "idempotency_key", "currency", "customer", "lines", "notes", "issue_date", "total", "sku", "tax_rate"]
)
documents = st.one_of(
    json_like,
    st.dictionaries(keys, json_like, max_size=8),
    st.fixed_dictionaries(
        {"currency": json_like, "lines": st.lists(st.dictionaries(keys, json_like, max_size=6), max_size=4)}
    ),
)
MAPPINGS = [parse(MAPPING), *(default_mapping(t) for t in default_types())]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_arbitrary_documents_never_crash_the_engine(doc):
    for spec in MAPPINGS:
        outcome = evaluate(spec, doc)
        assert isinstance(outcome.payload, dict)
        assert all(isinstance(p, Problem) and p.path for p in outcome.problems)
        if outcome.problems:
            with pytest.raises(MappingFailed) as failed:
                apply(spec, doc)
            assert failed.value.problems == outcome.problems
        else:
            assert apply(spec, doc) == outcome.payload


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["target", "fields", "lines", "tables", "other"]),
        st.one_of(json_like, st.dictionaries(st.text(max_size=8), json_like, max_size=4)),
        max_size=5,
    )
)
def test_arbitrary_mapping_documents_are_parsed_or_refused_with_problems(doc):
    problems = check(doc)  # parse, with MappingInvalid turned into its problems
    assert all(isinstance(p, Problem) and p.kind == ProblemKind.MAPPING for p in problems)
    if not problems:
        assert isinstance(parse(doc), MappingSpec)


def test_yaml_aliases_are_refused():
    # `*name` repeats a node: nested ones turn a few lines into billions of values once stored.
    with pytest.raises(MappingInvalid, match="aliases"):
        loads("a: &x [1, 2]\nb: [*x, *x]\n")


def test_numbers_of_absurd_size_are_refused_not_written_out():
    with pytest.raises(ValueError, match="sensible size"):
        normalise_key("decimal", "1E+999999999")
    with pytest.raises(ValueError, match="sensible size"):
        convert_value("decimal", "1E+999999999")
    spec = parse({"fields": {"n": {"expr": "n", "type": "string"}}})
    assert apply(spec, {"n": Decimal("1E+999999999")}) == {"n": "1E+999999999"}
