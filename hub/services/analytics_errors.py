"""Why the analytics services refuse a request, each with the HTTP status that fits it.

The services stay free of FastAPI; :func:`hub.api.deps.service_errors` turns
these into HTTP errors, and the CLI prints them.
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """A refusal with a message for the caller; ``status`` is its HTTP status."""

    status = 400


class InvalidQuery(AnalyticsError):
    status = 422


class BadCursor(AnalyticsError):
    status = 400


class OutOfScope(AnalyticsError):
    status = 403


class NotFound(AnalyticsError):
    status = 404


class Conflict(AnalyticsError):
    status = 409
