"""Users (admin only), the caller's own profile, and API tokens."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from hub.api.base import Blueprint, ListArgs, page_schema, partial, stripped
from hub.auth import authenticated, authenticated_user, requires
from hub.extensions import db
from hub.models import ApiToken, Role, User
from hub.services import users
from hub.services.queries import get_or_404, paginate, search_filter, where_equal

blp = Blueprint("users", __name__, url_prefix="/api/v1", description="Users, roles and API tokens")

PASSWORD = ma.validate.Length(min=10, max=200, error="At least 10 characters.")


class UserSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    name = stripped(200, required=True)
    role = ma.fields.Enum(Role, by_value=True, required=True)
    active = ma.fields.Boolean(load_default=True)
    password = ma.fields.String(load_only=True, required=True, validate=PASSWORD)
    created_at = ma.fields.DateTime(dump_only=True)


class UserListArgs(ListArgs):
    role = ma.fields.Enum(Role, by_value=True)
    active = ma.fields.Boolean()


class TokenSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = stripped(100, required=True)
    hint = ma.fields.String(dump_only=True, metadata={"description": "the token's first characters"})
    user_id = ma.fields.Integer(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    last_used_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(dump_only=True, metadata={"description": "shown once; store it now"})


USER_SORT = {"email": User.email, "name": User.name, "created_at": User.created_at}


@blp.route("/users")
class Users(MethodView):
    @requires("users", "read")
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, page_schema(UserSchema, "UserPage"))
    def get(self, args):
        query = select(User)
        if args.get("q"):
            query = query.where(search_filter(args["q"], User.email, User.name))
        query = where_equal(query, User, args, ("role", "active"))
        return paginate(query, args, USER_SORT, "email")

    @requires("users", "write")
    @blp.arguments(UserSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        return users.create_user(data)


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @requires("users", "read")
    @blp.response(200, UserSchema)
    def get(self, user_id):
        return get_or_404(User, user_id)

    @requires("users", "write")
    @blp.arguments(partial(UserSchema))
    @blp.response(200, UserSchema)
    def patch(self, data, user_id):
        return users.update_user(user_id, data, authenticated_user())

    @requires("users", "write")
    @blp.response(204)
    def delete(self, user_id):
        """Delete a user; what they owned keeps existing without an owner."""
        users.delete_user(user_id, authenticated_user())


@blp.route("/me", methods=["GET"])
@blp.response(200, UserSchema)
def me():
    """The logged-in user."""
    return authenticated_user()


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """The caller's API tokens (never their secret)."""
        user = authenticated_user()
        return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()

    @authenticated
    @blp.arguments(TokenSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """Issue a token for the caller; its clear text is in this answer only."""
        token, clear = users.issue_token(authenticated_user(), data["name"])
        return {**{name: getattr(token, name) for name in TokenSchema().fields}, "token": clear}


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
def revoke_token(token_id):
    """Revoke one of the caller's tokens (admins may revoke anyone's)."""
    users.revoke_token(token_id, authenticated_user())
