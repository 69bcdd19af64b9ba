"""The web UI: server-rendered pages, one small blueprint module per area, with htmx (served from
hub/static/vendor) for the parts that refresh themselves. Pages call the same services as the API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hub.ui import (
        account,
        admin,
        board,
        company,
        customers,
        dashboard,
        deals,
        invoices,
        mappings,
        notices,
        oauth,
        reconciliations,
        search,
        stock,
        tasks,
    )
    from hub.ui.core import install_template_helpers

    install_template_helpers(app)
    for module in (
        board,
        deals,
        customers,
        tasks,
        search,
        dashboard,
        invoices,
        admin,
        company,
        mappings,
        stock,
        oauth,
        reconciliations,
        notices,
        account,
    ):
        app.register_blueprint(module.bp)
