"""What a request that `responses` recorded carried: its query and its JSON body."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit


def query(call) -> dict[str, str]:
    """The query parameters of a recorded call (each one's first value)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def sent(call) -> dict:
    """The JSON body of a recorded call, numbers read as Decimal (digit for digit as sent)."""
    return json.loads(call.request.body, parse_float=Decimal)
