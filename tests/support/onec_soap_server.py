"""A small 1C-style SOAP web service for the tests: what a 1C configuration publishes at
`http://server/<publication>/ws/<name>.1cws?wsdl`, with Cyrillic operation, type and field names,
HTTP Basic on the WSDL and on every call, invoices kept in memory. Like 1C it offers a SOAP 1.1
port and a SOAP 1.2 port, and answers each in its own envelope and fault form.

Operations (namespace `NAMESPACE`): СоздатьСчет (header fields, a counterparty and an array of
lines in the wrapper type СписокТоваров; answers СчетИнфо), ЗаписатьСчет (the same in one
argument Счет of type ДанныеСчета), НайтиСчет (by ВнешнийНомер; nil when there is none),
СостояниеСчета (by Ид; nil once deleted), ОтменитьСчет (by Ид) and ПолучитьОстатки
(ТаблицаОстатков).
Like 1C it keeps no uniqueness on ВнешнийНомер: a second create makes a second invoice.

Bad input gets a client fault (soap:Client); `fail_next` makes the next call answer a server fault
(soap:Server), `http_error_next` a bare HTTP status (a proxy's 502), and `stall_next` (an operation
name) does the next call of that operation and then holds its answer back until `release()` (a
lost answer for a client with a shorter timeout). Incoming XML is parsed without
entities, DTDs or network access.
"""

from __future__ import annotations

import base64
import itertools
import threading
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

NAMESPACE = "http://hub.example.org/invoices"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PATH = "/trade/ws/invoices.1cws"
EMPTY_REF = "00000000-0000-0000-0000-000000000000"
VAT_RATES = {"НДС20", "НДС10", "НДС0", "БезНДС"}

WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soapbind="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12bind="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:tns="{ns}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    name="СчетаНаОплату" targetNamespace="{ns}">
  <types>
    <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{ns}" targetNamespace="{ns}"
        attributeFormDefault="unqualified" elementFormDefault="qualified">
      <xs:complexType name="Контрагент">
        <xs:sequence>
          <xs:element name="Наименование" type="xs:string"/>
          <xs:element name="ИНН" type="xs:string" minOccurs="0"/>
          <xs:element name="ЭлектроннаяПочта" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="СтрокаТовара">
        <xs:sequence>
          <xs:element name="Артикул" type="xs:string"/>
          <xs:element name="Наименование" type="xs:string" minOccurs="0"/>
          <xs:element name="Количество" type="xs:decimal"/>
          <xs:element name="Цена" type="xs:decimal"/>
          <xs:element name="ПроцентСкидки" type="xs:decimal" minOccurs="0"/>
          <xs:element name="СтавкаНДС" type="xs:string"/>
          <xs:element name="Сумма" type="xs:decimal"/>
          <xs:element name="СуммаНДС" type="xs:decimal"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="СписокТоваров">
        <xs:sequence>
          <xs:element name="Строка" type="tns:СтрокаТовара" minOccurs="0" maxOccurs="unbounded"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="СчетИнфо">
        <xs:sequence>
          <xs:element name="Ид" type="xs:string"/>
          <xs:element name="Номер" type="xs:string"/>
          <xs:element name="ВнешнийНомер" type="xs:string"/>
          <xs:element name="Состояние" type="xs:string"/>
          <xs:element name="СуммаДокумента" type="xs:decimal"/>
          <xs:element name="СуммаОплаты" type="xs:decimal"/>
          <xs:element name="Валюта" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="СтрокаОстатков">
        <xs:sequence>
          <xs:element name="Артикул" type="xs:string"/>
          <xs:element name="Склад" type="xs:string"/>
          <xs:element name="ВНаличии" type="xs:decimal"/>
          <xs:element name="ВРезерве" type="xs:decimal"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="ТаблицаОстатков">
        <xs:sequence>
          <xs:element name="Строка" type="tns:СтрокаОстатков" minOccurs="0" maxOccurs="unbounded"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="СоздатьСчет">
        <xs:complexType>
          <xs:sequence>
{invoice_fields}          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:complexType name="ДанныеСчета">
        <xs:sequence>
{invoice_fields}        </xs:sequence>
      </xs:complexType>
      <xs:element name="ЗаписатьСчет">
        <xs:complexType>
          <xs:sequence><xs:element name="Счет" type="tns:ДанныеСчета"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="ЗаписатьСчетResponse">
        <xs:complexType>
          <xs:sequence><xs:element name="return" type="tns:СчетИнфо"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="СоздатьСчетResponse">
        <xs:complexType>
          <xs:sequence><xs:element name="return" type="tns:СчетИнфо"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="НайтиСчет">
        <xs:complexType>
          <xs:sequence><xs:element name="ВнешнийНомер" type="xs:string"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="НайтиСчетResponse">
        <xs:complexType>
          <xs:sequence><xs:element name="return" type="tns:СчетИнфо" nillable="true"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="СостояниеСчета">
        <xs:complexType>
          <xs:sequence><xs:element name="Ид" type="xs:string"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="СостояниеСчетаResponse">
        <xs:complexType>
          <xs:sequence><xs:element name="return" type="tns:СчетИнфо" nillable="true"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="ОтменитьСчет">
        <xs:complexType>
          <xs:sequence><xs:element name="Ид" type="xs:string"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="ОтменитьСчетResponse">
        <xs:complexType>
          <xs:sequence><xs:element name="return" type="xs:boolean"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="ПолучитьОстатки">
        <xs:complexType>
          <xs:sequence><xs:element name="Склад" type="xs:string" minOccurs="0"/></xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="ПолучитьОстаткиResponse">
        <xs:complexType>
          <xs:sequence><xs:element name="return" type="tns:ТаблицаОстатков"/></xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:schema>
  </types>
{messages}
  <portType name="СчетаНаОплатуPortType">
{port_operations}
  </portType>
  <binding name="СчетаНаОплатуSoapBinding" type="tns:СчетаНаОплатуPortType">
    <soapbind:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
{binding_operations}
  </binding>
  <binding name="СчетаНаОплатуSoap12Binding" type="tns:СчетаНаОплатуPortType">
    <soap12bind:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
{binding12_operations}
  </binding>
  <service name="СчетаНаОплату">
    <port name="СчетаНаОплатуSoap" binding="tns:СчетаНаОплатуSoapBinding">
      <soapbind:address location="{address}"/>
    </port>
    <port name="СчетаНаОплатуSoap12" binding="tns:СчетаНаОплатуSoap12Binding">
      <soap12bind:address location="{address}"/>
    </port>
  </service>
</definitions>
"""

# The arguments of СоздатьСчет, also the type ДанныеСчета that ЗаписатьСчет takes as one argument Счет.
INVOICE_FIELDS = """            <xs:element name="ВнешнийНомер" type="xs:string"/>
            <xs:element name="Дата" type="xs:date"/>
            <xs:element name="СрокОплаты" type="xs:date" minOccurs="0"/>
            <xs:element name="Валюта" type="xs:string"/>
            <xs:element name="Контрагент" type="tns:Контрагент"/>
            <xs:element name="Комментарий" type="xs:string" minOccurs="0"/>
            <xs:element name="Товары" type="tns:СписокТоваров"/>
            <xs:element name="Провести" type="xs:boolean" minOccurs="0"/>
"""
OPERATIONS = ("СоздатьСчет", "ЗаписатьСчет", "НайтиСчет", "СостояниеСчета", "ОтменитьСчет", "ПолучитьОстатки")


def soap_action(operation: str) -> str:
    """The soapAction the WSDL gives an operation, as 1C writes it: namespace#Service:Operation."""
    return f"{NAMESPACE}#СчетаНаОплату:{operation}"


def wsdl_text(address: str) -> str:
    messages = "\n".join(
        f'  <message name="{op}{kind}Message"><part name="parameters" element="tns:{op}{suffix}"/></message>'
        for op in OPERATIONS
        for kind, suffix in (("Request", ""), ("Response", "Response"))
    )
    port_operations = "\n".join(
        f'    <operation name="{op}"><input message="tns:{op}RequestMessage"/>'
        f'<output message="tns:{op}ResponseMessage"/></operation>'
        for op in OPERATIONS
    )
    binding_operations, binding12_operations = (
        "\n".join(
            f'    <operation name="{op}"><{p}:operation style="document" soapAction="{soap_action(op)}"/>'
            f'<input><{p}:body use="literal"/></input><output><{p}:body use="literal"/></output></operation>'
            for op in OPERATIONS
        )
        for p in ("soapbind", "soap12bind")
    )
    return WSDL.format(
        ns=NAMESPACE,
        invoice_fields=INVOICE_FIELDS,
        address=address,
        messages=messages,
        port_operations=port_operations,
        binding_operations=binding_operations,
        binding12_operations=binding12_operations,
    )


class _Quiet(WSGIRequestHandler):
    def log(self, *args) -> None:
        pass


class ClientFault(Exception):
    """Bad input: answered as a soap:Client fault."""


@dataclass
class Invoice:
    id: str
    number: str
    reference: str
    currency: str
    total: Decimal
    posted: bool
    paid: Decimal = Decimal(0)
    cancelled: bool = False

    @property
    def state(self) -> str:
        if self.cancelled:
            return "ПомеченНаУдаление"
        if self.paid >= self.total > 0:
            return "Оплачен"
        if self.paid > 0:
            return "ОплаченЧастично"
        return "Проведен" if self.posted else "НеПроведен"


@dataclass
class Received:
    soap_action: str | None
    body: bytes
    content_type: str = ""

    @property
    def operation(self) -> etree._Element:
        """The element inside the SOAP Body."""
        return _body(parse(self.body))[0]

    @property
    def soap_version(self) -> str:
        return "1.2" if parse(self.body).tag == f"{{{SOAP12_ENV}}}Envelope" else "1.1"


def parse(body: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(body, parser)
    if root.getroottree().docinfo.doctype:
        raise ClientFault("DTD не допускается")
    return root


class OnecSoapServer:
    """The service on a free localhost port; use as a context manager."""

    def __init__(self, username: str = "Администратор", password: str = "пароль-1с") -> None:
        self.username, self.password = username, password
        self.invoices: dict[str, Invoice] = {}
        self.stock: list[tuple[str, str, Decimal, Decimal]] = []
        self.received: list[Received] = []
        self.fail_next: str | None = None
        self.http_error_next: int | None = None
        self.stall_next: str | None = None
        # A find without a match answers an empty СчетИнфо with 1C's empty reference, not nil.
        self.find_answers_empty_ref = False
        self.wsdl_override: str | None = None  # served instead of the WSDL (a login page, hostile XML)
        self._release = threading.Event()
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.address = self.url + PATH
        self.wsdl_url = self.address + "?wsdl"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def config(self) -> dict:
        return {"wsdl_url": self.wsdl_url, "username": self.username, "password": self.password, "timeout": 5}

    def __enter__(self) -> OnecSoapServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self._server.shutdown()
        self._thread.join(5)

    def release(self) -> None:
        """Let a stalled answer go."""
        self._release.set()

    def by_reference(self, reference: str) -> list[Invoice]:
        return [inv for inv in self.invoices.values() if inv.reference == reference]

    def pay(self, reference: str, amount: str) -> None:
        (invoice,) = self.by_reference(reference)
        invoice.paid += Decimal(amount)

    # ---- HTTP ----------------------------------------------------------------------------------

    def _app(self, environ, start_response):
        request = Request(environ)
        if not self._authorised(request.headers.get("Authorization", "")):
            response = Response("Требуется авторизация", status=401, headers={"WWW-Authenticate": 'Basic realm="1C"'})
        elif request.path != PATH:
            response = Response("not found", status=404)
        elif request.method == "GET" and "wsdl" in request.args:
            response = Response(self.wsdl_override or wsdl_text(self.address), content_type="text/xml; charset=utf-8")
        elif request.method == "POST":
            response = self._call(request)
        else:
            response = Response("method not allowed", status=405)
        return response(environ, start_response)

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (user, password) == (self.username, self.password)

    def _call(self, request: Request) -> Response:
        body = request.get_data()
        # SOAP 1.2 carries the action in the Content-Type.
        action = request.headers.get("SOAPAction") or request.mimetype_params.get("action")
        self.received.append(Received(action, body, request.headers.get("Content-Type", "")))
        version = "1.2" if request.mimetype == "application/soap+xml" else "1.1"
        if self.http_error_next:
            status, self.http_error_next = self.http_error_next, None
            return Response("<html><body>Bad Gateway</body></html>", status=status, content_type="text/html")
        if self.fail_next:
            kind, self.fail_next = self.fail_next, None
            return _fault(version, "Server", f"Ошибка при вызове метода контекста ({kind})")
        try:
            operation = _body(parse(body))[0]
            name = etree.QName(operation).localname
            handler = {
                "СоздатьСчет": self._create,
                "ЗаписатьСчет": self._create_from_one_argument,
                "НайтиСчет": self._find,
                "СостояниеСчета": self._state,
                "ОтменитьСчет": self._cancel,
                "ПолучитьОстатки": self._stock,
            }.get(name)
            if handler is None or etree.QName(operation).namespace != NAMESPACE:
                raise ClientFault(f"Метод {name} не найден")
            with self._lock:
                answer = handler(operation)
        except ClientFault as exc:
            return _fault(version, "Client", str(exc))
        except (etree.XMLSyntaxError, IndexError, TypeError) as exc:
            return _fault(version, "Client", f"Неверный запрос: {exc}")
        if name == self.stall_next:
            self.stall_next = None
            self._release.wait(30)
        return _envelope(version, name, answer)

    # ---- operations ----------------------------------------------------------------------------

    def _create(self, op: etree._Element) -> etree._Element:
        reference = _text(op, "ВнешнийНомер", required=True)
        try:
            date.fromisoformat(_text(op, "Дата", required=True))
        except ValueError:
            raise ClientFault("Поле Дата: неверная дата") from None
        customer = _child(op, "Контрагент")
        if customer is None or not _text(customer, "Наименование"):
            raise ClientFault("Не заполнено поле Контрагент.Наименование")
        goods = _child(op, "Товары")
        lines = [] if goods is None else [el for el in goods if etree.QName(el).localname == "Строка"]
        if not lines:
            raise ClientFault("Табличная часть Товары не заполнена")
        total = Decimal(0)
        for i, line in enumerate(lines, 1):
            if _decimal(line, "Количество", i) <= 0:
                raise ClientFault(f"Строка {i}: Количество должно быть больше нуля")
            if _text(line, "СтавкаНДС") not in VAT_RATES:
                raise ClientFault(f"Строка {i}: неизвестная ставка НДС {_text(line, 'СтавкаНДС')!r}")
            _decimal(line, "Цена", i)
            total += _decimal(line, "Сумма", i) + _decimal(line, "СуммаНДС", i)
        invoice = Invoice(
            id=str(uuid.uuid4()),
            number=f"ТД00-{next(self._numbers):06d}",
            reference=reference,
            currency=_text(op, "Валюта", required=True),
            total=total,
            posted=_text(op, "Провести") == "true",
        )
        self.invoices[invoice.id] = invoice
        return _info(invoice)

    def _create_from_one_argument(self, op: etree._Element) -> etree._Element:
        document = _child(op, "Счет")
        if document is None:
            raise ClientFault("Не заполнен параметр Счет")
        return self._create(document)

    def _find(self, op: etree._Element) -> etree._Element | None:
        found = self.by_reference(_text(op, "ВнешнийНомер", required=True))
        if not found and self.find_answers_empty_ref:
            return _info(Invoice(id=EMPTY_REF, number="", reference="", currency="", total=Decimal(0), posted=False))
        return _info(found[0]) if found else None

    def _state(self, op: etree._Element) -> etree._Element | None:
        invoice = self.invoices.get(_text(op, "Ид", required=True))
        return _info(invoice) if invoice else None  # nil: deleted

    def _cancel(self, op: etree._Element) -> etree._Element:
        invoice = self._invoice(op)
        if invoice.paid:
            raise ClientFault(f"Счет {invoice.number} оплачен, отмена невозможна")
        result = etree.Element(_q("return"))
        result.text = "false" if invoice.cancelled else "true"
        invoice.cancelled = True
        return result

    def _stock(self, op: etree._Element) -> etree._Element:
        warehouse = _text(op, "Склад")
        result = etree.Element(_q("return"))
        for sku, wh, on_hand, reserved in self.stock:
            if warehouse and wh != warehouse:
                continue
            row = etree.SubElement(result, _q("Строка"))
            for name, value in (("Артикул", sku), ("Склад", wh), ("ВНаличии", on_hand), ("ВРезерве", reserved)):
                etree.SubElement(row, _q(name)).text = str(value)
        return result

    def _invoice(self, op: etree._Element) -> Invoice:
        invoice = self.invoices.get(_text(op, "Ид", required=True))
        if invoice is None:
            raise ClientFault(f"Счет с идентификатором {_text(op, 'Ид')} не найден")
        return invoice


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    return parent.find(_q(name))


def _text(parent: etree._Element, name: str, *, required: bool = False) -> str:
    el = _child(parent, name)
    value = (el.text or "").strip() if el is not None else ""
    if required and not value:
        raise ClientFault(f"Не заполнено поле {name}")
    return value


def _decimal(line: etree._Element, name: str, number: int) -> Decimal:
    try:
        return Decimal(_text(line, name, required=True))
    except InvalidOperation:
        raise ClientFault(f"Строка {number}: поле {name} не число") from None


def _info(invoice: Invoice) -> etree._Element:
    result = etree.Element(_q("return"))
    for name, value in (
        ("Ид", invoice.id),
        ("Номер", invoice.number),
        ("ВнешнийНомер", invoice.reference),
        ("Состояние", invoice.state),
        ("СуммаДокумента", invoice.total),
        ("СуммаОплаты", invoice.paid),
        ("Валюта", invoice.currency),
    ):
        etree.SubElement(result, _q(name)).text = str(value)
    return result


def _body(envelope: etree._Element) -> etree._Element:
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    return body if body is not None else envelope.find(f"{{{SOAP12_ENV}}}Body")


def _soap(version: str) -> tuple[str, str]:
    """The envelope namespace and content type of a SOAP version."""
    if version == "1.2":
        return SOAP12_ENV, "application/soap+xml; charset=utf-8"
    return SOAP_ENV, "text/xml; charset=utf-8"


def _envelope(version: str, operation: str, result: etree._Element | None) -> Response:
    env, content_type = _soap(version)
    envelope = etree.Element(f"{{{env}}}Envelope", nsmap={"soap": env, "m": NAMESPACE, "xsi": XSI})
    response = etree.SubElement(etree.SubElement(envelope, f"{{{env}}}Body"), _q(f"{operation}Response"))
    if result is None:
        etree.SubElement(response, _q("return")).set(f"{{{XSI}}}nil", "true")
    else:
        response.append(result)
    return Response(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), content_type=content_type)


def _fault(version: str, who: str, message: str) -> Response:
    """A fault as each version writes it: 1.1 soap:Client / soap:Server, 1.2 Sender / Receiver."""
    env, content_type = _soap(version)
    envelope = etree.Element(f"{{{env}}}Envelope", nsmap={"soap": env})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{env}}}Body"), f"{{{env}}}Fault")
    if version == "1.2":
        code = etree.SubElement(etree.SubElement(fault, f"{{{env}}}Code"), f"{{{env}}}Value")
        code.text = "soap:" + {"Client": "Sender", "Server": "Receiver"}[who]
        reason = etree.SubElement(etree.SubElement(fault, f"{{{env}}}Reason"), f"{{{env}}}Text")
        reason.set("{http://www.w3.org/XML/1998/namespace}lang", "ru")
        reason.text = message
    else:
        etree.SubElement(fault, "faultcode").text = f"soap:{who}"
        etree.SubElement(fault, "faultstring").text = message
    return Response(
        etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), status=500, content_type=content_type
    )
