"""The REST API under /api/v1, its OpenAPI document at /api/openapi.json and docs at /api/docs."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import Flask, jsonify, request, send_from_directory
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from hub.api import idempotency
from hub.api.base import INT_MAX, Amount, Money
from hub.errors import HTTP_CODES, HubError, error_body, flatten_messages
from hub.extensions import db
from hub.i18n import translated, translated_errors

log = logging.getLogger(__name__)


class ErrorSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "machine-readable, e.g. validation_error"})
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": "messages by field path, e.g. lines[2].quantity"},
    )


class HubApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        if not request.path.startswith("/api"):
            return error
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") or {}
        errors: dict[str, list[str]] = {}
        for location, fields in messages.items():
            # webargs groups by location ("json", "query"); the field name alone is what users need.
            errors.update(
                flatten_messages(fields)
                if location in ("json", "query", "form")
                else flatten_messages(fields, location)
            )
        message = data.get("message") or (
            "The input is not valid." if error.code == 422 else error.description or error.name
        )
        body = error_body(HTTP_CODES.get(error.code or 500, "error"), translated(message), translated_errors(errors))
        response = jsonify(body)
        response.status_code = error.code or 500
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response


api = HubApi()
# Amounts travel as strings with a point ("1234.50"), so that no client reads them as floats: the
# document says so (a number is still accepted on input).
api.register_field(Amount, "string", "decimal")
api.register_field(Money, "string", "decimal")


class IdConverter(IntegerConverter):
    """`<int:...>` in routes: an id larger than the database's integer is no route (404), not a
    database error (500)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


def _hub_error(error: HubError):
    db.session.rollback()
    # English unless the client sent Accept-Language (hub.i18n.select_locale); the code never changes.
    return jsonify(error_body(error.code, translated(error.message), translated_errors(error.errors))), error.status


def _integrity_error(error: IntegrityError):
    # The checks in the views name the field; this is the backstop for a race between two requests.
    db.session.rollback()
    log.info("integrity error: %s", error.orig)
    return jsonify(error_body("conflict", translated("The change conflicts with existing data (a duplicate?)."))), 409


def init_app(app: Flask) -> None:
    app.config.update(
        API_TITLE="CRM–ERP Hub",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
        API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
            "info": {
                "description": "Send `Authorization: Bearer <token>` (create one with "
                "`crmhub tokens create --user EMAIL`)."
            },
        },
    )
    app.url_map.converters["int"] = IdConverter  # before any route is added
    api.init_app(app, spec_kwargs={"extra_plugins": [idempotency.OpenAPIHeader()]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("cookieAuth", {"type": "apiKey", "in": "cookie", "name": "session"})

    from hub.api import (
        activities,
        alert_channels,
        audit,
        connections,
        customers,
        deals,
        inventory,
        invoices,
        mappings,
        notices,
        pipelines,
        products,
        reconciliations,
        sync,
        users,
    )

    for module in (
        customers,
        products,
        deals,
        activities,
        pipelines,
        users,
        audit,
        invoices,
        connections,
        mappings,
        sync,
        inventory,
        alert_channels,
        notices,
        reconciliations,
    ):
        api.register_blueprint(module.blp)

    app.register_error_handler(HubError, _hub_error)
    app.register_error_handler(IntegrityError, _integrity_error)

    @app.get("/api/docs/assets/<path:filename>")
    def swagger_assets(filename: str):
        return send_from_directory(swagger_ui_path, filename)

    @app.get("/api/v1")
    def api_root():
        return jsonify({"openapi": "/api/openapi.json", "docs": "/api/docs"})

    api.spec.path(
        rule=next(r for r in app.url_map.iter_rules() if r.endpoint == "api_root"),
        operations={
            "get": {
                "summary": "Where this API describes itself (no log-in needed)",
                "security": [],
                "responses": {"200": {"description": "the paths of the OpenAPI document and of the docs page"}},
            }
        },
    )
