"""Use this suite's own rules file instead of the rules of practice."""

from pathlib import Path

import pytest

from gridgov.rules import Rules, load_rules


@pytest.fixture
def gridgov_rules() -> Rules:
    """The rules under test: rules.toml beside this file."""
    return load_rules(Path(__file__).with_name("rules.toml"))
