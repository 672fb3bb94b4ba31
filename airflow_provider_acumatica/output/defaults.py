"""Where extracts land when a DAG does not say: one setting for every DAG of a deployment."""

from __future__ import annotations

import os

from airflow.providers.common.compat.sdk import Variable

OUTPUT_BASE_VARIABLE = "acumatica_output_base"


def output_base(explicit: str | None = None) -> str:
    """The explicit value, else the Airflow Variable `acumatica_output_base`, else `$AIRFLOW_HOME/data/acumatica`.

    Call it at run time (in a task), never while the DAG file is parsed: reading a Variable is I/O.
    """
    if explicit:
        return explicit.rstrip("/")
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    default = os.path.join(home, "data", "acumatica")
    return str(Variable.get(OUTPUT_BASE_VARIABLE, default=default)).rstrip("/")
