"""What a release ships: quality scale, brand images, hacs.json, changelog, workflow."""

from importlib.util import module_from_spec, spec_from_file_location
import json
from pathlib import Path
import re
from types import ModuleType
from typing import Any

import homeassistant
from homeassistant.components.brands.const import ALLOWED_IMAGES
from homeassistant.const import __version__ as ha_version
from homeassistant.util.yaml import load_yaml_dict
from PIL import Image, ImageChops
import pytest

from .conftest import REPO_ROOT

INTEGRATION = REPO_ROOT / "custom_components" / "enphase_local"
MANIFEST: dict[str, Any] = json.loads(
    (INTEGRATION / "manifest.json").read_text(encoding="utf-8")
)
HACS: dict[str, Any] = json.loads((REPO_ROOT / "hacs.json").read_text(encoding="utf-8"))

# The quality scale rules and their tiers, as Home Assistant's hassfest lists
# them (ALL_RULES in script/hassfest/quality_scale.py of the core repository,
# which the homeassistant package does not ship). The installed package's own
# integrations carry quality_scale.yaml files; the test below checks this list
# against the rules those files use, so a rule added to Home Assistant shows up.
QUALITY_SCALE_RULES = {
    "bronze": (
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ),
    "silver": (
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ),
    "gold": (
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ),
    "platinum": ("async-dependency", "inject-websession", "strict-typing"),
}
ALL_RULES = {rule for rules in QUALITY_SCALE_RULES.values() for rule in rules}
STATUSES = {"done", "todo", "exempt"}

BRAND_SIZES = {
    "icon.png": (256, 256),
    "icon@2x.png": (512, 512),
    "logo.png": (768, 256),
    "logo@2x.png": (1536, 512),
}
BRAND_IMAGES = {
    f"{prefix}{name}": size
    for prefix in ("", "dark_")
    for name, size in BRAND_SIZES.items()
}

HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
}
"""The keys HACS documents for hacs.json (hacs.xyz, Publish -> General)."""

HOME_ASSISTANT_FLOORS = (
    (
        "brand/ images are shipped",
        lambda source: (INTEGRATION / "brand").is_dir(),
        "2026.3.0",
    ),
    (
        "probatio is imported",
        lambda source: (
            re.search(r"^\s*(import|from) probatio\b", source, re.MULTILINE) is not None
        ),
        "2026.9.0",
    ),
    (
        "homeassistant.components.binary_sensor.const is imported",
        lambda source: "homeassistant.components.binary_sensor.const" in source,
        "2026.10.0",
    ),
)
"""What the code uses, and the first Home Assistant release that has it.

Home Assistant 2026.3 is the first to serve brand/ images (and the first to
require Python 3.14, whose syntax the code uses); 2026.9 is the first that
installs probatio; 2026.10 is the first with binary_sensor/const.py.
"""


def version(text: str) -> tuple[int, ...]:
    """Return a release version such as 2026.10.0 as numbers."""
    assert re.fullmatch(r"\d+(\.\d+)*", text), f"not a release version: {text}"
    return tuple(int(part) for part in text.split("."))


def quality_scale() -> dict[str, Any]:
    """Return the integration's quality scale rules."""
    data = load_yaml_dict(INTEGRATION / "quality_scale.yaml")
    assert set(data) == {"rules"}
    rules: dict[str, Any] = data["rules"]
    return rules


def load_make_brand() -> ModuleType:
    """Import scripts/make_brand.py (scripts/ is not a package)."""
    spec = spec_from_file_location(
        "make_brand", REPO_ROOT / "scripts" / "make_brand.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Quality scale ---------------------------------------------------------------


def test_rule_list_matches_installed_home_assistant() -> None:
    """The embedded rule list is the one the installed Home Assistant uses."""
    components = Path(homeassistant.__file__).parent / "components"
    known: set[str] = set()
    for path in sorted(components.glob("*/quality_scale.yaml")):
        known.update(load_yaml_dict(path).get("rules") or {})

    assert known, "the installed Home Assistant ships no quality_scale.yaml files"
    assert sum(len(rules) for rules in QUALITY_SCALE_RULES.values()) == len(ALL_RULES)
    assert sorted(known - ALL_RULES) == [], "rules Home Assistant added"
    assert sorted(ALL_RULES - known) == [], "rules Home Assistant dropped"


def test_quality_scale_lists_every_rule_with_a_status() -> None:
    """Every rule appears once with done, todo or exempt; exemptions say why."""
    rules = quality_scale()

    assert sorted(set(rules) ^ ALL_RULES) == []
    for rule, value in rules.items():
        if isinstance(value, str):
            assert value in {"done", "todo"}, f"{rule}: {value} needs a comment"
            continue
        assert isinstance(value, dict), rule
        assert set(value) == {"status", "comment"}, rule
        assert value["status"] in STATUSES, rule
        assert isinstance(value["comment"], str), rule
        assert len(value["comment"].strip()) > 20, f"{rule}: say why"


def test_quality_scale_is_in_tier_order() -> None:
    """Rules are grouped by tier: bronze, silver, gold, platinum."""
    tier_of = {
        rule: index
        for index, rules in enumerate(QUALITY_SCALE_RULES.values())
        for rule in rules
    }
    tiers = [tier_of[rule] for rule in quality_scale()]

    assert tiers == sorted(tiers)


def test_deliberate_deviations_are_explained() -> None:
    """The user-tunable intervals and the outage grace are documented exemptions."""
    rules = quality_scale()

    assert rules["appropriate-polling"]["status"] == "exempt"
    assert "2-300 s" in rules["appropriate-polling"]["comment"]
    assert rules["entity-unavailable"]["status"] == "exempt"
    assert "three missed" in rules["entity-unavailable"]["comment"]


# --- Brand images ----------------------------------------------------------------


def test_brand_images_have_the_expected_sizes() -> None:
    """Every image Home Assistant serves from brand/ is there, at its size."""
    brand = INTEGRATION / "brand"
    present = {path.name for path in brand.iterdir()}

    assert present == set(BRAND_IMAGES)
    assert present <= ALLOWED_IMAGES
    for name, size in BRAND_IMAGES.items():
        with Image.open(brand / name) as image:
            assert image.format == "PNG", name
            assert image.size == size, name
            assert image.mode == "RGBA", name
            alpha_min, alpha_max = image.getchannel("A").getextrema()
            assert (alpha_min, alpha_max) == (0, 255), f"{name}: transparent background"


def test_brand_images_are_what_the_script_draws() -> None:
    """The committed PNGs are exactly what scripts/make_brand.py draws."""
    drawn: dict[str, Image.Image] = load_make_brand().brand_images()

    assert set(drawn) == set(BRAND_IMAGES)
    for name, image in drawn.items():
        with Image.open(INTEGRATION / "brand" / name) as stored:
            assert stored.size == image.size, name
            difference = ImageChops.difference(stored.convert("RGBA"), image)
            assert difference.getbbox() is None, (
                f"{name} is out of date: run python scripts/make_brand.py"
            )


# --- hacs.json -------------------------------------------------------------------


def pinned_home_assistant() -> str:
    """Return the Home Assistant version requirements_test.txt pins."""
    requirements = (REPO_ROOT / "requirements_test.txt").read_text(encoding="utf-8")
    # A homeassistant==X line, or the comment naming the version the test
    # harness pin brings ("pins homeassistant X").
    match = re.search(
        r"(?<![\w-])homeassistant(?:==|\s+)(\d{4}\.\d+\.\d+)\b", requirements
    )
    assert match is not None, "requirements_test.txt names no Home Assistant version"
    return match.group(1)


def test_hacs_json_has_the_required_keys() -> None:
    """Only keys HACS knows, the manifest's name, and a consistent zip release."""
    assert set(HACS) <= HACS_KEYS
    assert HACS["name"] == MANIFEST["name"]
    assert isinstance(HACS["homeassistant"], str)
    if HACS.get("zip_release"):
        assert HACS["filename"] == f"{MANIFEST['domain']}.zip"
        workflow = (REPO_ROOT / ".github" / "workflows" / "release.yaml").read_text(
            encoding="utf-8"
        )
        assert HACS["filename"] in workflow


def test_hacs_minimum_is_not_newer_than_the_tested_version() -> None:
    """Users are never asked for a newer Home Assistant than the tests run."""
    minimum = version(HACS["homeassistant"])

    assert pinned_home_assistant() == ha_version
    assert minimum <= version(ha_version)


@pytest.mark.parametrize(
    ("reason", "uses", "floor"),
    HOME_ASSISTANT_FLOORS,
    ids=[reason for reason, _uses, _floor in HOME_ASSISTANT_FLOORS],
)
def test_hacs_minimum_covers_what_the_code_uses(
    reason: str, uses: Any, floor: str
) -> None:
    """The minimum is at least the first release with everything the code uses."""
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in sorted(INTEGRATION.rglob("*.py"))
    )
    if uses(source):
        assert version(HACS["homeassistant"]) >= version(floor), reason


# --- Changelog and the release workflow --------------------------------------------

HEADING = re.compile(
    r"^## \[(?P<name>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.MULTILINE
)


def test_changelog_newest_release_is_the_manifest_version() -> None:
    """Unreleased comes first, then released versions, newest first."""
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = [match.groupdict() for match in HEADING.finditer(changelog)]

    assert headings[0] == {"name": "Unreleased", "date": None}
    released = headings[1:]
    assert released
    assert all(heading["date"] for heading in released)
    assert released[0]["name"] == MANIFEST["version"]
    versions = [version(heading["name"]) for heading in released]
    assert versions == sorted(versions, reverse=True)
    for heading in headings:
        assert f"\n[{heading['name']}]: https://" in changelog, heading["name"]


def test_release_workflow_checks_the_tag_and_ships_the_zip() -> None:
    """A v* tag releases; the tag must be the manifest version; the zip is attached."""
    workflow = (REPO_ROOT / ".github" / "workflows" / "release.yaml").read_text(
        encoding="utf-8"
    )

    assert 'tags: ["v*"]' in workflow
    assert "manifest.json" in workflow
    assert '"$GITHUB_REF_NAME" != "v$version"' in workflow
    assert "gh release create" in workflow
    assert f"{MANIFEST['domain']}.zip" in workflow
