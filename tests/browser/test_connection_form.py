"""The `acumatica` connection form as a user sees it: Airflow's UI in headless Chromium.

Provider info is only data until Airflow's UI turns it into a form; these tests look at that form:
every field of the provider with its label, secrets in masked inputs, hidden standard fields gone,
relabelled ones carrying our labels. The screenshot in the README comes from here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version
from packaging.version import Version
from playwright.sync_api import BrowserContext

from airflow_provider_acumatica.connection_fields import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook
from tests.airflow_runs import AirflowHome
from tests.browser.airflow_ui import (
    ConnectionForm,
    RenderedField,
    api_server,
    chromium,
    open_connection_form,
    require_chromium,
    screenshot,
)

AIRFLOW_VERSION = Version(airflow_version)
CONN_FIELDS_READ_SINCE = Version("3.2")
# The oldest release checked to mask declared password extras (3.0.0 does not; the fix is apache/airflow#70473).
MASKED_EXTRAS_SEEN_SINCE = Version("3.3")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "connection-form.png"
# The README shows the form of current Airflow; older runs leave the picture alone.
SCREENSHOT_FROM = Version("3.3")
ACUMATICA = (AcumaticaHook.hook_name, AcumaticaHook.conn_type)
# A type that hides nothing: shows what the hidden standard fields are called when they are there.
GENERIC = ("Generic", "generic")
SCREENSHOT_VALUES = {
    "connection_id": "acumatica_default",
    "element_client_id": "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0@Company",
    "element_tenant": "Company",
}


def _why_no_provider_form() -> str | None:
    """Before 3.2, Airflow reads no conn-fields: the form comes from the hook's wtforms widgets or not at all."""
    if AIRFLOW_VERSION >= CONN_FIELDS_READ_SINCE or importlib.util.find_spec("wtforms"):
        return None
    return (
        f"Airflow {airflow_version} reads no conn-fields (3.2+) and builds the form from the hook's wtforms widgets, "
        "but wtforms is not installed (it comes with apache-airflow-providers-fab): Airflow then drops the widgets "
        "and the ui-field-behaviour too, and its UI offers the acumatica type with Host/Login/Port/Schema and no "
        "extra fields"
    )


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh api-server, stopped after the module, also when a test fails."""
    require_chromium()
    reason = _why_no_provider_form()
    if reason:
        pytest.skip(reason)
    with api_server(AirflowHome(tmp_path_factory.mktemp("ui-home"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser(ui_url: str) -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


@pytest.fixture(scope="module")
def form(browser: BrowserContext, ui_url: str) -> ConnectionForm:
    return open_connection_form(browser.new_page(), ui_url, ACUMATICA)


@pytest.fixture(scope="module")
def generic_form(browser: BrowserContext, ui_url: str) -> ConnectionForm:
    return open_connection_form(browser.new_page(), ui_url, GENERIC)


def only(fields: list[RenderedField], what: str) -> RenderedField:
    assert len(fields) == 1, f"{what}: expected one visible field, found {fields}"
    return fields[0]


def test_every_custom_field_renders_with_its_label(form: ConnectionForm) -> None:
    for declared in EXTRA_FIELDS:
        rendered = only(form.labelled(declared.label), declared.label)
        assert rendered.belongs_to_extra(declared.name), f"{declared.label!r} labels {rendered.controls}"
        assert rendered.entry_types, f"{declared.label!r} has nothing to type into"


@pytest.mark.xfail(
    AIRFLOW_VERSION < MASKED_EXTRAS_SEEN_SINCE,
    reason="Airflow UIs without apache/airflow#70473 render extra fields declared format=password as plain text "
    "inputs (seen on 3.0.0 with wtforms installed; 3.3.2 masks them). The provider declares them as passwords.",
    strict=False,
)
def test_secret_extra_fields_are_password_inputs(form: ConnectionForm) -> None:
    secrets = [field for field in EXTRA_FIELDS if field.secret]
    assert secrets, "the provider declares no secret field"
    for declared in secrets:
        assert only(form.labelled(declared.label), declared.label).entry_types == ["password"], declared.name


def test_standard_password_is_masked_and_plain_fields_are_not(form: ConnectionForm) -> None:
    """Masked secrets mean the UI honours the declaration, not that it masks every input."""
    assert only(form.with_control("password"), "password").entry_types == ["password"]
    for declared in EXTRA_FIELDS:
        if not declared.secret:
            assert "password" not in only(form.labelled(declared.label), declared.label).entry_types, declared.name


def test_defaults_show_as_themselves_not_masked(form: ConnectionForm) -> None:
    """Airflow masks values under secret-sounding names ("token"): a default must not show, or be saved, as ***."""
    for declared in EXTRA_FIELDS:
        rendered = only(form.labelled(declared.label), declared.label)
        assert all(control.value != "***" for control in rendered.controls), declared.name
        if declared.default is not None and not (declared.secret or declared.enum or declared.type == "boolean"):
            typed = [control.value for control in rendered.controls if control.type != "hidden"]
            assert typed == [str(declared.default)], declared.name


def test_hidden_standard_fields_are_not_shown(form: ConnectionForm, generic_form: ConnectionForm) -> None:
    hidden = UI_FIELD_BEHAVIOUR["hidden_fields"]
    assert hidden, "the provider hides no field"
    for name in hidden:
        assert generic_form.with_control(name), f"the UI shows no {name!r} field even where nothing hides it"
        assert not form.with_control(name), name


def test_relabelled_standard_fields_carry_our_labels(form: ConnectionForm) -> None:
    for name, label in UI_FIELD_BEHAVIOUR["relabeling"].items():
        assert only(form.with_control(name), name).label == label


@pytest.mark.skipif(AIRFLOW_VERSION < SCREENSHOT_FROM, reason=f"the README pictures Airflow {SCREENSHOT_FROM}+")
def test_screenshot_of_the_form(form: ConnectionForm) -> None:
    """The README's picture of the provider's fields, with sample values and nothing typed into a secret field."""
    for name, value in SCREENSHOT_VALUES.items():
        form.dialog.locator(f"[name='{name}']").fill(value)
    secret_names = ["password", *(f"element_{field.name}" for field in EXTRA_FIELDS if field.secret)]
    for name in secret_names:
        assert form.dialog.locator(f"[name='{name}']").input_value() == "", name
    screenshot(form, SCREENSHOT)
    box = form.dialog.bounding_box()
    assert box is not None
    width, height = png_size(SCREENSHOT)
    assert abs(width - box["width"]) <= 1 and abs(height - box["height"]) <= 1, "the picture must hold the whole form"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header (the IHDR chunk comes first)."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
