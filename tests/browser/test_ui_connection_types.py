"""Every registered connection type set up from its generated admin form, in a real browser: the
fields as the connector's config schema declares them (labels, help, choices as selects, booleans as
checkboxes, secrets as password inputs never filled in again), refusals named next to their field,
and the saved settings exactly what was typed (typed values, secrets sealed)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from connectors.base import ConfigField
from connectors.registry import default_registry
from hub.extensions import db
from hub.models import Connection
from hub.secrets_box import unseal
from hub.sync.factory import is_oauth
from tests.support.ui_fixtures import log_in, screenshot

TYPES = [cls.type_name for cls in default_registry()]


def schema_of(type_name: str) -> tuple[ConfigField, ...]:
    return default_registry().get(type_name).config_schema


def field_id(f: ConfigField) -> str:
    return f"#f-config-{f.name}"


def typed_value(f: ConfigField) -> tuple[str | bool, Any]:
    """What the admin types into the field, and the value the connection must then hold."""
    if f.type == "boolean":
        return (not f.default), (not f.default)
    if f.choices:
        return f.choices[-1], f.choices[-1]
    if f.type == "url":
        return "https://erp.example.com/base", "https://erp.example.com/base"
    if f.type == "integer":
        return "42", 42
    if f.type == "number":
        return "12.5", 12.5
    if f.secret:
        return f"s3cret-{f.name}", f"s3cret-{f.name}"
    # Cyrillic, as a 1C user name or warehouse is: it must come back unchanged.
    return f"Склад «{f.name}»", f"Склад «{f.name}»"


def fill(page, f: ConfigField, value: str | bool) -> None:
    control = page.get_by_label(f.label, exact=True)
    if f.type == "boolean":
        control.set_checked(bool(value))
    elif f.choices:
        control.select_option(str(value))
    else:
        control.fill(str(value))


def open_new_form(page, type_name: str) -> None:
    page.goto("/admin/connections/new")
    page.get_by_label("System").select_option(type_name)
    page.wait_for_url(f"**/admin/connections/new?type={type_name}")
    expect(page.locator("input[name=type]")).to_have_value(type_name)


def stored(app, name: str) -> tuple[Connection, dict[str, Any]]:
    with app.app_context():
        connection = db.session.scalars(db.select(Connection).where(Connection.name == name)).one()
        db.session.expunge(connection)
        return connection, unseal(connection.secrets_sealed)


@pytest.mark.parametrize("type_name", TYPES)
def test_the_form_of_each_type_renders_its_schema_and_refuses_bad_input_by_field(users, page, live_server, type_name):
    schema = schema_of(type_name)
    log_in(page, users["admin"]["email"])
    open_new_form(page, type_name)

    for f in schema:
        control = page.get_by_label(f.label, exact=True)
        expect(control).to_have_count(1)
        if f.secret:
            expect(control).to_have_attribute("type", "password")
            expect(control).to_have_value("")
        elif f.type == "boolean":
            expect(control).to_have_attribute("type", "checkbox")
            (expect(control).to_be_checked if f.default else expect(control).not_to_be_checked)()
        elif f.choices:
            expect(control.locator("option")).to_have_text(list(f.choices))
            expect(control).to_have_value(f.default or f.choices[0])
        else:
            kind = {"url": "url", "integer": "number", "number": "number"}.get(f.type, "text")
            expect(control).to_have_attribute("type", kind)
            expect(control).to_have_value("" if f.default is None else str(f.default))
        if f.help:
            expect(page.locator(".field", has=page.locator(field_id(f)))).to_contain_text(f.help)
    note = page.locator("#oauth-note")
    if is_oauth(type_name):  # the provider's app registration asks for it before there is a client ID
        expect(note).to_contain_text(f"{live_server}/oauth/callback")
    else:
        expect(note).to_have_count(0)
    screenshot(page, f"connection-form-{type_name}")

    # Nothing typed: the name and every required setting refused, each next to its field.
    required = [f for f in schema if f.required and not f.choices and f.type != "boolean"]
    for f in required:
        page.get_by_label(f.label, exact=True).fill("")
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct the fields marked below.")
    expect(page.locator("#err-name")).to_be_visible()
    for f in required:
        expect(page.locator(f"#err-config-{f.name}")).to_have_text("required")
        if not f.secret:
            expect(page.get_by_label(f.label, exact=True)).to_have_attribute("aria-invalid", "true")

    # A URL without its scheme, an integer with a fraction.
    page.get_by_label("Name", exact=True).fill(f"Bad {type_name}")
    bad = {}
    for f in schema:
        if f.type == "url":
            bad[f.name] = "must be an http(s) URL"
            fill(page, f, "erp.example.com")
        elif f.type == "integer":
            bad[f.name] = "must be integer"
            fill(page, f, "1.5")
    page.get_by_role("button", name="Save connection").click()
    for name, message in bad.items():
        expect(page.locator(f"#err-config-{name}")).to_have_text(message)
    expect(page.locator("#err-name")).to_have_count(0)
    screenshot(page, f"connection-form-{type_name}-errors")


@pytest.mark.parametrize("type_name", TYPES)
def test_each_type_saves_what_was_typed_and_never_shows_its_secrets_again(app, users, page, type_name):
    schema = schema_of(type_name)
    log_in(page, users["admin"]["email"])
    open_new_form(page, type_name)
    name = f"Соединение {type_name}"
    page.get_by_label("Name", exact=True).fill(name)
    expected: dict[str, Any] = {}
    for f in schema:
        typed, value = typed_value(f)
        fill(page, f, typed)
        expected[f.name] = value
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("status")).to_contain_text(f"Connection {name} saved.")
    connection, secrets = stored(app, name)
    # The admin lands on the connection's page, which says what to do next.
    assert urlsplit(page.url).path == f"/admin/connections/{connection.id}"
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    screenshot(page, f"connection-page-{type_name}")

    assert connection.type == type_name
    assert {**connection.config, **secrets} == expected
    assert set(secrets) == {f.name for f in schema if f.secret}
    for value in secrets.values():
        assert value not in connection.secrets_sealed

    page.goto(f"/admin/connections/{connection.id}/edit")
    for f in schema:
        control = page.get_by_label(f.label, exact=True)
        if f.secret:
            expect(control).to_have_value("")
            expect(page.locator(".field", has=page.locator(field_id(f)))).to_contain_text(
                "Stored; leave blank to keep it."
            )
        elif f.type == "boolean":
            (expect(control).to_be_checked if expected[f.name] else expect(control).not_to_be_checked)()
        else:
            expect(control).to_have_value(str(expected[f.name]))
    assert all(v not in page.content() for v in secrets.values())
    screenshot(page, f"connection-edit-{type_name}")

    # A refused edit changes nothing: not the name that was right, not the settings.
    page.get_by_label("Name", exact=True).fill("Renamed")
    refused = next(f for f in schema if f.required and not f.secret and not f.choices)
    page.get_by_label(refused.label, exact=True).fill("")
    page.get_by_role("button", name="Save connection").click()
    expect(page.locator(f"#err-config-{refused.name}")).to_have_text("required")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit {name}")
    unchanged, secrets_kept = stored(app, name)
    assert {**unchanged.config, **secrets_kept} == expected
    page.goto(f"/admin/connections/{connection.id}/edit")

    # Saved again untouched: the secrets stay, nothing else moves.
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("status")).to_contain_text(f"Connection {name} saved.")
    again, secrets_again = stored(app, name)
    assert {**again.config, **secrets_again} == expected
