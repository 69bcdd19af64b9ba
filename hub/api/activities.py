"""Activities (calls, e-mails, meetings, notes) and tasks, linked to a deal or a customer."""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import (
    Blueprint,
    ListArgs,
    get_or_404,
    page_schema,
    paginate,
    partial,
    search_filter,
    stripped,
    where_equal,
)
from hub.auth import authenticated_user, requires
from hub.errors import ValidationFailed
from hub.extensions import db
from hub.models import Activity, ActivityKind, Customer, Deal, Task, User
from hub.models.base import utcnow

blp = Blueprint("activities", __name__, url_prefix="/api/v1", description="Activities and tasks")


class ActivitySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.Enum(ActivityKind, by_value=True, required=True)
    subject = stripped(200, required=True)
    body = ma.fields.String(allow_none=True)
    occurred_at = ma.fields.AwareDateTime(default_timezone=None, metadata={"description": "default: now"})
    deal_id = ma.fields.Integer(allow_none=True)
    customer_id = ma.fields.Integer(allow_none=True)
    author_id = ma.fields.Integer(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class TaskSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    title = stripped(200, required=True)
    notes = ma.fields.String(allow_none=True)
    due_date = ma.fields.Date(allow_none=True)
    assignee_id = ma.fields.Integer(allow_none=True, metadata={"description": "default: the caller"})
    done = ma.fields.Boolean(load_default=False)
    done_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    deal_id = ma.fields.Integer(allow_none=True)
    customer_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class ActivityListArgs(ListArgs):
    kind = ma.fields.Enum(ActivityKind, by_value=True)
    deal_id = ma.fields.Integer()
    customer_id = ma.fields.Integer()
    author_id = ma.fields.Integer()


class TaskListArgs(ListArgs):
    assignee_id = ma.fields.Integer()
    mine = ma.fields.Boolean(metadata={"description": "only the caller's tasks"})
    done = ma.fields.Boolean()
    overdue = ma.fields.Boolean(metadata={"description": "open tasks due before today"})
    deal_id = ma.fields.Integer()
    customer_id = ma.fields.Integer()


ACTIVITY_SORT = {"occurred_at": Activity.occurred_at, "created_at": Activity.created_at, "subject": Activity.subject}
TASK_SORT = {"due_date": Task.due_date, "created_at": Task.created_at, "title": Task.title}


def _link(obj: Activity | Task, data: dict, *, creating: bool) -> None:
    """Resolve deal/customer links: a deal implies its customer; at least one is needed."""
    errors: dict[str, list[str]] = {}
    if "deal_id" in data:
        obj.deal = None if data["deal_id"] is None else db.session.get(Deal, data["deal_id"])
        if data["deal_id"] is not None and obj.deal is None:
            errors["deal_id"] = [f"No deal with id {data['deal_id']}."]
    if "customer_id" in data:
        obj.customer = None if data["customer_id"] is None else db.session.get(Customer, data["customer_id"])
        if data["customer_id"] is not None and obj.customer is None:
            errors["customer_id"] = [f"No customer with id {data['customer_id']}."]
    if errors:
        raise ValidationFailed(errors)
    if obj.deal is not None and obj.customer is None:
        obj.customer = obj.deal.customer
    if obj.deal is not None and obj.customer is not obj.deal.customer:
        raise ValidationFailed({"customer_id": f"Deal {obj.deal.number} is with another customer."})
    if isinstance(obj, Activity) and obj.deal is None and obj.customer is None:
        raise ValidationFailed({"deal_id": "Link the activity to a deal or a customer."})


def create_activity(data: dict) -> Activity:
    """Log an activity (validated input) by the caller, on its deal and/or customer; committed."""
    activity = Activity(
        kind=data["kind"],
        subject=data["subject"],
        body=data.get("body"),
        occurred_at=data.get("occurred_at") or utcnow(),
        author=authenticated_user(),
    )
    _link(activity, data, creating=True)
    db.session.add(activity)
    db.session.commit()
    return activity


def create_task(data: dict) -> Task:
    """A task (validated input), the caller's unless assigned; committed."""
    task = Task(title=data["title"], notes=data.get("notes"), due_date=data.get("due_date"), done=False)
    _set_assignee(task, data, creating=True)
    _set_done(task, data)
    _link(task, data, creating=True)
    db.session.add(task)
    db.session.commit()
    return task


def _set_assignee(task: Task, data: dict, *, creating: bool) -> None:
    if "assignee_id" in data:
        if data["assignee_id"] is None:
            task.assignee = None
            return
        task.assignee = db.session.get(User, data["assignee_id"])
        if task.assignee is None:
            raise ValidationFailed({"assignee_id": f"No user with id {data['assignee_id']}."})
    elif creating:
        task.assignee = authenticated_user()


def _set_done(task: Task, data: dict) -> None:
    if "done" in data and data["done"] != task.done:
        task.done = data["done"]
        task.done_at = utcnow() if task.done else None


@blp.route("/activities")
class Activities(MethodView):
    @requires("activities", "read")
    @blp.arguments(ActivityListArgs, location="query")
    @blp.response(200, page_schema(ActivitySchema, "ActivityPage"))
    def get(self, args):
        """The activity timeline, newest first; `q` searches the subject."""
        query = select(Activity)
        if args.get("q"):
            query = query.where(search_filter(args["q"], Activity.subject))
        query = where_equal(query, Activity, args, ("deal_id", "customer_id", "author_id", "kind"))
        return paginate(query, args, ACTIVITY_SORT, "-occurred_at")

    @requires("activities", "write")
    @blp.arguments(ActivitySchema)
    @blp.response(201, ActivitySchema)
    def post(self, data):
        return create_activity(data)


@blp.route("/activities/<int:activity_id>")
class ActivityById(MethodView):
    @requires("activities", "read")
    @blp.response(200, ActivitySchema)
    def get(self, activity_id):
        return get_or_404(Activity, activity_id)

    @requires("activities", "write")
    @blp.arguments(partial(ActivitySchema))
    @blp.response(200, ActivitySchema)
    def patch(self, data, activity_id):
        activity = get_or_404(Activity, activity_id)
        for name in ("kind", "subject", "body", "occurred_at"):
            if name in data and data[name] is not None:
                setattr(activity, name, data[name])
        _link(activity, data, creating=False)
        db.session.commit()
        return activity

    @requires("activities", "write")
    @blp.response(204)
    def delete(self, activity_id):
        db.session.delete(get_or_404(Activity, activity_id))
        db.session.commit()


@blp.route("/tasks")
class Tasks(MethodView):
    @requires("tasks", "read")
    @blp.arguments(TaskListArgs, location="query")
    @blp.response(200, page_schema(TaskSchema, "TaskPage"))
    def get(self, args):
        """Tasks, soonest due first; `overdue=true` gives the open ones past their date."""
        query = select(Task)
        if args.get("q"):
            query = query.where(search_filter(args["q"], Task.title))
        if args.get("mine"):
            query = query.where(Task.assignee_id == authenticated_user().id)
        query = where_equal(query, Task, args, ("assignee_id", "deal_id", "customer_id", "done"))
        if args.get("overdue"):
            query = query.where(Task.done.is_(False), Task.due_date < date.today())
        return paginate(query, args, TASK_SORT, "due_date")

    @requires("tasks", "write")
    @blp.arguments(TaskSchema)
    @blp.response(201, TaskSchema)
    def post(self, data):
        return create_task(data)


@blp.route("/tasks/<int:task_id>")
class TaskById(MethodView):
    @requires("tasks", "read")
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        return get_or_404(Task, task_id)

    @requires("tasks", "write")
    @blp.arguments(partial(TaskSchema))
    @blp.response(200, TaskSchema)
    def patch(self, data, task_id):
        task = get_or_404(Task, task_id)
        for name in ("title", "notes", "due_date"):
            if name in data:
                setattr(task, name, data[name])
        _set_assignee(task, data, creating=False)
        _set_done(task, data)
        _link(task, data, creating=False)
        db.session.commit()
        return task

    @requires("tasks", "write")
    @blp.response(204)
    def delete(self, task_id):
        db.session.delete(get_or_404(Task, task_id))
        db.session.commit()
