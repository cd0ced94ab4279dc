"""Validation of rendered cards against the official Adaptive Card 1.5 schema, offline."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "schemas"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "adaptive-card-1.5.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(card: dict[str, Any]) -> list[str]:
    """Every way `card` breaks the Adaptive Card 1.5 schema (empty when it is valid)."""
    errors = sorted(_validator().iter_errors(card), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors]
