"""A local server that behaves like the Acumatica REST API, for tests, demos and DAG authoring."""

from airflow_provider_acumatica.sandbox.config import OAuthClient, SandboxConfig, SandboxUser
from airflow_provider_acumatica.sandbox.faults import FaultSettings
from airflow_provider_acumatica.sandbox.licence import LicenceSettings
from airflow_provider_acumatica.sandbox.server import SandboxServer

__all__ = ["FaultSettings", "LicenceSettings", "OAuthClient", "SandboxConfig", "SandboxServer", "SandboxUser"]
