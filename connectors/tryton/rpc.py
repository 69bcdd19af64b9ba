"""Tryton's JSON-RPC (`POST /<database>/rpc/`), with `requests`: the transport every other part of
the connector calls through, its sessions, and how Tryton's answers become the connector's errors.

Log-in with `common.db.login` gives a session; every call sends it as `Authorization: Session
base64(login:user_id:token)` and, as its last parameter, the user's context (company!). A session
expires after some idle minutes (HTTP 401): log in again and repeat the call once. Decimals and
dates travel as `{"__class__": "Decimal", "decimal": "19.90"}` / `{"__class__": "date", ...}`;
model errors come back as HTTP 200 with an `error` member.

Every request and its answer is kept as an `Exchange` (the log-in's password and token hidden).
Whether a call changes data decides what no answer means: a look-up is retried, a create is an
uncertain outcome (the hub looks before it tries again).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import requests

from connectors import outbound
from connectors.base import Connector, Exchange
from connectors.errors import AuthError, PermanentError, RetryableError, UncertainOutcomeError
from mappings.spec import MappingSpec


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        raise TypeError("send dates, not datetimes")
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _decode(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return datetime(
            obj["year"], obj["month"], obj["day"], obj["hour"], obj["minute"], obj["second"], obj.get("microsecond", 0)
        )
    return obj


# Sessions (and user context) by server, database, user and password, shared by this process's
# connectors: a Tryton log-in hashes the password (about a fifth of a second) and every job opens
# a new connector.
_SESSIONS: dict[str, tuple[str | None, dict[str, Any] | None]] = {}


def as_sent(values: Any) -> Any:
    """`values` as they travel in a JSON-RPC call (Decimals and dates in Tryton's notation)."""
    return json.loads(json.dumps(values, default=_encode))


class TrytonRpc(Connector):
    """Calls to one Tryton database as one user, with that user's context (company!)."""

    def __init__(self, config: Mapping[str, Any], *, post: bool = False, mapping: MappingSpec | None = None) -> None:
        super().__init__(config, post=post, mapping=mapping)
        self.session = outbound.session()
        self.session.headers["Content-Type"] = "application/json"
        # A session from an earlier connector of this process, if any: it is re-made on a 401.
        self._auth, self._context = _SESSIONS.get(self._session_key, (None, None))
        self._ids = 0

    @property
    def rpc_url(self) -> str:
        return f"{self.config['url'].rstrip('/')}/{self.config['database']}/rpc/"

    def _post(self, method: str, params: list[Any], *, changes_data: bool) -> Any:
        self._ids += 1
        body = json.dumps({"id": self._ids, "method": method, "params": params}, default=_encode)
        headers = {"Authorization": self._auth} if self._auth else {}
        started = time.monotonic()
        record_params = "***" if method == "common.db.login" else json.loads(body)["params"]
        try:
            response = self.session.post(
                self.rpc_url, data=body, headers=headers, timeout=float(self.config["timeout"])
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.exchanges.append(
                Exchange(
                    "POST",
                    f"{self.rpc_url} {method}",
                    record_params,
                    None,
                    None,
                    str(exc),
                    int((time.monotonic() - started) * 1000),
                )
            )
            refused = isinstance(exc, requests.ConnectTimeout) or "Connection refused" in str(exc)
            if changes_data and not refused:
                raise UncertainOutcomeError(f"Tryton {method}: no answer ({type(exc).__name__})") from exc
            raise RetryableError(f"Tryton {method}: {type(exc).__name__}") from exc
        payload: Any = None
        if response.content:
            try:
                payload = json.loads(response.content, object_hook=_decode)
            except ValueError:
                payload = response.text[:2000]
        self.exchanges.append(
            Exchange(
                "POST",
                f"{self.rpc_url} {method}",
                record_params,
                response.status_code,
                "***" if method == "common.db.login" else payload,
                None,
                int((time.monotonic() - started) * 1000),
            )
        )
        status = response.status_code
        if status == 401:
            raise _SessionExpired()
        if status == 403:
            raise AuthError(f"Tryton refused {method} for {self.config['username']} (403)")
        if status == 429:
            raise RetryableError("Tryton is rate-limiting log-ins", wait=float(response.headers.get("Retry-After", 30)))
        if status >= 500:
            if changes_data:
                raise UncertainOutcomeError(f"Tryton {method} → {status}")
            raise RetryableError(f"Tryton {method} → {status}")
        if status == 404:
            raise PermanentError(
                f"Tryton at {self.config['url']} has no database {self.config['database']!r}", field="database"
            )
        if status >= 400:
            raise PermanentError(f"Tryton {method} → {status}: {payload}")
        if isinstance(payload, dict) and payload.get("error"):
            raise _model_error(method, payload["error"])
        return payload["result"] if isinstance(payload, dict) else payload

    def _login(self) -> None:
        try:
            result = self._post(
                "common.db.login",
                [self.config["username"], {"password": self.config["password"]}, "en"],
                changes_data=False,
            )
        except _SessionExpired as exc:
            raise AuthError(f"Tryton refused the log-in of {self.config['username']}") from exc
        if not result:
            raise AuthError(f"Tryton refused the log-in of {self.config['username']}")
        user_id, token = result[0], result[1]
        raw = f"{self.config['username']}:{user_id}:{token}".encode()
        self._auth = "Session " + base64.b64encode(raw).decode()
        _SESSIONS[self._session_key] = (self._auth, self._context)
        self._logged_in()

    def _logged_in(self) -> None:
        """What a new session makes stale: nothing at this layer (see TrytonLookups)."""

    @property
    def _session_key(self) -> str:
        password = hashlib.sha256(str(self.config["password"]).encode()).hexdigest()
        return f"{self.rpc_url} {self.config['username']} {password}"

    def call(self, method: str, *args: Any, changes_data: bool = False, context: dict | None = None) -> Any:
        """`model.<name>.<method>` with the user's context appended; re-logs in once on 401."""
        if self._auth is None:
            self._login()
        for attempt in (1, 2):
            ctx = {**self.context(), **(context or {})} if not method.startswith("model.res.user.get_pref") else {}
            try:
                return self._post(method, [*args, ctx], changes_data=changes_data)
            except _SessionExpired:
                if attempt == 2:
                    raise AuthError("Tryton keeps refusing the session after a fresh log-in") from None
                self._login()
        raise AssertionError("unreachable")

    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = {}
            prefs = self.call("model.res.user.get_preferences", True)
            self._context = {k: v for k, v in prefs.items() if k in ("company", "companies", "language", "locale")}
            self._context.setdefault("companies", [self._context["company"]] if self._context.get("company") else [])
            _SESSIONS[self._session_key] = (self._auth, self._context)
        return self._context

    def search_read(
        self,
        model: str,
        domain: list,
        fields: list[str],
        *,
        limit: int | None = None,
        order: list[list[str]] | None = None,
        context: dict | None = None,
    ) -> list[dict[str, Any]]:
        return self.call(f"model.{model}.search_read", domain, 0, limit, order, fields, context=context)

    def close(self) -> None:
        self.session.close()

    def test_connection(self) -> str:
        self._login()
        company = self.context().get("company")
        return f"Tryton at {self.config['url']}, database {self.config['database']}, company {company}"


class _SessionExpired(Exception):
    """HTTP 401: the session is gone; log in again."""


def _model_error(method: str, error: Any) -> Exception:
    kind, args = (error[0], error[1]) if isinstance(error, list) and len(error) == 2 else ("Error", error)
    if isinstance(args, list) and args:
        message = str(args[0])
        if len(args) > 1 and args[1]:
            message = f"{message} — {args[1]}"
    else:
        message = str(args)
    text = f"Tryton {method}: {kind}: {message}"
    if kind in ("UserError", "UserWarning", "AccessError"):
        return PermanentError(text, detail=error)
    if kind == "LoginException":
        return AuthError(text, detail=error)
    if kind == "ConcurrencyException":
        return RetryableError(text, detail=error)
    return RetryableError(text, detail=error)
