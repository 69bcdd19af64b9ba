"""The pipeline board: a column per stage with its count and totals, deals moved by buttons or by
drag and drop (both post the same form), filtered by owner."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from hub import invoicing
from hub.auth import authenticated_user
from hub.errors import HubError
from hub.extensions import db
from hub.i18n import translated
from hub.locale_numbers import whole_number
from hub.models import Pipeline, Role, User
from hub.services import deals as deal_service
from hub.services.board import board_columns
from hub.ui.core import blueprint, page, safe_next

bp = blueprint("ui_board", __name__)


def _owner_filter() -> int | None:
    raw = request.args.get("owner", "")
    if raw == "me":
        return current_user.id
    return whole_number(raw)


@bp.get("/board")
@page("deals")
def board():
    pipelines = db.session.scalars(select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.id)).all()
    raw_pipeline = request.args.get("pipeline", "")
    pipeline = next((p for p in pipelines if str(p.id) == raw_pipeline), None) or deal_service.default_pipeline()
    columns = board_columns(pipeline, owner_id=_owner_filter())
    owners = db.session.scalars(
        select(User).where(User.role.in_([Role.SALES, Role.ADMIN]), User.active.is_(True)).order_by(User.name)
    ).all()
    return render_template(
        "ui/board.html",
        pipeline=pipeline,
        pipelines=pipelines,
        columns=columns,
        owners=owners,
        owner=request.args.get("owner", ""),
        invoice_targets=invoicing.invoice_targets(),
    )


@bp.post("/deals/<int:deal_id>/move")
@page("deals", "write")
def move(deal_id: int):
    """Move to a stage by id (the board's buttons and drops); won and lost follow the deal rules."""
    back = safe_next(request.form.get("next"), url_for("ui_board.board"))
    stage_id = whole_number(request.form.get("stage_id"))
    if stage_id is None:
        flash(_("Choose a stage to move the deal to."), "error")
        return redirect(back)
    try:
        deal = deal_service.change_stage(
            deal_id, authenticated_user(), stage=stage_id, reason=request.form.get("reason") or None
        ).deal
    except HubError as exc:
        db.session.rollback()
        details = "; ".join(translated(m) for messages in exc.errors.values() for m in messages)
        flash(_("Not moved: %(why)s", why=details or translated(exc.message)), "error")
        return redirect(back)
    moved = f"{deal.number} {deal.title}"
    flash(_("%(deal)s is now in %(stage)s.", deal=moved, stage=translated(deal.stage.name)), "ok")
    return redirect(back)
