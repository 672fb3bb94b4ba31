"""The provider registers with Airflow and declares one connection form in both of Airflow's spellings."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest

from airflow_provider_acumatica.connection_fields import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR
from airflow_provider_acumatica.get_provider_info import get_provider_info
from airflow_provider_acumatica.hooks.acumatica import AcumaticaHook

AIRFLOW_DIR = Path(airflow.__file__).parent
SENSITIVE_SUBSTRINGS = ("secret", "token", "password")


def _schema(name: str) -> dict[str, Any]:
    return json.loads((AIRFLOW_DIR / name).read_text())


def _connection_type() -> dict[str, Any]:
    (connection_type,) = get_provider_info()["connection-types"]
    return connection_type


def test_provider_info_validates_against_airflows_runtime_schema() -> None:
    jsonschema.validate(get_provider_info(), _schema("provider_info.schema.json"))


def test_connection_type_validates_against_provider_yaml_schema() -> None:
    item_schema = _schema("provider.yaml.schema.json")["properties"]["connection-types"]["items"]
    jsonschema.validate(_connection_type(), item_schema)


def test_package_name_matches_the_distribution_and_entry_point() -> None:
    assert get_provider_info()["package-name"] == metadata.metadata("airflow-provider-acumatica")["Name"]
    ours = [
        entry_point
        for entry_point in metadata.entry_points(group="apache_airflow_provider")
        if entry_point.dist is not None and entry_point.dist.name == "airflow-provider-acumatica"
    ]
    assert len(ours) == 1
    assert ours[0].load() is get_provider_info


def test_version_is_read_from_the_distribution_and_shown_to_airflow() -> None:
    import airflow_provider_acumatica

    installed = metadata.version("airflow-provider-acumatica")
    assert airflow_provider_acumatica.__version__ == installed
    assert get_provider_info()["versions"] == [installed]


def test_listed_modules_import() -> None:
    import importlib

    info = get_provider_info()
    for section in ("hooks", "operators", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)


def test_connection_type_points_at_the_hook() -> None:
    connection_type = _connection_type()
    assert connection_type["connection-type"] == AcumaticaHook.conn_type == "acumatica"
    assert connection_type["hook-class-name"] == f"{AcumaticaHook.__module__}.{AcumaticaHook.__name__}"
    assert connection_type["hook-name"] == AcumaticaHook.hook_name


def test_ui_field_behaviour_agrees_with_the_python_method() -> None:
    yaml_spelling = _connection_type()["ui-field-behaviour"]
    python_spelling = AcumaticaHook.get_ui_field_behaviour()
    assert yaml_spelling == {key.replace("_", "-"): value for key, value in python_spelling.items()}
    jsonschema.validate(python_spelling, _schema("customized_form_field_behaviours.schema.json"))
    assert set(python_spelling["hidden_fields"]) == {"schema", "port"}


class _Recorded:
    """Stands in for a wtforms field or widget and records how it was built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


def _stand_in_modules() -> dict[str, types.ModuleType]:
    """What Airflow 3.0/3.1 do when rendering the form: replace wtforms and FAB by recorders."""
    field_types = ("StringField", "PasswordField", "IntegerField", "BooleanField")
    wtforms = types.ModuleType("wtforms")
    for name in field_types:
        setattr(wtforms, name, type(name, (_Recorded,), {}))
    validators = types.ModuleType("wtforms.validators")
    validators.Optional = type("Optional", (_Recorded,), {})  # type: ignore[attr-defined]
    validators.any_of = lambda values: ("any_of", tuple(values))  # type: ignore[attr-defined]
    babel = types.ModuleType("flask_babel")
    babel.lazy_gettext = lambda text: text  # type: ignore[attr-defined]
    appbuilder = types.ModuleType("flask_appbuilder")
    widgets = types.ModuleType("flask_appbuilder.fieldwidgets")
    widgets.BS3TextFieldWidget = type("BS3TextFieldWidget", (_Recorded,), {})  # type: ignore[attr-defined]
    widgets.BS3PasswordFieldWidget = type("BS3PasswordFieldWidget", (_Recorded,), {})  # type: ignore[attr-defined]
    return {
        "wtforms": wtforms,
        "wtforms.validators": validators,
        "flask_babel": babel,
        "flask_appbuilder": appbuilder,
        "flask_appbuilder.fieldwidgets": widgets,
    }


def test_python_widgets_agree_with_conn_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, module in _stand_in_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    widgets = AcumaticaHook.get_connection_form_widgets()
    conn_fields = _connection_type()["conn-fields"]
    assert list(widgets) == list(conn_fields)
    for name, widget in widgets.items():
        schema = conn_fields[name]["schema"]
        assert widget.args[0] == conn_fields[name]["label"]
        assert widget.kwargs["description"] == conn_fields[name]["description"]
        assert widget.kwargs.get("default") == schema.get("default")
        is_password = type(widget).__name__ == "PasswordField"
        assert is_password == (schema.get("format") == "password"), name
        expected_type = {"integer": "IntegerField", "boolean": "BooleanField"}.get(schema["type"][0])
        if expected_type:
            assert type(widget).__name__ == expected_type
        enum = [v for v in widget.kwargs["validators"] if isinstance(v, tuple)]
        assert (enum[0][1] if enum else None) == (tuple(schema["enum"]) if "enum" in schema else None)


def test_secret_fields_render_as_passwords_and_have_names_airflow_masks() -> None:
    from airflow.providers.common.compat.sdk import redact

    conn_fields = _connection_type()["conn-fields"]
    secret_names = {field.name for field in EXTRA_FIELDS if field.secret}
    assert secret_names == {"client_secret", "refresh_token"}
    for name in secret_names:
        assert conn_fields[name]["schema"]["format"] == "password"
        assert any(part in name for part in SENSITIVE_SUBSTRINGS)
        assert redact("s3cr3t-value-123", name) == "***"
    assert UI_FIELD_BEHAVIOUR["relabeling"]["password"] == "Password"


def test_auth_type_is_a_dropdown_of_the_six_strategies() -> None:
    schema = _connection_type()["conn-fields"]["auth_type"]["schema"]
    assert schema["enum"] == [
        "oauth2_authorization_code",
        "oauth2_password",
        "oauth2_client_credentials",
        "api_key",
        "basic",
        "session",
    ]


def _json_array_at_end(output: str) -> list[dict[str, Any]]:
    """The JSON the command printed, after any log lines older Airflow versions write to stdout."""
    for line_start in [0] + [i + 1 for i, char in enumerate(output) if char == "\n"]:
        if output.startswith("[{", line_start):
            return list(json.loads(output[line_start:]))
    raise AssertionError(f"no JSON array in the output: {output[-500:]}")


def test_airflow_providers_list_shows_the_provider(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    providers = _json_array_at_end(result.stdout)
    ours = [p for p in providers if p["package_name"] == "airflow-provider-acumatica"]
    assert len(ours) == 1
    assert ours[0]["version"] == metadata.version("airflow-provider-acumatica")


def test_providers_manager_knows_the_connection_type() -> None:
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime as Manager
    except ImportError:
        from airflow.providers_manager import ProvidersManager as Manager

    hooks = Manager().hooks
    hook_info = hooks["acumatica"]
    assert hook_info is not None
    assert hook_info.hook_class_name.endswith("AcumaticaHook")
    assert hook_info.connection_id_attribute_name == "acumatica_conn_id"
