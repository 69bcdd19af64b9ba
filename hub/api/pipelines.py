"""Pipelines and their stages (read by everyone, set up by admins)."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import Blueprint, Money, stripped
from hub.api.deals import Ref
from hub.auth import requires
from hub.extensions import db
from hub.kept_answers import BOARD_ANSWERS, kept_answer
from hub.models import Pipeline, StageKind
from hub.money import round_money
from hub.services import catalogue
from hub.services.board import PER_COLUMN, board_columns
from hub.services.queries import get_or_404

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
    @blp.etag
    def post(self, data):
        """Create a pipeline; its stages in order, with at least one open, exactly one won and one lost."""
        return catalogue.create_pipeline(data)


@blp.route("/pipelines/<int:pipeline_id>")
class PipelineById(MethodView):
    @requires("pipelines", "read")
    @blp.response(200, PipelineSchema)
    @blp.etag
    def get(self, pipeline_id):
        return get_or_404(Pipeline, pipeline_id)


class BoardArgs(ma.Schema):
    owner_id = ma.fields.Integer(validate=ma.validate.Range(min=1))
    per_column = ma.fields.Integer(load_default=PER_COLUMN, validate=ma.validate.Range(min=1, max=200))


class BoardDeal(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    title = ma.fields.String()
    customer = ma.fields.Nested(Ref)
    owner = ma.fields.Nested(Ref, allow_none=True)
    currency = ma.fields.String()
    total = Money()
    probability = ma.fields.Integer(metadata={"description": "the deal's own, else its stage's"})
    expected_close_date = ma.fields.Date(allow_none=True)
    updated_at = ma.fields.DateTime()


class BoardColumn(ma.Schema):
    stage = ma.fields.Nested(StageSchema)
    count = ma.fields.Integer(metadata={"description": "all the stage's deals (with the owner filter)"})
    totals = ma.fields.Function(
        lambda column: [{"currency": c, "total": str(round_money(t, c))} for c, t in column.totals],
        metadata={"description": "the stage's deal totals per currency"},
    )
    deals = ma.fields.List(ma.fields.Nested(BoardDeal), metadata={"description": "the most recently changed first"})


class Board(ma.Schema):
    pipeline = ma.fields.Nested(Ref)
    columns = ma.fields.List(ma.fields.Nested(BoardColumn))


BOARD = Board()


@blp.route("/pipelines/<int:pipeline_id>/board", methods=["GET"])
@requires("deals", "read")
@blp.arguments(BoardArgs, location="query")
@blp.response(200, BOARD)
def board(args, pipeline_id):
    """The pipeline board in one request: per stage its count, totals per currency and latest deals."""
    owner_id, per_column = args.get("owner_id"), args["per_column"]

    def build() -> dict:
        pipeline = get_or_404(Pipeline, pipeline_id)
        return {"pipeline": pipeline, "columns": board_columns(pipeline, owner_id=owner_id, per_column=per_column)}

    return kept_answer(BOARD_ANSWERS, (pipeline_id, owner_id, per_column), BOARD, build)
