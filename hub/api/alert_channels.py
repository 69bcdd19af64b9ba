"""Alert channels (admin): where low-stock alerts go besides the operations inbox. Secrets (the
SMTP password, the webhook signing secret) are write-only."""

from __future__ import annotations

from urllib.parse import urlsplit

import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext
from sqlalchemy import select

from hub.api.base import Blueprint, partial, stripped
from hub.auth import requires
from hub.errors import Conflict, ValidationFailed, flatten_messages
from hub.extensions import db
from hub.inventory import delivery
from hub.models import AlertChannel, ChannelKind
from hub.secrets_box import seal, unseal
from hub.services.queries import get_or_404

blp = Blueprint("alert_channels", __name__, url_prefix="/api/v1", description="Where low-stock alerts are sent")

SECRET = {ChannelKind.EMAIL: "password", ChannelKind.WEBHOOK: "secret"}


class EmailConfig(ma.Schema):
    host = stripped(200, required=True)
    port = ma.fields.Integer(load_default=25, validate=ma.validate.Range(min=1, max=65535))
    starttls = ma.fields.Boolean(load_default=False)
    username = stripped(200, allow_none=True)
    sender = ma.fields.Email(required=True)
    recipients = ma.fields.List(ma.fields.Email(), required=True, validate=ma.validate.Length(min=1, max=50))
    timeout = ma.fields.Float(load_default=10, validate=ma.validate.Range(min=0.1, max=120))


class WebhookConfig(ma.Schema):
    url = ma.fields.URL(required=True, schemes={"http", "https"}, require_tld=False)
    timeout = ma.fields.Float(load_default=5, validate=ma.validate.Range(min=0.1, max=60))


CONFIG_SCHEMA = {ChannelKind.EMAIL: EmailConfig, ChannelKind.WEBHOOK: WebhookConfig}


class ChannelSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = stripped(100, required=True)
    kind = ma.fields.Enum(ChannelKind, by_value=True, required=True)
    config = ma.fields.Dict(
        required=True,
        metadata={"description": "email: host, port, starttls, username, sender, recipients; webhook: url, timeout"},
    )
    secret = ma.fields.String(
        load_only=True, allow_none=True, metadata={"description": "email: SMTP password; webhook: signing secret"}
    )
    secret_set = ma.fields.Function(lambda c: bool(c.secrets_sealed), dump_only=True)
    enabled = ma.fields.Boolean(load_default=True)


class ChannelTestResult(ma.Schema):
    ok = ma.fields.Boolean()
    message = ma.fields.String()


def _destination(channel: AlertChannel) -> tuple[str, ...] | None:
    """Where the channel's secret goes: the mail server, or the webhook's scheme and host."""
    config = channel.config or {}
    if not config:
        return None
    if channel.kind == ChannelKind.WEBHOOK:
        parts = urlsplit(str(config.get("url") or ""))
        return ("webhook", parts.scheme.lower(), parts.netloc.rpartition("@")[2].lower())
    return ("email", str(config.get("host") or "").lower(), str(config.get("port") or ""))


def _apply(channel: AlertChannel, data: dict) -> None:
    if "name" in data:
        channel.name = data["name"]
    if "kind" in data:
        channel.kind = data["kind"]
    if "enabled" in data:
        channel.enabled = data["enabled"]
    if "config" in data:
        before = _destination(channel)
        try:
            channel.config = CONFIG_SCHEMA[channel.kind]().load(data["config"])
        except ma.ValidationError as exc:
            raise ValidationFailed(flatten_messages(exc.normalized_messages(), "config")) from exc
        if channel.secrets_sealed and before and _destination(channel) != before and not data.get("secret"):
            # A stored password or signing secret never goes to a host it was not typed for.
            raise ValidationFailed({"secret": "Enter it again: the channel now sends to another host."})
    if data.get("secret"):
        channel.secrets_sealed = seal({SECRET[channel.kind]: data["secret"]})
    if channel.kind == ChannelKind.WEBHOOK and not channel.secrets_sealed:
        raise ValidationFailed({"secret": "A webhook needs a signing secret."})
    clash = db.session.scalar(
        select(AlertChannel.id).where(AlertChannel.name == channel.name, AlertChannel.id != (channel.id or 0))
    )
    if clash:
        raise Conflict(
            gettext("A channel named '%(name)s' exists.", name=channel.name), {"name": gettext("Already used.")}
        )


@blp.route("/alert-channels")
class Channels(MethodView):
    @requires("alert_channels", "read")
    @blp.response(200, ChannelSchema(many=True))
    def get(self):
        return db.session.scalars(select(AlertChannel).order_by(AlertChannel.name)).all()

    @requires("alert_channels", "write")
    @blp.arguments(ChannelSchema)
    @blp.response(201, ChannelSchema)
    def post(self, data):
        channel = AlertChannel()
        _apply(channel, data)
        db.session.add(channel)
        db.session.commit()
        return channel


@blp.route("/alert-channels/<int:channel_id>")
class ChannelById(MethodView):
    @requires("alert_channels", "read")
    @blp.response(200, ChannelSchema)
    def get(self, channel_id):
        return get_or_404(AlertChannel, channel_id)

    @requires("alert_channels", "write")
    @blp.arguments(partial(ChannelSchema))
    @blp.response(200, ChannelSchema)
    def patch(self, data, channel_id):
        channel = get_or_404(AlertChannel, channel_id)
        if "kind" in data and data["kind"] != channel.kind and "config" not in data:
            raise ValidationFailed({"config": "Give the new kind's config."})
        _apply(channel, data)
        db.session.commit()
        return channel

    @requires("alert_channels", "write")
    @blp.response(204)
    def delete(self, channel_id):
        db.session.delete(get_or_404(AlertChannel, channel_id))
        db.session.commit()


@blp.route("/alert-channels/<int:channel_id>/test", methods=["POST"])
@requires("alert_channels", "write")
@blp.response(200, ChannelTestResult)
def test_channel(channel_id):
    """Send a sample alert through the channel now and say what happened."""
    channel = get_or_404(AlertChannel, channel_id)
    sample = {
        "event": "stock_alert.test",
        "alert": {
            "id": 0,
            "sku": "TEST",
            "product": "Test message",
            "warehouse": None,
            "state": "open",
            "projected": "0",
            "figures": {},
            "stale": False,
            "explanation": "A test from the CRM–ERP hub: this channel works.",
            "opened_at": None,
        },
    }
    unseal(channel.secrets_sealed)  # an unreadable secret is an error of its own, not a delivery failure
    try:
        delivery.send(channel, sample)
    except delivery.DeliveryError as exc:
        return {"ok": False, "message": str(exc)}
    return {"ok": True, "message": "sent"}
