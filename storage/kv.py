"""A small document store (key -> JSON text with an integer e-tag) for the bot framework's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from storage.db import reading, writing
from storage.models import BotStateRow


@dataclass(frozen=True)
class Document:
    key: str
    text: str
    e_tag: int


class StaleWrite(Exception):
    """The document changed since it was read (optimistic concurrency)."""


# Every turn reads and writes here: the statements are built once (building one costs more than running it).
_STATE = BotStateRow.__table__
_READ: Select[Any] = select(_STATE).where(_STATE.c.key.in_(bindparam("keys", expanding=True)))


@cache
def _upsert(dialect: str, checked: bool) -> Any:
    """Write one document: a new key starts at e-tag 1; an existing one is replaced, if `checked` only when
    its e-tag is still the expected one (else nothing comes back). One atomic statement on both databases."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_STATE).values(key=bindparam("key"), document=bindparam("document"), e_tag=1,
                                      updated_at=bindparam("updated_at"))
    return statement.on_conflict_do_update(
        index_elements=[_STATE.c.key],
        set_={"document": statement.excluded.document, "e_tag": _STATE.c.e_tag + 1,
              "updated_at": statement.excluded.updated_at},
        where=_STATE.c.e_tag == bindparam("expected") if checked else None,
    ).returning(_STATE.c.e_tag)


class DocumentStore:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def read(self, keys: list[str]) -> dict[str, Document]:
        if not keys:
            return {}
        async with reading(self._sessions) as session:
            rows = await session.execute(_READ, {"keys": keys})
            return {r.key: Document(r.key, r.document, r.e_tag) for r in rows}

    async def write(self, changes: dict[str, tuple[str, int | None]]) -> dict[str, int]:
        """Write documents in one transaction; `expected` e-tag None means "whatever is there".

        Returns the new e-tag of each key.
        """
        now = datetime.now(UTC)
        written: dict[str, int] = {}
        async with writing(self._sessions) as session, session.begin():
            dialect = session.bind.dialect.name
            for key, (text, expected) in changes.items():
                e_tag = await session.scalar(_upsert(dialect, expected is not None),
                                             {"key": key, "document": text, "updated_at": now, "expected": expected})
                if e_tag is None:
                    raise StaleWrite(f"{key}: expected e-tag {expected}, but it has changed")
                written[key] = e_tag
        return written

    async def delete(self, keys: list[str]) -> None:
        if not keys:
            return
        async with writing(self._sessions) as session, session.begin():
            await session.execute(delete(BotStateRow).where(BotStateRow.key.in_(keys)))
