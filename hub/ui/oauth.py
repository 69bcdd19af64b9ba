"""OAuth pages: start a connection's authorisation (off to the provider) and the callback the
provider sends the admin back to (the redirect URI to register: /oauth/callback)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from hub.errors import HubError
from hub.i18n import translated
from hub.models import Connection
from hub.oauth_flow import OAuthRefused, authorization_url, finish
from hub.services.queries import get_or_404
from hub.ui.core import blueprint, page

bp = blueprint("ui_oauth", __name__)


@bp.post("/admin/connections/<int:connection_id>/authorize")
@page("connections", "write")
def start(connection_id: int):
    connection = get_or_404(Connection, connection_id)
    try:
        return redirect(authorization_url(connection, current_user))
    except HubError as exc:
        flash(translated(exc.message), "error")
        return redirect(url_for("ui_admin.connection_page", connection_id=connection.id))


@bp.get("/oauth/callback")
@page("connections", "write")
def callback():
    try:
        connection, requeued = finish(request.args, current_user)
    except OAuthRefused as exc:
        return render_template("ui/error.html", code=400, message=translated(exc.message)), 400
    message = _("%(name)s is authorised.", name=connection.name)
    if requeued:
        message += " " + ngettext(
            "%(num)s push(es) parked for the re-authorisation are sent again.",
            "%(num)s push(es) parked for the re-authorisation are sent again.",
            requeued,
        )
    flash(message, "ok")
    return redirect(url_for("ui_admin.connection_page", connection_id=connection.id))
