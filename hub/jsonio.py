"""JSON in and out of the app with Decimal kept exact: 19.90 arrives as Decimal("19.90")."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask.json.provider import DefaultJSONProvider


def loads(data: str | bytes) -> Any:
    return json.loads(data, parse_float=Decimal)


class DecimalJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", Decimal)
        return json.loads(s, **kwargs)
