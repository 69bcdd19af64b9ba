"""ERPNext's wire conventions: where a document lives (`/api/resource/<doctype>/<name>`), and its
refusals (HTTP 417 with `exc_type`, `exception`, `_server_messages`) as typed errors naming the field."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from connectors.errors import AuthError, ConnectorError, PermanentError


def resource(doctype: str, name: str | None = None) -> str:
    path = f"/api/resource/{quote(doctype)}"
    return f"{path}/{quote(name, safe='')}" if name is not None else path


# Field labels as ERPNext's messages name them → the field; "Row #2" names the line.
LABELS = {
    "Customer": "customer",
    "Item Code": "item_code",
    "Item": "item_code",
    "Currency": "currency",
    "Company": "company",
    "Due Date": "due_date",
    "Posting Date": "posting_date",
    "Quantity": "qty",
    "Rate": "rate",
    "Item Tax Template": "item_tax_template",
    "Sales Taxes and Charges Template": "taxes_and_charges",
    "Customer Group": "customer_group",
    "Item Group": "item_group",
}
LINE_FIELDS = frozenset({"item_code", "qty", "rate", "item_tax_template"})
_LABEL = re.compile(r"\b(" + "|".join(sorted(map(re.escape, LABELS), key=len, reverse=True)) + r")\b")
_ROW = re.compile(r"Row\s*#?\s*(\d+)")
# "frappe.exceptions.MandatoryError: [Sales Invoice, new-sales-invoice-1]: customer, due_date"
_MANDATORY = re.compile(r"\]:\s*([a-z_][a-z0-9_]*)")


def refusal(exc: PermanentError | AuthError) -> ConnectorError:
    body = exc.detail if isinstance(exc.detail, dict) else {}
    messages = _server_messages(body)
    exception = str(body.get("exception") or "")
    last_line = exception.strip().splitlines()[-1] if exception.strip() else ""
    text = "; ".join(messages) or last_line or exc.message
    request_line = exc.message.split(" → ")[0]
    message = f"ERPNext refused {request_line}: {body.get('exc_type') or 'error'}: {text}"
    # Frappe's traceback stays out of the run history.
    detail = {k: v for k, v in body.items() if k != "exc"} if body else exc.detail
    if isinstance(exc, AuthError):
        return AuthError(message, status=exc.status, detail=detail)
    return PermanentError(message, field=_field(str(body.get("exc_type") or ""), exception, text), detail=detail)


def _server_messages(body: dict[str, Any]) -> list[str]:
    """The messages of `_server_messages`: a JSON list of JSON objects, each with a `message`."""
    try:
        items = json.loads(body.get("_server_messages") or "[]")
        messages = [json.loads(item).get("message", "") if isinstance(item, str) else "" for item in items]
    except (ValueError, AttributeError):
        return []
    return [re.sub(r"<[^>]+>", "", str(m)).strip() for m in messages if m]


def _field(exc_type: str, exception: str, text: str) -> str | None:
    if exc_type == "MandatoryError" and (m := _MANDATORY.search(exception)):
        return m.group(1)
    label = _LABEL.search(text)
    if label is None:
        return None
    field = LABELS[label.group(1)]
    row = _ROW.search(text)
    return f"lines[{int(row.group(1)) - 1}].{field}" if row and field in LINE_FIELDS else field
