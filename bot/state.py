"""The bot framework's Storage, kept in the project's database so state survives a restart.

Also the form store: each form card the bot issues is recorded with the conversation it was
issued in, so a submitted card is checked against what the server issued, not what it claims.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jsonpickle
from botbuilder.core import Storage, StoreItem

from storage.kv import DocumentStore, StaleWrite


class SqlStorage(Storage):
    """botbuilder `Storage` over the documents table, with the same e-tag rules as MemoryStorage.

    Values are encoded with jsonpickle, as botbuilder's own blob storage does, because dialog state
    holds framework objects. Only this process writes the table, so decoding is safe.
    """

    def __init__(self, documents: DocumentStore) -> None:
        super().__init__()
        self._documents = documents

    async def read(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        found = await self._documents.read(list(keys))
        result: dict[str, Any] = {}
        for key, document in found.items():
            value = jsonpickle.decode(document.text)
            _set_e_tag(value, str(document.e_tag))
            result[key] = value
        return result

    async def write(self, changes: dict[str, StoreItem | dict[str, Any]]) -> None:
        if changes is None:
            raise ValueError("changes are required when writing")
        batch: dict[str, tuple[str, int | None]] = {}
        for key, value in changes.items():
            e_tag = _get_e_tag(value)
            if e_tag == "":
                raise ValueError("SqlStorage.write(): e_tag missing")
            expected = None if e_tag in (None, "*") else int(e_tag)
            batch[key] = (jsonpickle.encode(value, unpicklable=True, make_refs=False), expected)
        try:
            written = await self._documents.write(batch)
        except StaleWrite as error:
            raise KeyError(f"Etag conflict: {error}") from error
        for key, e_tag in written.items():
            _set_e_tag(changes[key], str(e_tag))

    async def delete(self, keys: list[str]) -> None:
        await self._documents.delete(list(keys))


def _get_e_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("e_tag")
    return getattr(value, "e_tag", None)


def _set_e_tag(value: Any, e_tag: str) -> None:
    if isinstance(value, dict):
        value["e_tag"] = e_tag
    elif hasattr(value, "e_tag") or isinstance(value, StoreItem):
        value.e_tag = e_tag


FORM_LIFETIME = timedelta(days=14)


@dataclass
class FormRecord:
    """A form card as issued: where, to whom, what was last typed into it, and how it ended."""

    key: str
    kind: str
    conversation_id: str
    issued_at: str
    issued_by: str
    values: dict[str, Any] = field(default_factory=dict)
    result: str | None = None  # e.g. the concern reference once submitted
    subject: str | None = None  # what the form is about, e.g. the concern being screened

    def expired(self, now: datetime) -> bool:
        return now - datetime.fromisoformat(self.issued_at) > FORM_LIFETIME


class FormStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @staticmethod
    def _key(form_key: str) -> str:
        return f"forms/{form_key}"

    async def issue(self, record: FormRecord) -> None:
        await self._storage.write({self._key(record.key): {"form": json.dumps(asdict(record))}})

    async def get(self, form_key: str) -> FormRecord | None:
        if not form_key or len(form_key) > 64:
            return None
        found = await self._storage.read([self._key(form_key)])
        item = found.get(self._key(form_key))
        if not item:
            return None
        return FormRecord(**json.loads(item["form"]))

    async def save(self, record: FormRecord) -> None:
        await self.issue(record)
