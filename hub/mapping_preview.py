"""What a push of a deal through a connection would send: the document, the mapped fields and the
target's payload, with every problem, without sending anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from connectors.documents import InvoiceDocument, invoice_from_dict, invoice_to_dict
from connectors.errors import ConnectorError
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.invoicing import build_document
from hub.locale_numbers import whole_number
from hub.mapping_store import active_version, get_version, resolved
from hub.models import Connection, Deal, HubInvoice, InvoiceState
from hub.sync.factory import open_connector
from hub.sync.registry import registry
from mappings.evaluate import evaluate
from mappings.spec import MappingInvalid
from mappings.values import storable


@dataclass(frozen=True)
class DealDocument:
    document: InvoiceDocument
    invoice: HubInvoice | None  # None: the deal is not won yet


def document_for_deal(deal: Deal) -> DealDocument:
    """What a push of this deal sends: its invoice's snapshot once it is won, else the document it
    would make if it were won now (with a placeholder number)."""
    invoice = db.session.scalar(
        select(HubInvoice)
        .where(HubInvoice.deal_id == deal.id, HubInvoice.state != InvoiceState.CANCELLED)
        .order_by(HubInvoice.id.desc())
    )
    if invoice is not None:
        return DealDocument(invoice_from_dict(invoice.snapshot), invoice)
    if deal.customer is None:
        raise ValidationFailed({"deal_id": gettext("Deal %(id)s has no customer to invoice.", id=deal.id)})
    return DealDocument(build_document(deal, "INV-PREVIEW"), None)


def find_deal(reference: str) -> Deal:
    """A deal by its number (D-000042) or its id, as people type it in a form."""
    text = reference.strip()
    # Numbers are written in capitals (D-000042); comparing them as such keeps the unique index in use.
    deal = db.session.scalar(select(Deal).where(Deal.number == text.upper())) if text else None
    number = whole_number(text)
    if deal is None and number is not None:
        deal = db.session.get(Deal, number)
    if deal is None:
        if not text:
            raise ValidationFailed({"deal": gettext("Name a deal.")})
        raise ValidationFailed({"deal": gettext("No deal has the number or id %(text)s.", text=repr(text))})
    return deal


def _target_problem(exc: ConnectorError) -> dict[str, Any]:
    field = getattr(exc, "field", None)
    return {"path": field or "target", "message": exc.message, "kind": "target", "table": None, "value": None}


def preview(connection: Connection, deal: Deal, version: int | None = None) -> dict[str, Any]:
    """The payload a push of this deal would send through this connection with a version (None:
    the active one, 0: the default), and every problem, without sending anything (the target is
    only asked to look ids up)."""
    found = document_for_deal(deal)
    doc, invoice = found.document, found.invoice
    if version not in (None, 0):
        get_version(connection, version)  # NotFound for a version that does not exist
    result: dict[str, Any] = {
        "connection_id": connection.id,
        "version": version if version is not None else getattr(active_version(connection), "version", None),
        "deal_id": deal.id,
        "invoice_number": invoice.number if invoice else None,
        "document": invoice_to_dict(doc),
        "mapped": {},
        "payload": None,
    }
    try:
        spec = resolved(connection, version)
    except MappingInvalid as exc:
        return {**result, "valid": False, "problems": [p.as_dict() for p in exc.problems]}
    outcome = evaluate(spec, doc)
    problems = [p.as_dict() for p in outcome.problems]
    if connection.type in registry():
        problems += [p.as_dict() for p in registry().get(connection.type).mapping_problems(spec)]
    result["mapped"] = storable(outcome.payload)
    if not problems:
        connector = None
        try:
            connector = open_connector(connection, maps_documents=True, mapping_version=version)
            result["payload"] = connector.preview_payload(doc)
        except ConnectorError as exc:
            problems.append(_target_problem(exc))
        finally:
            if connector is not None:
                connector.close()
    return {**result, "valid": not problems, "problems": problems}
