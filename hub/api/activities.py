"""Activities (calls, e-mails, meetings, notes) and tasks, linked to a deal or a customer."""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import Blueprint, ListArgs, Moment, if_match, page_schema, partial, stripped
from hub.auth import authenticated_user, requires
from hub.models import Activity, ActivityKind, Task
from hub.services import activities
from hub.services.queries import get_or_404, paginate, search_filter, where_equal

blp = Blueprint("activities", __name__, url_prefix="/api/v1", description="Activities and tasks")


SAID = "a note the hub wrote (the 1C exchange's) is answered in the Accept-Language's language"


class ActivitySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.Enum(ActivityKind, by_value=True, required=True)
    subject = stripped(200, required=True, metadata={"description": f"{SAID}; `q` and `sort` use its English"})
    body = ma.fields.String(allow_none=True, metadata={"description": SAID})
    occurred_at = Moment(metadata={"description": "default: now"})
    deal_id = ma.fields.Integer(allow_none=True)
    customer_id = ma.fields.Integer(allow_none=True)
    author_id = ma.fields.Integer(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)

    @ma.post_dump(pass_original=True)
    def _in_the_readers_language(self, data: dict, activity: Activity, **kwargs) -> dict:
        # Read through the model's properties: written and loaded as `subject` and `body`.
        if "subject" in data:
            data["subject"] = activity.subject_text
        if "body" in data:
            data["body"] = activity.body_text
        return data


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
    @blp.etag
    def post(self, data):
        return activities.create_activity(data, authenticated_user())


@blp.route("/activities/<int:activity_id>")
class ActivityById(MethodView):
    @requires("activities", "read")
    @blp.response(200, ActivitySchema)
    @blp.etag
    def get(self, activity_id):
        return get_or_404(Activity, activity_id)

    @requires("activities", "write")
    @blp.arguments(partial(ActivitySchema))
    @blp.response(200, ActivitySchema)
    @blp.etag
    def patch(self, data, activity_id):
        return activities.update_activity(activity_id, data, if_match())

    @requires("activities", "write")
    @blp.response(204)
    @blp.etag
    def delete(self, activity_id):
        activities.delete_activity(activity_id, if_match())


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
    @blp.etag
    def post(self, data):
        return activities.create_task(data, authenticated_user())


@blp.route("/tasks/<int:task_id>")
class TaskById(MethodView):
    @requires("tasks", "read")
    @blp.response(200, TaskSchema)
    @blp.etag
    def get(self, task_id):
        return get_or_404(Task, task_id)

    @requires("tasks", "write")
    @blp.arguments(partial(TaskSchema))
    @blp.response(200, TaskSchema)
    @blp.etag
    def patch(self, data, task_id):
        return activities.update_task(task_id, data, if_match())

    @requires("tasks", "write")
    @blp.response(204)
    @blp.etag
    def delete(self, task_id):
        activities.delete_task(task_id, if_match())
