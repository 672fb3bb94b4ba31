"""Airflow's UI (`airflow api-server`) in a process of its own, Debian's Chromium, and the connection form.

The form is read as the browser renders it: one entry per field of the dialog, with its label as
shown, whether it is visible, and the controls (inputs, selects) inside it, so tests compare what a
user sees with what the provider declares.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
import requests
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright

from tests.airflow_runs import AirflowHome

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking switches Chromium calls Google's services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT_WIDTH = 1280
STARTUP_SECONDS = 90
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
# In this order, so that the provider's own fields are what stays open (and in the screenshot).
FORM_SECTIONS = ("Standard Fields", "Extra Fields")

# Every field of the dialog is a Chakra field root (the same in the 3.0 and 3.3 UIs); the `*` of a
# required field is not part of its label.
_READ_FIELDS = """container => {
  const roots = container.querySelectorAll('[data-scope="field"][data-part="root"]');
  return Array.from(roots, root => {
    const label = root.querySelector('label[data-part="label"]');
    const controls = root.querySelectorAll('input, textarea, select, button[role="combobox"]');
    return {
      label: label ? label.textContent.replace(/\\*\\s*$/, '').trim() : '',
      visible: label ? label.checkVisibility() : false,
      controls: Array.from(controls, control => ({
        name: control.name || control.id,
        type: control.type,
        value: control.tagName === 'BUTTON' ? control.textContent : control.value,
      })),
    };
  });
}"""


def require_chromium() -> None:
    """Skip where there is no browser, except in CI, where `.ci/install-chromium` must have provided it."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium package (.ci/install-chromium does)."
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def api_server(home: AirflowHome) -> Iterator[str]:
    """`airflow api-server` on a free loopback port, everyone an admin (no login page); yields its base URL."""
    port = free_port()
    env = home.environment(
        {
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # Airflow 3.0.0 signs UI tokens with no issuer unless one is set, which current PyJWT refuses.
            "AIRFLOW__API_AUTH__JWT_ISSUER": "airflow-provider-acumatica-tests",
        }
    )
    command = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_healthy(url, process, log)
            yield url
        finally:
            _stop(process)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited with {process.returncode}:\n{_tail(log)}")
        try:
            if requests.get(f"{url}/api/v2/monitor/health", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"airflow api-server did not answer within {STARTUP_SECONDS} s:\n{_tail(log)}")


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The api-server runs its workers as child processes: signal its whole process group."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """Headless Debian Chromium with a new, empty profile, so nothing from an earlier run is reused."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": VIEWPORT_WIDTH, "height": 900},
        )
        try:
            context.set_default_timeout(15_000)
            yield context
        finally:
            context.close()


@dataclass(frozen=True)
class Control:
    name: str
    """The control's name, or its id when it has none."""
    type: str
    value: str


@dataclass(frozen=True)
class RenderedField:
    label: str
    visible: bool
    controls: tuple[Control, ...]

    @property
    def entry_types(self) -> list[str]:
        """Types of the controls a user types or clicks into (not the hidden inputs that carry values)."""
        return [control.type for control in self.controls if control.type != "hidden"]

    def belongs_to_extra(self, name: str) -> bool:
        """Airflow's UI names the controls of an extra field `element_<name>` (3.3) or `select:element_<name>:…`."""
        pattern = re.compile(rf"(.*:)?element_{re.escape(name)}(:.*)?")
        return any(pattern.fullmatch(control.name) for control in self.controls)


@dataclass(frozen=True)
class ConnectionForm:
    """The Add Connection dialog with a connection type chosen; `fields` holds each section as read while open."""

    page: Page
    fields: tuple[RenderedField, ...]

    @property
    def dialog(self) -> Locator:
        return self.page.get_by_role("dialog")

    @property
    def shown(self) -> list[RenderedField]:
        return [field for field in self.fields if field.visible]

    def labelled(self, label: str) -> list[RenderedField]:
        return [field for field in self.shown if field.label == label]

    def with_control(self, name: str) -> list[RenderedField]:
        return [field for field in self.shown if any(control.name == name for control in field.controls)]


def open_connection_form(page: Page, base_url: str, type_names: tuple[str, ...]) -> ConnectionForm:
    """Admin → Connections → Add Connection, choose the type listed under one of `type_names`, read each section.

    The type list shows hook names (3.3) or connection types (3.0). The form's accordion shows one
    section at a time, so each is opened and read in turn; the last one stays open.
    """
    page.goto(base_url, wait_until="networkidle")
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Connections").click()
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox", name="Connection Type").fill(type_names[0])
    option = "|".join(re.escape(name) for name in type_names)
    page.get_by_role("option", name=re.compile(f"^({option})$")).click()
    expect(dialog.get_by_role("button", name=FORM_SECTIONS[0], exact=True)).to_be_visible()
    fields: list[RenderedField] = []
    for section in FORM_SECTIONS:
        trigger = dialog.get_by_role("button", name=section, exact=True)
        if trigger.count():
            fields.extend(read_fields(_open_section(dialog, trigger)))
    # The sections opened before the last one finish closing: the dialog has its final size.
    expect(dialog.get_by_role("region")).to_have_count(1)
    return ConnectionForm(page, tuple(fields))


def _open_section(dialog: Locator, trigger: Locator) -> Locator:
    """Open a section (they start open or closed depending on the Airflow version); returns its content."""
    if trigger.get_attribute("aria-expanded") == "false":
        trigger.click()
    region = dialog.locator(f"[id='{trigger.get_attribute('aria-controls')}']")
    expect(region).to_be_visible()
    return region


def read_fields(container: Locator) -> tuple[RenderedField, ...]:
    rows: list[dict[str, Any]] = container.evaluate(_READ_FIELDS)
    return tuple(
        RenderedField(row["label"], row["visible"], tuple(Control(**control) for control in row["controls"]))
        for row in rows
    )


def screenshot(form: ConnectionForm, path: Path) -> None:
    """The whole dialog in one picture: the viewport is made as tall as the dialog first, no field has focus."""
    form.page.evaluate("() => document.activeElement?.blur()")
    height: int = form.dialog.evaluate("dialog => dialog.offsetTop + dialog.offsetHeight + 64")
    form.page.set_viewport_size({"width": VIEWPORT_WIDTH, "height": max(height, 900)})
    path.parent.mkdir(parents=True, exist_ok=True)
    form.dialog.screenshot(path=str(path), animations="disabled")
