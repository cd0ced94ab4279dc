"""Tests for the procedure packs and their loader."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from concerns.packs import (
    CASE_ROLE_IDS,
    PackError,
    Period,
    ProcedurePack,
    default_packs_dir,
    load_pack,
    load_packs,
)

CROYDON_FILE = default_packs_dir() / "croydon-provider-concerns.yaml"
WEST_MIDLANDS_FILE = default_packs_dir() / "west-midlands-escalating-concerns.yaml"


@pytest.fixture(scope="module")
def packs() -> dict[str, ProcedurePack]:
    return load_packs(default_packs_dir())


@pytest.fixture(scope="module")
def croydon(packs: dict[str, ProcedurePack]) -> ProcedurePack:
    return packs["croydon-provider-concerns"]


@pytest.fixture(scope="module")
def west_midlands(packs: dict[str, ProcedurePack]) -> ProcedurePack:
    return packs["west-midlands-escalating-concerns"]


@pytest.fixture
def croydon_data() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(CROYDON_FILE.read_text(encoding="utf-8")))


def write_pack(directory: Path, name: str, data: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(PackError) as caught:
        load_pack(path)
    return str(caught.value)


# The shipped packs


def test_default_packs_dir_is_the_repo_procedures_folder() -> None:
    assert default_packs_dir() == Path(__file__).resolve().parents[2] / "procedures"


def test_both_shipped_packs_load(packs: dict[str, ProcedurePack]) -> None:
    assert set(packs) == {"croydon-provider-concerns", "west-midlands-escalating-concerns"}
    for pack in packs.values():
        assert pack.nation == "england"
        assert pack.version >= 1
        assert {role.id for role in pack.roles} >= set(CASE_ROLE_IDS)
        assert len(pack.communication_checklist) == 8
        assert pack.business_failure.prompt
        assert pack.notifications.screening_alert_role == "commissioning_manager"
        assert pack.notifications.escalation_role == "head_of_service"


def test_both_packs_keep_personal_data_as_the_issue_says(packs: dict[str, ProcedurePack]) -> None:
    for pack in packs.values():
        retention = pack.retention
        assert retention.declined_concerns == Period(years=2)
        assert retention.closed_cases == Period(years=7)
        assert retention.other_concerns.years >= retention.declined_concerns.years
        assert retention.form_state.days >= 14  # a form card is honoured for 14 days (bot/state.py)
        assert retention.outbox == Period(days=90)
        assert str(retention.closed_cases) == "7 years" and str(Period(years=1, days=2)) == "1 year, 2 days"


def test_croydon_has_the_six_steps_in_order(croydon: ProcedurePack) -> None:
    assert [step.id for step in croydon.steps] == [
        "decision",
        "initial_meeting",
        "findings_meeting",
        "update_meeting",
        "quality_assurance",
        "closure",
    ]
    assert [step.order for step in croydon.steps] == [1, 2, 3, 4, 5, 6]
    assert croydon.first_step.id == "decision"
    assert croydon.next_step("decision") == croydon.step("initial_meeting")
    assert croydon.next_step("closure") is None


def test_croydon_timescales(croydon: ProcedurePack) -> None:
    assert croydon.step("decision").timescale_working_days == 5
    assert croydon.step("initial_meeting").timescale_working_days == 10
    assert croydon.step("quality_assurance").timescale_working_days == 10
    update = croydon.step("update_meeting")
    assert update.optional and update.repeatable
    assert not croydon.step("decision").optional
    assert croydon.timescales.referrer_feedback_working_days == 5
    assert croydon.timescales.provider_meeting_within_days == 10


def test_croydon_decision_asks_provider_for_continuity_plan_and_register(croydon: ProcedurePack) -> None:
    decision = croydon.step("decision")
    for action_id in ("request_business_continuity_plan", "request_service_user_register"):
        action = decision.action(action_id)
        assert action.required
        assert action.owner_role == "coordinator"
    assert decision.action("consult_police").required
    assert decision.action("review_existing_clients").required


def test_croydon_levels_are_minor_moderate_major(croydon: ProcedurePack) -> None:
    assert croydon.levels.scale == "threshold"
    assert not croydon.levels.entry_above_lowest_requires_justification
    assert [level.id for level in croydon.levels_in_order()] == ["minor", "moderate", "major"]
    assert croydon.level("minor").rank < croydon.level("moderate").rank < croydon.level("major").rank
    assert croydon.lowest_level.id == "minor"
    assert croydon.highest_level.id == "major"


def test_croydon_major_requires_suspension_of_new_placements(croydon: ProcedurePack) -> None:
    major = croydon.level("major")
    action_ids = {action.id for action in major.required_actions}
    assert {"suspend_new_placements", "contact_police", "consider_sar"} <= action_ids
    assert "A death related to a safeguarding concern" in major.criteria


def test_croydon_patterns(croydon: ProcedurePack) -> None:
    by_kind = {rule.kind: rule for rule in croydon.patterns}
    assert (by_kind["count_in_window"].count, by_kind["count_in_window"].window_days) == (3, 90)
    assert by_kind["threshold_at_least"].level == "major"
    assert (by_kind["repeat_source"].count, by_kind["repeat_source"].window_days) == (2, 30)


def test_west_midlands_has_five_numbered_levels(west_midlands: ProcedurePack) -> None:
    assert west_midlands.levels.scale == "numbered"
    assert west_midlands.levels.entry_above_lowest_requires_justification
    assert [(level.id, level.rank) for level in west_midlands.levels_in_order()] == [
        ("1", 1),
        ("2", 2),
        ("3", 3),
        ("4", 4),
        ("5", 5),
    ]
    assert west_midlands.lowest_level.id == "1"
    assert "Financial collapse" in west_midlands.level("4").criteria
    assert west_midlands.first_step.id == "information_sharing"
    assert west_midlands.steps[-1].id == "closure"


def test_lookups_raise_key_error_for_unknown_ids(croydon: ProcedurePack) -> None:
    assert croydon.role("chair").id == "chair"
    for lookup in (croydon.level, croydon.step, croydon.role, croydon.next_step):
        with pytest.raises(KeyError):
            lookup("nope")


def test_packs_are_frozen(croydon: ProcedurePack) -> None:
    with pytest.raises(ValueError):
        croydon.name = "changed"  # type: ignore[misc]


def test_packs_module_stays_free_of_framework_imports() -> None:
    code = (
        "import sys, concerns.packs\n"
        "banned = {'botbuilder', 'aiohttp', 'sqlalchemy', 'jinja2', 'apscheduler'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# Malformed packs


def test_unknown_key_names_file_and_field(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["steps"][1]["colour"] = "red"
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    message = load_error(path)
    assert str(path) in message
    assert "steps.1.colour" in message
    assert "Extra inputs are not permitted" in message


def test_unknown_owner_role_names_file_and_field(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["steps"][2]["actions"][0]["owner_role"] = "boss"
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert f"{path}: steps.2.actions.0.owner_role: unknown role 'boss'" in load_error(path)


def test_unknown_role_in_level_action_and_notifications(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["levels"]["items"][2]["required_actions"][0]["owner_role"] = "boss"
    croydon_data["notifications"]["escalation_role"] = "nobody"
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    message = load_error(path)
    assert "levels.items.2.required_actions.0.owner_role: unknown role 'boss'" in message
    assert "notifications.escalation_role: unknown role 'nobody'" in message


def test_missing_field_names_file_and_field(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    del croydon_data["steps"][0]["purpose"]
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert f"{path}: steps.0.purpose: Field required" in load_error(path)


def test_missing_case_role(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["roles"] = [role for role in croydon_data["roles"] if role["id"] != "observer"]
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert "roles: missing case role 'observer'" in load_error(path)


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\nsteps: [unclosed\n", encoding="utf-8")
    message = load_error(path)
    assert str(path) in message
    assert "YAML syntax error at line" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- one\n- two\n", encoding="utf-8")
    assert "expected a mapping" in load_error(path)


def test_missing_file_names_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert load_error(path) == f"{path}: file not found"


def test_duplicate_pack_id_across_files_names_both(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    first = write_pack(tmp_path, "a.yaml", croydon_data)
    second = write_pack(tmp_path, "b.yaml", croydon_data)
    with pytest.raises(PackError) as caught:
        load_packs(tmp_path)
    message = str(caught.value)
    assert str(first) in message and str(second) in message
    assert "duplicate pack id 'croydon-provider-concerns'" in message
    assert message.startswith(f"{second}: id:")


def test_non_contiguous_ranks(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["levels"]["items"][2]["rank"] = 4
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    message = load_error(path)
    assert f"{path}: levels.items.2.rank: ranks must run 1..3" in message


def test_repeated_rank(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["levels"]["items"][1]["rank"] = 1
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert "levels.items.1.rank: ranks must run 1..3" in load_error(path)


def test_non_contiguous_step_orders(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["steps"][5]["order"] = 7
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert "steps.5.order: orders must run 1..6" in load_error(path)


def test_duplicate_ids_within_a_list(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    actions = croydon_data["steps"][0]["actions"]
    actions[1]["id"] = actions[0]["id"]
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert f"steps.0.actions.1.id: duplicate id '{actions[0]['id']}'" in load_error(path)


def test_pattern_must_reference_a_known_level(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    rule = next(rule for rule in croydon_data["patterns"] if rule["kind"] == "threshold_at_least")
    index = croydon_data["patterns"].index(rule)
    rule["level"] = "catastrophic"
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert f"patterns.{index}.level: unknown level 'catastrophic'" in load_error(path)


def test_count_pattern_needs_a_count(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    del croydon_data["patterns"][0]["count"]
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert "patterns.0.count: required for kind 'count_in_window'" in load_error(path)


def test_numbered_level_ids_match_ranks(tmp_path: Path) -> None:
    data = yaml.safe_load(WEST_MIDLANDS_FILE.read_text(encoding="utf-8"))
    data["levels"]["items"][0]["id"] = "one"
    path = write_pack(tmp_path, "bad.yaml", data)
    message = load_error(path)
    assert "levels.items.0.id: a numbered level's id must be its rank" in message


def test_action_due_after_step_timescale(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["steps"][0]["actions"][0]["due_working_days"] = 6
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert "steps.0.actions.0.due_working_days: due after the step's timescale" in load_error(path)


def test_bad_enum_value(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["nation"] = "mercia"
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert f"{path}: nation: Input should be" in load_error(path)


def test_pack_error_keeps_path_and_problems(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    croydon_data["version"] = 0
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert caught.value.path == path
    assert [field for field, _ in caught.value.problems] == ["version"]


def test_retention_is_required_and_names_the_missing_period(tmp_path: Path, croydon_data: dict[str, Any]) -> None:
    del croydon_data["retention"]["closed_cases"]
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert f"{path}: retention.closed_cases: Field required" in load_error(path)
    del croydon_data["retention"]
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    assert f"{path}: retention: Field required" in load_error(path)


def test_a_retention_period_must_be_some_time_and_say_it_in_known_units(
    tmp_path: Path, croydon_data: dict[str, Any]
) -> None:
    croydon_data["retention"]["declined_concerns"] = {"years": 0}
    croydon_data["retention"]["form_state"] = {"weeks": 2}
    croydon_data["retention"]["outbox"] = {"days": -1}
    croydon_data["retention"]["other_concerns"] = {"years": 700}
    path = write_pack(tmp_path, "bad.yaml", croydon_data)
    message = load_error(path)
    assert "retention.declined_concerns: Value error, a retention period needs years, months or days above 0" in message
    assert "retention.form_state.weeks: Extra inputs are not permitted" in message
    assert "retention.outbox.days: Input should be greater than or equal to 0" in message
    assert "retention.other_concerns: Value error, a retention period of more than 100 years is a mistake" in message
