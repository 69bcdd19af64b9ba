"""Every setting the hub reads, its environment variable and its default.

The app factory turns these into Flask config keys. Nothing here touches the disk or the
network: resolving the instance folder and generating development keys is `hub.create_app`'s job.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from limits import parse_many


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
    Setting(
        "HUB_CACHED_ANSWERS",
        "512",
        "Answers (board, customer and deal list pages) each web worker keeps while nothing they show has "
        "changed, per kind; 0 keeps none. Needs REDIS_URL: without it nothing is kept.",
    ),
    Setting("HUB_RETRY_MAX_ATTEMPTS", "8", "Attempts of a push before it is parked as failed."),
    Setting("HUB_RETRY_BASE_SECONDS", "2", "First retry delay; it doubles per attempt, with jitter."),
    Setting("HUB_RETRY_CAP_SECONDS", "600", "Longest delay between two attempts."),
    Setting("HUB_BREAKER_THRESHOLD", "5", "Consecutive failures after which a connection rests."),
    Setting("HUB_BREAKER_COOLDOWN_SECONDS", "60", "How long a connection rests before it is tried again."),
    Setting("HUB_JOB_LEASE_SECONDS", "300", "How long a worker owns an outbox event; after that another may take it."),
    Setting(
        "HUB_BATCH_SIZE", "50", "Most invoices pushed to one connection in one job (one call where the target batches)."
    ),
    Setting(
        "HUB_PUSH_LINGER_SECONDS",
        "0.05",
        "How long a push batch that is not full waits for more invoices before it goes to the target.",
    ),
    Setting("HUB_STATUS_INTERVAL_SECONDS", "300", "How often invoice states and payments are read back."),
    Setting("HUB_PAYMENT_DAYS", "14", "Days from issue to due date on hub invoices."),
    Setting(
        "HUB_STOCK_CHECK_ON_WON",
        "warn",
        "When a deal is won with more than the stock can cover: `warn` (won, with warnings in the answer), "
        "`refuse` (409 naming the lines) or `off`.",
    ),
    Setting(
        "HUB_IDEMPOTENCY_KEEP_SECONDS",
        "86400",
        "How long an API request's Idempotency-Key and its answer are kept (a repeat within it gets that answer).",
    ),
    Setting(
        "HUB_IDEMPOTENCY_STALE_SECONDS",
        "120",
        "After this, a key whose request never answered and changed nothing may be used again.",
    ),
    Setting(
        "OAUTH_REDIRECT_URI",
        None,
        "The redirect URI registered with OAuth providers (QuickBooks, Xero, Zoho), e.g. "
        "`https://hub.example.com/oauth/callback`. Unset: the callback's URL as this request sees it.",
    ),
    Setting(
        "HUB_EXCHANGE_LOGIN_FAILURES",
        "5",
        "Wrong passwords at the 1C exchange's checkauth (per connection, and per calling address) "
        "after which its log-ins are refused for HUB_EXCHANGE_LOCKOUT_SECONDS.",
    ),
    Setting(
        "HUB_EXCHANGE_LOCKOUT_SECONDS",
        "900",
        "How long such log-ins are refused (429), and how long a wrong password counts.",
    ),
    Setting(
        "HUB_LOGIN_LIMIT_ACCOUNT",
        "10 per 15 minutes",
        "Wrong passwords for one account (from anywhere) after which its log-in answers 429 for the rest of "
        "the window (the `limits` notation). Counted in Redis when REDIS_URL is set, else per process.",
    ),
    Setting(
        "HUB_LOGIN_LIMIT_ADDRESS",
        "50 per 15 minutes",
        "Wrong passwords from one address (for any accounts) after which its log-ins answer 429.",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        "0",
        "1 when the hub is reached over HTTPS only (production): the session cookie is then never sent "
        "over plain HTTP, and answers carry HSTS.",
    ),
    Setting(
        "HUB_OUTBOUND_ALLOW",
        "",
        "Networks (comma-separated CIDRs, e.g. `10.20.0.0/16,192.168.5.7/32`) that connections, webhooks and "
        "the mail server may be in although they are not public: the hub refuses loopback, link-local "
        "(169.254.169.254), private, unique-local, multicast and reserved addresses after DNS resolution. "
        "Empty: public addresses only. `crmhub run --demo-erp` allows 127.0.0.1/32 for its demo Tryton unless set.",
    ),
    Setting(
        "HUB_DEMO_ERP_PORT",
        "8765",
        "Port of the demo Tryton that `crmhub run --demo-erp` serves and the demo data's connection points at.",
    ),
    Setting(
        "HUB_DEFAULT_LOCALE",
        "en",
        "Language of the pages for a user who chose none and whose browser asks for none the hub speaks: "
        "`en`, `ru` or `bn`.",
    ),
)

INTEGER_SETTINGS = frozenset(
    {
        "HUB_PAGE_SIZE_MAX",
        "HUB_CACHED_ANSWERS",
        "HUB_RETRY_MAX_ATTEMPTS",
        "HUB_BREAKER_THRESHOLD",
        "HUB_JOB_LEASE_SECONDS",
        "HUB_BATCH_SIZE",
        "HUB_STATUS_INTERVAL_SECONDS",
        "HUB_PAYMENT_DAYS",
        "HUB_IDEMPOTENCY_KEEP_SECONDS",
        "HUB_IDEMPOTENCY_STALE_SECONDS",
        "HUB_EXCHANGE_LOGIN_FAILURES",
        "HUB_EXCHANGE_LOCKOUT_SECONDS",
        "HUB_DEMO_ERP_PORT",
    }
)
FLOAT_SETTINGS = frozenset(
    {"HUB_RETRY_BASE_SECONDS", "HUB_RETRY_CAP_SECONDS", "HUB_BREAKER_COOLDOWN_SECONDS", "HUB_PUSH_LINGER_SECONDS"}
)


class SettingsError(ValueError):
    """An environment variable holds a value the hub cannot use."""


@dataclass(frozen=True)
class Settings:
    DATABASE_URL: str | None
    REDIS_URL: str | None
    SECRET_KEY: str | None
    HUB_ENCRYPTION_KEY: str | None
    LOG_LEVEL: str
    HUB_INSTANCE_PATH: str | None
    HUB_PAGE_SIZE_MAX: int
    HUB_CACHED_ANSWERS: int
    HUB_RETRY_MAX_ATTEMPTS: int
    HUB_RETRY_BASE_SECONDS: float
    HUB_RETRY_CAP_SECONDS: float
    HUB_BREAKER_THRESHOLD: int
    HUB_BREAKER_COOLDOWN_SECONDS: float
    HUB_JOB_LEASE_SECONDS: int
    HUB_BATCH_SIZE: int
    HUB_PUSH_LINGER_SECONDS: float
    HUB_STATUS_INTERVAL_SECONDS: int
    HUB_PAYMENT_DAYS: int
    HUB_STOCK_CHECK_ON_WON: str
    HUB_IDEMPOTENCY_KEEP_SECONDS: int
    HUB_IDEMPOTENCY_STALE_SECONDS: int
    OAUTH_REDIRECT_URI: str | None
    HUB_EXCHANGE_LOGIN_FAILURES: int
    HUB_EXCHANGE_LOCKOUT_SECONDS: int
    HUB_LOGIN_LIMIT_ACCOUNT: str
    HUB_LOGIN_LIMIT_ADDRESS: str
    SESSION_COOKIE_SECURE: bool
    HUB_OUTBOUND_ALLOW: str
    HUB_DEMO_ERP_PORT: int
    HUB_DEFAULT_LOCALE: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env) or setting.default
            values[setting.env] = raw
        for names, kind in ((INTEGER_SETTINGS, int), (FLOAT_SETTINGS, float)):
            for name in names:
                try:
                    values[name] = kind(values[name])  # type: ignore[arg-type]
                except ValueError:
                    raise SettingsError(f"{name} must be a {kind.__name__}, not {values[name]!r}.") from None
        if values["HUB_CACHED_ANSWERS"] < 0:  # type: ignore[operator]
            raise SettingsError("HUB_CACHED_ANSWERS must be 0 or more.")
        if values["HUB_STOCK_CHECK_ON_WON"] not in ("warn", "refuse", "off"):
            raise SettingsError("HUB_STOCK_CHECK_ON_WON must be warn, refuse or off.")
        secure = str(values["SESSION_COOKIE_SECURE"]).strip().lower()
        if secure not in ("0", "1", "true", "false", "yes", "no"):
            raise SettingsError("SESSION_COOKIE_SECURE must be 1 or 0.")
        values["SESSION_COOKIE_SECURE"] = secure in ("1", "true", "yes")
        for name in ("HUB_LOGIN_LIMIT_ACCOUNT", "HUB_LOGIN_LIMIT_ADDRESS"):
            try:
                parse_many(str(values[name]))
            except ValueError:
                raise SettingsError(
                    f"{name} must be a limit such as '10 per 15 minutes', not {values[name]!r}."
                ) from None
        allow = str(values["HUB_OUTBOUND_ALLOW"] or "")
        for item in filter(None, (part.strip() for part in allow.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise SettingsError(
                    f"HUB_OUTBOUND_ALLOW must be comma-separated networks such as 10.0.0.0/8, not {item!r}."
                ) from None
        values["HUB_OUTBOUND_ALLOW"] = allow
        return cls(**values)  # type: ignore[arg-type]

    def as_flask_config(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
