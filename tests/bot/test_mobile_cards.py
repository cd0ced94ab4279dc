"""Cards that Teams on a phone can use: the critical flows must work between visits, from iOS and Android.

Teams mobile does not run Action.Execute (AdaptiveCards issue 9315) and needs the card's `version` set, at
1.5 or lower (DESIGN.md, "Teams platform facts"). The raise form must be short enough to fill on a phone:
what is required is on show, what is optional waits behind a toggle.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.cards import renderer
from concerns.vocabulary import Category, ServiceType, SourceAgency
from tests.bot.test_cards import HOSTILE, samples

# Actions Teams iOS and Android run. Action.Execute is not among them (nor its `refresh` views).
MOBILE_ACTIONS = {"Action.Submit", "Action.ToggleVisibility", "Action.OpenUrl", "Action.ShowCard"}

# The templates each critical flow sends (bot/commands.py, screening.py, votes.py, actions.py, reminders.py,
# extension.py, patterns.py, scheduler digests).
CRITICAL_FLOWS = {
    "raise": ("raise_concern", "concern_raised", "concern", "notice", "business_failure", "pattern_prompt"),
    "screen": ("screen_concern", "screened", "concern_list"),
    "vote": ("vote", "confirm_level", "case"),
    "confirm an action": ("checklist", "action_list", "add_action", "step_move"),
    "reminder buttons": ("reminder", "digest"),
}


def walk(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every object in a card with the path to it."""
    found: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(walk(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(walk(value, (*path, str(index))))
    return found


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_every_critical_flow_template_exists() -> None:
    names = set(renderer.template_names())
    assert {name for flow in CRITICAL_FLOWS.values() for name in flow} <= names


@pytest.mark.parametrize("text", [HOSTILE[0], HOSTILE[-1], "Oakwood Lodge"], ids=["json", "empty", "plain"])
@pytest.mark.parametrize("name", renderer.template_names())
def test_every_card_uses_only_what_teams_mobile_runs(name: str, text: str) -> None:
    values = samples(text).get(name)
    assert values is not None, f"tests/bot/test_cards.py has no sample values for {name}"
    card = renderer.render(name, **values)
    assert card["version"] == "1.5"
    kinds = {node["type"] for _, node in walk(card) if str(node.get("type", "")).startswith("Action.")}
    assert kinds <= MOBILE_ACTIONS, f"{name} uses {sorted(kinds - MOBILE_ACTIONS)}"
    for path, node in walk(card):
        assert "refresh" not in node, f"{name}: a refresh (Action.Execute user views) at {'/'.join(path)}"
        if node.get("type") == "AdaptiveCard" and path:  # a ShowCard's card
            assert version(node.get("version", "1.0")) <= (1, 5)
        if node.get("type") == "Action.Submit" and isinstance(node.get("data"), dict):
            assert node["data"].get("msteams", {}).get("type") != "invoke", f"{name}: a bot invoke button"


@pytest.mark.parametrize("name", renderer.template_names())
def test_no_template_can_render_an_action_mobile_lacks(name: str) -> None:
    """Also the branches the samples do not take: the template's own text."""
    source = (renderer.TEMPLATES / f"{name}.json.j2").read_text()
    used = set(re.findall(r'"(Action\.[A-Za-z]+)"', source))
    assert used <= MOBILE_ACTIONS and '"refresh"' not in source
    assert re.search(r'"version":\s*"1\.[0-5]"', source)


# -- the raise form on a phone -------------------------------------------------------------------------------------


def raise_form(*, providers: bool, channels: bool, values: dict[str, str] | None = None,
               errors: dict[str, str] | None = None) -> dict[str, Any]:
    return renderer.render(
        "raise_concern", form_key="k", today="2026-11-23", max_description=4000,
        providers=[{"id": 1, "name": "Oakwood Lodge"}, {"id": 2, "name": "Elm House"}] if providers else [],
        service_types=[{"value": m.value, "title": m.label} for m in ServiceType],
        categories=[{"value": m.value, "title": m.label} for m in Category],
        sources=[{"value": m.value, "title": m.label} for m in SourceAgency],
        channels=[{"value": "19:general@thread.tacv2", "title": "Safeguarding Adults > General"}] if channels else None,
        values=values or {}, errors=errors or {},
    )


def shown_inputs(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The inputs a person sees before opening anything, in order (those in hidden containers are not)."""
    hidden = {path for path, node in walk(card["body"]) if node.get("isVisible") is False}
    return [node for path, node in walk(card["body"])
            if node.get("type", "").startswith("Input.") and not any(path[:len(h)] == h for h in hidden)]


def collapsed(card: dict[str, Any]) -> dict[str, list[str]]:
    """Each hidden container's id and the ids of the inputs inside it."""
    return {node["id"]: [n["id"] for _, n in walk(node["items"]) if n.get("type", "").startswith("Input.")]
            for _, node in walk(card["body"]) if node.get("isVisible") is False}


@pytest.mark.parametrize("providers", [True, False], ids=["known providers", "no providers yet"])
@pytest.mark.parametrize("channels", [True, False], ids=["personal chat", "channel"])
def test_the_raise_form_shows_what_is_required_and_folds_away_the_rest(providers: bool, channels: bool) -> None:
    card = raise_form(providers=providers, channels=channels)
    shown = shown_inputs(card)
    required = [i["id"] for i in shown if i.get("isRequired")]
    expected = (["post_to"] if channels else []) + (["provider_name"] if not providers else []) + [
        "categories", "source_agency", "description", "occurred_on"]
    assert required == expected
    # Everything required is on show; nothing in a folded section is required.
    hidden = collapsed(card)
    assert all(not i.get("isRequired") for _, i in walk(card["body"])
               if i.get("id") in {x for ids in hidden.values() for x in ids})
    # Besides the required ones, only the provider picker (one of it or a new name is needed), a new
    # provider's service type when there is no list to pick from, and the immediate-risk switch (always
    # answered, and it matters most) are on show.
    optional_shown = [i["id"] for i in shown if not i.get("isRequired")]
    assert optional_shown == (["provider_id"] if providers else ["service_type"]) + ["immediate_risk"]
    assert len(shown) <= 8  # one phone screen and a little
    assert hidden == ({"new_provider": ["provider_name", "service_type"]} if providers else {}) | {
        "optional_details": ["individual_reference"]}
    # Each folded section opens with the toggle placed just before it, and the optional one comes last.
    body = card["body"]
    for index, element in enumerate(body):
        if element.get("id") in hidden:
            [toggle] = body[index - 1]["actions"]
            assert toggle["type"] == "Action.ToggleVisibility" and toggle["targetElements"] == [element["id"]]
    assert body[-1]["id"] == "optional_details" and body[-2]["actions"][0]["title"] == "More details (optional)"
    # The required inputs come before the optional section.
    order = [n.get("id") for _, n in walk(body) if n.get("id")]
    assert max(order.index(r) for r in required) < order.index("optional_details")
    assert [a["type"] for a in card["actions"]] == ["Action.Submit"]


@pytest.mark.parametrize(("values", "errors", "opened"), [
    ({"provider_name": "Birch Court"}, {"service_type": "Say what kind of service this new provider runs."},
     "new_provider"),
    ({}, {"provider_name": "Pick a provider from the list or type a new name, not both."}, "new_provider"),
    ({"individual_reference": "Jean Smith"}, {"individual_reference": "never a name"}, "optional_details"),
    ({"individual_reference": "LAS-104233"}, {}, "optional_details"),
])
def test_a_folded_section_opens_when_it_holds_a_value_or_an_error(values: dict[str, str], errors: dict[str, str],
                                                                   opened: str) -> None:
    card = raise_form(providers=True, channels=False, values=values, errors=errors)
    assert opened not in collapsed(card)
    shown_text = str(card)
    for message in errors.values():
        assert message in shown_text
