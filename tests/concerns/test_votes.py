from datetime import UTC, datetime

import pytest

from concerns.cases import Case, CaseRole, CaseStatus, LeadAgency, Member
from concerns.model import Actor, Provider
from concerns.packs import default_packs_dir, load_packs
from concerns.validation import FormErrors
from concerns.vocabulary import ServiceType
from concerns.votes import (
    Ballot,
    NotAllowed,
    Vote,
    may_confirm,
    may_start_vote,
    may_vote,
    parse_ballot,
    parse_confirmation,
)

PACKS = load_packs(default_packs_dir())
CROYDON = PACKS["croydon-provider-concerns"]
WEST_MIDLANDS = PACKS["west-midlands-escalating-concerns"]
AT = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)

CASE = Case(
    id=1, tenant_id="t", reference="PC-2026-0001",
    provider=Provider(1, "t", "Oakwood Lodge", ServiceType.NURSING), pack_id=CROYDON.id, pack_version=1,
    status=CaseStatus.OPEN, level=None, step="decision", lead_agency=LeadAgency.COUNCIL,
    opened_by=Actor("priya", "Priya Shah", "t"), opened_at=AT,
    members=(Member("helen", "Helen Ward", CaseRole.CHAIR), Member("tom", "Tom Okafor", CaseRole.COORDINATOR),
             Member("priya", "Priya Shah", CaseRole.MEMBER), Member("sam", "Sam Reid", CaseRole.OBSERVER)),
    concerns=(),
)


def vote(*levels: str, at_start: str | None = None) -> Vote:
    ballots = tuple(Ballot(f"u{i}", f"User {i}", level, None, None, AT) for i, level in enumerate(levels))
    return Vote(1, "PC-2026-0001", "open", at_start, "helen", AT, ballots)


def test_who_may_start_vote_and_confirm() -> None:
    may_start_vote(CASE, "helen")
    may_start_vote(CASE, "tom")
    with pytest.raises(NotAllowed):
        may_start_vote(CASE, "priya")
    may_confirm(CASE, "helen")
    for user in ("tom", "priya", "stranger"):
        with pytest.raises(NotAllowed):
            may_confirm(CASE, user)


def test_observers_and_strangers_do_not_vote() -> None:
    may_vote(CASE, "priya")
    with pytest.raises(NotAllowed, match="Observers"):
        may_vote(CASE, "sam")
    with pytest.raises(NotAllowed, match="not a member"):
        may_vote(CASE, "stranger")


def test_majority_and_ties() -> None:
    assert vote("moderate", "moderate", "major").majority() == "moderate"
    assert vote("moderate", "major").majority() is None
    assert vote().majority() is None


def test_a_dissenting_ballot_needs_its_reason() -> None:
    with pytest.raises(FormErrors) as caught:
        parse_ballot({"level": "major", "dissent": "true"}, CROYDON)
    assert "dissent_reason" in caught.value.errors
    ballot = parse_ballot({"level": "major", "dissent": "true", "dissent_reason": "Police now involved"}, CROYDON)
    assert ballot.dissent_reason == "Police now involved"
    assert parse_ballot({"level": "minor", "dissent": "false", "dissent_reason": "x"}, CROYDON).dissent_reason is None


def test_a_ballot_for_a_level_outside_the_pack_is_refused() -> None:
    with pytest.raises(FormErrors):
        parse_ballot({"level": "5"}, CROYDON)


def test_a_ballot_reason_naming_someone_by_title_is_refused() -> None:
    # Reasons and dissent are shown on the vote's card in the channel.
    for key in ("reason", "dissent_reason"):
        with pytest.raises(FormErrors) as caught:
            parse_ballot({"level": "major", "dissent": "true", "dissent_reason": "Police involved",
                          key: "Mr Smith's injuries"}, CROYDON)
        assert set(caught.value.errors) == {key} and "\u201cMr Smith\u201d" in caught.value.errors[key]


def test_confirming_the_majority_needs_no_rationale_but_overriding_it_does() -> None:
    assert parse_confirmation({"level": "moderate"}, CROYDON, vote("moderate", "moderate", "minor")).level == "moderate"
    with pytest.raises(FormErrors) as caught:
        parse_confirmation({"level": "major"}, CROYDON, vote("moderate", "moderate", "minor"))
    assert "rationale" in caught.value.errors
    confirmed = parse_confirmation({"level": "major", "rationale": "A death is now linked."}, CROYDON,
                                   vote("moderate", "moderate"))
    assert confirmed.rationale == "A death is now linked."


def test_a_rationale_or_justification_naming_someone_by_title_is_stopped_unless_they_are_staff() -> None:
    values = {"level": "major", "rationale": "Mr Smith died after a fall.", "justification": "Also Mrs Lee."}
    with pytest.raises(FormErrors) as caught:
        parse_confirmation(values, CROYDON, vote("moderate", "moderate"))
    assert set(caught.value.errors) == {"names_are_staff"}
    assert "\u201cMr Smith\u201d, \u201cMrs Lee\u201d" in caught.value.errors["names_are_staff"]
    vouched = parse_confirmation(values | {"rationale": "Dr Okafor's review found neglect.", "justification": "",
                                           "names_are_staff": "true"}, CROYDON, vote("moderate", "moderate"))
    assert vouched.names_are_staff and vouched.rationale == "Dr Okafor's review found neglect."


def test_jumping_more_than_one_level_needs_a_justification() -> None:
    with pytest.raises(FormErrors) as caught:
        parse_confirmation({"level": "major"}, CROYDON, vote("major", at_start="minor"))
    assert "justification" in caught.value.errors
    assert parse_confirmation({"level": "moderate"}, CROYDON, vote("moderate", at_start="minor")).level == "moderate"


def test_west_midlands_entry_above_level_one_needs_a_justification() -> None:
    with pytest.raises(FormErrors) as caught:
        parse_confirmation({"level": "3"}, WEST_MIDLANDS, vote("3", "3"))
    assert "justification" in caught.value.errors
    assert parse_confirmation({"level": "1"}, WEST_MIDLANDS, vote("1")).level == "1"
    # Croydon's thresholds have no such rule: a case may open at Major.
    assert parse_confirmation({"level": "major"}, CROYDON, vote("major")).level == "major"
