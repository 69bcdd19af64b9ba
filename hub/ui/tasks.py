"""My tasks: open ones, overdue first, ticked off in place."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hub.extensions import db
from hub.models import Task
from hub.models.base import utcnow
from hub.services.activities import set_task_done
from hub.ui.core import blueprint, page, safe_next

bp = blueprint("ui_tasks", __name__)


@bp.get("/tasks")
@page("tasks")
def mine():
    show_done = request.args.get("done") == "1"
    query = select(Task).where(Task.assignee_id == current_user.id)
    if not show_done:
        query = query.where(Task.done.is_(False))
    tasks = db.session.scalars(
        query.options(selectinload(Task.deal), selectinload(Task.customer)).order_by(
            Task.done, Task.due_date.is_(None), Task.due_date, Task.id
        )
    ).all()
    today = utcnow().date()
    overdue = [t for t in tasks if not t.done and t.due_date and t.due_date < today]
    return render_template("ui/tasks.html", tasks=tasks, overdue=overdue, today=today, show_done=show_done)


@bp.post("/tasks/<int:task_id>/done")
@page("tasks", "write")
def toggle(task_id: int):
    task = set_task_done(task_id, request.form.get("done") == "1")
    if task.done:
        flash(_("“%(title)s” is done.", title=task.title), "ok")
    else:
        flash(_("“%(title)s” is open again.", title=task.title), "ok")
    return redirect(safe_next(request.form.get("next"), url_for("ui_tasks.mine")))
