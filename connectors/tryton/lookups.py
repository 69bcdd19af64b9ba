"""Finding in Tryton what an invoice refers to: the accounting configuration, the revenue journal,
currencies (and their rounding), taxes, units, product categories and products, each by what the
mapping gives (a code, a name, a rate).

Whatever was found is kept in the process's cache of the database (cache.py) and trusted for a
while; a push that used an entry an earlier push looked up says so (`_used_earlier_lookups`), so that
a create Tryton refuses is tried once more with everything looked up afresh. A new log-in forgets
them all: the server may have been restarted or restored.

Tryton's rules followed here
- a product's code is its template's (empty) prefix and the variant's suffix; its revenue account is
  its accounting category's (`account_revenue`, computed by Tryton, not a field of the product);
- a tax named in the mapping is a top-level tax (`parent` empty); one given by rate is the
  percentage customer tax with that rate (group kind sale or both), else any percentage tax with it;
- a created product is goods, in the accounting category the connection names.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.documents import InvoiceDocument, InvoiceLine
from connectors.errors import PermanentError
from connectors.tryton.cache import LookupCache, cache_for
from connectors.tryton.rpc import TrytonRpc
from mappings.spec import MappingSpec

# What the payload's tax lines take from a Tryton tax (account.invoice.tax as Tryton makes them).
TAX_FIELDS = ["id", "invoice_account", "credit_note_account", "description", "legal_notice"]


@dataclass
class BatchLookups:
    """What one push found in Tryton for all its documents."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)  # by code
    mapped: dict[str, dict[str, Any]] = field(default_factory=dict)  # documents by idempotency key
    # The Tryton tax each rate of a document was mapped to (by idempotency key), for _write_hub_tax_amounts.
    taxes_of: dict[str, dict[Decimal, int | None]] = field(default_factory=dict)
    # Each document's untaxed amount as Tryton computes it from the payload's lines, for the check.
    untaxed: dict[str, Decimal] = field(default_factory=dict)
    by_tax_id: dict[str, dict[str, Any] | NewParty] = field(default_factory=dict)  # parties
    by_name: dict[str, dict[str, Any] | NewParty] = field(default_factory=dict)


class NewParty:
    """A customer the batch creates in Tryton once all its documents are built (one call for all)."""

    def __init__(self, doc: InvoiceDocument) -> None:
        self.doc = doc


def oldest_by_reference(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Invoices by reference; the oldest wins should two ever exist (the hub links exactly one)."""
    found: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        found.setdefault(row["reference"], row)
    return found


class TrytonLookups(TrytonRpc):
    """Look-ups by key, kept for later pushes; the products of a push's lines."""

    def __init__(self, config: Mapping[str, Any], *, post: bool = False, mapping: MappingSpec | None = None) -> None:
        super().__init__(config, post=post, mapping=mapping)
        # Ids this worker process looked up in this database before (cache.py), and whether
        # the current push used one that an earlier push looked up (which may have gone stale).
        self._lookups: LookupCache = cache_for(self._session_key)
        self._push_started = time.monotonic()
        self._used_earlier_lookups = False
        # Products and parties a push looked up for all its documents at once (None outside a push).
        self._batch: BatchLookups | None = None
        # Currency rounding by Tryton currency id, for the total check.
        self._rounding: dict[int, Decimal] = {}

    def _logged_in(self) -> None:
        # A new session may be a restarted or restored server: ids looked up before may not hold.
        self._lookups.forget()

    def _start_push(self) -> None:
        self._push_started = time.monotonic()
        self._used_earlier_lookups = False

    def _cached(self, key: tuple[str, Any], load):
        """The process's earlier look-up of `key` (cache.py), else `load()` kept for later."""
        hit = self._kept(key)
        if hit is None:
            value = load()
            self._lookups.put(key, value)
            return value
        return hit[0]

    def _kept(self, key: tuple[str, Any]) -> tuple[Any] | None:
        """(value,) of the process's earlier look-up of `key`, or None; one made before this push
        is noted, so that a create Tryton refuses is tried again with fresh ids."""
        hit = self._lookups.get(key)
        if hit is None:
            return None
        looked_up_at, value = hit
        if looked_up_at < self._push_started:
            self._used_earlier_lookups = True
        return (value,)

    def _configuration(self) -> dict[str, Any]:
        def load():
            (row,) = self.call("model.account.configuration.read", [1], ["default_account_receivable"])
            if not row.get("default_account_receivable"):
                raise PermanentError("Tryton has no default receivable account (Accounting → Configuration)")
            return row

        return self._cached(("configuration", None), load)

    def _revenue_journal(self) -> int:
        def load():
            rows = self.search_read("account.journal", [["type", "=", "revenue"]], ["id"], limit=1)
            if not rows:
                raise PermanentError("Tryton has no revenue journal")
            return rows[0]["id"]

        return self._cached(("journal", None), load)

    def _currency(self, code: str) -> int:
        def load():
            rows = self.search_read("currency.currency", [["code", "=", code]], ["id", "rounding"], limit=1)
            if not rows:
                raise PermanentError(f"currency {code} is not set up in Tryton", field="currency")
            return rows[0]

        row = self._cached(("currency", code), load)
        self._rounding[row["id"]] = row["rounding"]  # for the total check
        return row["id"]

    def _tax_for(self, rate: Decimal, index: int) -> int:
        def load():
            rows = self.search_read(
                "account.tax",
                [
                    ["rate", "=", rate],
                    ["type", "=", "percentage"],
                    ["parent", "=", None],
                    ["group.kind", "in", ["sale", "both"]],
                ],
                TAX_FIELDS,
                limit=1,
            )
            if not rows:
                rows = self.search_read(
                    "account.tax",
                    [["rate", "=", rate], ["type", "=", "percentage"], ["parent", "=", None]],
                    TAX_FIELDS,
                    limit=1,
                )
            if not rows:
                raise PermanentError(f"no Tryton customer tax with rate {rate}", field=f"lines[{index}].tax_rate")
            return self._keep_tax_info(rows[0])

        return self._cached(("tax", rate), load)

    def _keep_tax_info(self, row: dict[str, Any]) -> int:
        """Keep what the payload's tax lines take from a tax found by a look-up; its id."""
        self._lookups.put(("tax info", row["id"]), row)
        return row["id"]

    def _tax_info(self, tax_id: int) -> dict[str, Any]:
        def load():
            rows = self.call("model.account.tax.read", [tax_id], TAX_FIELDS)
            if not rows:
                raise PermanentError(f"Tryton has no tax {tax_id}")
            return rows[0]

        return self._cached(("tax info", tax_id), load)

    def _currency_rounding(self, currency_id: int) -> Decimal:
        if currency_id not in self._rounding:

            def load():
                (row,) = self.call("model.currency.currency.read", [currency_id], ["rounding"])
                return row["rounding"]

            self._rounding[currency_id] = self._cached(("currency rounding", currency_id), load)
        return self._rounding[currency_id]

    def _tax_named(self, name: str, index: int) -> int:
        def load():
            rows = self.search_read("account.tax", [["name", "=", name], ["parent", "=", None]], TAX_FIELDS, limit=2)
            if len(rows) != 1:
                found = "no" if not rows else "more than one"
                raise PermanentError(
                    f"Tryton has {found} tax named {name!r} (table taxes of the mapping)", field=f"lines[{index}].tax"
                )
            return self._keep_tax_info(rows[0])

        return self._cached(("tax name", name), load)

    def _products(self, lines: list[dict[str, Any]], doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The mapped lines' products by code; unknown ones created if the connection allows it
        (in a dry run, a note says so instead)."""
        found: dict[str, Any] = self._find_products({line["sku"] for line in lines})
        missing = {line["sku"]: (i, line) for i, line in enumerate(lines) if line["sku"] not in found}
        if not missing:
            return found
        if not self.config["create_products"]:
            i, line = next(iter(missing.values()))
            raise PermanentError(
                f"lines[{i}]: SKU {line['sku']} is unknown in Tryton (connection setting create_products is off)",
                field=f"lines[{i}].sku",
            )
        if dry_run:
            self._product_category()  # refuses now what the push would refuse
            return {**found, **{sku: f"(new product {sku}, created by the push)" for sku in missing}}
        self._create_products(
            [
                InvoiceLine(
                    sku=sku,
                    description=line.get("description") or sku,
                    quantity=line["quantity"],
                    unit_price=line["unit_price"],
                    discount_percent=Decimal(0),
                    tax_rate=doc.lines[i].tax_rate,
                    net=Decimal(0),
                    tax=Decimal(0),
                    total=Decimal(0),
                    unit=doc.lines[i].unit,
                )
                for sku, (i, line) in missing.items()
            ]
        )
        return {**found, **self._find_products(set(missing))}

    def _find_products(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        if self._batch is None:
            return self._find_products_in_tryton(skus)
        known = self._batch.products
        wanted = set(skus)
        known.update(self._find_products_in_tryton(wanted - known.keys()))  # e.g. just created
        return {sku: known[sku] for sku in wanted if sku in known}

    def _find_products_in_tryton(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Products by code: those an earlier push found, the others asked for (and kept)."""
        known: dict[str, dict[str, Any]] = {}
        wanted = []
        for sku in sorted(set(skus)):
            hit = self._kept(("product", sku))
            if hit is None:
                wanted.append(sku)
            else:
                known[sku] = hit[0]
        if not wanted:
            return known
        rows = self.search_read(
            "product.product", [["code", "in", wanted]], ["id", "code", "default_uom", "account_category"]
        )
        found = {r["code"]: dict(r) for r in rows}  # copies: the exchange log keeps what Tryton said
        # The revenue account is the accounting category's (Tryton computes it, it is no field).
        categories = {r["account_category"] for r in found.values() if r.get("account_category")}
        revenue = {
            c["id"]: c["account_revenue"]
            for c in (
                self.call("model.product.category.read", sorted(categories), ["id", "account_revenue"])
                if categories
                else []
            )
        }
        for code, row in found.items():
            row["account_revenue_used"] = revenue.get(row.get("account_category"))
            self._lookups.put(("product", code), row)
        return {**known, **found}

    def _create_products(self, lines: list[InvoiceLine]) -> None:
        """Goods named like the line, at its price, in the configured category; code = the SKU."""
        category = self._product_category()
        templates = [
            {
                "name": line.description or line.sku,
                "type": "goods",
                "default_uom": self._unit(line.unit),
                "list_price": line.unit_price,
                "account_category": category,
                # The variant's code is the template's (empty) prefix and this suffix.
                "products": [["create", [{"suffix_code": line.sku}]]],
            }
            for line in lines
        ]
        self.call("model.product.template.create", templates, changes_data=True)

    def _product_category(self) -> int:
        def load():
            name = self.config["product_category"]
            if not name:
                raise PermanentError(
                    "create_products is on but no product_category is set for new products", field="product_category"
                )
            rows = self.search_read(
                "product.category", [["name", "=", name], ["accounting", "=", True]], ["id"], limit=1
            )
            if not rows:
                raise PermanentError(f"Tryton has no accounting product category {name!r}", field="product_category")
            return rows[0]["id"]

        return self._cached(("category", self.config["product_category"]), load)

    def _unit(self, name: str) -> int:
        def load():
            rows = self.search_read(
                "product.uom", ["OR", ["symbol", "=", name], ["name", "ilike", name]], ["id"], limit=1
            )
            rows = rows or self.search_read("product.uom", [["name", "=", "Unit"]], ["id"], limit=1)
            if not rows:
                raise PermanentError(f"Tryton has no unit of measure {name!r}")
            return rows[0]["id"]

        return self._cached(("unit", name), load)
