"""The `acumatica` connection form as a user sees it: Airflow's UI in headless Chromium.

Checks what only a browser shows: that Airflow picks up the provider's form declaration, renders
each custom field with its label, masks the secrets, hides what the provider hides and relabels
the standard fields. Saves the screenshot the README shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version
from packaging.version import Version
from playwright.sync_api import Page, sync_playwright

from airflow_provider_acumatica.connection_fields import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from tests.airflow_runs import AirflowHome
from tests.browser.airflow_ui import CHROMIUM, CHROMIUM_ARGS, api_server, chromium_profile, require_chromium

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "connection-form.png"
VIEWPORT = {"width": 1280, "height": 2000}

pytestmark = pytest.mark.skipif(
    Version(airflow_version) < Version("3.1"),
    reason="Airflow 3.0.0's UI has no Add Connection form (its connections page offers no such button; checked "
    "here), so there is nothing to look at; its Python widgets are checked against the same field list in "
    "tests/test_get_provider_info.py",
)


@pytest.fixture(scope="module")
def form(airflow_home: AirflowHome) -> Iterator[Page]:
    """The Add Connection dialog with the Acumatica type chosen and the extra fields opened."""
    require_chromium()
    with api_server(airflow_home) as url, chromium_profile() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT
        )
        try:
            page = browser.new_page()
            page.goto(f"{url}/connections", wait_until="networkidle")
            page.get_by_role("button", name="Add Connection").click()
            page.get_by_label("Connection ID").fill("acumatica_default")
            page.get_by_role("combobox").last.click(force=True)
            page.keyboard.type("Acumatica")
            page.get_by_role("option", name="Acumatica", exact=True).click()
            page.locator("input[name='host']").fill("https://erp.example.com/MyInstance")
            page.locator("input[name='login']").fill("api-user")
            page.get_by_role("button", name="Extra Fields", exact=True).click()
            page.locator("#element_client_id").wait_for()
            yield page
        finally:
            browser.close()


def labels(page: Page) -> list[str]:
    return [text.replace("*", "").strip() for text in page.locator("label").all_inner_texts()]


def test_every_custom_field_renders_with_its_label(form: Page) -> None:
    shown = labels(form)
    for field in EXTRA_FIELDS:
        assert field.label in shown, field.name
        assert form.locator(f"[name='element_{field.name}'], #element_{field.name}").count() >= 1, field.name


def test_secrets_are_password_inputs(form: Page) -> None:
    secrets = [field.name for field in EXTRA_FIELDS if field.secret]
    assert {"client_secret", "refresh_token"} <= set(secrets)
    for name in secrets:
        assert form.locator(f"#element_{name}").get_attribute("type") == "password", name
    assert form.locator("input[name='password']").get_attribute("type") == "password"


def test_defaults_show_as_themselves_not_masked(form: Page) -> None:
    """Airflow masks values under secret-sounding names ("token"): no plain field may show or save "***"."""
    typed = [field for field in EXTRA_FIELDS if not field.secret and not field.enum and field.type != "boolean"]
    for field in typed:
        value = form.locator(f"[name='element_{field.name}']").input_value()
        assert value != "***", field.name
        if field.default is not None:
            assert value == str(field.default), field.name


def test_standard_fields_are_relabelled_and_hidden_ones_absent(form: Page) -> None:
    shown = labels(form)
    for label in UI_FIELD_BEHAVIOUR["relabeling"].values():
        assert label in shown
    assert "Host" not in shown and "Login" not in shown
    for hidden in UI_FIELD_BEHAVIOUR["hidden_fields"]:
        assert form.locator(f"input[name='{hidden}']").count() == 0, hidden


def test_screenshot_of_the_form(form: Page) -> None:
    """The README's picture of the extra fields; nothing secret is typed into the form."""
    form.locator("#element_client_id").fill("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    form.get_by_role("dialog").screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000
