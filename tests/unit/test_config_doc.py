"""docs/configuration.md is generated from the option table and must not go stale."""

from ember.tools.gen_config_doc import main


def test_configuration_doc_is_current() -> None:
    assert main(["--check"]) == 0, "run: python -m ember.tools.gen_config_doc"
