"""What operations do with stock, for the API and the pages alike: pull a connection's stock now,
keep reorder rules, and acknowledge or snooze a live low-stock alert. Each change is committed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from hub.errors import Conflict, ValidationFailed
from hub.extensions import db
from hub.inventory import alerts as alert_rules
from hub.inventory.pull import pull_job_id, start_pull
from hub.models import AlertState, Connection, Product, ReorderRule, StockAlert, User, Warehouse
from hub.models.base import utcnow
from hub.services.queries import apply, get_or_404, get_ref
from hub.sync.queue import get_queue

RULE_FIELDS = ("reorder_point", "target_level", "margin", "count_open_deals")


# ---- pull now -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pull:
    connection: Connection
    job_id: str
    queued: bool  # False: a pull of this connection was queued or running already, and this joins it


def pull_now(connection_id: int, full: bool = False) -> Pull:
    """Queue a pull of the connection's stock (in the background); 409 for a type without stock."""
    connection = get_or_404(Connection, connection_id)
    queued = start_pull(connection, full)
    return Pull(connection, pull_job_id(connection_id), queued)


@dataclass(frozen=True)
class PullProgress:
    connection: Connection
    status: str  # the job's: queued, started, finished, failed ... or "none"
    result: Any  # what a finished pull returned


def pull_progress(connection_id: int) -> PullProgress:
    """How far the connection's latest pull has got."""
    connection = get_or_404(Connection, connection_id)
    job = get_queue().fetch_job(pull_job_id(connection.id))
    status = job.get_status(refresh=True).value if job is not None else "none"
    result = job.return_value() if job is not None and status == "finished" else None
    return PullProgress(connection, status, result)


# ---- reorder rules ------------------------------------------------------------------------


def save_rule(rule_id: int | None, data: Mapping[str, Any]) -> tuple[ReorderRule, list[StockAlert]]:
    """Create a rule (`rule_id` None) or change one from validated input, then measure it against
    the stock known now; committed. Returns the rule and the alerts it opened."""
    rule = ReorderRule() if rule_id is None else get_or_404(ReorderRule, rule_id)
    _check_rule(rule, data)
    if rule.id is None:
        db.session.add(rule)
    db.session.flush()
    opened = alert_rules.evaluate({rule.product_id})
    db.session.commit()
    return rule, opened


def delete_rule(rule_id: int) -> None:
    """Delete a rule; its live alert is resolved. Committed."""
    rule = get_or_404(ReorderRule, rule_id)
    for alert in db.session.scalars(select(StockAlert).where(StockAlert.rule_id == rule.id)):
        if alert.open_key:
            alert.state, alert.open_key, alert.resolved_at = AlertState.RESOLVED, None, utcnow()
    db.session.delete(rule)
    db.session.commit()


def _check_rule(rule: ReorderRule, data: Mapping[str, Any]) -> None:
    if "product_id" in data:
        rule.product = get_ref(Product, data["product_id"], "product_id")
    if "warehouse_id" in data:
        rule.warehouse = get_ref(Warehouse, data["warehouse_id"], "warehouse_id")
    apply(rule, data, RULE_FIELDS)
    if rule.target_level < rule.reorder_point:
        raise ValidationFailed({"target_level": "Must be at least the reorder point."})
    clash = db.session.scalar(
        select(ReorderRule.id).where(
            ReorderRule.product_id == rule.product.id,
            ReorderRule.warehouse_id.is_(None)
            if rule.warehouse is None
            else ReorderRule.warehouse_id == rule.warehouse.id,
            ReorderRule.id != (rule.id or 0),
        )
    )
    if clash:
        raise Conflict(
            gettext("Rule %(rule)s already covers this product and warehouse.", rule=clash),
            {"product_id": [gettext("Already has a rule.")]},
        )


# ---- alerts -------------------------------------------------------------------------------


def acknowledge_alert(alert_id: int, user: User) -> StockAlert:
    """Someone is on it: the alert stays until stock recovers, and is not raised again. Committed."""
    alert = _live(alert_id)
    alert_rules.acknowledge(alert, user)
    return alert


def snooze_alert(alert_id: int, until: datetime) -> StockAlert:
    """Out of the inbox until `until`; back then if stock has not recovered. Committed."""
    alert = _live(alert_id)
    alert_rules.snooze(alert, until)
    return alert


def _live(alert_id: int) -> StockAlert:
    alert = get_or_404(StockAlert, alert_id)
    if alert.open_key is None:
        raise Conflict(gettext("Alert %(id)s is resolved.", id=alert.id))
    return alert
