"""The README stays the product's front door: its commands and entity table are current."""

import json
import re

from .conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
STRINGS = json.loads(
    (REPO_ROOT / "custom_components" / "enphase_local" / "strings.json").read_text(
        encoding="utf-8"
    )
)


def test_every_entity_is_in_the_entity_reference() -> None:
    """Each entity name users can see is listed in the README's entity tables."""
    reference = README[
        README.index("## Entities") : README.index("## Energy dashboard")
    ]
    names = {
        re.sub(r"\s*\{\w+\}\s*", " ", entity["name"]).strip()
        for platform in STRINGS["entity"].values()
        for entity in platform.values()
    }

    missing = sorted(name for name in names if name not in reference)

    assert missing == []


def test_every_ct_device_name_is_documented() -> None:
    """CT devices are named by gateway and role; the README names every role."""
    reference = README[
        README.index("## Entities") : README.index("## Energy dashboard")
    ]

    missing = [
        device["name"]
        for device in STRINGS["device"].values()
        if device["name"].replace("{gateway} ", "") not in reference
    ]

    assert missing == []


def test_readme_commands_are_the_ones_ci_runs() -> None:
    """The two commands at the top exist, and CI runs the README's test command."""
    top = README[: README.index("## ")]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert "scripts/develop" in top
    assert "scripts/test" in top
    assert (REPO_ROOT / "scripts" / "develop").is_file()
    assert (REPO_ROOT / "scripts" / "test").is_file()
    assert "exec bash scripts/test" in ci
