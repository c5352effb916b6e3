"""The plan as JSON: written and read back exactly, with its schema documented.

The file is ``Plan.model_dump_json(indent=2)``: times of day are ``"HH:MM"``, travel times
seconds, distances metres, locations WGS84 lon/lat degrees. ``docs/plan-json.md`` describes the
fields; ``docs/plan-schema.json`` is the JSON Schema (written by :func:`write_schema`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kst_match.model import Plan


def write_plan(plan: Plan, path: str | Path) -> Path:
    """Write ``plan`` to ``path`` as indented JSON (UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def read_plan(path: str | Path) -> Plan:
    """Read a plan written by :func:`write_plan` (validated against the model)."""
    return Plan.model_validate_json(Path(path).read_text(encoding="utf-8"))


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of the plan file as written (serialisation mode: times are strings)."""
    schema = Plan.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def write_schema(path: str | Path) -> Path:
    """Write the plan's JSON Schema to ``path`` (``docs/plan-schema.json`` in the project)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan_schema(), indent=2) + "\n", encoding="utf-8")
    return path
