"""The API's error answer: its status, the shape every error has, and the field or code it names."""

from __future__ import annotations


def assert_error(response, status: int, field: str | None = None, code: str | None = None) -> dict:
    assert response.status_code == status, response.json
    body = response.json
    assert set(body) >= {"code", "message", "errors"}, body
    if field is not None:
        assert field in body["errors"], body
        assert all(isinstance(m, str) and m for m in body["errors"][field])
    if code is not None:
        assert body["code"] == code
    return body
