"""Where extracts and replica tables land when a DAG does not say: one setting each for a whole deployment."""

from __future__ import annotations

import os

from airflow.providers.common.compat.sdk import Variable

OUTPUT_BASE_VARIABLE = "acumatica_output_base"
LAKE_BASE_VARIABLE = "acumatica_lake_base"


def output_base(explicit: str | None = None) -> str:
    """The explicit value, else the Airflow Variable `acumatica_output_base`, else `$AIRFLOW_HOME/data/acumatica`.

    Call it at run time (in a task), never while the DAG file is parsed: reading a Variable is I/O.
    """
    return _base(explicit, OUTPUT_BASE_VARIABLE, "acumatica")


def lake_base(explicit: str | None = None) -> str:
    """The explicit value, else the Airflow Variable `acumatica_lake_base`, else `$AIRFLOW_HOME/data/lake`."""
    return _base(explicit, LAKE_BASE_VARIABLE, "lake")


def _base(explicit: str | None, variable: str, folder: str) -> str:
    if explicit:
        return explicit.rstrip("/")
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    default = os.path.join(home, "data", folder)
    return str(Variable.get(variable, default=default)).rstrip("/")
