"""The `crmhub` command: Flask's commands (`run`, `shell`, `db ...`) plus the hub's own."""

from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from sqlalchemy import func, select

from hub import create_app
from hub.audit import acting_as
from hub.extensions import db
from hub.models import ApiToken, Role, User

# What `run --demo-erp` lets the hub reach when HUB_OUTBOUND_ALLOW is unset: the demo Tryton's address.
DEMO_OUTBOUND_ALLOW = "127.0.0.1/32"


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False, add_default_commands=False)
def main() -> None:
    """CRM–ERP hub administration."""


main.add_command(shell_command)
main.add_command(routes_command)


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo-erp", is_flag=True, help="Also serve the demo Tryton that the demo data's connection uses.")
@with_appcontext
def run(host: str, port: int, demo_erp: bool) -> None:
    """Serve the app (development server). Without REDIS_URL it also runs the embedded worker."""
    from flask import current_app

    from hub.sync.queue import is_embedded
    from hub.sync.worker import EmbeddedWorker

    app = current_app._get_current_object()
    # Stopped with SIGTERM (a service manager, a test), still run the `finally` below, which stops
    # the demo Tryton; Python's default would exit at once and leave it running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tryton = None
    if demo_erp:
        from connectors import outbound
        from hub.demo_erp.tryton import TrytonServer

        if not app.config.get("HUB_OUTBOUND_ALLOW"):
            # The demo Tryton is on this machine: the outbound policy must let its connection reach
            # it (here, in the embedded worker's threads and in any process started from here).
            app.config["HUB_OUTBOUND_ALLOW"] = os.environ["HUB_OUTBOUND_ALLOW"] = DEMO_OUTBOUND_ALLOW
            outbound.configure(DEMO_OUTBOUND_ALLOW)

        click.echo("starting the demo Tryton (the first time it builds its database: about a minute)")
        tryton = TrytonServer(Path(app.instance_path) / "tryton", app.config["HUB_DEMO_ERP_PORT"]).start()
        click.echo(f"demo Tryton on {tryton.url} (database {tryton.database}, admin / {tryton.password})")
    if is_embedded(app):
        app.extensions["hub_embedded_worker"] = EmbeddedWorker(app).start()
        click.echo("jobs run on the embedded worker (REDIS_URL is not set)")
    # Not app.run(): Flask ignores it inside its own CLI.
    from werkzeug.serving import run_simple

    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if tryton is not None:
            tryton.stop()


@main.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run jobs from Redis (REDIS_URL). Start as many as you like, on any machine."""
    from flask import current_app

    from hub.sync.worker import run_worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set; without Redis, 'crmhub run' runs jobs itself")
    run_worker(current_app._get_current_object(), burst=burst)


@main.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Move due outbox events to the queue and enqueue periodic jobs. One scheduler dispatches at a
    time (a Redis lock); more stand by and take over when it dies."""
    from flask import current_app

    from hub.sync.worker import run_scheduler

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set; without Redis, 'crmhub run' schedules jobs itself")
    run_scheduler(current_app._get_current_object())


@main.command("dispatch")
@with_appcontext
def dispatch_once() -> None:
    """Move due outbox events to the queue once (what the scheduler does every second)."""
    from hub.sync.outbox import dispatch

    click.echo(f"dispatched {dispatch()} event(s)")


def _user_by_email(email: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.BadParameter(f"no user {email}", param_hint="--user")
    return user


@main.group()
def users() -> None:
    """Create and list users."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None, help="Display name (default: the part of the e-mail before @).")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password", default=None, help="Default: a generated one, printed once.")
@with_appcontext
def create_user(email: str, name: str | None, role: str, password: str | None) -> None:
    email = email.strip().lower()
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise click.ClickException(f"a user {email} exists already")
    if password is not None and len(password) < 10:
        raise click.BadParameter("at least 10 characters", param_hint="--password")
    clear = password or secrets.token_urlsafe(12)
    user = User(email=email, name=name or email.split("@")[0], role=Role(role), active=True)
    user.set_password(clear)
    with acting_as(None, "cli"):
        db.session.add(user)
        db.session.commit()
    click.echo(f"created {role} {email}" + ("" if password else f" with password {clear}"))


@users.command("list")
@with_appcontext
def list_users() -> None:
    for user in db.session.scalars(select(User).order_by(User.email)):
        click.echo(f"{user.id}\t{user.email}\t{user.role.value}\t{'active' if user.active else 'inactive'}")


@main.group()
def tokens() -> None:
    """Issue and revoke API tokens."""


@tokens.command("create")
@click.option("--user", "email", required=True, help="E-mail of the user the token acts as.")
@click.option("--name", default="cli", help="What the token is for.")
@with_appcontext
def create_token(email: str, name: str) -> None:
    user = _user_by_email(email)
    with acting_as(None, "cli"):
        token, clear = ApiToken.issue(user, name)
        db.session.add(token)
        db.session.commit()
    click.echo(clear)


@tokens.command("revoke")
@click.option("--id", "token_id", required=True, type=int)
@with_appcontext
def revoke_token(token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.BadParameter(f"no token {token_id}", param_hint="--id")
    with acting_as(None, "cli"):
        token.revoke()
        db.session.commit()
    click.echo(f"revoked token {token_id} of {token.user.email}")


@main.command("seed-demo")
@click.option("--password", default=None, help="One password for every demo user (default: generated).")
@with_appcontext
def seed_demo(password: str | None) -> None:
    """Fill an empty database with a realistic demo data set and print the demo logins."""
    from flask import current_app

    from hub.seed import seed

    saved = Path(current_app.instance_path) / "demo-logins.txt"
    with acting_as(None, "seed-demo"):
        logins = seed(password)
    if logins is None:
        click.echo("Demo data is present already.")
        if saved.exists():
            click.echo(saved.read_text(), nl=False)
        return
    text = "Demo logins:\n" + "".join(f"  {x.role:<11} {x.email:<30} {x.password}\n" for x in logins)
    saved.write_text(text)
    saved.chmod(0o600)
    click.echo(text, nl=False)


if __name__ == "__main__":
    main()
