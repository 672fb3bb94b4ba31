"""The changelog and the README's install section agree with what `pyproject.toml` ships."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()
README = (ROOT / "README.md").read_text()
RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)
DEVELOPER_EXTRAS = {"dev", "bench"}


def _releases() -> list[tuple[str, str | None]]:
    return [(m["version"], m["date"]) for m in RELEASE_HEADING.finditer(CHANGELOG)]


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    following = text.find("\n## ", start + len(heading) + 2)
    return text[start : following if following >= 0 else len(text)]


def test_changelog_starts_with_unreleased_then_the_current_version() -> None:
    releases = _releases()
    assert releases[0] == ("Unreleased", None)
    assert releases[1][0] == PROJECT["version"]
    assert all(date is not None for _, date in releases[1:])


def test_changelog_releases_are_newest_first_and_linked() -> None:
    released = _releases()[1:]
    dates = [date for _, date in released]
    assert dates == sorted(dates, reverse=True)
    for version, _ in _releases():
        assert re.search(rf"^\[{re.escape(version)}\]: https://", CHANGELOG, re.MULTILINE), version


def test_every_changelog_section_uses_keep_a_changelog_kinds() -> None:
    kinds = set(re.findall(r"^### (.+)$", CHANGELOG, re.MULTILINE))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_install_section_shows_every_user_extra_as_users_install_it() -> None:
    install = _section(README, "## Install")
    shown = set(re.findall(r'pip install "airflow-provider-acumatica\[([a-z0-9,-]+)\]"', install))
    shown_extras = {extra for group in shown for extra in group.split(",")}
    assert shown_extras == set(PROJECT["optional-dependencies"]) - DEVELOPER_EXTRAS
    assert "pip install airflow-provider-acumatica " in install


def test_compatibility_table_names_the_tested_airflow_versions_and_pythons() -> None:
    import dev

    compatibility = _section(README, "## Compatibility")
    for version in (dev.NEWEST_AIRFLOW, dev.OLDEST_AIRFLOW):
        assert version in compatibility
    for classifier in PROJECT["classifiers"]:
        if classifier.startswith("Programming Language :: Python :: 3."):
            assert classifier.rsplit(" ", 1)[-1] in compatibility


def test_compatibility_table_lists_every_endpoint_the_sandbox_serves() -> None:
    from airflow_provider_acumatica.sandbox import catalog

    compatibility = _section(README, "## Compatibility")
    for version, endpoint in catalog.VERSIONS.items():
        assert re.search(rf"^\| `{re.escape(version)}` \| {endpoint.contract} \|", compatibility, re.MULTILINE), version
