from datetime import date

import pytest

from concerns.validation import MAX_DESCRIPTION, FormErrors, normalise_name, parse_raise_form, titled_names
from concerns.vocabulary import Category, ServiceType, SourceAgency

TODAY = date(2026, 11, 23)


def valid(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "provider_name": "Oakwood Lodge Nursing Home",
        "service_type": "nursing",
        "categories": "medication,staffing",
        "source_agency": "cqc",
        "description": "Inspection found MAR charts unsigned on two units; agency staff not trained.",
        "occurred_on": "2026-11-20",
        "immediate_risk": "false",
    }
    values.update(overrides)
    return values


def errors_of(values: dict[str, object]) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        parse_raise_form(values, TODAY)
    return caught.value.errors


def test_a_complete_form_for_a_new_provider_is_accepted() -> None:
    form = parse_raise_form(valid(individual_reference="LAS-104233", immediate_risk="true"), TODAY)
    assert form.provider.new_name == "Oakwood Lodge Nursing Home"
    assert form.provider.service_type is ServiceType.NURSING
    assert form.concern.categories == (Category.MEDICATION, Category.STAFFING)
    assert form.concern.source_agency is SourceAgency.CQC
    assert form.concern.occurred_on == date(2026, 11, 20)
    assert form.concern.immediate_risk is True
    assert form.concern.individual_reference == "LAS-104233"


def test_an_existing_provider_needs_no_service_type() -> None:
    form = parse_raise_form(valid(provider_name="", provider_id="17", service_type=""), TODAY)
    assert form.provider.provider_id == 17
    assert form.provider.new_name is None


def test_every_missing_required_field_is_reported_at_once() -> None:
    errors = errors_of({})
    assert set(errors) == {"provider_id", "categories", "source_agency", "description", "occurred_on"}


def test_a_new_provider_needs_its_service_type() -> None:
    assert "service_type" in errors_of(valid(service_type=""))


def test_choosing_a_provider_and_typing_a_name_is_ambiguous() -> None:
    assert "provider_name" in errors_of(valid(provider_id="3"))


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1e9", "9" * 20, "1; DROP TABLE concerns"])
def test_a_provider_id_that_is_not_a_number_is_refused(bad_id: str) -> None:
    assert "provider_id" in errors_of(valid(provider_name="", provider_id=bad_id))


def test_unknown_category_and_source_are_refused() -> None:
    errors = errors_of(valid(categories="medication,witchcraft", source_agency="the_press"))
    assert set(errors) == {"categories", "source_agency"}


def test_over_long_description_is_refused_with_its_length() -> None:
    errors = errors_of(valid(description="x" * (MAX_DESCRIPTION + 1)))
    assert str(MAX_DESCRIPTION + 1) in errors["description"]


def test_a_date_in_the_future_is_refused() -> None:
    assert "future" in errors_of(valid(occurred_on="2026-11-24"))["occurred_on"]


@pytest.mark.parametrize("bad_date", ["23/11/2026", "yesterday", "2026-02-30"])
def test_a_malformed_date_is_refused(bad_date: str) -> None:
    assert "occurred_on" in errors_of(valid(occurred_on=bad_date))


@pytest.mark.parametrize("name", ["Mrs Jean Smith", "Jean", "J. Smith 1942"])
def test_an_individual_reference_that_looks_like_a_name_is_refused(name: str) -> None:
    assert "never a name" in errors_of(valid(individual_reference=name))["individual_reference"]


@pytest.mark.parametrize("hostile", [["medication"], {"a": 1}, None])
def test_non_text_values_are_treated_as_invalid_not_crashing(hostile: object) -> None:
    errors = errors_of(valid(description=hostile))
    assert "description" in errors


def test_provider_names_match_ignoring_case_and_spacing() -> None:
    assert normalise_name("  Oakwood   LODGE ") == normalise_name("oakwood lodge")


@pytest.mark.parametrize(("text", "names"), [
    ("Mrs Jean Smith was left without her tablets", ("Mrs Jean Smith",)),
    ("Seen by Mr J. Patel.", ("Mr J. Patel",)),
    ("Dr Okafor visited; Mrs O'Brien and Ms Smith-Jones were told. Dr Okafor again", (
        "Dr Okafor", "Mrs O'Brien", "Ms Smith-Jones")),
    ("MR SMITH in room 4", ("MR SMITH",)),
    ("mrs Smith", ("mrs Smith",)),
    ("Miss \u00c9lodie Durand", ("Miss \u00c9lodie Durand",)),
    ("Mr   Patel\tsaid", ("Mr Patel",)),
    ("Mrs Smith's daughter and Mr O'Brien\u2019s son", ("Mrs Smith", "Mr O'Brien")),
    ("Ask Dr Okafor for the review", ("Dr Okafor",)),
])
def test_a_title_and_a_capitalised_word_is_a_name(text: str, names: tuple[str, ...]) -> None:
    assert titled_names(text) == names


@pytest.mark.parametrize("text", [
    "A lady in Room 4 was not repositioned; the Dr on call was told.",
    "Mrs (name withheld) fell", "Mrs 12", "staff will miss Breakfast rounds", "Mrs smith", "",
    "Visit moved to the Lord Street office", "Meet at 12 Oak Dr Croydon", "Lady Margaret Road surgery",
])
def test_a_title_without_a_capitalised_word_after_it_names_nobody(text: str) -> None:
    assert titled_names(text) == ()


def test_a_description_naming_someone_by_title_is_stopped_with_the_names() -> None:
    errors = errors_of(valid(description="Mrs Jean Smith was left without food; Mr Patel knew."))
    message = errors["names_are_staff"]
    assert "\u201cMrs Jean Smith\u201d, \u201cMr Patel\u201d" in message and "never named" in message
    many = errors_of(valid(description="Mr A told Mrs B, Ms C and Dr D."))["names_are_staff"]
    assert "\u201cMs C\u201d and others" in many and "Dr D" not in many
    assert set(errors) == {"names_are_staff"}


def test_the_raiser_can_say_the_titled_names_are_staff() -> None:
    form = parse_raise_form(valid(description="Dr Okafor found the MAR charts unsigned.", names_are_staff="true"),
                            TODAY)
    assert form.concern.description == "Dr Okafor found the MAR charts unsigned." and form.names_are_staff
    # Ticked with nobody named, nothing is vouched for.
    assert parse_raise_form(valid(names_are_staff="true"), TODAY).names_are_staff is False
    assert "names_are_staff" in errors_of(valid(description="Dr Okafor found it.", names_are_staff="false"))
