"""1C:Enterprise web services (SOAP), through zeep, driven by the publication's WSDL and the mapping.

A 1C configuration publishes web services it defines itself, at
`http://server/<publication>/ws/<name>.1cws?wsdl`: operation, type and field names (often Russian)
differ from one installation to the next. So nothing about them is written here:

- the mapping's `fields` and `lines` build the create operation's arguments (`mappings/onec_soap.yaml`
  is the default, for the 1C-style service the tests run); an array of lines is wrapped in the
  element its WSDL type declares (zeep wants `{"Строка": [...]}`, not the bare list);
- the mapping's `options` name the operations (create, find by our reference, state, cancel,
  stock), the argument that carries our reference (and the one parameter holding the whole
  invoice, for operations that take it so), and where each answer holds the 1C id, number, state,
  amounts and stock rows: dotted paths from the response element, as its XML reads (`return.Ид`);
- the mapping's table `states` turns 1C's state words into the hub's (`Оплачен` → paid).

Lines: 1C computes a line as Окр(Количество × Цена × (1 − ПроцентСкидки / 100), 2), Цена and the
percent of 2 decimals; the mapping's price and discount fields get what makes it the hub's net, or
the deal is refused when won (`SOAP_LINES`, connectors/onec/arithmetic.py).

Beside this module: `soap_options` (what the mapping names), `soap_transport` (zeep's transport
and 1C's HTTP answers as errors), `soap_answers` (reading answers, wrapping arguments).

The WSDL is loaded at first use, with HTTP Basic (user and password sent as UTF-8, as 1C reads them,
so Cyrillic user names work) over one `requests.Session`; the port of the configured SOAP version
(1C publishes 1.1 and 1.2) is called; non-ASCII SOAPAction headers are sent percent-encoded. Every
request and answer is kept in `exchanges` for the run history.

| outcome | error |
| --- | --- |
| client fault (soap:Client, SOAP 1.2 Sender), bad arguments | PermanentError with 1C's text |
| server fault (soap:Server, Receiver), HTTP 5xx, 429, timeout, no connection | RetryableError |
| timeout, lost connection or garbled answer after a create was sent | UncertainOutcomeError |
| HTTP 401 / 403 | AuthError |
| operation or argument the WSDL lacks | PermanentError naming `options.<name>` |
| a create answered without an id at `options.answer_id` | PermanentError (a retry's find would miss it too) |
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.helpers import serialize_object

from connectors import outbound
from connectors.base import ConfigField, Connector
from connectors.documents import ExternalRef, ExternalState, InvoiceDocument, InvoiceStatus, StockLevel
from connectors.errors import (
    ConnectorError,
    PermanentError,
    RetryableError,
    UncertainOutcomeError,
    UnsupportedOperation,
)
from connectors.http import may_have_arrived, retry_after_seconds
from connectors.onec.arithmetic import SOAP_LINES, fit_mapped_lines
from connectors.onec.soap_answers import at, is_empty, wrapped
from connectors.onec.soap_options import MAPPING_OPTIONS
from connectors.onec.soap_transport import BINDINGS, SETTINGS, Transport, http_error
from connectors.texts import N_
from mappings.parse import missing_targets
from mappings.spec import MappingSpec, Problem, ProblemKind
from mappings.values import normalise_key, storable

# What 1C writes for an empty reference (`Справочники.X.ПустаяСсылка().УникальныйИдентификатор()`):
# a find that answers it found nothing.
EMPTY_REF = "00000000-0000-0000-0000-000000000000"
# The mapping table that turns 1C's state words into the hub's states.
STATES_TABLE = "states"


class OnecSoapConnector(Connector):
    type_name = "onec_soap"
    label = "1C:Enterprise (web service)"
    config_schema = (
        ConfigField(
            "wsdl_url",
            "url",
            N_("WSDL URL"),
            required=True,
            help=N_("http://server/<publication>/ws/<name>.1cws?wsdl"),
        ),
        ConfigField("username", "string", N_("1C user"), required=True),
        ConfigField("password", "string", N_("Password"), required=True, secret=True),
        ConfigField("timeout", "number", N_("Timeout (seconds)"), default=30),
        ConfigField(
            "soap_version",
            "string",
            N_("SOAP version"),
            default="1.1",
            choices=("1.1", "1.2"),
            help=N_("1C publishes a port for each; the hub calls the one of this version"),
        ),
        ConfigField(
            "endpoint_url",
            "url",
            N_("Service address"),
            default="",
            help=N_("only if the address in the WSDL is not reachable from the hub (1C writes its own host name)"),
        ),
    )
    mapping_options = MAPPING_OPTIONS
    line_arithmetic = SOAP_LINES

    def __init__(self, config: Mapping[str, Any], *, post: bool = False, mapping: MappingSpec | None = None) -> None:
        super().__init__(config, post=post, mapping=mapping)
        # The create argument find_invoice searches by: it must carry the idempotency key.
        self.idempotency_target = self.options["reference_field"]
        self.session = outbound.session()
        self.session.auth = (self.config["username"].encode("utf-8"), self.config["password"].encode("utf-8"))
        self._transport = Transport(self.session, float(self.config["timeout"]), self.exchanges.append)
        self._client: zeep.Client | None = None
        self._service: Any = None

    @classmethod
    def mapping_problems(cls, mapping: MappingSpec | Mapping[str, Any]) -> list:
        problems = super().mapping_problems(mapping)
        options = mapping.options if isinstance(mapping, MappingSpec) else mapping.get("options")
        options = options if isinstance(options, Mapping) else {}
        reference = options.get("reference_field")
        if isinstance(reference, str) and reference:
            problems += [
                Problem(p.path, f"options.reference_field names it: {p.message}", p.kind)
                for p in missing_targets(mapping, (reference,))
            ]
        if options.get("stock_operation"):
            problems += [
                Problem(f"options.{name}", "required with stock_operation", ProblemKind.MAPPING)
                for name in ("stock_sku", "stock_warehouse", "stock_on_hand")
                if not options.get(name)
            ]
        return problems

    # ---- the service -------------------------------------------------------------------------

    def service(self) -> Any:
        """zeep's proxy for the WSDL's port of the configured SOAP version (at `endpoint_url` if
        set); loads the WSDL once."""
        if self._service is None:
            url = self.config["wsdl_url"]
            try:
                self._client = zeep.Client(url, transport=self._transport, settings=SETTINGS)
                port = self._port()
            except requests.HTTPError as exc:
                raise http_error(exc.response.status_code, f"1C WSDL {url}", field="wsdl_url") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetryableError(f"1C WSDL {url}: {type(exc).__name__}") from exc
            except requests.RequestException as exc:
                raise PermanentError(f"1C WSDL {url}: {exc}", field="wsdl_url") from None
            except (zeep.exceptions.Error, etree.XMLSyntaxError, ValueError) as exc:
                # Also a WSDL without a service (zeep's ValueError) and one with a DTD.
                raise PermanentError(f"{url} is not a WSDL zeep can read: {exc}", field="wsdl_url") from None
            address = self.config["endpoint_url"] or port.binding_options.get("address")
            if not address:
                raise PermanentError(f"the WSDL at {url} gives {port.name} no address", field="endpoint_url")
            self._service = self._client.create_service(port.binding.name.text, address)
        return self._service

    def _port(self) -> Any:
        """The first port of the WSDL's first service whose binding speaks the configured version."""
        wanted = BINDINGS[self.config["soap_version"]]
        services = list(self._client.wsdl.services.values())
        if not services:
            raise ValueError("it defines no service")
        ports = list(services[0].ports.values())
        for port in ports:
            if isinstance(port.binding, wanted):
                return port
        raise PermanentError(
            f"the 1C service {services[0].name} has no SOAP {self.config['soap_version']} port "
            f"(it has {', '.join(p.name for p in ports) or 'none'})",
            field="soap_version",
        )

    def operations(self) -> list[str]:
        return sorted(self.service()._operations)

    def _operation(self, option: str) -> str:
        name = self.options[option]
        if not name:
            raise UnsupportedOperation(f"{self.label}: the mapping names no {option} (options.{option})")
        if name not in self.service()._operations:
            raise PermanentError(
                f"the 1C service has no operation {name!r} (options.{option}); it has {', '.join(self.operations())}",
                field=f"options.{option}",
            )
        return name

    def _parameters(self, operation: str) -> list[tuple[str, Any]]:
        """The operation's arguments as (name, zeep element), from its input message."""
        body = getattr(self.service()._binding._operations[operation].input, "body", None)
        elements = getattr(getattr(body, "type", None), "elements", None)
        return list(elements or [])

    def _argument(self, operation_option: str, argument_option: str) -> str:
        given = self.options[argument_option]
        names = [name for name, _ in self._parameters(self.options[operation_option])]
        if given:
            if given not in names:
                raise PermanentError(
                    f"{self.options[operation_option]} has no argument {given!r} (options.{argument_option}); "
                    f"it has {', '.join(names) or 'none'}",
                    field=f"options.{argument_option}",
                )
            return given
        if len(names) != 1:
            raise PermanentError(
                f"{self.options[operation_option]} takes {', '.join(names) or 'no arguments'}: name the one to use "
                f"in options.{argument_option}",
                field=f"options.{argument_option}",
            )
        return names[0]

    def _call(self, option: str, arguments: Mapping[str, Any], *, changes_data: bool = False) -> Any:
        """Call the operation the option names; its answer as plain dicts and lists, or a typed error."""
        name = self._operation(option)
        self._transport.operation = name
        try:
            answer = self.service()[name](**arguments)
        except zeep.exceptions.Fault as exc:
            raise self._fault(name, exc, changes_data) from None
        except zeep.exceptions.TransportError as exc:
            raise self._status(name, exc.status_code, changes_data, str(exc)) from None
        except (requests.ConnectTimeout, requests.ConnectionError, requests.Timeout) as exc:
            if may_have_arrived(exc) and changes_data:
                raise UncertainOutcomeError(f"1C {name}: no answer ({type(exc).__name__})") from exc
            raise RetryableError(f"1C {name}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:  # too many redirects, a broken chunked answer
            error = UncertainOutcomeError if changes_data else RetryableError
            raise error(f"1C {name}: {type(exc).__name__}: {exc}") from exc
        except (zeep.exceptions.ValidationError, TypeError) as exc:
            raise PermanentError(f"1C {name}: the arguments do not fit the WSDL: {exc}") from None
        except (zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
            if changes_data:
                raise UncertainOutcomeError(f"1C {name}: unreadable answer: {exc}") from None
            raise RetryableError(f"1C {name}: unreadable answer: {exc}") from None
        return serialize_object(self._unabridged(name, answer), dict)

    def _unabridged(self, operation: str, answer: Any) -> Any:
        """The answer as the response element holds it (`{"return": {...}}`), so that answer paths
        follow the XML. zeep hands back the response's only child, and that child's only child
        when it has no attributes; this puts the names it left out back."""
        body = getattr(self.service()._binding._operations[operation].output, "body", None)
        children = list(getattr(getattr(body, "type", None), "elements", None) or [])
        if len(children) != 1:
            return answer
        name, child = children[0]
        inner = list(getattr(child.type, "elements", None) or [])
        if answer is not None and len(inner) == 1 and not getattr(child.type, "attributes", None):
            answer = {inner[0][0]: answer}
        return {name: answer}

    def _fault(self, operation: str, fault: zeep.exceptions.Fault, changes_data: bool) -> ConnectorError:
        message = f"1C {operation}: {fault.message}"
        status = self._transport.last_status
        if fault.code is None and status not in (None, 200):
            # Not a SOAP fault: an error page (a proxy's 502, a 401) that happened to be XML.
            return self._status(operation, status, changes_data, fault.message)
        # SOAP 1.1 `soap:Client` (maybe dotted, Client.Validation), SOAP 1.2 `soap:Sender`.
        code = (fault.code or "").rpartition(":")[2].partition(".")[0]
        if code in ("Client", "Sender"):
            return PermanentError(message, detail=fault.message)
        return RetryableError(message, detail=fault.message)

    def _status(self, operation: str, status: int, changes_data: bool, text: str) -> ConnectorError:
        message = f"1C {operation}"
        wait = retry_after_seconds(self._transport.retry_after)
        if 400 <= status < 500:
            return http_error(status, message, wait=wait)
        # 5xx without a fault, or a 200 that is no SOAP answer: a create may have been applied.
        if changes_data and status != 503:
            return UncertainOutcomeError(f"{message}: HTTP {status}: {text[:300]}")
        return RetryableError(f"{message}: HTTP {status}: {text[:300]}", wait=wait)

    # ---- reading answers ---------------------------------------------------------------------

    def _ref(self, answer: Any) -> ExternalRef | None:
        external_id = at(answer, self.options["answer_id"])
        if external_id in (None, "", EMPTY_REF):
            return None
        number = at(answer, self.options["answer_number"]) if self.options["answer_number"] else None
        state = self._state(answer, strict=False)
        return ExternalRef(
            system=self.type_name,
            external_id=str(external_id),
            external_number=str(number) if number not in (None, "") else None,
            status=state,
        )

    def _state(self, answer: Any, *, strict: bool) -> ExternalState:
        """The answer's state through the table `states`; without a state in the answer, what the
        document mode made. An unknown word is refused when reading a status (`strict`), so that
        someone adds its row, and read as the mode's state after a create or a find."""
        assumed = ExternalState.POSTED if self.post else ExternalState.DRAFT
        if not self.options["answer_state"]:
            return assumed
        raw = at(answer, self.options["answer_state"])
        table = self.mapping.tables.get(STATES_TABLE)
        try:
            value = table.rows.get(normalise_key("string", raw), raw) if table is not None else raw
        except ValueError:
            value = raw
        try:
            return ExternalState(value)
        except ValueError:
            if not strict:
                return assumed
            raise PermanentError(
                f"1C answered the state {raw!r}, which table {STATES_TABLE} of the mapping does not turn into one "
                f"of {', '.join(s.value for s in ExternalState)}",
                field=f"tables.{STATES_TABLE}",
            ) from None

    def _amount(self, answer: Any, option: str) -> Decimal | None:
        if not self.options[option]:
            return None
        raw = at(answer, self.options[option])
        if raw in (None, ""):
            return None
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise PermanentError(
                f"1C answered {raw!r} at {self.options[option]} (options.{option}), not an amount"
            ) from None

    # ---- contract ----------------------------------------------------------------------------

    def test_connection(self) -> str:
        service = self.service()
        for option in ("create_operation", "find_operation", "status_operation", "cancel_operation", "stock_operation"):
            if self.options[option]:
                self._operation(option)
        self.find_invoice("hub-connection-test")
        names = [s.name for s in self._client.wsdl.services.values()]
        return (
            f"1C web service {', '.join(names)} at {service._binding_options['address']}: "
            f"operations {', '.join(self.operations())}"
        )

    def arguments(self, doc: InvoiceDocument) -> dict[str, Any]:
        """The create operation's arguments for a document: the mapping's payload with the post
        flag (in `create_parameter` if one is named), arrays wrapped in the element their WSDL type
        declares, empty values left out."""
        operation = self._operation("create_operation")
        payload: dict[str, Any] = self.map_document(doc)
        if self.mapping.lines is not None and isinstance(payload.get(self.mapping.lines.target), list):
            fit_mapped_lines(SOAP_LINES, self.mapping, payload[self.mapping.lines.target], doc)
        if self.options["post_argument"]:
            payload[self.options["post_argument"]] = self.post
        if self.options["create_parameter"]:
            payload = {self.options["create_parameter"]: payload}
        parameters = dict(self._parameters(operation))
        return {
            name: wrapped(parameters[name], value) if name in parameters else value
            for name, value in payload.items()
            if value is not None
        }

    def preview_payload(self, doc: InvoiceDocument) -> dict[str, Any]:
        arguments = self.arguments(doc)
        operation = self.options["create_operation"]
        try:
            envelope = self._client.create_message(self.service(), operation, **arguments)
        except (zeep.exceptions.ValidationError, TypeError) as exc:
            raise PermanentError(f"1C {operation}: the arguments do not fit the WSDL: {exc}") from None
        return {
            "operation": operation,
            "arguments": storable(arguments),
            "envelope": etree.tostring(envelope, encoding="unicode", pretty_print=True),
        }

    def push_invoice(self, doc: InvoiceDocument) -> ExternalRef:
        answer = self._call("create_operation", self.arguments(doc), changes_data=True)
        ref = self._ref(answer)
        if ref is None:
            # Created, but the answer has no id where the options say. Parked, not retried: a find
            # reads its answer by the same path, would miss this invoice and create another.
            raise PermanentError(
                f"1C {self.options['create_operation']} answered without an id at "
                f"{self.options['answer_id'] or 'the answer itself'}: the invoice may exist in 1C; correct "
                f"options.answer_id before retrying",
                field="options.answer_id",
                detail=storable(answer),
            )
        return ref

    def find_invoice(self, idempotency_key: str) -> ExternalRef | None:
        argument = self._argument("find_operation", "find_argument")
        return self._ref(self._call("find_operation", {argument: idempotency_key}))

    def invoice_status(self, ref: ExternalRef) -> InvoiceStatus:
        self._operation("status_operation")
        argument = self._argument("status_operation", "status_argument")
        answer = self._call("status_operation", {argument: ref.external_id})
        if is_empty(answer):  # {"return": None}: deleted in 1C
            raise PermanentError(f"1C no longer knows invoice {ref.external_id}")
        state = self._state(answer, strict=True)
        total = self._amount(answer, "answer_total")
        paid = self._amount(answer, "answer_paid")
        if paid is None:
            paid = total if state == ExternalState.PAID and total is not None else Decimal(0)
        if state in (ExternalState.DRAFT, ExternalState.POSTED, ExternalState.PARTIALLY_PAID) and paid > 0:
            state = ExternalState.PAID if total is not None and paid >= total else ExternalState.PARTIALLY_PAID
        currency = at(answer, self.options["answer_currency"]) if self.options["answer_currency"] else None
        number = at(answer, self.options["answer_number"]) if self.options["answer_number"] else None
        return InvoiceStatus(
            external_id=ref.external_id,
            status=state,
            amount_total=total,
            amount_paid=paid,
            currency=str(currency) if currency else None,
            external_number=str(number) if number else ref.external_number,
        )

    def cancel_invoice(self, ref: ExternalRef) -> None:
        self._operation("cancel_operation")
        argument = self._argument("cancel_operation", "cancel_argument")
        answer = self._call("cancel_operation", {argument: ref.external_id}, changes_data=True)
        while isinstance(answer, dict) and len(answer) == 1:  # {"return": false}
            (answer,) = answer.values()
        if answer is False:
            raise PermanentError(f"1C {self.options['cancel_operation']} refused to cancel {ref.external_id}")

    def pull_stock(self, since: datetime | None = None) -> Iterator[StockLevel]:
        """The whole balance each time: a 1C web service has no change feed unless it writes one."""
        answer = self._call("stock_operation", {})
        rows = at(answer, self.options["stock_rows"])
        rows = [rows] if isinstance(rows, dict) else rows or []
        now = datetime.now(UTC)
        for i, row in enumerate(rows):
            sku, warehouse = at(row, self.options["stock_sku"]), at(row, self.options["stock_warehouse"])
            if sku in (None, "") or warehouse in (None, ""):
                raise PermanentError(
                    f"stock row {i}: no SKU at {self.options['stock_sku']} or no warehouse at "
                    f"{self.options['stock_warehouse']} (options.stock_sku, options.stock_warehouse)"
                )
            on_hand = self._amount(row, "stock_on_hand") or Decimal(0)
            reserved = self._amount(row, "stock_reserved") or Decimal(0)
            yield StockLevel(
                sku=str(sku),
                warehouse=str(warehouse),
                on_hand=on_hand,
                reserved=reserved,
                available=on_hand - reserved,
                as_of=now,
            )

    def close(self) -> None:
        self.session.close()
