"""Patterns of concerns about one provider that should make the team consider a case.

Seed 001 ("Peter") shows concerns raised for years, each handled alone, while the pattern went
unseen. The pack's rules say what counts as a pattern; this module finds which rules a provider's
recent concerns meet, and names the exact evidence so that a declined prompt is not repeated until
the evidence changes.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from concerns.model import Concern
from concerns.packs import PatternRule, ProcedurePack


@dataclass(frozen=True)
class ConcernFact:
    """What the rules look at in one concern."""

    reference: str
    raised_at: datetime
    source_agency: str
    threshold: str | None  # level id of its latest screening, if screened


def new_concern_fact(concern: Concern) -> ConcernFact:
    """A concern as the rules see it the moment it is raised: nobody has screened it yet."""
    return ConcernFact(concern.reference, concern.raised_at, concern.source_agency.value, None)


@dataclass(frozen=True)
class PatternMatch:
    rule: PatternRule
    evidence: tuple[ConcernFact, ...]  # oldest first

    @property
    def evidence_key(self) -> str:
        """Identifies this rule with exactly this evidence: new evidence makes a new key."""
        text = self.rule.id + "|" + ",".join(sorted(f.reference for f in self.evidence))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def longest_window(pack: ProcedurePack) -> timedelta:
    """How far back the pack's rules look, so callers fetch only that much history."""
    return timedelta(days=max((rule.window_days for rule in pack.patterns), default=0))


def find_patterns(pack: ProcedurePack, concerns: list[ConcernFact], now: datetime) -> list[PatternMatch]:
    """Return the pack's rules that one provider's concerns meet now, each with its evidence."""
    matches: list[PatternMatch] = []
    for rule in pack.patterns:
        recent = sorted(
            (c for c in concerns if c.raised_at >= now - timedelta(days=rule.window_days)),
            key=lambda c: (c.raised_at, c.reference),
        )
        evidence: tuple[ConcernFact, ...] = ()
        if rule.kind == "count_in_window":
            assert rule.count is not None
            if len(recent) >= rule.count:
                evidence = tuple(recent)
        elif rule.kind == "threshold_at_least":
            assert rule.level is not None
            floor = pack.level(rule.level).rank
            evidence = tuple(
                c for c in recent
                if c.threshold is not None and _rank(pack, c.threshold) >= floor
            )
        elif rule.kind == "repeat_source":
            assert rule.count is not None
            by_source: dict[str, list[ConcernFact]] = defaultdict(list)
            for concern in recent:
                by_source[concern.source_agency].append(concern)
            repeated = [c for group in by_source.values() if len(group) >= rule.count for c in group]
            evidence = tuple(sorted(repeated, key=lambda c: (c.raised_at, c.reference)))
        if evidence:
            matches.append(PatternMatch(rule, evidence))
    return matches


def _rank(pack: ProcedurePack, level_id: str) -> int:
    try:
        return pack.level(level_id).rank
    except KeyError:  # screened under a pack version that had other levels
        return 0


@dataclass(frozen=True)
class PatternPrompt:
    """A prompt to consider a case, as stored: open until someone decides."""

    id: int
    provider_id: int
    rule_id: str
    evidence: tuple[str, ...]
    status: str  # open, declined, case_opened
    reason: str | None = None
    decided_by: str | None = None
