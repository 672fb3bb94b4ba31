"""The host name each Airflow component reports (`[core] hostname_callable`).

Both Celery workers of the deployment test run on one machine; each gets its own name through the
environment, as two worker machines would have, so the task instances show which worker ran them.
"""

from __future__ import annotations

import os
import socket

VARIABLE = "ACUMATICA_TEST_HOSTNAME"


def hostname() -> str:
    return os.environ.get(VARIABLE) or socket.getfqdn()
