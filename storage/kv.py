"""A small document store (key -> JSON text with an integer e-tag) for the bot framework's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
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


class DocumentStore:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def read(self, keys: list[str]) -> dict[str, Document]:
        if not keys:
            return {}
        async with reading(self._sessions) as session:
            rows = await session.scalars(select(BotStateRow).where(BotStateRow.key.in_(keys)))
            return {r.key: Document(r.key, r.document, r.e_tag) for r in rows}

    async def write(self, changes: dict[str, tuple[str, int | None]]) -> dict[str, int]:
        """Write documents in one transaction; `expected` e-tag None means "whatever is there".

        Returns the new e-tag of each key.
        """
        now = datetime.now(UTC)
        written: dict[str, int] = {}
        async with writing(self._sessions) as session, session.begin():
            for key, (text, expected) in changes.items():
                row = await session.get(BotStateRow, key, with_for_update=True)
                if row is None:
                    session.add(BotStateRow(key=key, document=text, e_tag=1, updated_at=now))
                    written[key] = 1
                    continue
                if expected is not None and expected != row.e_tag:
                    raise StaleWrite(f"{key}: expected e-tag {expected}, found {row.e_tag}")
                await session.execute(
                    update(BotStateRow)
                    .where(BotStateRow.key == key)
                    .values(document=text, e_tag=row.e_tag + 1, updated_at=now)
                )
                written[key] = row.e_tag + 1
        return written

    async def delete(self, keys: list[str]) -> None:
        if not keys:
            return
        async with writing(self._sessions) as session, session.begin():
            await session.execute(delete(BotStateRow).where(BotStateRow.key.in_(keys)))
