"""Errors raised by the klink source, grouped by what the caller should do.

    KlinkError
    ├── KlinkConfigError          fatal, before any request: fix the named setting
    ├── KlinkAuthError            fatal: 401, the token was rejected
    ├── KlinkEndpointUnavailable  skippable: 403/404 on a list, the tenant's plan lacks it
    ├── KlinkRequestError         fatal: another 4xx, the request itself is wrong
    └── KlinkResponseError        retriable, raised once retries are spent
        ├── KlinkServerError      5xx / 429 still failing after every retry
        ├── KlinkMalformedResponse body is not the JSON the endpoint documents
        └── KlinkResponseTooLarge body over the configured size cap

Every message names the endpoint and page and never contains the API token.
"""

from __future__ import annotations

from typing import Optional


class KlinkError(Exception):
    """Base of every error this source raises."""

    hint: Optional[str] = None

    def __init__(self, message: str, hint: Optional[str] = None) -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} (hint: {self.hint})" if self.hint else text


class KlinkConfigError(KlinkError):
    """A setting is missing or malformed; raised before any request."""


class KlinkAuthError(KlinkError):
    """The API rejected the token (401)."""

    hint = "check sources.klink.api_token (env SOURCES__KLINK__API_TOKEN): it may be wrong, expired or revoked"


class KlinkEndpointUnavailable(KlinkError):
    """403/404 on a list endpoint: the tenant's plan or the path lacks it."""

    def __init__(self, message: str, status: int, hint: Optional[str] = None) -> None:
        super().__init__(message, hint)
        self.status = status


class KlinkRequestError(KlinkError):
    """A 4xx other than 401/403/404/429: the request is wrong."""


class KlinkResponseError(KlinkError):
    """The API answered, but not usefully, after every retry."""


class KlinkServerError(KlinkResponseError):
    """5xx or 429 after the retry budget was spent."""


class KlinkMalformedResponse(KlinkResponseError):
    """The body is not JSON, is truncated, or lacks the documented envelope."""


class KlinkResponseTooLarge(KlinkResponseError):
    """The body exceeds sources.klink.max_response_bytes."""
