"""Alembic environment: runs the hub's migrations against the app's database."""

from alembic import context
from flask import current_app

import hub.models  # noqa: F401  (the models fill the metadata autogenerate compares against)

migrate = current_app.extensions["migrate"]


def run_migrations_online() -> None:
    def skip_empty(ctx, revision, directives):
        if getattr(context.config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []

    args = dict(migrate.configure_args)
    args.setdefault("process_revision_directives", skip_empty)
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=migrate.db.metadata, **args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run 'crmhub db upgrade'")
run_migrations_online()
