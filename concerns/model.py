"""Entities of the domain, as plain immutable values. Storage maps them to rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from concerns.vocabulary import (
    Category,
    CommissioningStatus,
    ConcernStatus,
    ScreeningOutcome,
    ServiceType,
    SourceAgency,
)


@dataclass(frozen=True)
class Actor:
    """Who did something: always taken from the activity, never from card data."""

    id: str  # AAD object id where Teams gives one, else the channel account id
    name: str
    tenant_id: str


SYSTEM = Actor(id="system", name="Concerns bot", tenant_id="")


@dataclass(frozen=True)
class Provider:
    id: int
    tenant_id: str
    name: str
    service_type: ServiceType
    commissioning_status: CommissioningStatus = CommissioningStatus.NORMAL
    cqc_location_id: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class NewConcern:
    """A validated concern, ready to be stored."""

    categories: tuple[Category, ...]
    source_agency: SourceAgency
    description: str
    occurred_on: date
    immediate_risk: bool
    individual_reference: str | None = None


@dataclass(frozen=True)
class Concern:
    id: int
    tenant_id: str
    reference: str
    provider: Provider
    categories: tuple[Category, ...]
    source_agency: SourceAgency
    description: str
    occurred_on: date
    immediate_risk: bool
    individual_reference: str | None
    status: ConcernStatus
    raised_by: Actor
    raised_at: datetime
    raised_in_conversation: str
    submission_key: str
    card_conversation_id: str | None = None
    card_activity_id: str | None = None
    screening_outcome: ScreeningOutcome | None = None


class ConversationKind(StrEnum):
    CHANNEL = "channel"
    PERSONAL = "personal"
    GROUP_CHAT = "groupChat"


@dataclass(frozen=True)
class Conversation:
    """A place the bot is installed in, with the reference needed to post there later."""

    id: str  # for a channel, the channel id without any ";messageid=" thread suffix
    tenant_id: str
    kind: ConversationKind
    reference: dict[str, Any]
    team_id: str | None = None
    team_name: str | None = None
    channel_name: str | None = None
    user_id: str | None = None  # for a personal chat: whose chat it is
    installed: bool = True
    welcomed_at: datetime | None = None

    @property
    def display_name(self) -> str:
        if self.kind is ConversationKind.CHANNEL:
            team = self.team_name or "Team"
            return f"{team} > {self.channel_name or 'General'}"
        return self.kind.value


@dataclass(frozen=True)
class AuditEvent:
    """One change: who, when, what, to which subject, from which conversation."""

    occurred_at: datetime
    tenant_id: str
    actor_id: str
    actor_name: str
    action: str
    subject_type: str
    subject_ref: str
    conversation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
