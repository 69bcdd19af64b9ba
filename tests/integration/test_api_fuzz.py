"""The API fuzzed against its own OpenAPI document with schemathesis, as an admin: whatever the
input, no 5xx, and every answer (status, content type, body) is one the document describes.

Two searches per operation: input the document allows (every check), and input it forbids (a bad
value, a missing field, a wrong type: it must be a 4xx, never a 5xx). Each run draws new examples:
the seed of every search is the run's order seed (pytest-randomly, printed first), so a failure is
replayed with `--randomly-seed=N`; with the plugin off (`-p no:randomly`) the examples are the same
each run. Hypothesis' health checks are on: a strategy that cannot make
valid input fails the test instead of silently testing less. Bounded so the walk stays a few minutes.

One test walks every operation (schemathesis' pytest fixture loader does not run on pytest 9),
and reports every operation that failed, each with its first failure."""

from __future__ import annotations

import os
import zlib

import pytest
import schemathesis
from hypothesis import given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# Examples per operation and search; HUB_FUZZ_EXAMPLES=allowed,forbidden for a longer hunt.
ALLOWED, FORBIDDEN = (int(n) for n in os.environ.get("HUB_FUZZ_EXAMPLES", "40,25").split(","))
SEARCHES = [
    (
        GenerationMode.POSITIVE,
        ALLOWED,
        [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    ),
    # The document's own 4xx bodies are checked by the allowed search; here the API may refuse more
    # than the document forbids (an unknown header, say), so only "no 5xx" and the content type.
    (GenerationMode.NEGATIVE, FORBIDDEN, [not_a_server_error, content_type_conformance]),
]


def test_every_operation_answers_as_documented(app, users, request: pytest.FixtureRequest):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {users['admin']['token']}"}
    run_seed = getattr(request.config.option, "randomly_seed", 0)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:
        for mode, examples, checks in SEARCHES:
            try:
                search(
                    operation,
                    mode,
                    examples,
                    checks,
                    headers,
                    zlib.crc32(f"{run_seed}:{mode}:{operation.label}".encode()),
                )
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
                failures[f"{operation.label} ({mode})"] = str(exc)[:1500]

    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def search(operation, mode: GenerationMode, examples: int, checks: list, headers: dict[str, str], run: int) -> None:
    # No example database: every search is this one function, so all would share one key; the seed
    # replays a failure instead.
    @seed(run)
    @given(case=operation.as_strategy(mode))
    @settings(max_examples=examples, deadline=None, database=None)
    def fuzz(case) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    fuzz()


# What the fuzzing found (each was a 500), pinned down.


def test_an_id_too_large_for_the_database_is_refused_by_name(sales):
    r = sales.post("/api/v1/contacts", json={"customer_id": 2**40, "name": "Ann"})
    assert r.status_code == 422
    assert "customer_id" in r.json["errors"]
    r = sales.get("/api/v1/deals?customer_id=99999999999")
    assert r.status_code == 422
    assert "customer_id" in r.json["errors"]
    deal = {"title": "T", "customer_id": 1, "lines": [{"product_id": 2**35, "quantity": 1}]}
    r = sales.post("/api/v1/deals", json=deal)
    assert r.status_code == 422
    assert "lines[0].product_id" in r.json["errors"]


def test_an_id_too_large_in_the_path_is_not_found(sales):
    assert sales.get("/api/v1/contacts/99999999999").status_code == 404


def test_text_with_a_nul_character_is_refused_by_name(sales):
    r = sales.get("/api/v1/deals?q=a%00b")
    assert r.status_code == 422
    assert "q" in r.json["errors"]
    r = sales.post("/api/v1/customers", json={"name": "Acme\x00"})
    assert r.status_code == 422
    assert "name" in r.json["errors"]


# The probe's hostile values, sent to every operation that takes a JSON body: each a 4xx, never a 5xx.
HOSTILE_BODIES = [
    "[" * 5000 + "]" * 5000,
    '{"name": ' + "[" * 40 + "]" * 40 + "}",
    '{"name": 1' + "0" * 5000 + "}",
    '{"name": 1e999999, "quantity": 1e999999, "unit_price": -1e999999}',
    '{"name": "\\ud800", "title": "\\ud800", "sku": "\\ud800", "email": "\\ud800@x.org"}',
    '{"quantity": "99999999999999", "unit_price": "99999999999999", "lines": [{"quantity": 1e30}]}',
    '{"owner_id": 1.5, "customer_id": 1e300, "stage_id": "1_000"}',
]


def test_hostile_bodies_to_every_operation_are_never_a_server_error(app, users):
    import re

    spec = app.test_client().get("/api/openapi.json").json
    admin = app.test_client()
    headers = {"Authorization": f"Bearer {users['admin']['token']}", "Content-Type": "application/json"}
    sent, failures = 0, []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            url = re.sub(r"\{[^}]+\}", "1", path)
            for body in HOSTILE_BODIES:
                r = admin.open(url, method=method.upper(), data=body, headers=headers)
                sent += 1
                if r.status_code >= 500:
                    failures.append(f"{method.upper()} {url} {body[:40]!r} → {r.status_code}")
    assert sent > 100
    assert failures == []
