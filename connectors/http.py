"""A small JSON-over-HTTP client for connectors: one `requests.Session`, timeouts, and the
translation of transport outcomes into the typed errors of `connectors.errors`.

| outcome | error |
| --- | --- |
| could not connect / connect timeout | RetryableError (nothing was sent) |
| read timeout or dropped connection after a create was sent | UncertainOutcomeError |
| 429 | RetryableError with the Retry-After wait (`unannounced_wait` when there is none) |
| 401, 403 | AuthError |
| other 4xx | PermanentError with the target's message |
| 5xx | RetryableError; UncertainOutcomeError for a request that changes data |

JSON bodies are written by `dumps`: Decimals go out as JSON numbers, digit for digit, dates as ISO
strings. With `exact_numbers`, numbers in answers are read as Decimals too: money never passes
through a float.
"""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from connectors import outbound
from connectors.base import Exchange
from connectors.errors import AuthError, PermanentError, RetryableError, UncertainOutcomeError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def decimal_of(value: Any) -> Decimal:
    """A number of a JSON answer (a Decimal with `exact_numbers`, else a float or an int; or text)
    as the Decimal it was written as: a float through its shortest text, 19.9 and never 19.899…;
    0 for none."""
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def created(answer: Any, key: str, request: str) -> Any:
    """`answer[key]` of a create's answer. An answer without it (a proxy's HTML page, a body cut
    short) raises UncertainOutcomeError: the create was sent and may have been applied, so the
    retry must look it up before creating again."""
    if isinstance(answer, Mapping) and answer.get(key) is not None:
        return answer[key]
    raise UncertainOutcomeError(f"{request}: the answer has no {key}: {str(answer)[:200]}", detail=answer)


def dumps(value: Any) -> str:
    """JSON text of plain data (dicts, lists, text, numbers, booleans, None) in which Decimals are
    written as JSON numbers exactly as they are (19.90 stays 19.90), dates as ISO strings."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be sent as a JSON number")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{jsonlib.dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    if isinstance(value, date):
        return jsonlib.dumps(value.isoformat())
    return jsonlib.dumps(value, allow_nan=False)


class JsonHttp:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 15.0,
        headers: Mapping[str, str] | None = None,
        record: Callable[[Exchange], None] | None = None,
        session: requests.Session | None = None,
        exact_numbers: bool = False,
        unannounced_wait: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.exact_numbers = exact_numbers
        # The wait for a 429 without Retry-After (Zoho sends none): the provider's limit window,
        # so that the pacer holds and the engine waits instead of trying again at once.
        self.unannounced_wait = unannounced_wait
        self.timeout = timeout
        # The headers given here are the connector's credentials: they stay with their host.
        self.session = session or outbound.session(credential_headers=(headers or {}).keys())
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        self.record = record or (lambda exchange: None)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        method = method.upper()
        url = self.url(path)
        data = None
        if json is not None:
            data = dumps(json).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, data=data, params=params, headers=headers, timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.record(Exchange(method, url, json, None, None, f"{type(exc).__name__}: {exc}", elapsed_ms(started)))
            if may_have_arrived(exc) and method not in SAFE_METHODS:
                raise UncertainOutcomeError(f"{method} {url}: no answer ({type(exc).__name__})") from exc
            raise RetryableError(f"{method} {url}: {type(exc).__name__}") from exc
        body = _body(response, exact=self.exact_numbers)
        self.record(Exchange(method, url, json, response.status_code, body, None, elapsed_ms(started)))
        status = response.status_code
        if status < 400:
            return body
        message = f"{method} {url} → {status}: {_message(body)}"
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise RetryableError(message, wait=self.unannounced_wait if wait is None else wait, detail=body)
        if status in (401, 403):
            raise AuthError(message, status=status, detail=body)
        if status >= 500:
            if method not in SAFE_METHODS and status != 503:
                raise UncertainOutcomeError(message, detail=body)
            raise RetryableError(message, wait=retry_after_seconds(response.headers.get("Retry-After")), detail=body)
        raise PermanentError(message, detail=body)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.session.close()


def may_have_arrived(exc: requests.RequestException) -> bool:
    """Whether a request that failed with `exc` may have reached the target: not when no connection
    was made (refused, unknown host, connect timeout), so that nothing can have been applied."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    text = str(exc)
    return not ("Connection refused" in text or "NewConnectionError" in text or "Name or service not known" in text)


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _body(response: requests.Response, *, exact: bool = False) -> Any:
    if not response.content:
        return None
    try:
        return jsonlib.loads(response.content, parse_float=Decimal) if exact else response.json()
    except ValueError:
        return response.text[:2000]


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("odata.error"), dict):
        # OData v3 (1C's standard interface among others): {"odata.error": {"code", "message": {"value"}}}
        message = body["odata.error"].get("message")
        text = message.get("value") if isinstance(message, dict) else message
        if text:
            return str(text)
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "Message"):
            if body.get(key):
                return str(body[key])
    return str(body)[:500] if body else "no details"
