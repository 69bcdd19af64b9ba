"""What a connection of type `onec_soap` is told by its mapping (`options`): the operations of the
1C web service and their arguments, and where each answer holds the 1C id, number, state, amounts
and stock rows (dotted paths from the response element).
"""

from __future__ import annotations

from connectors.base import ConfigField
from connectors.texts import N_


def _operation(name: str, label: str, *, required: bool = False) -> ConfigField:
    return ConfigField(name, "string", label, required=required, default="")


MAPPING_OPTIONS = (
    _operation("create_operation", N_("Operation that creates an invoice"), required=True),
    ConfigField(
        "create_parameter",
        "string",
        N_("Its one parameter holding the whole invoice"),
        default="",
        help=N_("for an operation such as ЗаписатьСчет(Счет); empty: the mapping's fields are its parameters"),
    ),
    ConfigField(
        "reference_field",
        "string",
        N_("Argument carrying the hub's reference"),
        required=True,
        help=N_("a field of this mapping, sent to the create operation; the find operation looks invoices up by it"),
    ),
    ConfigField(
        "post_argument",
        "string",
        N_("Argument asking 1C to post"),
        default="",
        help=N_("a boolean argument of the create operation, true when the connection posts documents"),
    ),
    _operation("find_operation", N_("Operation that finds an invoice by the hub's reference"), required=True),
    ConfigField(
        "find_argument", "string", N_("Its argument for the reference"), default="", help=N_("empty: its only one")
    ),
    _operation("status_operation", N_("Operation that returns an invoice's state (by 1C id)")),
    ConfigField(
        "status_argument", "string", N_("Its argument for the 1C id"), default="", help=N_("empty: its only one")
    ),
    _operation("cancel_operation", N_("Operation that cancels an invoice (by 1C id)")),
    ConfigField(
        "cancel_argument", "string", N_("Its argument for the 1C id"), default="", help=N_("empty: its only one")
    ),
    _operation("stock_operation", N_("Operation that returns stock balances")),
    ConfigField(
        "answer_id", "string", N_("Invoice answer: the 1C id"), default="", help=N_("a dotted path such as return.Ид")
    ),
    ConfigField("answer_number", "string", N_("Invoice answer: the 1C number"), default=""),
    ConfigField("answer_state", "string", N_("Invoice answer: the state (see table states)"), default=""),
    ConfigField("answer_total", "string", N_("Invoice answer: the document total"), default=""),
    ConfigField("answer_paid", "string", N_("Invoice answer: the amount paid"), default=""),
    ConfigField("answer_currency", "string", N_("Invoice answer: the currency"), default=""),
    ConfigField("stock_rows", "string", N_("Stock answer: the list of rows"), default="", help=N_("empty: the answer")),
    ConfigField("stock_sku", "string", N_("Stock row: the SKU"), default=""),
    ConfigField("stock_warehouse", "string", N_("Stock row: the warehouse"), default=""),
    ConfigField("stock_on_hand", "string", N_("Stock row: the quantity on hand"), default=""),
    ConfigField("stock_reserved", "string", N_("Stock row: the quantity reserved"), default="", help=N_("empty: none")),
)
