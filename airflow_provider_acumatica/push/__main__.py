"""`python -m airflow_provider_acumatica.push`: the push receiver, as `acumatica-push-receiver`."""

from airflow_provider_acumatica.push.receiver import main

raise SystemExit(main())
