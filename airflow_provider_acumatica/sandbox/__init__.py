"""A local server that behaves like the Acumatica REST API, for tests, demos and DAG authoring."""
