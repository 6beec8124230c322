"""Every translation is complete: the same keys, placeholders and references as strings.json.

strings.json is the source of truth and translations/en.json mirrors it (it has
no ``[%key:...%]`` references to resolve, so the two are the same tree). Each
other language must carry every key, no key strings.json lacks, no empty text,
the English ``{placeholder}`` names exactly, and actually be translated rather
than English copied over.
"""

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

import pytest

from .conftest import REPO_ROOT

INTEGRATION = REPO_ROOT / "custom_components" / "enphase_local"
TRANSLATIONS = INTEGRATION / "translations"
EXPECTED_LANGUAGES = {"de", "en", "es", "fr", "nl"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
REFERENCE = re.compile(r"\[%key:[^%]+%\]")
LONG_TEXT = 20
"""Strings longer than this are long enough that a translation must differ."""
MIN_TRANSLATED_SHARE = 0.8

OTHER_LANGUAGES = sorted(
    path for path in TRANSLATIONS.glob("*.json") if path.name != "en.json"
)


def _load(path: Path) -> dict[str, Any]:
    """Return one JSON translation file."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _leaves(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(dotted.key.path, text)`` for every string in a translation tree."""
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            yield from _leaves(value, path)
        else:
            assert isinstance(value, str), f"{path} is {type(value).__name__}"
            yield path, value


STRINGS = dict(_leaves(_load(INTEGRATION / "strings.json")))
ENGLISH = dict(_leaves(_load(TRANSLATIONS / "en.json")))


def _placeholders(text: str) -> set[str]:
    """Return the ``{placeholder}`` names in ``text``."""
    return set(PLACEHOLDER.findall(text))


def test_expected_languages_are_present() -> None:
    """German, English, Spanish, French and Dutch all ship with the integration."""
    present = {path.stem for path in TRANSLATIONS.glob("*.json")}

    assert present >= EXPECTED_LANGUAGES, sorted(EXPECTED_LANGUAGES - present)


def test_english_mirrors_strings() -> None:
    """translations/en.json is strings.json (which has no references to resolve)."""
    assert not any(REFERENCE.search(text) for text in STRINGS.values())
    assert _load(TRANSLATIONS / "en.json") == _load(INTEGRATION / "strings.json")


@pytest.mark.parametrize("path", OTHER_LANGUAGES, ids=lambda path: path.stem)
def test_translation_has_every_key_and_no_other(path: Path) -> None:
    """The language has exactly strings.json's key paths."""
    keys = set(dict(_leaves(_load(path))))

    missing = sorted(set(STRINGS) - keys)
    extra = sorted(keys - set(STRINGS))

    assert {"missing": missing, "extra": extra} == {"missing": [], "extra": []}


@pytest.mark.parametrize("path", OTHER_LANGUAGES, ids=lambda path: path.stem)
def test_translation_keeps_the_english_placeholders(path: Path) -> None:
    """Each string has the English ``{placeholder}`` names, no fewer and no more."""
    wrong = {
        key: (sorted(_placeholders(text)), sorted(_placeholders(ENGLISH[key])))
        for key, text in _leaves(_load(path))
        if key in ENGLISH and _placeholders(text) != _placeholders(ENGLISH[key])
    }

    assert wrong == {}, "key: (translated, English)"


@pytest.mark.parametrize("path", OTHER_LANGUAGES, ids=lambda path: path.stem)
def test_translation_keeps_the_english_references(path: Path) -> None:
    """``[%key:...%]`` references stay exactly where en.json has them."""
    wrong = sorted(
        key
        for key, text in _leaves(_load(path))
        if key in ENGLISH
        and sorted(REFERENCE.findall(text)) != sorted(REFERENCE.findall(ENGLISH[key]))
    )

    assert wrong == []


@pytest.mark.parametrize("path", OTHER_LANGUAGES, ids=lambda path: path.stem)
def test_translation_has_no_empty_text(path: Path) -> None:
    """No string is empty or only whitespace."""
    empty = sorted(key for key, text in _leaves(_load(path)) if not text.strip())

    assert empty == []


@pytest.mark.parametrize(
    "path",
    [path for path in OTHER_LANGUAGES if not path.stem.startswith("en")],
    ids=lambda path: path.stem,
)
def test_translation_is_not_english_copied(path: Path) -> None:
    """Most longer strings differ from English: the file was translated, not copied."""
    translated = dict(_leaves(_load(path)))
    long_keys = [
        key
        for key, text in ENGLISH.items()
        if len(text) > LONG_TEXT and key in translated
    ]
    copied = sorted(key for key in long_keys if translated[key] == ENGLISH[key])

    assert long_keys
    assert len(copied) < (1 - MIN_TRANSLATED_SHARE) * len(long_keys), copied


def test_translation_files_are_formatted() -> None:
    """Every file is 2-space indented UTF-8 JSON ending in a newline, as en.json is."""
    unformatted = [
        path.name
        for path in sorted(TRANSLATIONS.glob("*.json"))
        if path.read_text(encoding="utf-8")
        != json.dumps(_load(path), indent=2, ensure_ascii=False) + "\n"
    ]

    assert unformatted == []
