"""How the web-service connector reaches 1C: zeep's transport over one `requests.Session`, every
request and answer kept for the run history; 1C's HTTP answers as the hub's typed errors.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import quote

import requests
import zeep
from zeep.wsdl.bindings.soap import Soap11Binding, Soap12Binding

from connectors.base import Exchange
from connectors.errors import AuthError, ConnectorError, PermanentError, RetryableError
from connectors.http import elapsed_ms

# WSDLs and answers are parsed without DTDs, entities or external references.
SETTINGS = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
BINDINGS = {"1.1": Soap11Binding, "1.2": Soap12Binding}
EXCERPT = 20000


class Transport(zeep.Transport):
    """zeep's transport over the connector's session, keeping every exchange for the run history."""

    def __init__(self, session: requests.Session, timeout: float, record) -> None:
        super().__init__(timeout=timeout, operation_timeout=timeout, session=session)
        self.record = record
        self.operation = ""  # what the next POST calls, for the history
        self.last_status: int | None = None
        self.retry_after: str | None = None

    def load(self, url: str) -> bytes:
        started = time.monotonic()
        try:
            content = super().load(url)
        except requests.RequestException as exc:
            status = exc.response.status_code if exc.response is not None else None
            self.record(Exchange("GET", url, None, status, None, f"{type(exc).__name__}: {exc}", elapsed_ms(started)))
            raise
        self.record(Exchange("GET", url, None, 200, f"WSDL, {len(content)} bytes", None, elapsed_ms(started)))
        return content

    def post(self, address: str, message: bytes | str, headers: Mapping[str, str]) -> requests.Response:
        # HTTP headers are Latin-1; 1C's soapAction names Russian operations: send it as a URI.
        headers = {k: ascii_header(v) for k, v in headers.items()}
        sent = message.decode("utf-8") if isinstance(message, bytes) else message
        url = f"{address} {self.operation}"
        started = time.monotonic()
        self.last_status = self.retry_after = None
        try:
            response = super().post(address, message, headers)
        except requests.RequestException as exc:
            self.record(Exchange("POST", url, sent, None, None, f"{type(exc).__name__}: {exc}", elapsed_ms(started)))
            raise
        self.last_status = response.status_code
        self.retry_after = response.headers.get("Retry-After")
        answer = response.content.decode(response.encoding or "utf-8", errors="replace")[:EXCERPT]
        self.record(Exchange("POST", url, sent, response.status_code, answer, None, elapsed_ms(started)))
        return response


def http_error(status: int, message: str, *, field: str | None = None, wait: float | None = None) -> ConnectorError:
    if status in (401, 403):
        return AuthError(f"{message}: HTTP {status}, 1C refused the user or password", status=status)
    if status == 429 or status >= 500:
        return RetryableError(f"{message}: HTTP {status}", wait=wait)
    return PermanentError(f"{message}: HTTP {status}", field=field)


def ascii_header(header: str) -> str:
    """A header value with its non-ASCII characters percent-encoded as UTF-8, the way an IRI becomes
    a URI (SOAP 1.1's SOAPAction header, SOAP 1.2's action in the Content-Type)."""
    return "".join(c if c.isascii() else quote(c) for c in header)
