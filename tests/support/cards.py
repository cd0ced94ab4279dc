"""Validation of rendered cards against the official Adaptive Card 1.5 schema, offline."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

# The official schemas live in ../shared/schemas beside the repository (as in CI); CONCERNS_SCHEMAS_DIR
# points elsewhere.
SCHEMAS = Path(os.environ.get("CONCERNS_SCHEMAS_DIR") or Path(__file__).resolve().parents[3] / "shared" / "schemas")


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    path = SCHEMAS / "adaptive-card-1.5.schema.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the official schemas are expected in ../shared/schemas "
                                "beside the repository, or set CONCERNS_SCHEMAS_DIR")
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(card: dict[str, Any]) -> list[str]:
    """Every way `card` breaks the Adaptive Card 1.5 schema (empty when it is valid)."""
    errors = sorted(_validator().iter_errors(card), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors]


def body_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions of every ActionSet in a card's body (a list's or checklist's per-row buttons), in order."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "ActionSet":
                found.extend(node["actions"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card["body"])
    return found


def typed(node: Any, prefix: str) -> list[dict[str, Any]]:
    """Every element of a card whose type starts with `prefix` ("Action.", "Input."), however deep, in order."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith(prefix):
            found.append(node)
        for value in node.values():
            found.extend(typed(value, prefix))
    elif isinstance(node, list):
        for value in node:
            found.extend(typed(value, prefix))
    return found
