"""Shared fixtures for the Enphase Local tests."""

from pathlib import Path

import pytest

# The test plugin mounts its own testing_config (which holds a regular
# `custom_components` package) while Home Assistant loads integrations.
# Importing this repository's namespace package first (pytest puts the
# repository root on sys.path, see pyproject.toml) pins the loader to it.
import custom_components

REPO_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytest_homeassistant_custom_component"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom integrations in every test."""


@pytest.fixture
def custom_components_path() -> set[Path]:
    """Return where the imported custom_components package lives."""
    return {Path(path).resolve() for path in custom_components.__path__}
