"""Purchase requests from low-stock alerts: ask the target that keeps the stock to buy more.

The quantity defaults to what brings the product back to its target level: target level − the
alert's projected stock. The link row is committed (pending) before the target is asked, so at
most one request is ever made per alert: a repeated or concurrent call finds the row; a call that
failed is repeated with the same reference, by which the target finds what it may have created.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.errors import ConnectorError, PermanentError, UnsupportedOperation
from hub.errors import Conflict, UpstreamFailed, ValidationFailed
from hub.extensions import db
from hub.i18n import N_
from hub.models import (
    Connection,
    PurchaseRequest,
    PurchaseRequestState,
    RunOutcome,
    StockAlert,
    StockLevel,
    User,
    Warehouse,
)
from hub.models.base import utcnow
from hub.sentences import english, sentence
from hub.sync.factory import open_connector, secret_values
from hub.sync.history import record_run
from hub.sync.registry import registry

# A pending link older than this was left by a call that died while asking: it may be asked again.
PENDING_SECONDS = 120


def takes_purchase_requests(connection_type: str) -> bool:
    return registry().supports(connection_type, "create_purchase_request")


def reference_for(alert: StockAlert) -> str:
    return f"crmhub-alert-{alert.id}"


def default_quantity(alert: StockAlert) -> Decimal:
    """What brings the product back to its rule's target level, from the alert's projected stock."""
    if alert.rule is None:
        raise ValidationFailed({"quantity": "The alert's reorder rule is gone; say how many to buy."})
    quantity = Decimal(alert.rule.target_level) - Decimal(alert.projected)
    if quantity <= 0:
        raise ValidationFailed({"quantity": "Projected stock is at the target level already; say how many to buy."})
    return quantity


def _target(alert: StockAlert, connection_id: int | None) -> tuple[Connection, str | None]:
    """The connection to ask, and the warehouse code there (None: the connection's default)."""
    if alert.warehouse_id is not None:
        warehouse = db.session.get(Warehouse, alert.warehouse_id)
        if connection_id is not None and connection_id != warehouse.connection_id:
            raise ValidationFailed({"connection_id": "The alert's warehouse belongs to another connection."})
        return warehouse.connection, warehouse.code
    # An alert over all warehouses: the connections that report the product's stock.
    rows = db.session.execute(
        select(StockLevel.connection_id, Warehouse.code)
        .join(Warehouse, StockLevel.warehouse_id == Warehouse.id)
        .where(StockLevel.product_id == alert.product_id)
        .order_by(StockLevel.available, Warehouse.code)
    ).all()
    connections = sorted({cid for cid, _ in rows})
    if connection_id is None:
        if len(connections) != 1:
            names = ", ".join(db.session.get(Connection, c).name for c in connections) or gettext("none")
            raise ValidationFailed(
                {"connection_id": gettext("Say which connection to ask (the product's stock: %(names)s).", names=names)}
            )
        connection_id = connections[0]
    elif connection_id not in connections:
        raise ValidationFailed(
            {"connection_id": gettext("Connection %(id)s reports no stock of this product.", id=connection_id)}
        )
    # The warehouse where the product is scarcest is the one to refill.
    code = next(code for cid, code in rows if cid == connection_id)
    return db.session.get(Connection, connection_id), code


def request_purchase(
    alert: StockAlert, user: User | None, quantity: Decimal | None = None, connection_id: int | None = None
) -> tuple[PurchaseRequest, bool]:
    """The alert's purchase request, asked of the target now unless it was made already. Returns
    (link, whether this call made the link). Commits."""
    link = db.session.scalar(select(PurchaseRequest).where(PurchaseRequest.alert_id == alert.id))
    if link is not None and link.state == PurchaseRequestState.REQUESTED:
        return link, False
    pending = link is not None and link.state == PurchaseRequestState.PENDING
    if pending and (utcnow() - link.updated_at).total_seconds() < PENDING_SECONDS:
        raise Conflict(gettext("A purchase request for alert %(id)s is being made already.", id=alert.id))
    made = link is None
    if link is None:
        if alert.open_key is None:
            raise Conflict(gettext("Alert %(id)s is resolved; stock has recovered.", id=alert.id))
        connection, warehouse_code = _target(alert, connection_id)
        if not takes_purchase_requests(connection.type):
            raise Conflict(
                gettext(
                    "%(name)s (%(type)s) does not take purchase requests.", name=connection.name, type=connection.type
                )
            )
        link = PurchaseRequest(
            alert_id=alert.id,
            connection_id=connection.id,
            sku=alert.product.sku,
            warehouse_code=warehouse_code,
            quantity=quantity if quantity is not None else default_quantity(alert),
            reference=reference_for(alert),
            state=PurchaseRequestState.PENDING,
            created_by_id=user.id if user else None,
        )
        db.session.add(link)
        try:
            db.session.commit()  # claims the alert: a concurrent call now finds this row
        except IntegrityError:
            db.session.rollback()
            raise Conflict(gettext("A purchase request for alert %(id)s is being made already.", id=alert.id)) from None
    _ask(link)
    return link, made


def _ask(link: PurchaseRequest) -> None:
    """Ask the target (again, for a failed link: same reference, same quantity) and record the run."""
    connection = link.connection
    started = utcnow()
    connector = open_connector(connection)
    error: ConnectorError | None = None
    try:
        ref = connector.create_purchase_request(link.sku, link.warehouse_code, Decimal(link.quantity), link.reference)
    except ConnectorError as exc:
        error = exc
    finally:
        exchanges = connector.take_exchanges()
        connector.close()
    if error is None:
        link.state, link.error, link.error_message = PurchaseRequestState.REQUESTED, None, None
        link.external_id, link.external_number, link.url = ref.external_id, ref.external_number, ref.url
    else:
        # The target's words, in the hub's sentence: said in the reader's language where shown.
        if isinstance(error, PermanentError):
            failed = sentence(
                N_("%(target)s refused the purchase request: %(detail)s"), target=connection.name, detail=error.message
            )
        else:
            failed = sentence(
                N_("%(target)s did not take the purchase request: %(detail)s"),
                target=connection.name,
                detail=error.message,
            )
        link.state, link.error, link.error_message = PurchaseRequestState.FAILED, english(failed), failed
    record_run(
        connection_id=connection.id,
        operation="purchase_request",
        outcome=RunOutcome.SUCCESS if error is None else RunOutcome.FAILED,
        started_at=started,
        object_type="stock_alert",
        object_id=link.alert_id,
        exchanges=exchanges,
        secrets=secret_values(connection),
        error=None if error is None else error.message,
    )
    if isinstance(error, UnsupportedOperation):
        db.session.delete(link)  # nothing was asked: no link to keep
    db.session.commit()
    if isinstance(error, UnsupportedOperation):
        raise Conflict(error.message)
    if isinstance(error, PermanentError):
        field = error.field or "purchase_request"
        raise ValidationFailed(
            {field: error.message}, gettext("%(name)s refused the purchase request.", name=connection.name)
        )
    if error is not None:
        raise UpstreamFailed(
            gettext(
                "%(name)s did not take the purchase request: %(error)s; try again.",
                name=connection.name,
                error=error.message,
            )
        )
