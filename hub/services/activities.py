"""Activities (calls, e-mails, meetings, notes) and tasks, linked to a deal or a customer: logged,
changed, ticked off and deleted here for the API and the pages alike; each change is committed."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from flask_babel import gettext

from hub.errors import ValidationFailed
from hub.extensions import db
from hub.models import Activity, Customer, Deal, Task, User
from hub.models.base import utcnow
from hub.services.queries import get_held, get_or_404
from hub.services.versions import for_change

ACTIVITY_FIELDS = ("kind", "subject", "body", "occurred_at")
TASK_FIELDS = ("title", "notes", "due_date")


def _link(obj: Activity | Task, data: Mapping[str, Any]) -> None:
    """Resolve deal/customer links: a deal implies its customer; an activity needs one of them.
    Each is held until the commit: one deleted meanwhile is named here."""
    errors: dict[str, list[str]] = {}
    if "deal_id" in data:
        obj.deal = None if data["deal_id"] is None else get_held(Deal, data["deal_id"])
        if data["deal_id"] is not None and obj.deal is None:
            errors["deal_id"] = [f"No deal with id {data['deal_id']}."]
    if "customer_id" in data:
        obj.customer = None if data["customer_id"] is None else get_held(Customer, data["customer_id"])
        if data["customer_id"] is not None and obj.customer is None:
            errors["customer_id"] = [f"No customer with id {data['customer_id']}."]
    if errors:
        raise ValidationFailed(errors)
    if obj.deal is not None and obj.customer is None:
        obj.customer = obj.deal.customer
    if obj.deal is not None and obj.customer is not obj.deal.customer:
        raise ValidationFailed(
            {"customer_id": gettext("Deal %(number)s is with another customer.", number=obj.deal.number)}
        )
    if isinstance(obj, Activity) and obj.deal is None and obj.customer is None:
        raise ValidationFailed({"deal_id": "Link the activity to a deal or a customer."})


def create_activity(data: Mapping[str, Any], author: User) -> Activity:
    """Log an activity (validated input) by `author`, on its deal and/or customer; committed."""
    activity = Activity(
        kind=data["kind"],
        subject=data["subject"],
        body=data.get("body"),
        occurred_at=data.get("occurred_at") or utcnow(),
        author=author,
    )
    _link(activity, data)
    db.session.add(activity)
    db.session.commit()
    return activity


def _for_change(model: type, ident: int, data: Mapping[str, Any], expected: Collection[str] | None):
    """The activity or task to change, locked and checked when `expected` (If-Match) is given.
    What it is to be linked to is held first: deleting a deal, customer or user locks it before the
    activities and tasks that go with it, and the opposite order could deadlock with that."""
    record = get_or_404(model, ident)
    if expected is None:
        return record
    for linked, field in ((Deal, "deal_id"), (Customer, "customer_id"), (User, "assignee_id")):
        if data.get(field) is not None:
            get_held(linked, data[field])
    return for_change(model, ident, expected)


def update_activity(activity_id: int, data: Mapping[str, Any], expected: Collection[str] | None = None) -> Activity:
    """Apply validated changes, to the version `expected` (If-Match) names if given; a field sent
    as null keeps its value. Committed."""
    activity = _for_change(Activity, activity_id, data, expected)
    for name in ACTIVITY_FIELDS:
        if name in data and data[name] is not None:
            setattr(activity, name, data[name])
    _link(activity, data)
    db.session.commit()
    return activity


def delete_activity(activity_id: int, expected: Collection[str] | None = None) -> None:
    db.session.delete(for_change(Activity, activity_id, expected))
    db.session.commit()


def create_task(data: Mapping[str, Any], user: User) -> Task:
    """A task (validated input), `user`'s unless assigned; committed."""
    task = Task(title=data["title"], notes=data.get("notes"), due_date=data.get("due_date"), done=False)
    _set_assignee(task, data, default=user)
    _set_done(task, data)
    _link(task, data)
    db.session.add(task)
    db.session.commit()
    return task


def update_task(task_id: int, data: Mapping[str, Any], expected: Collection[str] | None = None) -> Task:
    """Apply validated changes, to the version `expected` (If-Match) names if given; `done`
    stamps or clears when it was done. Committed."""
    task = _for_change(Task, task_id, data, expected)
    for name in TASK_FIELDS:
        if name in data:
            setattr(task, name, data[name])
    _set_assignee(task, data)
    _set_done(task, data)
    _link(task, data)
    db.session.commit()
    return task


def set_task_done(task_id: int, done: bool) -> Task:
    """Tick a task off, or open it again; committed."""
    task = get_or_404(Task, task_id)
    _set_done(task, {"done": done})
    db.session.commit()
    return task


def delete_task(task_id: int, expected: Collection[str] | None = None) -> None:
    db.session.delete(for_change(Task, task_id, expected))
    db.session.commit()


def _set_assignee(task: Task, data: Mapping[str, Any], *, default: User | None = None) -> None:
    """The assignee sent (none for null); else, for a new task, `default`."""
    if "assignee_id" in data:
        if data["assignee_id"] is None:
            task.assignee = None
            return
        task.assignee = get_held(User, data["assignee_id"])
        if task.assignee is None:
            raise ValidationFailed({"assignee_id": gettext("No user with id %(id)s.", id=data["assignee_id"])})
    elif default is not None:
        task.assignee = default


def _set_done(task: Task, data: Mapping[str, Any]) -> None:
    if "done" in data and data["done"] != task.done:
        task.done = data["done"]
        task.done_at = utcnow() if task.done else None
