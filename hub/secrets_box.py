"""Connector secrets encrypted at rest with `HUB_ENCRYPTION_KEY` (Fernet: AES-128-CBC + HMAC).

Secrets are stored as one encrypted JSON object per connection and never leave the server: the
API shows only which secret fields are set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretsUnreadable(Exception):
    """The stored secrets were encrypted with another key (was HUB_ENCRYPTION_KEY changed?)."""


def _fernet() -> MultiFernet:
    # Several keys, comma-separated, allow rotation: the first encrypts, all decrypt.
    keys = [k.strip() for k in current_app.config["HUB_ENCRYPTION_KEY"].split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def seal(secrets: Mapping[str, str]) -> str:
    return _fernet().encrypt(json.dumps(dict(secrets), sort_keys=True).encode()).decode()


def unseal(blob: str | None) -> dict[str, str]:
    if not blob:
        return {}
    try:
        return json.loads(_fernet().decrypt(blob.encode()))
    except InvalidToken as exc:
        raise SecretsUnreadable("connector secrets cannot be decrypted with HUB_ENCRYPTION_KEY") from exc
