"""Sending low-stock alerts to e-mail and webhook channels.

`queue_for` writes one pending delivery per enabled channel when alerts open (same transaction as
the alert). `deliver_due` sends what is due, each delivery on its own: a failure is recorded on that
delivery and retried later with backoff, and never stops the others.

Webhooks are JSON, signed with HMAC-SHA256 over "<timestamp>.<body>" with the channel's secret:
`X-Hub-Timestamp: <unix seconds>`, `X-Hub-Signature-256: sha256=<hex>`. Receivers recompute it and
reject old timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import smtplib
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import requests
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from connectors import outbound
from hub.extensions import db
from hub.i18n import N_
from hub.models import AlertChannel, AlertDelivery, ChannelKind, DeliveryState, StockAlert
from hub.models.base import utcnow
from hub.secrets_box import unseal
from hub.sentences import Stored, english, sentence
from hub.sync.backoff import retry_delay

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A channel could not take the message; it is retried. Made from a sentence of the hub's around
    the server's words (hub.sentences), or from the words alone; `said` keeps the sentence."""

    def __init__(self, said: Stored | str) -> None:
        self.said = None if isinstance(said, str) else said
        super().__init__(said if isinstance(said, str) else english(said))


CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def queue_for(alerts: Iterable[StockAlert]) -> int:
    """One pending delivery per alert × enabled channel. Flushes; the caller commits."""
    alerts = list(alerts)
    if not alerts:
        return 0
    channels = db.session.scalars(select(AlertChannel).where(AlertChannel.enabled.is_(True))).all()
    for alert in alerts:
        for channel in channels:
            db.session.add(AlertDelivery(alert=alert, channel=channel, event="opened"))
    db.session.flush()
    return len(alerts) * len(channels)


def deliver_due(limit: int = 200) -> dict[str, int]:
    """Send the deliveries that are due; returns counts by outcome."""
    now = utcnow()
    due = db.session.scalars(
        select(AlertDelivery)
        .where(AlertDelivery.state == DeliveryState.PENDING, AlertDelivery.next_attempt_at <= now)
        .order_by(AlertDelivery.id)
        .limit(limit)
    ).all()
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    for delivery in due:
        delivery.attempts += 1
        try:
            send(delivery.channel, payload(delivery.alert, delivery.event), delivery.alert.explanation_text)
        except Exception as exc:  # one delivery's fault never holds back the others
            if not isinstance(exc, DeliveryError):
                log.exception("alert %s to channel %s could not be built", delivery.alert_id, delivery.channel.name)
            delivery.last_error = str(exc)[:2000]
            delivery.last_error_message = exc.said if isinstance(exc, DeliveryError) else None
            if delivery.attempts >= current_app.config["HUB_RETRY_MAX_ATTEMPTS"]:
                delivery.state = DeliveryState.FAILED
                counts["failed"] += 1
            else:
                delivery.next_attempt_at = utcnow() + timedelta(seconds=retry_delay(delivery.attempts))
                counts["retrying"] += 1
            log.warning("alert %s to channel %s failed: %s", delivery.alert_id, delivery.channel.name, exc)
        else:
            delivery.state, delivery.sent_at, delivery.last_error = DeliveryState.SENT, utcnow(), None
            delivery.last_error_message = None
            counts["sent"] += 1
        db.session.commit()  # each delivery's outcome stands on its own
    return counts


def payload(alert: StockAlert, event: str) -> dict[str, Any]:
    return {
        "event": f"stock_alert.{event}",
        "alert": {
            "id": alert.id,
            "sku": alert.product.sku,
            "product": alert.product.name,
            "warehouse": alert.warehouse.code if alert.warehouse else None,
            "state": alert.state.value,
            "projected": str(alert.projected),
            "figures": alert.figures,
            "stale": alert.stale,
            "explanation": alert.explanation,
            "opened_at": alert.opened_at.isoformat(),
        },
    }


def send(channel: AlertChannel, message: Mapping[str, Any], explanation: str | None = None) -> None:
    """`message` as a webhook's body (its explanation in English, as the API's), or as an e-mail
    saying `explanation` (the alert's, in the instance's language) or else the message's."""
    secrets = unseal(channel.secrets_sealed)
    if channel.kind == ChannelKind.WEBHOOK:
        _post_webhook(channel.config, secrets.get("secret", ""), message)
    else:
        _send_email(channel.config, secrets.get("password"), message, explanation)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _post_webhook(config: Mapping[str, Any], secret: str, message: Mapping[str, Any]) -> None:
    body = json.dumps(message, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Timestamp": timestamp,
        "X-Hub-Signature-256": signature(secret, timestamp, body),
    }
    try:
        # The policy's session: the address may not be internal, and no redirect leaves with the signature.
        with outbound.session(credential_headers=("X-Hub-Signature-256",)) as session:
            response = session.post(config["url"], data=body, headers=headers, timeout=float(config.get("timeout", 5)))
    except outbound.OutboundRefused as exc:
        raise DeliveryError(exc.message) from None
    except requests.RequestException as exc:
        raise DeliveryError(sentence(N_("webhook unreachable: %(error)s"), error=exc.__class__.__name__)) from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(sentence(N_("webhook answered HTTP %(status)s"), status=str(response.status_code)))


def _send_email(
    config: Mapping[str, Any], password: str | None, message: Mapping[str, Any], explanation: str | None
) -> None:
    alert = message["alert"]
    mail = EmailMessage()
    what = {"sku": alert["sku"], "product": alert["product"], "warehouse": alert["warehouse"]}
    # In the instance's language (HUB_DEFAULT_LOCALE): a channel's recipients are no user of the hub.
    if alert["warehouse"]:
        subject = _("Low stock: %(sku)s %(product)s in %(warehouse)s", **what)
    else:
        subject = _("Low stock: %(sku)s %(product)s", **what)
    # Names come from users and from 1C's catalogue: a line break in one must not start a header.
    mail["Subject"] = _one_line(subject)
    mail["From"] = config["sender"]
    mail["To"] = ", ".join(config["recipients"])
    inbox = _("Alert %(id)s in the CRM–ERP hub's operations inbox.", id=alert["id"])
    mail.set_content(f"{explanation or alert['explanation']}\n\n{inbox}\n")
    timeout = float(config.get("timeout", 10))
    try:
        outbound.check_host(config["host"], int(config.get("port", 25)))
    except outbound.OutboundRefused as exc:
        raise DeliveryError(exc.message) from None
    try:
        with smtplib.SMTP(config["host"], int(config.get("port", 25)), timeout=timeout) as smtp:
            if config.get("starttls"):
                smtp.starttls()
            if config.get("username"):
                smtp.login(config["username"], password or "")
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(sentence(N_("mail server refused or unreachable: %(detail)s"), detail=str(exc))) from exc


def _one_line(text: str) -> str:
    """Text for a mail header: control characters (line breaks above all) become spaces."""
    return CONTROL.sub(" ", text)
