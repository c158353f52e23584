"""docs/configuration.md is generated from the option table and must not go stale."""

from pathlib import Path

from ember.tools.gen_config_doc import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_doc_is_current() -> None:
    assert main(["--check", "--doc", str(DOC)]) == 0, "run: python -m ember.tools.gen_config_doc"
