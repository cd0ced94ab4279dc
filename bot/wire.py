"""The JSON of outgoing activities, written from a plan per model class instead of msrest's generic walk.

Each call to the Bot Connector serialises its body with msrest's `Serializer.body`, which first rebuilds the
whole model tree through a `Deserializer` (to turn dicts into models), validates it, and then looks up every
attribute's type, key transformer and readonly flag again for every object: about a sixth of a raise
submit's CPU for its two connector calls. `PlannedSerializer.body` writes the same JSON, key for key and in
the same order, from a plan made once per class out of the same `_attribute_map`.

It only takes the cases where msrest's rebuild and validation change nothing: the body and every value at
a model-typed attribute are already model instances, no class has validation rules, flattened ("a.b") keys
or XML, and no keyword arguments are passed. Anything else (a dict where a model belongs, an unknown type,
a value msrest would refuse) goes to msrest's own `body`, unchanged, so its results and its errors are
msrest's. tests/bot/test_wire.py compares the two on generated activities and on every card we send.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import cache
from typing import Any

from msrest.serialization import Model, Serializer

Write = Callable[[Any], Any]


class _Unplanned(Exception):
    """This value is not one the plan writes exactly as msrest would: msrest's own path takes it."""


_BASIC: dict[str, type] = {"int": int, "bool": bool, "float": float}  # msrest's eval(type name)(value)


def _as_is(value: Any) -> Any:
    return value


def _text(value: Any) -> Any:
    # msrest's serialize_unicode: an enum's value, anything else as str().
    return value if type(value) is str else Serializer.serialize_unicode(value)


class PlannedSerializer(Serializer):  # type: ignore[misc]
    """msrest's Serializer for the Bot Connector's models, with `body` written from per-class plans."""

    def __init__(self, classes: dict[str, Any] | None = None) -> None:
        super().__init__(classes)
        self._plans: dict[type, tuple[tuple[str, str, Write], ...]] = {}
        self._writers: dict[str, Write] = {}
        self.planned = 0  # bodies written by plan: what the tests and the bench read to see the plan used
        self.fallbacks = 0

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if not kwargs and isinstance(data, Model) and isinstance(self.dependencies.get(data_type), type) \
                and issubclass(self.dependencies[data_type], Model):
            try:
                written = self._model(data)
            except _Unplanned:
                pass
            else:
                self.planned += 1
                return written
        self.fallbacks += 1
        return super().body(data, data_type, **kwargs)

    # -- plans ------------------------------------------------------------------------------------------

    def _model(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Model):
            raise _Unplanned  # msrest's body would first rebuild it as a model
        plan = self._plans.get(type(value))
        if plan is None:
            plan = self._plans[type(value)] = self._plan(type(value))
        written: dict[str, Any] = {}
        for attribute, key, write in plan:
            found = getattr(value, attribute)
            if found is not None:
                written[key] = write(found)
        return written

    def _plan(self, cls: type) -> tuple[tuple[str, str, Write], ...]:
        if getattr(cls, "_validation", None) or cls.is_xml_model() or getattr(cls, "_subtype_map", None):
            raise _Unplanned
        plan = []
        # Attributes a class says hold JSON values only (str, numbers, booleans, None, lists and dicts of them,
        # as json.loads makes): msrest's walk of those writes an equal copy, so the value itself is written.
        as_is = getattr(cls, "_json_attributes", frozenset())
        for attribute, description in cls._attribute_map.items():
            key, kind = description.get("key"), description.get("type")
            if not isinstance(key, str) or not key or "." in key or "\\" in key or not isinstance(kind, str) \
                    or "xml" in description:
                raise _Unplanned
            plan.append((attribute, key, _as_is if attribute in as_is and kind == "object" else self._writer(kind)))
        return tuple(plan)

    def _writer(self, kind: str) -> Write:
        found = self._writers.get(kind)
        if found is None:
            found = self._writers[kind] = self._make_writer(kind)
        return found

    def _make_writer(self, kind: str) -> Write:
        if kind == "str":
            return _text
        if kind in ("int", "bool", "float"):
            return _BASIC[kind]
        if kind == "object":
            return self._object
        if kind == "iso-8601":
            return Serializer.serialize_iso
        if len(kind) > 2 and kind[0] + kind[-1] in ("[]", "{}"):
            inner, modelled = kind[1:-1], self._is_model(kind[1:-1])
            each = self._writer(inner)
            if kind[0] == "[":
                def write_list(value: Any) -> list[Any]:
                    # msrest rebuilds lists of models only from a list or set, and refuses a str as a list.
                    if isinstance(value, str) or (modelled and not isinstance(value, (list, set))):
                        raise _Unplanned
                    return [None if item is None else each(item) for item in value]
                return write_list

            def write_dict(value: Any) -> dict[str, Any]:
                if not isinstance(value, dict):
                    raise _Unplanned
                return {_text(key): None if item is None else each(item) for key, item in value.items()}
            return write_dict
        if self._is_model(kind):
            return self._model
        enum = self.dependencies.get(kind)
        if isinstance(enum, type) and issubclass(enum, Enum):
            return lambda value: Serializer.serialize_enum(value, enum_obj=enum)
        # Anything else ('long', 'date', 'duration', ...): msrest's own function for the type, as its walk would.
        return lambda value: self.serialize_data(value, kind)

    def _is_model(self, kind: str) -> bool:
        found = self.dependencies.get(kind)
        return isinstance(found, type) and issubclass(found, Model)

    def _object(self, value: Any) -> Any:
        """msrest's serialize_object for what activities carry (JSON values, models); the rest is msrest's."""
        kind = type(value)
        if kind is str or value is None:
            return value
        if kind is dict:
            return {key if type(key) is str else _text(key): None if item is None else self._object(item)
                    for key, item in value.items()}
        if kind is list:
            return [self._object(item) for item in value]
        if kind in (int, bool, float):
            return value
        if isinstance(value, Model):
            return self._model(value)
        return self.serialize_object(value)


@cache
def _shared() -> PlannedSerializer:
    from botframework.connector import models

    return PlannedSerializer({k: v for k, v in models.__dict__.items() if isinstance(v, type)})


def serialized(model: Model) -> dict[str, Any]:
    """`model.serialize()` (msrest's walk, keep_readonly False), written from the plan: a conversation's stored
    reference is serialised on every turn. Falls back to msrest's own for anything the plan does not take."""
    try:
        return _shared()._model(model)
    except _Unplanned:
        return model.serialize()  # type: ignore[no-any-return]
