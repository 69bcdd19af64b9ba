"""Every setting the hub reads, its environment variable and its default.

The app factory turns these into Flask config keys. Nothing here touches the disk or the
network: resolving the instance folder and generating development keys is `hub.create_app`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    doc: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        None,
        "SQLAlchemy URL of the database. Unset: a SQLite file `instance/crmhub.db`. "
        "PostgreSQL: `postgresql+psycopg://user@host/db` (`postgresql://` is accepted too).",
    ),
    Setting(
        "REDIS_URL",
        None,
        "Redis for the job queue, e.g. `redis://127.0.0.1:6379/0`. Unset: jobs run on an "
        "embedded in-process worker (single machine only).",
    ),
    Setting(
        "SECRET_KEY",
        None,
        "Signs session cookies. Unset: a random key is generated once into `instance/secret_key` "
        "(fine for one machine; set it explicitly when several web processes share sessions).",
        secret=True,
    ),
    Setting(
        "HUB_ENCRYPTION_KEY",
        None,
        "Fernet key (urlsafe base64, 32 bytes) that encrypts connector secrets at rest. Unset: "
        "generated once into `instance/encryption_key`. Losing it makes stored secrets unreadable.",
        secret=True,
    ),
    Setting("LOG_LEVEL", "INFO", "Python log level: DEBUG, INFO, WARNING, ERROR."),
    Setting(
        "HUB_INSTANCE_PATH",
        None,
        "Folder for the SQLite file, generated keys and uploads. Unset: `instance/` in the working directory.",
    ),
    Setting("HUB_PAGE_SIZE_MAX", "200", "Largest page a list endpoint returns."),
)


@dataclass(frozen=True)
class Settings:
    DATABASE_URL: str | None
    REDIS_URL: str | None
    SECRET_KEY: str | None
    HUB_ENCRYPTION_KEY: str | None
    LOG_LEVEL: str
    HUB_INSTANCE_PATH: str | None
    HUB_PAGE_SIZE_MAX: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env) or setting.default
            values[setting.env] = raw
        values["HUB_PAGE_SIZE_MAX"] = int(values["HUB_PAGE_SIZE_MAX"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def as_flask_config(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
