"""Low-stock alerts delivered by e-mail (to a real local SMTP server) and by signed webhook (to a
real local HTTP receiver), each channel retried on its own, never holding up a pull."""

from __future__ import annotations

import email as email_parser
import json
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller

from hub.extensions import db
from hub.inventory.delivery import signature
from hub.models import AlertDelivery
from hub.models.base import utcnow
from tests.support.alert_delivery import SECRET, channel, open_alert
from tests.support.api_errors import assert_error
from tests.support.mail import Mailbox
from tests.support.services import free_port


@pytest.fixture
def pump(admin):
    return admin.post(
        "/api/v1/products", json={"sku": "PUMP", "name": "Pump", "list_price": "1", "currency": "EUR"}
    ).json


def test_email_and_signed_webhook(app, admin, call, smtp, receiver, ledger, connection, pump):
    controller, mailbox = smtp
    email = channel(
        admin,
        name="Ops mail",
        kind="email",
        config={
            "host": "127.0.0.1",
            "port": controller.port,
            "sender": "hub@example.com",
            "recipients": ["ops@example.com"],
        },
    )
    hook = channel(admin, name="Ops hook", kind="webhook", config={"url": receiver.url}, secret=SECRET)
    assert hook["secret_set"] is True
    assert "secret" not in hook
    assert SECRET not in json.dumps(admin.get("/api/v1/alert-channels").json)
    assert email["config"]["port"] == controller.port

    alert = open_alert(app, call, ledger, connection, pump)

    (raw,) = mailbox.messages
    mail = email_parser.message_from_bytes(raw, policy=email_policy.default)
    assert mail["Subject"] == "Low stock: PUMP Pump"  # the rule covers all warehouses: none named
    assert mail["To"] == "ops@example.com"
    assert "on hand 2, reserved 0 → projected 2 < reorder point 10" in mail.get_content()

    (headers, body) = receiver.requests[0]
    assert headers["X-Hub-Signature-256"] == signature(SECRET, headers["X-Hub-Timestamp"], body)
    sent = json.loads(body)
    assert (sent["event"], sent["alert"]["id"], sent["alert"]["sku"]) == ("stock_alert.opened", alert["id"], "PUMP")
    detail = call("operations").get(f"/api/v1/alerts/{alert['id']}").json
    assert sorted((d["channel"], d["state"]) for d in detail["deliveries"]) == [
        ("Ops hook", "sent"),
        ("Ops mail", "sent"),
    ]


def test_a_broken_mail_server_does_not_stop_the_webhook_or_the_pull(
    app, admin, call, receiver, ledger, connection, pump
):
    dead_port = free_port()
    channel(
        admin,
        name="Broken mail",
        kind="email",
        config={
            "host": "127.0.0.1",
            "port": dead_port,
            "sender": "hub@example.com",
            "recipients": ["ops@example.com"],
            "timeout": 1,
        },
    )
    channel(admin, name="Ops hook", kind="webhook", config={"url": receiver.url}, secret=SECRET)
    alert = open_alert(app, call, ledger, connection, pump)
    assert len(receiver.requests) == 1
    detail = call("operations").get(f"/api/v1/alerts/{alert['id']}").json
    states = {d["channel"]: d for d in detail["deliveries"]}
    assert states["Ops hook"]["state"] == "sent"
    assert states["Broken mail"]["state"] == "pending"
    assert states["Broken mail"]["attempts"] == 1
    assert "unreachable" in states["Broken mail"]["last_error"]
    stock = call("operations").get("/api/v1/stock?sku=PUMP").json["items"]
    assert stock[0]["on_hand"] == "2.0000"  # the pull itself went through

    # the mail server comes up; the retry delivers, the webhook is not sent twice
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=dead_port)
    controller.start()
    try:
        with app.app_context():
            for d in db.session.query(AlertDelivery):
                d.next_attempt_at = utcnow()
            db.session.commit()
        from hub.sync.jobs import deliver_alerts

        deliver_alerts()
        assert len(mailbox.messages) == 1
        assert len(receiver.requests) == 1
    finally:
        controller.stop()


def test_webhook_error_is_retried_until_it_gives_up(app, admin, call, receiver, ledger, connection, pump, monkeypatch):
    receiver.status = 500
    channel(admin, name="Hook", kind="webhook", config={"url": receiver.url}, secret=SECRET)
    open_alert(app, call, ledger, connection, pump)
    from hub.sync.jobs import deliver_alerts

    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HUB_RETRY_MAX_ATTEMPTS", 3)
        for _ in range(2):
            with app.app_context():
                for d in db.session.query(AlertDelivery):
                    d.next_attempt_at = utcnow()
                db.session.commit()
            deliver_alerts()
    with app.app_context():
        (delivery,) = db.session.query(AlertDelivery).all()
        assert (delivery.state.value, delivery.attempts, delivery.last_error) == (
            "failed",
            3,
            "webhook answered HTTP 500",
        )
    assert len(receiver.requests) == 3


def test_channel_validation_and_test_send(admin, call, receiver, smtp):
    assert_error(
        admin.post("/api/v1/alert-channels", json={"name": "H", "kind": "webhook", "config": {"url": receiver.url}}),
        422,
        "secret",
    )
    assert_error(
        admin.post(
            "/api/v1/alert-channels",
            json={"name": "M", "kind": "email", "config": {"host": "x", "sender": "a@b.c", "recipients": ["nope"]}},
        ),
        422,
        "config.recipients[0]",
    )
    assert_error(admin.post("/api/v1/alert-channels", json={"name": "K", "kind": "pigeon", "config": {}}), 422, "kind")
    hook = channel(admin, name="Hook", kind="webhook", config={"url": receiver.url}, secret=SECRET)
    assert_error(
        admin.post(
            "/api/v1/alert-channels",
            json={"name": "Hook", "kind": "webhook", "config": {"url": receiver.url}, "secret": "s"},
        ),
        409,
        "name",
    )
    r = admin.post(f"/api/v1/alert-channels/{hook['id']}/test")
    assert r.json == {"ok": True, "message": "sent"}
    receiver.status = 404
    assert admin.post(f"/api/v1/alert-channels/{hook['id']}/test").json == {
        "ok": False,
        "message": "webhook answered HTTP 404",
    }
    assert call("operations").get("/api/v1/alert-channels").status_code == 200
    assert call("operations").post("/api/v1/alert-channels", json={}).status_code == 403


def test_a_product_name_with_a_line_break_neither_injects_a_header_nor_stops_delivery(
    app, admin, call, smtp, receiver, ledger, connection
):
    controller, mailbox = smtp
    # Product names also arrive from 1C's catalogue import.
    pump = admin.post(
        "/api/v1/products",
        json={"sku": "PUMP", "name": "Pump\r\nBcc: victim@example.com", "list_price": "1", "currency": "EUR"},
    ).json
    config = {"host": "127.0.0.1", "port": controller.port, "sender": "hub@example.com", "recipients": ["ops@x.org"]}
    channel(admin, name="Ops mail", kind="email", config=config)
    channel(admin, name="Ops hook", kind="webhook", config={"url": receiver.url}, secret=SECRET)

    alert = open_alert(app, call, ledger, connection, pump)

    (raw,) = mailbox.messages
    mail = email_parser.message_from_bytes(raw, policy=email_policy.default)
    assert mail["Subject"] == "Low stock: PUMP Pump Bcc: victim@example.com"
    assert mail["Bcc"] is None
    assert len(receiver.requests) == 1
    detail = call("operations").get(f"/api/v1/alerts/{alert['id']}").json
    assert sorted((d["channel"], d["state"]) for d in detail["deliveries"]) == [
        ("Ops hook", "sent"),
        ("Ops mail", "sent"),
    ]


def test_a_delivery_that_fails_unexpectedly_is_retried_and_holds_back_no_other(
    app, admin, call, smtp, receiver, ledger, connection, pump, monkeypatch
):
    from hub.inventory import delivery

    def broken(*args, **kwargs):
        raise ValueError("a fault of the hub's while building the message")

    monkeypatch.setattr(delivery, "_send_email", broken)
    controller, _ = smtp
    config = {"host": "127.0.0.1", "port": controller.port, "sender": "hub@example.com", "recipients": ["ops@x.org"]}
    channel(admin, name="Ops mail", kind="email", config=config)  # queued first
    channel(admin, name="Ops hook", kind="webhook", config={"url": receiver.url}, secret=SECRET)

    alert = open_alert(app, call, ledger, connection, pump)

    assert len(receiver.requests) == 1
    detail = call("operations").get(f"/api/v1/alerts/{alert['id']}").json
    states = {d["channel"]: d["state"] for d in detail["deliveries"]}
    assert states == {"Ops hook": "sent", "Ops mail": "pending"}


def test_the_alert_email_is_in_the_instances_language_and_keeps_names_in_any_script(
    app, admin, call, smtp, receiver, ledger, connection, monkeypatch
):
    """A channel's recipients are no user of the hub: the mail speaks HUB_DEFAULT_LOCALE."""
    monkeypatch.setitem(app.config, "HUB_DEFAULT_LOCALE", "ru")
    controller, mailbox = smtp
    config = {
        "host": "127.0.0.1",
        "port": controller.port,
        "sender": "hub@example.com",
        "recipients": ["o@example.com"],
    }
    channel(admin, name="Склад", kind="email", config=config)
    pump = admin.post(
        "/api/v1/products", json={"sku": "PUMP", "name": "Насос পাম্প", "list_price": "1", "currency": "EUR"}
    ).json
    alert = open_alert(app, call, ledger, connection, pump)

    (raw,) = mailbox.messages
    mail = email_parser.message_from_bytes(raw, policy=email_policy.default)
    assert mail["Subject"] == "Низкий остаток: PUMP Насос পাম্প"
    assert f"Оповещение {alert['id']} во входящих склада в CRM–ERP Hub." in mail.get_content()


def test_an_alert_mail_keeps_cyrillic_and_bengali_names_whole_through_a_7bit_path(
    app, admin, call, smtp, ledger, connection
):
    controller, mailbox = smtp
    name = "Насос «Ёлка» পাম্প"
    pump = admin.post("/api/v1/products", json={"sku": "PUMP", "name": name, "list_price": "1", "currency": "EUR"}).json
    config = {"host": "127.0.0.1", "port": controller.port, "sender": "hub@example.com", "recipients": ["ops@x.org"]}
    channel(admin, name="Ops mail", kind="email", config=config)

    open_alert(app, call, ledger, connection, pump)

    (raw,) = mailbox.messages
    # Every byte 7-bit: the names survive a relay without 8BITMIME (the e-mail policy encodes the
    # subject by RFC 2047 and the body as quoted-printable).
    assert raw.isascii()
    mail = email_parser.message_from_bytes(raw, policy=email_policy.default)
    assert mail["Subject"] == f"Low stock: PUMP {name}"
    assert mail.get_content_charset() == "utf-8"
    assert mail["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert "projected 2 < reorder point 10" in mail.get_content()
