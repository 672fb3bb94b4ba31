"""Apache Airflow provider for the Acumatica ERP REST API."""

from __future__ import annotations

__version__ = "0.1.0"
