"""The bot framework Storage kept in SQL: the same contract as botbuilder's MemoryStorage."""

from __future__ import annotations

from typing import Any

import pytest
from botbuilder.core import ConversationState, StoreItem, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot.state import FormRecord, FormStore, SqlStorage
from storage.db import create_engine, session_factory
from storage.kv import DocumentStore


class Draft(StoreItem):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


@pytest.fixture
def storage(sessions: Any) -> SqlStorage:
    return SqlStorage(DocumentStore(sessions))


async def test_write_then_read_round_trips_dicts_and_objects(storage: SqlStorage) -> None:
    await storage.write({"a": {"provider": "Oakwood", "count": 2}, "b": Draft(step="categories")})
    found = await storage.read(["a", "b", "missing"])
    assert found["a"]["provider"] == "Oakwood" and found["a"]["count"] == 2
    assert found["b"].step == "categories"
    assert "missing" not in found


async def test_a_stale_e_tag_is_refused_and_a_star_overwrites(storage: SqlStorage) -> None:
    await storage.write({"k": {"v": 1}})
    first = (await storage.read(["k"]))["k"]
    second = (await storage.read(["k"]))["k"]
    first["v"] = 2
    await storage.write({"k": first})
    second["v"] = 3
    with pytest.raises(KeyError):
        await storage.write({"k": second})
    assert (await storage.read(["k"]))["k"]["v"] == 2
    await storage.write({"k": {"v": 4, "e_tag": "*"}})
    assert (await storage.read(["k"]))["k"]["v"] == 4


async def test_delete_removes_only_the_named_keys(storage: SqlStorage) -> None:
    await storage.write({"x": {"v": 1}, "y": {"v": 2}})
    await storage.delete(["x", "never-written"])
    assert set(await storage.read(["x", "y"])) == {"y"}


async def test_conversation_state_survives_a_restart(database_url: str) -> None:
    """State written through botbuilder's ConversationState is there for a new process's engine."""
    activity = Activity(
        type=ActivityTypes.message, channel_id="msteams", text="raise",
        conversation=ConversationAccount(id="19:general@thread.tacv2"), from_property=ChannelAccount(id="u1"),
        recipient=ChannelAccount(id="bot"),
    )
    for step in ("provider", "categories"):
        engine = create_engine(database_url)
        state = ConversationState(SqlStorage(DocumentStore(session_factory(engine))))
        accessor = state.create_property("raise_draft")
        context = TurnContext(TestAdapter(), activity)
        await state.load(context)
        draft = await accessor.get(context, lambda: {"steps": []})
        draft["steps"].append(step)
        await accessor.set(context, draft)
        await state.save_changes(context)
        await engine.dispose()
    engine = create_engine(database_url)
    state = ConversationState(SqlStorage(DocumentStore(session_factory(engine))))
    context = TurnContext(TestAdapter(), activity)
    await state.load(context)
    assert (await state.create_property("raise_draft").get(context))["steps"] == ["provider", "categories"]
    await engine.dispose()


async def test_forms_are_kept_with_the_conversation_they_were_issued_in(storage: SqlStorage) -> None:
    forms = FormStore(storage)
    record = FormRecord(key="abc", kind="raise", conversation_id="19:general", issued_at="2026-11-23T10:30:00+00:00",
                        issued_by="u1", values={"description": "Call bells unanswered"})
    await forms.issue(record)
    record.result = "C-2026-0001"
    await forms.save(record)
    found = await forms.get("abc")
    assert found is not None and found.conversation_id == "19:general" and found.result == "C-2026-0001"
    assert await forms.get("x" * 65) is None and await forms.get("") is None
