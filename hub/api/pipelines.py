"""Pipelines and their stages (read by everyone, set up by admins)."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import Blueprint, get_or_404, stripped
from hub.auth import requires
from hub.errors import Conflict, ValidationFailed
from hub.extensions import db
from hub.models import Pipeline, Stage, StageKind

blp = Blueprint("pipelines", __name__, url_prefix="/api/v1", description="Pipelines and stages")


class StageSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = stripped(100, required=True)
    position = ma.fields.Integer(dump_only=True)
    probability = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0, max=100))
    kind = ma.fields.Enum(StageKind, by_value=True, load_default=StageKind.OPEN)


class PipelineSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = stripped(100, required=True)
    is_default = ma.fields.Boolean(load_default=False)
    stages = ma.fields.List(ma.fields.Nested(StageSchema), required=True, validate=ma.validate.Length(min=2, max=30))


@blp.route("/pipelines")
class Pipelines(MethodView):
    @requires("pipelines", "read")
    @blp.response(200, PipelineSchema(many=True))
    def get(self):
        return db.session.scalars(select(Pipeline).order_by(Pipeline.id)).all()

    @requires("pipelines", "write")
    @blp.arguments(PipelineSchema)
    @blp.response(201, PipelineSchema)
    def post(self, data):
        """Create a pipeline; its stages in order, with at least one open, one won and one lost."""
        kinds = [s["kind"] for s in data["stages"]]
        missing = [k.value for k in StageKind if k not in kinds]
        if missing:
            raise ValidationFailed({"stages": f"Needs at least one stage of kind: {', '.join(missing)}."})
        names = [s["name"].lower() for s in data["stages"]]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValidationFailed({"stages": f"Stage names repeat: {', '.join(dupes)}."})
        if db.session.scalar(select(Pipeline.id).where(Pipeline.name == data["name"])) is not None:
            raise Conflict(f"A pipeline named '{data['name']}' exists already.", {"name": ["Already used."]})
        if data["is_default"]:
            for other in db.session.scalars(select(Pipeline).where(Pipeline.is_default.is_(True))):
                other.is_default = False
        pipeline = Pipeline(name=data["name"], is_default=data["is_default"])
        pipeline.stages = [Stage(position=i + 1, **s) for i, s in enumerate(data["stages"])]
        db.session.add(pipeline)
        db.session.commit()
        return pipeline


@blp.route("/pipelines/<int:pipeline_id>")
class PipelineById(MethodView):
    @requires("pipelines", "read")
    @blp.response(200, PipelineSchema)
    def get(self, pipeline_id):
        return get_or_404(Pipeline, pipeline_id)
