"""1C:Enterprise's site exchange ("Обмен с сайтом", CommerceML 2): 1C calls the hub, not the other
way round. 1C fetches the won deals' invoices as orders (`type=sale&mode=query`, acknowledged by
`mode=success`), sends back what became of them (paid, shipped, cancelled) and uploads its
catalogue, prices and stock (`type=catalog`). The endpoint lives in the hub (`hub/exchange`); this
class holds what a connection of this type is: its settings (the admin form), the mapping that
makes an order of an invoice, and the orders document built with it.

Each order line carries the price as 1C keeps it (2 decimals) and the discount amount that makes
1C's Окр(Количество × Цена, 2) the hub's net (`EXCHANGE_LINES`, connectors/onec/arithmetic.py).

Nothing is pushed: `push_invoice` is unsupported, and the hub queues no pushes for this type
(`fetches_invoices`); an invoice counts as exported once 1C has acknowledged the query it came in.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime
from typing import Any, ClassVar

from connectors.arithmetic import fitted
from connectors.base import ConfigField, Connector
from connectors.documents import ExternalRef, InvoiceDocument
from connectors.errors import ConnectorError, PermanentError, UnsupportedOperation
from connectors.onec.arithmetic import EXCHANGE_LINES, currency_unit
from connectors.onec.commerceml_orders import orders_xml
from connectors.texts import N_
from mappings.values import storable

ENCODINGS = ("utf-8", "windows-1251")


class OneCExchangeConnector(Connector):
    type_name = "onec_exchange"
    label = "1C:Enterprise (site exchange, CommerceML)"
    fetches_invoices: ClassVar[bool] = True
    line_arithmetic = EXCHANGE_LINES
    required_targets = (
        "reference",
        "number",
        "date",
        "currency",
        "total",
        "lines[].name",
        "lines[].quantity",
        "lines[].unit_price",
        "lines[].net",
    )
    config_schema = (
        ConfigField("username", "string", N_("User 1C logs in as"), required=True),
        ConfigField("password", "string", N_("Password 1C logs in with"), required=True, secret=True),
        ConfigField(
            "zip", "boolean", N_("Accept zip archives"), default=True, help=N_("1C then packs its files before sending")
        ),
        ConfigField(
            "file_limit",
            "integer",
            N_("Largest part of a file per request (bytes)"),
            default=8_000_000,
            help=N_("1C cuts bigger files into parts of this size"),
        ),
        ConfigField(
            "max_total_bytes",
            "integer",
            N_("Most bytes one exchange may upload and unpack"),
            default=500_000_000,
            help=N_("uploads and unpacked archives beyond this are refused"),
        ),
        ConfigField(
            "warehouses",
            "string",
            N_("1C warehouses whose stock is imported"),
            default="",
            help=N_("their Ид, comma-separated; empty for all"),
        ),
        ConfigField(
            "price_type",
            "string",
            N_("1C price type for list prices"),
            default="",
            help=N_("its Ид or name; empty for the first price an offer carries"),
        ),
        ConfigField(
            "currency",
            "string",
            N_("Currency of products 1C sends without a price"),
            default="RUB",
            help=N_("ISO 4217; 1C's 'руб' is read as RUB"),
        ),
        ConfigField(
            "import_batch",
            "integer",
            N_("Items read per import call"),
            default=5000,
            help=N_("a bigger file is read over several calls (1C is answered 'progress')"),
        ),
        ConfigField("orders_per_query", "integer", N_("Most orders per query"), default=500),
        ConfigField("encoding", "string", N_("Encoding of the answers"), default="utf-8", choices=ENCODINGS),
    )

    def test_connection(self) -> str:
        zipped = "zip archives accepted" if self.config["zip"] else "no zip archives"
        return (
            f"1C connects to the hub (site exchange at /exchange/1c) as user '{self.config['username']}'; "
            f"{zipped}, parts of up to {self.config['file_limit']} bytes. The run history shows each exchange."
        )

    def order_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The order the mapping makes of an invoice (MappingRefused naming what it cannot map),
        each line's price as 1C keeps it (connectors/onec/arithmetic.py: the discount that takes
        1C's amount to the net is written with the line)."""
        payload = self.map_document(doc)
        lines = payload.get("lines") or []
        if len(lines) != len(doc.lines):
            raise PermanentError(
                f"the mapping gives {len(lines)} lines for {len(doc.lines)} in the document", field="lines"
            )
        unit = currency_unit(doc.currency)
        for i, (line, source) in enumerate(zip(lines, doc.lines, strict=True)):
            price = fitted(
                EXCHANGE_LINES, i, source.quantity, source.unit_price, source.discount_percent, source.net, unit
            ).price
            if line["unit_price"] != price:
                line["unit_price"] = price
        return payload

    def preview_payload(self, doc: InvoiceDocument) -> Any:
        return storable(self.order_payload(doc))

    def orders_document(
        self, docs: Sequence[InvoiceDocument], generated_at: datetime, cancelled: Set[str] = frozenset()
    ) -> tuple[bytes, list[InvoiceDocument], dict[str, ConnectorError]]:
        """The orders XML for `type=sale&mode=query`, the documents in it, and the refused ones
        (by idempotency key, with why): one order that cannot be mapped does not hold up the others.
        Orders whose key is in `cancelled` go marked «Отменен»: 1C cancels its copy."""
        payloads, sent, refused = [], [], {}
        for doc in docs:
            try:
                payload = self.order_payload(doc)
                payloads.append({**payload, "cancelled": doc.idempotency_key in cancelled})
                sent.append(doc)
            except ConnectorError as exc:
                refused[doc.idempotency_key] = exc
        return orders_xml(payloads, generated_at, self.config["encoding"]), sent, refused

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        raise UnsupportedOperation(f"{self.label}: 1C fetches orders from the hub (type=sale&mode=query)")

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        raise UnsupportedOperation(f"{self.label}: the hub knows what 1C acknowledged; there is nothing to ask")
