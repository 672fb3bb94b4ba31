"""Registering runtime secrets with Airflow's log masker the moment they exist."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import mask_secret

_MIN_MASK_LENGTH = 5


def mask(value: str | None) -> None:
    """Mask a secret in every log Airflow writes; too-short values are skipped, as Airflow would."""
    if value and len(value) >= _MIN_MASK_LENGTH:
        mask_secret(value)


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """Remove known secret values from text that came from the server before it reaches an error."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_MASK_LENGTH:
            text = text.replace(secret, "***")
    return text
