"""Error responses in the OpenAPI spec as the service sends them.

FastAPI documents only its own 422 (a list of validation errors). The service also answers
422 with a sentence or a list of problems (a bad upload body, a bad scenario, a role without
its id), and 401, 403, 404, 409, 413, 415 and 429 with ``{"detail": "..."}``. Here every
operation's 422 accepts both forms, and a ``default`` response describes the other errors, so
that a client (and a fuzzer) can check every response against the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

PROBLEM_REF = "#/components/schemas/Problem"
VALIDATION_REF = "#/components/schemas/HTTPValidationError"
PROBLEM = {
    "title": "Problem",
    "description": "Why the request was refused: a sentence, a list of problems, or FastAPI's "
    "validation errors (each naming the field in `loc`).",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"type": "string"},
                            {"$ref": "#/components/schemas/ValidationError"},
                        ]
                    },
                },
            ]
        }
    },
}
DEFAULT = {
    "description": "An error: 401 no valid token, 403 not for this role, 404 not yours or not "
    "there, 409 a conflict with the stored state, 429 too many requests (see Retry-After).",
    "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}},
}


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the error responses the service sends."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_errors(build())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _add_errors(schema: dict[str, Any]) -> None:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ValidationError" not in schemas:
        return  # no operation validates anything: nothing refers to it
    schemas["Problem"] = PROBLEM
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                _widen_422(responses["422"])
            responses.setdefault("default", DEFAULT)


def _widen_422(response: dict[str, Any]) -> None:
    """FastAPI's own 422 becomes a Problem; a documented 422 body also allows a Problem."""
    content = response.setdefault("content", {}).setdefault("application/json", {})
    current = content.get("schema")
    if current is None or current == {"$ref": VALIDATION_REF}:
        content["schema"] = {"$ref": PROBLEM_REF}
    else:
        content["schema"] = {"anyOf": [current, {"$ref": PROBLEM_REF}]}
