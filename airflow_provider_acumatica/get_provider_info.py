"""Provider metadata read by Airflow through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_acumatica import __version__
from airflow_provider_acumatica.connection_fields import conn_fields, ui_field_behaviour_yaml


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-acumatica",
        "name": "Acumatica",
        "description": "Apache Airflow provider for the Acumatica ERP REST API.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Acumatica",
                "external-doc-url": "https://www.acumatica.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Acumatica",
                "python-modules": ["airflow_provider_acumatica.hooks.acumatica"],
            }
        ],
        "operators": [
            {
                "integration-name": "Acumatica",
                "python-modules": [
                    "airflow_provider_acumatica.operators.extract",
                    "airflow_provider_acumatica.operators.generic_inquiry",
                    "airflow_provider_acumatica.operators.dac",
                    "airflow_provider_acumatica.operators.deleted_records",
                    "airflow_provider_acumatica.operators.auth_check",
                    "airflow_provider_acumatica.operators.upsert",
                    "airflow_provider_acumatica.operators.action",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Acumatica",
                "python-modules": [
                    "airflow_provider_acumatica.triggers.action",
                    "airflow_provider_acumatica.triggers.change",
                    "airflow_provider_acumatica.triggers.push",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "acumatica",
                "hook-class-name": "airflow_provider_acumatica.hooks.acumatica.AcumaticaHook",
                "hook-name": "Acumatica",
                "ui-field-behaviour": ui_field_behaviour_yaml(),
                "conn-fields": conn_fields(),
            }
        ],
    }
