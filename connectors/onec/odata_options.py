"""What a connection of type `onec_odata` is told by its mapping (`options`): the entities and
fields of the 1C configuration it works with, and where that configuration keeps stock; and the
mapping problems found when the mapping is saved, before any push.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connectors.base import ConfigField, ConfigInvalid, validate_config
from connectors.texts import N_
from mappings.parse import missing_targets, parse
from mappings.spec import MappingInvalid, MappingSpec, Problem, ProblemKind

IDENTIFIER = re.compile(r"^[^\W\d]\w*$")
ENTITY_PREFIXES = {
    "document": "Document_",
    "counterparty_catalog": "Catalog_",
    "product_catalog": "Catalog_",
    "warehouse_catalog": "Catalog_",
    "stock_register": "AccumulationRegister_",
}
FIELD_OPTIONS = (
    "reference_field",
    "counterparty_field",
    "product_field",
    "total_field",
    "paid_field",
    "stock_product",
    "stock_warehouse",
    "stock_quantity",
    "stock_reserved",
)
LIST_OPTIONS = ("counterparty_match", "product_match")
# Where the common configurations keep stock, by the `configuration` mapping option; `custom` reads
# the stock options as the mapping gives them (their defaults, ТоварыНаСкладах / Количество, are
# the registers of Управление торговлей 10.3 and Комплексная автоматизация 1.1).
# - Управление торговлей 11 and 1C:ERP 2 (built on it): free stock by product and warehouse is the
#   register СвободныеОстатки, resources ВНаличии and ВРезервеСоСклада.
# - Бухгалтерия предприятия 3.0 keeps quantities on account 41 of its accounting register (by
#   subconto), in no accumulation register: stock is not read from it (`stock_register` empty).
STOCK_OF_TRADE_11 = {
    "stock_register": "AccumulationRegister_СвободныеОстатки",
    "stock_product": "Номенклатура",
    "stock_warehouse": "Склад",
    "stock_quantity": "ВНаличии",
    "stock_reserved": "ВРезервеСоСклада",
}
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "custom": {},
    "accounting_3": {"stock_register": ""},
    "trade_11": STOCK_OF_TRADE_11,
    "erp_2": STOCK_OF_TRADE_11,
}
MAPPING_OPTIONS = (
    ConfigField(
        "configuration",
        default="custom",
        choices=tuple(CONFIGURATIONS),
        help=N_(
            "the 1C configuration, for where it keeps stock: custom (the stock options below), accounting_3 "
            "(Бухгалтерия 3.0: no stock read), trade_11 (Управление торговлей 11), erp_2 (1C:ERP 2)"
        ),
    ),
    ConfigField("document", default="Document_СчетНаОплатуПокупателю", help=N_("the document entity invoices become")),
    ConfigField("reference_field", default="Комментарий", help=N_("document field with the hub's reference")),
    ConfigField("counterparty_catalog", default="Catalog_Контрагенты"),
    ConfigField("counterparty_field", default="Контрагент_Key", help=N_("document field the counterparty goes in")),
    ConfigField("counterparty_match", default="ИНН,Code,Description", help=N_("fields a counterparty is found by")),
    ConfigField("product_catalog", default="Catalog_Номенклатура"),
    ConfigField("product_field", default="Номенклатура_Key", help=N_("line field the product goes in")),
    ConfigField("product_match", default="Артикул,Code", help=N_("fields a product is found by; the first is its SKU")),
    ConfigField("create_products", "boolean", default=False, help=N_("off: an unknown SKU refuses the invoice")),
    ConfigField("total_field", default="СуммаДокумента"),
    ConfigField("paid_field", default="", help=N_("document field with the amount paid, if the configuration has one")),
    ConfigField("stock_register", default="AccumulationRegister_ТоварыНаСкладах"),
    ConfigField("stock_product", default="Номенклатура", help=N_("the register's product dimension")),
    ConfigField("stock_warehouse", default="Склад", help=N_("the register's warehouse dimension")),
    ConfigField("stock_quantity", default="Количество", help=N_("the register's quantity resource")),
    ConfigField("stock_reserved", default="", help=N_("a resource with the reserved quantity, if any")),
    ConfigField("warehouse_catalog", default="Catalog_Склады"),
)


def names(text: str) -> list[str]:
    """The names of a comma-separated option."""
    return [name.strip() for name in text.split(",") if name.strip()]


def mapping_problems(mapping: MappingSpec | Mapping[str, Any]) -> list[Problem]:
    """What the options and fields of a mapping lack for 1C (the engine reports what is wrong with
    the document itself, and the connector's own required targets)."""
    problems: list[Problem] = []
    if not isinstance(mapping, MappingSpec):
        try:
            mapping = parse(mapping)
        except MappingInvalid:
            return problems
    try:
        options = validate_config(MAPPING_OPTIONS, mapping.options)
    except ConfigInvalid:
        return problems

    def bad(path: str, message: str) -> None:
        problems.append(Problem(path, message, ProblemKind.MAPPING))

    for name, prefix in ENTITY_PREFIXES.items():
        value = options[name]
        if not (value.startswith(prefix) and IDENTIFIER.fullmatch(value)):
            bad(f"options.{name}", f"an entity name such as {prefix}Имя")
    for name in FIELD_OPTIONS:
        if options[name] and not IDENTIFIER.fullmatch(options[name]):
            bad(f"options.{name}", "a field name of the 1C configuration")
    for name in LIST_OPTIONS:
        if not names(options[name]) or not all(IDENTIFIER.fullmatch(n) for n in names(options[name])):
            bad(f"options.{name}", "field names separated by commas")
    if IDENTIFIER.fullmatch(options["reference_field"]):
        problems += missing_targets(mapping, [options["reference_field"]])
    targets = mapping.target_names()
    if not any(f"counterparty.{n}" in targets for n in names(options["counterparty_match"])):
        bad("fields.counterparty", f"give counterparty.<field> for one of {options['counterparty_match']}")
    if mapping.lines is None:
        bad("lines", "the document's tabular section: target (e.g. Товары) and the fields of its rows")
    elif not any(f"{mapping.lines.target}[].product.{n}" in targets for n in names(options["product_match"])):
        bad("lines.fields.product", f"give product.<field> for one of {options['product_match']}")
    return problems
