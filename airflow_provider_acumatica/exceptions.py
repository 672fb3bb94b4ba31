"""Errors raised by the provider.

Each message names the problem and the fix, and never carries a secret: they end up in task logs
and in the Airflow UI.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class AcumaticaError(AirflowException):
    """Base class, so DAG authors can catch everything from this provider at once."""


class AcumaticaConfigError(AcumaticaError, AirflowFailException):
    """The Airflow connection or an operator argument is wrong; task retries cannot help, so none run."""


class AcumaticaAuthError(AcumaticaError):
    """Sign-in failed or the server keeps rejecting our credentials."""


class AcumaticaCredentialsError(AcumaticaAuthError, AirflowFailException):
    """The server rejected the credentials themselves; task retries would only risk locking the account."""


class AcumaticaLoginLimitError(AcumaticaAuthError):
    """The license's API seats are all taken ("API Login Limit")."""


class AcumaticaRateLimitError(AcumaticaError):
    """The server answered 429 past our retry budget."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AcumaticaApiError(AcumaticaError):
    """The API answered with an error status; carries the parsed Acumatica error body."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        exception_message: str | None = None,
        exception_type: str | None = None,
        field_errors: dict[str, str] | None = None,
        retry_after: float | None = None,
        summary: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.summary = summary
        self.message = message
        self.exception_message = exception_message
        self.exception_type = exception_type
        self.field_errors = dict(field_errors or {})
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Whether the same request may succeed later (gateway errors, overload)."""
        return self.http_status in {429, 502, 503, 504}

    def details(self) -> dict[str, Any]:
        return {
            "http_status": self.http_status,
            "exception_message": self.exception_message,
            "exception_type": self.exception_type,
            "field_errors": self.field_errors,
        }


class AcumaticaDataChangedError(AcumaticaError):
    """So many records left the result during the pull that no page boundary could be found again."""


class AcumaticaDeletionsNotTrackedError(AcumaticaConfigError):
    """The DAC is not on Tables to Track Deleted Records (SM207010); the message gives the setup steps."""
