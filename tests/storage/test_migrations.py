"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import create_engine
from storage.models import Base


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            def diff(sync: Any) -> list[Any]:
                return compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)

            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()
