from pathlib import Path

from tests.e2e.playground import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[2]


def test_the_run_script_and_the_e2e_tests_use_the_same_mock_team() -> None:
    assert (ROOT / "tools" / "playground" / "m365agentsplayground.yml").read_text() == DEFAULT_CONFIG
