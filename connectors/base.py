"""The connector contract: a self-describing class per external system.

A connector declares its `config_schema` (the admin form is generated from it and secrets are
marked), then implements what its system supports. It never touches the hub's database: state,
retries and history belong to the engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from connectors.arithmetic import LineArithmetic
from connectors.documents import ExternalRef, InvoiceDocument, InvoiceStatus, ListedInvoice, StockLevel
from connectors.errors import MappingRefused, PermanentError, UnsupportedOperation
from connectors.texts import N_
from mappings.defaults import default_mapping
from mappings.evaluate import apply
from mappings.parse import missing_targets
from mappings.spec import MappingFailed, MappingSpec, Problem, ProblemKind


@dataclass(frozen=True)
class Exchange:
    """One request to the target and its answer (bodies as sent and received, not yet redacted)."""

    method: str
    url: str
    request: Any = None
    status: int | None = None
    response: Any = None
    error: str | None = None
    elapsed_ms: int | None = None


@dataclass(frozen=True)
class ConfigField:
    name: str
    type: str = "string"  # string | integer | number | boolean | url
    label: str = ""
    required: bool = False
    secret: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    # The least value of an integer or a number: by default a count is at least 1 and a number
    # (a timeout, a rate) more than 0 — a timeout of -1 or a file part of 0 bytes is no setting.
    minimum: float | None = None


class ConfigInvalid(PermanentError):
    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "url": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


# What validate_config says of a bad setting, in English; the hub says it again in the reader's
# language (hub.i18n.FILLED_IN has the ones with values).
MUST_BE_TYPE = N_("must be %(type)s")
ONE_OF = N_("one of %(choices)s")
AT_LEAST = N_("at least %(min)s")


def validate_config(schema: Iterable[ConfigField], config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in; ConfigInvalid names every bad field."""
    fields = {f.name: f for f in schema}
    problems: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name in config:
        if name not in fields:
            problems[name] = N_("unknown setting")
    for f in fields.values():
        value = config.get(f.name, f.default)
        if value is None or value == "":
            if f.required:
                problems[f.name] = N_("required")
            out[f.name] = f.default
            continue
        ok_types = _TYPES.get(f.type, (str,))
        if not isinstance(value, ok_types) or (f.type in ("integer", "number") and isinstance(value, bool)):
            problems[f.name] = MUST_BE_TYPE % {"type": f.type}
        elif f.type == "url" and not value.startswith(("http://", "https://")):
            problems[f.name] = N_("must be an http(s) URL")
        elif f.choices and value not in f.choices:
            problems[f.name] = ONE_OF % {"choices": ", ".join(f.choices)}
        elif f.type in ("integer", "number") and (too_small := _below_minimum(f, value)):
            problems[f.name] = too_small
        out[f.name] = value
    if problems:
        raise ConfigInvalid(problems)
    return out


def _below_minimum(field: ConfigField, value: float) -> str | None:
    if field.minimum is not None:
        return AT_LEAST % {"min": f"{field.minimum:g}"} if value < field.minimum else None
    if field.type == "integer":
        return AT_LEAST % {"min": 1} if value < 1 else None
    return N_("more than 0") if value <= 0 else None


class Connector(ABC):
    """Base of every connector. Subclasses set `type_name`, `label`, `config_schema`."""

    type_name: ClassVar[str]
    label: ClassVar[str]
    config_schema: ClassVar[tuple[ConfigField, ...]] = ()
    # Whether an invoice created here takes its goods out of the target's stock (QuickBooks, Zoho
    # items). If not (Tryton, Odoo: shipments move stock), the hub keeps counting a won deal's
    # quantities against stock until its invoice is paid.
    invoices_move_stock: ClassVar[bool] = False
    # Whether `pull_stock(since)` reports only the levels changed since then. If not, every read
    # reports everything the target holds, and the hub sets to zero what a read leaves out.
    incremental_stock: ClassVar[bool] = False
    # Whether the target fetches invoices from the hub itself (1C's site exchange) instead of the
    # hub pushing them: no push is queued for such a connection when a deal is won.
    fetches_invoices: ClassVar[bool] = False
    # How the target computes a line's amount from a net unit price it is sent (connectors/
    # arithmetic.py): the connector sends the price that makes it the hub's, and the hub refuses, at
    # won time, a line for which no such price exists. None: the target takes the hub's amounts.
    line_arithmetic: ClassVar[LineArithmetic | None] = None
    # Whether the target refuses to cancel a posted invoice even when nothing was paid on it, so
    # that a lost deal's posted invoice is credited (`credit_invoice`) rather than cancelled.
    credits_posted_invoices: ClassVar[bool] = False
    # The target fields this connector builds its payload from; a mapping without one of them is
    # refused when it is saved (`lines[].sku` is a line field).
    required_targets: ClassVar[tuple[str, ...]] = ()
    # The target field find_invoice searches: it must carry the idempotency key, whatever the
    # mapping says, or a retry would not find the first push and would create a second invoice.
    idempotency_target: ClassVar[str | None] = "reference"
    # Settings a mapping gives under `options` (operation or entity names the target's own schema
    # decides): checked when the mapping is saved, read as `self.options`.
    mapping_options: ClassVar[tuple[ConfigField, ...]] = ()

    def __init__(self, config: Mapping[str, Any], *, post: bool = False, mapping: MappingSpec | None = None) -> None:
        self.config = validate_config(self.config_schema, config)
        # Document mode of the connection: leave pushed invoices as drafts, or post them.
        self.post = post
        # How documents become payloads: the connection's active mapping (with its table rows), as
        # the hub resolved it; the type's shipped default when none is given (tests, scripts).
        self.mapping = mapping if mapping is not None else default_mapping(self.type_name)
        self.options = validate_config(self.mapping_options, self.mapping.options)
        # What went over the wire since the engine last looked: the run history shows it.
        self.exchanges: list[Exchange] = []

    def take_exchanges(self) -> list[Exchange]:
        # Cleared in place: HTTP clients hold a reference to this list's append.
        taken = list(self.exchanges)
        self.exchanges.clear()
        return taken

    @classmethod
    def mapping_problems(cls, mapping: MappingSpec | Mapping[str, Any]) -> list:
        """What a mapping lacks for this connector (engine problems with their paths)."""
        problems = missing_targets(mapping, cls.required_targets)
        options = mapping.options if isinstance(mapping, MappingSpec) else mapping.get("options")
        try:
            validate_config(cls.mapping_options, options if isinstance(options, Mapping) else {})
        except ConfigInvalid as exc:
            problems += [
                Problem(f"options.{name}", message, ProblemKind.MAPPING) for name, message in exc.problems.items()
            ]
        return problems

    def map_document(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The mapping applied to a document; MappingRefused (a PermanentError: parked, nothing
        sent) naming every field, value and table it could not map."""
        try:
            payload = apply(self.mapping, doc)
        except MappingFailed as exc:
            raise MappingRefused(exc.problems, field=exc.problems[0].path) from None
        key = self.idempotency_target
        if key is not None and payload.get(key) != doc.idempotency_key:
            raise PermanentError(
                f"{key}: the mapping gives {payload.get(key)!r}, but it must be the idempotency key "
                f"{doc.idempotency_key} ({self.label} invoices are looked up by it before a retry creates one)",
                field=key,
            )
        return payload

    def preview_payload(self, doc: InvoiceDocument) -> Any:
        """Exactly what `push_invoice` would send for this document, as JSON, without creating
        anything in the target (look-ups only)."""
        raise UnsupportedOperation(f"{self.label} cannot preview its payload")

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        return frozenset(f.name for f in cls.config_schema if f.secret)

    @abstractmethod
    def test_connection(self) -> str:
        """Reach the system with the credentials; return a short description of what answered."""

    @abstractmethod
    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        """Create the invoice in the target. The engine calls find_invoice first."""

    @abstractmethod
    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        """The invoice an earlier push created with this key, if any."""

    def find_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """The push's look-up of several keys; connectors whose target can search many at once
        override this. One that posts may take back here a draft a lost answer left unposted, so
        that the push makes it again (Tryton, Odoo); `find_invoice` only ever reads."""
        found = {}
        for key in idempotency_keys:
            ref = self.find_invoice(key)
            if ref is not None:
                found[key] = ref
        return found

    def look_up_invoices(self, idempotency_keys: list[str]) -> dict[str, ExternalRef]:
        """The invoices with these keys, as they are: a read only, unlike the push's `find_invoices`
        (the reconciliation report asks for those it did not find in a period). Connectors whose
        target can search many keys at once without side effects override this."""
        found = {}
        for key in idempotency_keys:
            ref = self.find_invoice(key)
            if ref is not None:
                found[key] = ref
        return found

    def push_invoices(self, docs: list[InvoiceDocument]) -> list[ExternalRef]:
        """Create several invoices; connectors whose target takes batches override this."""
        return [self.push_invoice(doc) for doc in docs]

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        raise UnsupportedOperation(f"{self.label} does not report invoice status")

    def credit_invoice(self, ref: ExternalRef, doc: InvoiceDocument) -> ExternalRef:
        """Credit the whole invoice `ref` (pushed from `doc`) with a posted credit note: what a
        target does instead of cancelling an invoice that was paid, in part or in full (or any
        posted one, where `credits_posted_invoices`). Idempotent:
        a credit note made earlier for this invoice (found by `credit_reference(doc)` or by the
        target's own link to the invoice) is returned instead of a second one being created.
        Targets without credit notes raise UnsupportedOperation."""
        raise UnsupportedOperation(f"{self.label} takes no credit notes through the hub")

    def credit_note_of(self, ref: ExternalRef) -> ExternalRef | None:
        """The credit note an earlier `credit_invoice` made for the invoice `ref`, if any: how the
        hub learns the note of a posted invoice the target cancelled against it (where
        `credits_posted_invoices`) when the answer to that credit was lost."""
        return None

    @staticmethod
    def credit_reference(doc: InvoiceDocument) -> str:
        """The stable reference of the credit note for a document's invoice: what `credit_invoice`
        looks up before it creates one (short enough for every target's reference field)."""
        return f"{doc.idempotency_key}-CN"

    def cancel_invoice(self, ref: ExternalRef) -> None:
        raise UnsupportedOperation(f"{self.label} invoices cannot be cancelled through the hub")

    def list_invoices(self, issued_from: date, issued_to: date) -> Iterator[list[ListedInvoice]]:
        """The target's customer invoices dated from `issued_from` to `issued_to` (both included),
        a page at a time as the target hands them out, for the reconciliation report. Only what is
        in the period is read where the target can filter by date. Optional: targets that cannot
        list their invoices raise UnsupportedOperation."""
        raise UnsupportedOperation(f"{self.label} cannot list its invoices")

    @classmethod
    def lists_invoices(cls) -> bool:
        """Whether this connector implements `list_invoices` (the reconciliation report needs it)."""
        return cls.list_invoices is not Connector.list_invoices

    def pull_stock(self, since: datetime | None = None) -> Iterable[StockLevel]:
        raise UnsupportedOperation(f"{self.label} does not keep stock")

    def create_purchase_request(
        self, sku: str, warehouse: str | None, quantity: Decimal, reference: str
    ) -> ExternalRef:
        """Ask the target's purchasing to buy `quantity` of `sku` for `warehouse` (the target's
        warehouse code; None for the connection's default). `reference` is stable across retries:
        a second call with the same reference returns the first request instead of a new one.
        Optional: targets without purchasing raise UnsupportedOperation."""
        raise UnsupportedOperation(f"{self.label} does not take purchase requests")

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release sessions and sockets."""
