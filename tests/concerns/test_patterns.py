from datetime import UTC, datetime, timedelta

from concerns.packs import default_packs_dir, load_packs
from concerns.patterns import ConcernFact, find_patterns, longest_window

PACKS = load_packs(default_packs_dir())
CROYDON = PACKS["croydon-provider-concerns"]
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def fact(reference: str, days_ago: float, source: str = "cqc", threshold: str | None = None) -> ConcernFact:
    return ConcernFact(reference, NOW - timedelta(days=days_ago), source, threshold)


def rule_ids(concerns: list[ConcernFact]) -> set[str]:
    return {m.rule.id for m in find_patterns(CROYDON, concerns, NOW)}


def test_three_concerns_in_ninety_days_is_a_pattern_and_two_is_not() -> None:
    two = [fact("C-2026-0001", 80, "police"), fact("C-2026-0002", 10, "icb_nhs")]
    assert "several_concerns_in_90_days" not in rule_ids(two)
    three = [*two, fact("C-2026-0003", 1, "family")]
    assert "several_concerns_in_90_days" in rule_ids(three)


def test_concerns_older_than_the_window_do_not_count() -> None:
    concerns = [fact("C-2026-0001", 91, "police"), fact("C-2026-0002", 10, "icb_nhs"), fact("C-2026-0003", 1)]
    assert "several_concerns_in_90_days" not in rule_ids(concerns)


def test_a_major_threshold_is_a_pattern_on_its_own() -> None:
    matches = find_patterns(CROYDON, [fact("C-2026-0001", 3, threshold="major")], NOW)
    assert [m.rule.id for m in matches] == ["major_threshold"]
    assert rule_ids([fact("C-2026-0001", 3, threshold="moderate")]) == set()


def test_repeat_concerns_from_one_source_within_thirty_days() -> None:
    concerns = [fact("C-2026-0001", 20, "family"), fact("C-2026-0002", 2, "family"), fact("C-2026-0003", 1, "cqc")]
    match = next(m for m in find_patterns(CROYDON, concerns, NOW) if m.rule.id == "repeat_source_in_30_days")
    assert [f.reference for f in match.evidence] == ["C-2026-0001", "C-2026-0002"]


def test_the_evidence_key_changes_only_with_the_evidence() -> None:
    concerns = [fact("C-2026-0001", 5, threshold="major")]
    first = find_patterns(CROYDON, concerns, NOW)[0].evidence_key
    assert find_patterns(CROYDON, list(reversed(concerns)), NOW)[0].evidence_key == first
    more = [*concerns, fact("C-2026-0002", 1, threshold="major")]
    assert find_patterns(CROYDON, more, NOW)[0].evidence_key != first


def test_west_midlands_rules_use_numbered_levels() -> None:
    west_midlands = PACKS["west-midlands-escalating-concerns"]
    matches = find_patterns(west_midlands, [fact("C-2026-0001", 1, threshold="4")], NOW)
    assert any(m.rule.kind == "threshold_at_least" for m in matches)


def test_longest_window_covers_every_rule() -> None:
    assert longest_window(CROYDON) == timedelta(days=90)
