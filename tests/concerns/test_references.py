from concerns.references import Reference, parse_reference


def test_reference_is_padded_to_four_digits() -> None:
    assert str(Reference("C", 2026, 1)) == "C-2026-0001"
    assert str(Reference("C", 2026, 12345)) == "C-2026-12345"


def test_reference_parses_case_insensitively_and_rejects_other_text() -> None:
    assert parse_reference(" c-2026-0042 ") == Reference("C", 2026, 42)
    assert parse_reference("C-26-1") is None
    assert parse_reference("Oakwood") is None
