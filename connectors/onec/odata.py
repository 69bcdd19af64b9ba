"""1C:Enterprise through its standard OData interface (OData v3, JSON, HTTP Basic).

Every resource lives under `<publication>/odata/standard.odata/`: `Catalog_<name>`,
`Document_<name>`, `AccumulationRegister_<name>`, each record keyed by its `Ref_Key` GUID. The
names of the configuration (Cyrillic) are percent-encoded in the URL as UTF-8; filters are OData
expressions (`Артикул eq 'PUMP-100'`, `Ref_Key eq guid'…'`) with quotes doubled inside strings.

What the connector does in 1C
- the document body comes from the connection's mapping (`mappings/onec_odata.yaml` by default):
  the document's own fields, its tabular section (the mapping's `lines.target`, e.g. `Товары`),
  and two objects the connector replaces by a `Ref_Key`: `counterparty` (the fields of a
  `Catalog_Контрагенты` item) and each line's `product` (of a `Catalog_Номенклатура` item);
- counterparty: looked up by the fields `counterparty_match` names, in order (ИНН, then Code, then
  Description), among items not marked for deletion; created from the mapped fields if none matches;
- product: looked up by `product_match` (Артикул, then Code); created only if the mapping's
  `create_products` is on, otherwise the push is refused naming the line and its SKU, before
  anything is written to 1C; look-ups and creations are remembered for the whole batch;
- the document (`options.document`, default `Document_СчетНаОплатуПокупателю`) is created by one
  POST; the field `options.reference_field` (default `Комментарий`) carries the hub's reference, and
  is what `find_invoice` filters on; posted by the `Post` action if the connection posts documents;
- status: `Posted` and `DeletionMark` (cancelled), the paid amount if the mapping names a document
  field for it; cancel: `Unpost`, then `DeletionMark` set by PATCH;
- stock: the register's `Balance` with the product and warehouse dimensions, product and warehouse
  `Ref_Key`s resolved to SKU and warehouse code through their catalogs; products that moved lately
  (`Turnovers`) and have no balance left are reported as 0 (Balance leaves zeros out).

Lines: 1C computes a line as Окр(Количество × Цена, 2) with a 2-decimal price; each line goes with
the net price that makes it the hub's net, or the deal is refused when won (`ODATA_LINES`, the rule
and its sources in connectors/onec/arithmetic.py).

Errors: 1C's `odata.error` message becomes the PermanentError's text (400), 401/403 an AuthError,
5xx and timeouts retryable (uncertain for a create), as `connectors.http` translates them.

Beside this module: `odata_urls` (addresses and literals), `odata_options` (the mapping's options,
where each configuration keeps stock, the mapping's checks), `odata_payload` (catalog items a push
creates, and the body's clean-up).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors import outbound
from connectors.base import ConfigField, Connector
from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceStatus, StockLevel
from connectors.errors import ConnectorError, PermanentError, UncertainOutcomeError, UnsupportedOperation
from connectors.http import JsonHttp
from connectors.onec.arithmetic import ODATA_LINES, fit_mapped_lines
from connectors.onec.odata_options import CONFIGURATIONS, MAPPING_OPTIONS, names
from connectors.onec.odata_options import mapping_problems as odata_mapping_problems
from connectors.onec.odata_payload import NewItem, shown, with_notes, without_nulls
from connectors.onec.odata_urls import (
    FILTER_CHUNK,
    ODATA_ROOT,
    ZERO_GUID,
    guid_literal,
    is_guid,
    literal,
    odata_url,
    string_literal,
)
from connectors.outbound import OutboundRefused
from connectors.texts import N_
from mappings.spec import MappingSpec
from mappings.values import storable

# How far back documents are read when the reference field cannot be filtered by (see _lookup).
LOOKUP_DAYS = 62


class OneCODataConnector(Connector):
    type_name = "onec_odata"
    label = "1C:Enterprise (OData)"
    config_schema = (
        ConfigField(
            "base_url",
            "url",
            N_("Infobase publication URL"),
            required=True,
            help=N_("e.g. http://server/base; the hub adds /odata/standard.odata"),
        ),
        ConfigField("username", "string", N_("User"), required=True),
        ConfigField("password", "string", N_("Password"), secret=True),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=30),
        ConfigField(
            "organization_key",
            "string",
            N_("Organisation Ref_Key"),
            default="",
            help=N_(
                "the Catalog_Организации item invoices are issued by (Организация_Key), unless the mapping sets it"
            ),
        ),
        ConfigField(
            "stock_lookback_days",
            "integer",
            N_("Stock look-back (days)"),
            default=31,
            minimum=0,
            help=N_(
                "products moved this long before the last pull whose balance is gone are set to 0 "
                "(1C leaves zero balances out); cover documents entered with a past date"
            ),
        ),
        ConfigField(
            "warehouses",
            "string",
            N_("Warehouse codes"),
            default="",
            help=N_("codes (of the warehouse catalog) whose stock is pulled, comma-separated; empty for all"),
        ),
    )
    # The reference travels in the field the mapping's `reference_field` names, checked in build_payload.
    idempotency_target = None
    line_arithmetic = ODATA_LINES
    mapping_options = MAPPING_OPTIONS

    def __init__(self, config: Mapping[str, Any], *, post: bool = False, mapping: MappingSpec | None = None) -> None:
        super().__init__(config, post=post, mapping=mapping)
        self.options = {**self.options, **CONFIGURATIONS[self.options["configuration"]]}
        base = self.config["base_url"].rstrip("/").removesuffix("/" + ODATA_ROOT)
        self.root = f"{base}/{ODATA_ROOT}"
        session = outbound.session()
        # Basic credentials as UTF-8: 1C user names are often Cyrillic (Администратор), which
        # requests' own Basic auth (Latin-1) cannot encode.
        credentials = f"{self.config['username']}:{self.config['password'] or ''}".encode()
        session.headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        self.http = JsonHttp(
            self.root, timeout=float(self.config["timeout"]), session=session, record=self.exchanges.append
        )
        self.lines_target = self.mapping.lines.target if self.mapping.lines else None
        # Catalog look-ups of this connector's life (a job's batch): (catalog, field, value) → Ref_Key | None.
        self._refs: dict[tuple[str, str, str], str | None] = {}
        self._made: dict[str, str] = {}  # by NewItem.key
        # Documents this connector created (the engine may push a refused batch again one by one),
        # and drafts find_invoices found but could not post (pushing them must not create another).
        self._created: dict[str, ExternalRef] = {}
        self._unposted: dict[str, ConnectorError] = {}

    # ---- the mapping --------------------------------------------------------------------------

    @classmethod
    def mapping_problems(cls, mapping: MappingSpec | Mapping[str, Any]) -> list:
        return super().mapping_problems(mapping) + odata_mapping_problems(mapping)

    def build_payload(self, doc: InvoiceDocument, *, dry_run: bool = False) -> dict[str, Any]:
        """The document body for 1C: the mapping applied, counterparty and products looked up.

        What the push would create is a `NewItem` in place of its Ref_Key; a dry run (the preview)
        writes a note there instead. An unknown SKU is refused here, before anything is created."""
        o = self.options
        # A field the mapping gives no value is left out: 1C keeps its own default (an empty Ref_Key
        # would be a null, which 1C refuses for a reference).
        body = without_nulls(self.map_document(doc))
        if body.get(o["reference_field"]) != doc.idempotency_key:
            raise PermanentError(
                f"{o['reference_field']}: the mapping gives {body.get(o['reference_field'])!r}, but it must be the "
                f"idempotency key {doc.idempotency_key} (1C documents are looked up by it before a retry creates one)",
                field=o["reference_field"],
            )
        lines = body.get(self.lines_target) if self.lines_target else None
        if not isinstance(lines, list) or not lines:
            raise PermanentError("the mapping gives the document no lines", field="lines")
        fit_mapped_lines(ODATA_LINES, self.mapping, lines, doc)
        for i, line in enumerate(lines):
            product = line.pop("product", None)
            found = self._find(o["product_catalog"], product, o["product_match"])
            if found is None and not o["create_products"]:
                sku = doc.lines[i].sku if i < len(doc.lines) else None
                raise PermanentError(
                    f"lines[{i}]: SKU {sku!r} is not in 1C's {o['product_catalog']} (looked up by "
                    f"{o['product_match']}: {shown(product, o['product_match'])}); create it there, map the "
                    "SKU in the products table, or let the mapping create products",
                    field=f"lines[{i}].sku",
                )
            line[o["product_field"]] = found or NewItem(o["product_catalog"], product, o["product_match"])
            line.setdefault("LineNumber", str(i + 1))
        counterparty = body.pop("counterparty", None)
        body[o["counterparty_field"]] = self._find(
            o["counterparty_catalog"], counterparty, o["counterparty_match"]
        ) or NewItem(o["counterparty_catalog"], counterparty, o["counterparty_match"])
        if self.config["organization_key"] and "Организация_Key" not in body:
            body["Организация_Key"] = self._guid(self.config["organization_key"], "organization_key")
        if dry_run:
            return with_notes(body)
        return body

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The body `push_invoice` would POST, as JSON; counterparties and products it would first
        create appear as notes in place of their Ref_Key."""
        return storable(self.build_payload(doc, dry_run=True))

    # ---- look-ups -----------------------------------------------------------------------------

    def _find(self, catalog: str, fields: Any, match: str) -> str | None:
        """The Ref_Key of the catalog item (not marked for deletion) whose first given match field
        equals the mapped value; the fields are tried in order."""
        if not isinstance(fields, dict):
            raise PermanentError(f"the mapping gives no fields to find a {catalog} item by", field=catalog)
        for name in names(match):
            value = fields.get(name)
            if value is None or value == "":
                continue
            key = (catalog, name, str(value))
            if key not in self._refs:
                rows = self._get_all(
                    catalog,
                    {"$filter": f"{name} eq {literal(value)} and DeletionMark eq false", "$select": f"Ref_Key,{name}"},
                )
                self._refs[key] = min(r["Ref_Key"] for r in rows) if rows else None
            if self._refs[key] is not None:
                return self._refs[key]
        return None

    def _make(self, new: NewItem) -> str:
        """Create a catalog item (once per batch) and remember it under its match values."""
        if new.key not in self._made:
            created = self.http.post(odata_url(self.root, new.catalog, {"$format": "json"}), json=new.fields)
            self._made[new.key] = self._ref_key(created, new.catalog)
            for name in names(new.match):
                if new.fields.get(name) not in (None, ""):
                    self._refs[(new.catalog, name, str(new.fields[name]))] = self._made[new.key]
        return self._made[new.key]

    def _get_all(self, entity: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        answer = self.http.get(odata_url(self.root, entity, {"$format": "json", **query}))
        if not isinstance(answer, dict) or not isinstance(answer.get("value"), list):
            raise PermanentError(f"1C answered {entity} without a value list: {str(answer)[:200]}")
        return answer["value"]

    def _by_refs(self, entity: str, refs: Iterable[str], select: str) -> dict[str, dict[str, Any]]:
        """Items of a catalog by Ref_Key, a few dozen per request."""
        wanted = sorted({r for r in refs if is_guid(r) and r != ZERO_GUID})
        found: dict[str, dict[str, Any]] = {}
        for k in range(0, len(wanted), FILTER_CHUNK):
            condition = " or ".join(f"Ref_Key eq {guid_literal(r)}" for r in wanted[k : k + FILTER_CHUNK])
            for row in self._get_all(entity, {"$filter": condition, "$select": f"Ref_Key,{select}"}):
                found[row["Ref_Key"]] = row
        return found

    @staticmethod
    def _guid(value: str, field: str) -> str:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise PermanentError(f"{field}: {value!r} is not a 1C Ref_Key (a GUID)", field=field) from None

    @staticmethod
    def _ref_key(created: Any, entity: str) -> str:
        if not isinstance(created, dict) or not created.get("Ref_Key"):
            # Sent and accepted, but we cannot tell what was made: the retry looks it up first.
            raise UncertainOutcomeError(f"1C created a {entity} item but answered no Ref_Key")
        return str(created["Ref_Key"])

    # ---- contract -----------------------------------------------------------------------------

    def test_connection(self) -> str:
        o = self.options
        entities = [o["document"], o["counterparty_catalog"], o["product_catalog"]]
        probes = [(entity, {"$top": "1", "$select": "Ref_Key"}) for entity in entities]
        if o["stock_register"]:
            entities.append(o["stock_register"])
            probes.append((f"{o['stock_register']}/Balance", {"$top": "1"}))
        for entity, query in probes:
            try:
                self.http.get(odata_url(self.root, entity, {"$format": "json", **query}))
            except OutboundRefused:
                raise  # the hub's own refusal: no entity is missing
            except PermanentError as exc:
                raise PermanentError(
                    f"{entity}: {exc.message} (is it in the composition of the standard OData interface?)"
                ) from exc
        stock = "" if o["stock_register"] else "; stock is not read (Бухгалтерия 3.0 keeps it in no register)"
        paid = f"; payments from {o['paid_field']}" if o["paid_field"] else "; payments are not read (no paid_field)"
        return f"1C:Enterprise at {self.root} answered for {', '.join(entities)}{stock}{paid}"

    def _document_url(self, ref_key: str, suffix: str = "", query: Mapping[str, str] | None = None) -> str:
        return odata_url(self.root, f"{self.options['document']}({guid_literal(ref_key)}){suffix}", query)

    def _ref(self, row: dict[str, Any]) -> ExternalRef:
        if row.get("DeletionMark"):
            status = ExternalState.CANCELLED
        else:
            status = ExternalState.POSTED if row.get("Posted") else ExternalState.DRAFT
        return ExternalRef(
            system=self.type_name,
            external_id=str(row["Ref_Key"]),
            external_number=(row.get("Number") or "").strip() or None,
            url=self._document_url(str(row["Ref_Key"])),
            status=status,
        )

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        """The document with this reference, as it is (a look-up only: cancelling uses it too)."""
        return self._lookup([idempotency_key]).get(idempotency_key)

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """The push's look-up. When the connection posts documents, a draft found here (an earlier
        push whose posting failed) is posted now; one that 1C still refuses to post is left out,
        and pushing it raises that refusal instead of creating another."""
        found = self._lookup(idempotency_keys)
        if not self.post:
            return found
        for key, ref in list(found.items()):
            if ref.status == ExternalState.DRAFT:
                try:
                    found[key] = self._post_document(ref)
                except ConnectorError as exc:
                    self._unposted[key] = exc
                    del found[key]
        return found

    def _lookup(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """Documents whose reference field holds these keys, a few dozen keys per request."""
        o = self.options
        field = o["reference_field"]
        fields = f"Ref_Key,Number,Date,Posted,DeletionMark,{field}"
        rows: list[dict[str, Any]] = []
        try:
            for k in range(0, len(idempotency_keys), FILTER_CHUNK):
                chunk = idempotency_keys[k : k + FILTER_CHUNK]
                condition = " or ".join(f"{field} eq {string_literal(key)}" for key in chunk)
                rows += self._get_all(o["document"], {"$filter": condition, "$select": fields})
        except PermanentError as refused:
            # 1C cannot filter by a string of unlimited length (Комментарий is one in most
            # configurations): the documents of the last LOOKUP_DAYS, filtered by their date, which
            # every configuration can, are read and matched here instead.
            since = (datetime.now(UTC) - timedelta(days=LOOKUP_DAYS)).strftime("%Y-%m-%dT00:00:00")
            try:
                rows = self._get_all(o["document"], {"$filter": f"Date ge datetime'{since}'", "$select": fields})
            except PermanentError:
                raise refused from None
        found: dict[str, ExternalRef] = {}
        # Should two ever exist, the one not marked for deletion wins, then the posted, then the oldest.
        rows.sort(key=lambda r: (bool(r.get("DeletionMark")), not r.get("Posted"), str(r.get("Date")), r["Ref_Key"]))
        for row in rows:
            key = row.get(field)
            if key in idempotency_keys and key not in found:
                found[key] = self._ref(row)
        return found

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        return self.push_invoices([doc])[0]

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        """Every document checked and its look-ups done first (an unknown SKU refuses the batch
        before anything is written), then the new catalog items and the documents created."""
        for doc in docs:
            if doc.idempotency_key in self._unposted:
                raise self._unposted[doc.idempotency_key]
        bodies = {
            doc.idempotency_key: self.build_payload(doc) for doc in docs if doc.idempotency_key not in self._created
        }
        for doc in docs:
            if doc.idempotency_key in bodies:
                self._created[doc.idempotency_key] = self._create(bodies[doc.idempotency_key])
        return [self._created[doc.idempotency_key] for doc in docs]

    def _create(self, body: dict[str, Any]) -> ExternalRef:
        o = self.options
        if isinstance(body[o["counterparty_field"]], NewItem):
            body[o["counterparty_field"]] = self._make(body[o["counterparty_field"]])
        for line in body[self.lines_target]:
            if isinstance(line[o["product_field"]], NewItem):
                line[o["product_field"]] = self._make(line[o["product_field"]])
        created = self.http.post(odata_url(self.root, o["document"], {"$format": "json"}), json=body)
        ref = self._ref({**created, "Ref_Key": self._ref_key(created, o["document"])})
        if self.post and ref.status == ExternalState.DRAFT:
            ref = self._post_document(ref)
        return ref

    def _post_document(self, ref: ExternalRef) -> ExternalRef:
        """The document's `Post` action (non-operational posting: the document's own date)."""
        self.http.post(self._document_url(ref.external_id, "/Post", {"PostingModeOperational": "false"}))
        return ExternalRef(ref.system, ref.external_id, ref.external_number, ref.url, ExternalState.POSTED)

    def cancel_invoice(self, ref: ExternalRef) -> None:
        """Unposted (if posted), then marked for deletion: 1C deletes marked objects in its own
        clean-up, after checking nothing refers to them. Already marked: nothing to do."""
        state = self.http.get(
            self._document_url(ref.external_id, "", {"$format": "json", "$select": "Ref_Key,Posted,DeletionMark"})
        )
        if isinstance(state, dict) and state.get("DeletionMark"):
            return
        if isinstance(state, dict) and state.get("Posted"):
            self.http.post(self._document_url(ref.external_id, "/Unpost"))
        self.http.request(
            "PATCH", self._document_url(ref.external_id, "", {"$format": "json"}), json={"DeletionMark": True}
        )

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        o = self.options
        fields = ["Ref_Key", "Number", "Posted", "DeletionMark", o["total_field"]]
        if o["paid_field"]:
            fields.append(o["paid_field"])
        row = self.http.get(self._document_url(ref.external_id, "", {"$format": "json", "$select": ",".join(fields)}))
        if not isinstance(row, dict) or "Ref_Key" not in row:
            raise PermanentError(f"1C answered {o['document']} {ref.external_id} without the document")
        state = self._ref(row).status
        total = _decimal(row.get(o["total_field"]))
        paid = _decimal(row.get(o["paid_field"])) if o["paid_field"] else None
        if state == ExternalState.POSTED and paid and total is not None:
            state = ExternalState.PAID if paid >= total else ExternalState.PARTIALLY_PAID
        return InvoiceStatus(
            external_id=str(row["Ref_Key"]),
            status=state,
            amount_total=total,
            amount_paid=paid or Decimal(0),
            external_number=(row.get("Number") or "").strip() or None,
        )

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """The register's current balance by product and warehouse, every level each time (Balance
        has no change feed). Balance leaves zero balances out, so a pull after an earlier one (`since`)
        also reads which products moved from `stock_lookback_days` before it (`Turnovers`): those
        without a balance any more are reported as 0 instead of keeping their last level."""
        o = self.options
        if not o["stock_register"]:
            raise UnsupportedOperation(
                "Бухгалтерия 3.0 keeps stock on account 41 of its accounting register, in no accumulation "
                "register: stock is not pulled from it"
            )
        product_key, warehouse_key = f"{o['stock_product']}_Key", f"{o['stock_warehouse']}_Key"
        dimensions = string_literal(f"{o['stock_product']},{o['stock_warehouse']}")
        rows = self._get_all(f"{o['stock_register']}/Balance(Dimensions={dimensions})", {})
        if since is not None:
            start = (since - timedelta(days=int(self.config["stock_lookback_days"]))).strftime("%Y-%m-%dT%H:%M:%S")
            turnovers = f"{o['stock_register']}/Turnovers(StartPeriod=datetime'{start}',Dimensions={dimensions})"
            # Moved, no balance left: a row without resources reads as 0.
            rows += [
                {product_key: r.get(product_key), warehouse_key: r.get(warehouse_key)}
                for r in self._get_all(turnovers, {})
            ]
        match = names(o["product_match"])
        products = self._by_refs(o["product_catalog"], (r.get(product_key) for r in rows), ",".join(match))
        warehouses = self._by_refs(o["warehouse_catalog"], (r.get(warehouse_key) for r in rows), "Code,Description")
        wanted = set(names(self.config["warehouses"] or ""))
        totals: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for row in rows:
            product, warehouse = products.get(row.get(product_key)), warehouses.get(row.get(warehouse_key))
            sku = next((str(product[n]).strip() for n in match if product and str(product.get(n) or "").strip()), None)
            code = warehouse and (str(warehouse.get("Code") or "").strip() or str(warehouse.get("Description") or ""))
            if not sku or not code or (wanted and code not in wanted):
                continue
            on_hand = _decimal(row.get(f"{o['stock_quantity']}Balance")) or Decimal(0)
            reserved = (o["stock_reserved"] and _decimal(row.get(f"{o['stock_reserved']}Balance"))) or Decimal(0)
            before = totals.get((sku, code), (Decimal(0), Decimal(0)))
            totals[(sku, code)] = (before[0] + on_hand, before[1] + reserved)
        now = datetime.now(UTC)
        for (sku, code), (on_hand, reserved) in totals.items():
            yield StockLevel(
                sku=sku, warehouse=code, on_hand=on_hand, reserved=reserved, available=on_hand - reserved, as_of=now
            )

    def close(self) -> None:
        self.http.close()


def _decimal(value: Any) -> Decimal | None:
    """A number of 1C's JSON answer as Decimal (through its text: 19.9 is 19.9, never 19.899…)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    return Decimal(str(value))
