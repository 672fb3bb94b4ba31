"""Run one task as an Airflow 3.0 worker does: the Task SDK supervisor forks the task runner and watches it.

    python task_sdk_worker.py DAG_ID TASK_ID DAG_FILE   # DAG_FILE relative to the dags folder

The Execution API is the SDK's dry-run client, so neither an API server nor a metadata database is
needed; everything in the task process (DAG parsing, signal handling, `execute`) is the real thing.
Exits with the supervisor's exit code.
"""

from __future__ import annotations

import sys
import uuid

from airflow.sdk.api.datamodels._generated import BundleInfo, TaskInstance
from airflow.sdk.execution_time.supervisor import supervise


def main(dag_id: str, task_id: str, dag_file: str) -> int:
    task = TaskInstance(id=uuid.uuid4(), task_id=task_id, dag_id=dag_id, run_id="manual__reliability", try_number=1)
    return supervise(
        ti=task,
        bundle_info=BundleInfo(name="dags-folder"),
        dag_rel_path=dag_file,
        token="",
        dry_run=True,
        subprocess_logs_to_stdout=True,
    )


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
