"""The s42 enquiry matrix's rows: chosen from lists, and a concluded enquiry says what it found."""

from __future__ import annotations

import pytest

from concerns.enquiries import (
    AbuseCategory,
    CausedBy,
    EnquiryStatus,
    RiskOutcome,
    Substantiated,
    parse_enquiry_form,
)
from concerns.validation import FormErrors


def errors_of(**values: str) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        parse_enquiry_form(values)
    return caught.value.errors


def test_an_open_enquiry_needs_what_and_who_but_not_yet_its_outcome() -> None:
    form = parse_enquiry_form({"categories": "neglect,organisational,neglect", "caused_by": "provider",
                               "status": "open", "substantiated": "", "risk": ""})
    assert form.categories == (AbuseCategory.NEGLECT, AbuseCategory.ORGANISATIONAL)  # each once, as chosen
    assert (form.caused_by, form.status, form.substantiated, form.risk) == (
        CausedBy.PROVIDER, EnquiryStatus.OPEN, None, None)


def test_a_concluded_enquiry_says_whether_it_was_substantiated_and_what_happened_to_the_risk() -> None:
    errors = errors_of(categories="physical", caused_by="provider_staff", status="concluded")
    assert set(errors) == {"substantiated", "risk"}
    form = parse_enquiry_form({"categories": "physical", "caused_by": "provider_staff", "status": "concluded",
                               "substantiated": "partly", "risk": "reduced"})
    assert (form.substantiated, form.risk) == (Substantiated.PARTLY, RiskOutcome.REDUCED)


@pytest.mark.parametrize(("values", "field"), [
    ({"caused_by": "unknown", "status": "open"}, "categories"),
    ({"categories": "physical,poisoning", "caused_by": "unknown", "status": "open"}, "categories"),
    ({"categories": "physical", "status": "open"}, "caused_by"),
    ({"categories": "physical", "caused_by": "Mrs Smith's son", "status": "open"}, "caused_by"),
    ({"categories": "physical", "caused_by": "unknown"}, "status"),
    ({"categories": "physical", "caused_by": "unknown", "status": "closed"}, "status"),
    ({"categories": "physical", "caused_by": "unknown", "status": "concluded", "substantiated": "maybe",
      "risk": "removed"}, "substantiated"),
])
def test_anything_not_from_the_lists_is_refused_on_its_field(values: dict[str, str], field: str) -> None:
    assert field in errors_of(**values)


def test_every_choice_has_a_label_people_read() -> None:
    for kind in (AbuseCategory, CausedBy, EnquiryStatus, Substantiated, RiskOutcome):
        labels = [item.label for item in kind]
        assert all(label and "_" not in label for label in labels) and len(set(labels)) == len(labels)
