"""bot.wire writes exactly what msrest's Serializer.body writes (same dicts, same key order, same JSON bytes),
and hands to msrest whatever it does not plan for, so msrest's results and errors stay msrest's."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    CardAction,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    Entity,
    Mention,
    RoleTypes,
    SuggestedActions,
    TextHighlight,
)
from botbuilder.schema.teams import TeamInfo, TeamsChannelData, TenantInfo
from botframework.connector import models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msrest.exceptions import SerializationError
from msrest.serialization import Serializer

from bot.cards import renderer
from bot.wire import PlannedSerializer, serialized
from tests.bot.test_cards import samples

CLASSES = {k: v for k, v in models.__dict__.items() if isinstance(v, type)}  # what ConnectorClient gives msrest


def both(data: Any, data_type: str) -> tuple[Any, Any, PlannedSerializer]:
    planned = PlannedSerializer(CLASSES)
    # msrest's body may rebuild parts of the model in place: each gets its own copy.
    ours = planned.body(copy.deepcopy(data), data_type)
    theirs = Serializer(CLASSES).body(copy.deepcopy(data), data_type)
    return ours, theirs, planned


def assert_same(data: Any, data_type: str = "Activity", *, planned: bool = True) -> Any:
    ours, theirs, serializer = both(data, data_type)
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # key order too: the bytes on the wire are the same
    assert (serializer.planned, serializer.fallbacks) == ((1, 0) if planned else (0, 1))
    return ours


# -- generated activities ----------------------------------------------------------------------------------------

text = st.text(max_size=12)
json_scalar = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | text
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(text, inner, max_size=4), max_leaves=12)
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))]))
accounts = st.builds(ChannelAccount, id=st.none() | text, name=st.none() | text,
                     aad_object_id=st.none() | text, role=st.none() | st.sampled_from(list(RoleTypes)) | text)
conversations = st.builds(ConversationAccount, id=st.none() | text, name=st.none() | text,
                          is_group=st.none() | st.booleans(), conversation_type=st.none() | text,
                          tenant_id=st.none() | text)
attachments = st.builds(Attachment, content_type=st.none() | text, content=json_value, name=st.none() | text)
mentions = st.builds(Mention, mentioned=accounts, text=st.none() | text, type=st.just("mention"))
entities = mentions | st.builds(Entity, type=text)
channel_data = json_value | st.builds(TeamsChannelData, team=st.none() | st.builds(TeamInfo, id=text, name=text),
                                      tenant=st.none() | st.builds(TenantInfo, id=text))
actions = st.builds(CardAction, type=text, title=st.none() | text, value=json_value)
activities = st.builds(
    Activity,
    type=st.none() | st.sampled_from(list(ActivityTypes)) | text,
    id=st.none() | text,
    timestamp=st.none() | moments,
    local_timestamp=st.none() | moments,
    service_url=st.none() | text,
    channel_id=st.none() | text,
    from_property=st.none() | accounts,
    conversation=st.none() | conversations,
    recipient=st.none() | accounts,
    text=st.none() | text,
    text_format=st.none() | st.sampled_from(["markdown", "plain", "xml"]),
    summary=st.none() | text,
    attachment_layout=st.none() | st.sampled_from(["list", "carousel"]),
    attachments=st.none() | st.lists(attachments, max_size=3),
    entities=st.none() | st.lists(entities, max_size=3),
    channel_data=st.none() | channel_data,
    reply_to_id=st.none() | text,
    value=st.none() | json_value,
    suggested_actions=st.none() | st.builds(SuggestedActions, to=st.lists(text, max_size=2),
                                            actions=st.lists(actions, max_size=2)),
    text_highlights=st.none() | st.lists(st.builds(TextHighlight, text=text, occurrence=st.integers(0, 5)),
                                         max_size=2),
    listen_for=st.none() | st.lists(text, max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activities)
def test_a_generated_activity_is_written_as_msrest_writes_it(activity: Activity) -> None:
    assert_same(activity)


@settings(max_examples=60, deadline=None)
@given(activities, st.lists(accounts, max_size=3), st.booleans())
def test_a_new_conversation_is_written_as_msrest_writes_it(activity: Activity, members: list[ChannelAccount],
                                                           is_group: bool) -> None:
    parameters = ConversationParameters(is_group=is_group, bot=ChannelAccount(id="28:bot"), members=members,
                                        activity=activity, channel_data={"channel": {"id": "19:x"}},
                                        tenant_id="t")
    assert_same(parameters, "ConversationParameters")


@pytest.mark.parametrize("name", renderer.template_names())
def test_every_card_we_send_is_written_as_msrest_writes_it(name: str) -> None:
    values = samples("Mrs Smith's medication was missed <b>twice</b> \U0001f600")[name]
    activity = renderer.card_activity(name, **values)
    activity.conversation = ConversationAccount(id="19:general@thread.tacv2", is_group=True)
    activity.reply_to_id = "1700000000001"
    written = assert_same(activity)
    assert written["attachments"][0]["content"]["type"] == "AdaptiveCard"


def test_a_reply_with_a_mention_and_teams_channel_data() -> None:
    priya = ChannelAccount(id="29:priya", name="Priya Shah", aad_object_id="a1f2", role=RoleTypes.user)
    activity = Activity(
        type=ActivityTypes.message, text="<at>Priya Shah</at> please screen C-0001",
        entities=[Mention(mentioned=priya, text="<at>Priya Shah</at>", type="mention")],
        channel_data=TeamsChannelData(tenant=TenantInfo(id="72f9")),
        timestamp=datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
        from_property=ChannelAccount(id="28:bot", name="Concerns Bot"), recipient=priya,
        conversation=ConversationAccount(id="a:1", conversation_type="personal", tenant_id="72f9"))
    written = assert_same(activity)
    assert written["entities"][0]["mentioned"] == {"id": "29:priya", "name": "Priya Shah", "aadObjectId": "a1f2",
                                                   "role": "user"}
    assert written["channelData"] == {"tenant": {"id": "72f9"}, "onBehalfOf": []}  # TeamsChannelData's default
    assert written["timestamp"] == "2026-11-23T10:30:00.000Z"
    assert written["from"] == {"id": "28:bot", "name": "Concerns Bot"}


# -- what goes to msrest ---------------------------------------------------------------------------------------

def test_a_dict_where_a_model_belongs_is_rebuilt_by_msrest() -> None:
    """msrest turns it into the model first (dropping keys the model does not have): so does the fallback."""
    activity = Activity(type="message", text="hi", from_property={"id": "28:bot", "name": "Bot", "colour": "red"})
    written = assert_same(activity, planned=False)
    assert written["from"] == {"id": "28:bot", "name": "Bot"}


def test_a_dict_as_the_body_goes_to_msrest() -> None:
    written = assert_same({"type": "message", "text": "hi", "channelData": {"a": 1}}, planned=False)
    assert written == {"type": "message", "text": "hi", "channelData": {"a": 1}}


def test_a_conversation_reference_in_a_list_of_activities_is_planned_per_class() -> None:
    reference = ConversationReference(activity_id="1", user=ChannelAccount(id="29:u"), bot=ChannelAccount(id="28:b"),
                                      conversation=ConversationAccount(id="19:c"), channel_id="msteams",
                                      service_url="https://smba.trafficmanager.net/emea/")
    activity = Activity(type="message", value={"reference": reference, "when": datetime(2026, 1, 2, tzinfo=UTC),
                                               "tuple": (1, 2)})
    written = assert_same(activity)
    assert written["value"]["reference"]["serviceUrl"] == "https://smba.trafficmanager.net/emea/"
    assert written["value"]["tuple"] == "(1, 2)"  # msrest's rule for types it does not know: str()


def test_a_value_msrest_refuses_is_refused_by_msrest() -> None:
    activity = Activity(type="message", entities=("not", "a", "list"))
    planned = PlannedSerializer(CLASSES)
    with pytest.raises(SerializationError):
        planned.body(activity, "Activity")
    with pytest.raises(SerializationError):
        Serializer(CLASSES).body(copy.deepcopy(activity), "Activity")
    assert planned.fallbacks == 1


def test_keyword_arguments_go_to_msrest() -> None:
    ours = PlannedSerializer(CLASSES)
    activity = Activity(type="message", text="hi")
    assert ours.body(activity, "Activity", keep_readonly=True) == {"type": "message", "text": "hi"}
    assert (ours.planned, ours.fallbacks) == (0, 1)


@settings(max_examples=150, deadline=None)
@given(activities)
def test_a_conversation_reference_is_written_as_model_serialize_writes_it(activity: Activity) -> None:
    """bot.teams stores each conversation's reference, serialised on every turn."""
    reference = ConversationReference(activity_id=activity.id, user=activity.from_property, bot=activity.recipient,
                                      conversation=activity.conversation, channel_id=activity.channel_id,
                                      locale="en-GB", service_url=activity.service_url)
    ours = serialized(copy.deepcopy(reference))
    assert json.dumps(ours) == json.dumps(reference.serialize())
