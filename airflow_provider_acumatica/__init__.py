"""Apache Airflow provider for the Acumatica ERP REST API."""

from __future__ import annotations

from importlib.metadata import version

__version__ = version("airflow-provider-acumatica")
"""Read from the installed distribution, so `pyproject.toml` is the one place to bump it."""
