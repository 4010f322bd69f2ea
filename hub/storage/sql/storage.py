"""Everything both backends share, in one class: each backend adds only its connections and its ingest."""

from __future__ import annotations

from hub.storage.sql.actions import SqlActions  # actions stores took
from hub.storage.sql.alert_reads import SqlAlertReads  # what the alert evaluator reads
from hub.storage.sql.alerts import SqlAlerts  # rules, episodes, webhook deliveries
from hub.storage.sql.analytics import SqlAnalytics  # scores, locations, reasons, export
from hub.storage.sql.digests import SqlDigests  # digest subscriptions and their claimed slots
from hub.storage.sql.fleet import SqlFleet  # devices, dead letters, counts
from hub.storage.sql.inbox import SqlInbox  # the alert inbox: acks, assignments, comments
from hub.storage.sql.quarantine import SqlQuarantine  # reading the quarantine (untrusted timestamps)
from hub.storage.sql.registry import SqlRegistry  # the device registry
from hub.storage.sql.sessions import SqlSessions, SqlTokens  # tokens, dashboard sessions, login failures
from hub.storage.sql.surveys import SqlSurveys  # surveys, assignments, pushed device configs


class SqlStorage(
    SqlTokens,
    SqlSessions,
    SqlFleet,
    SqlSurveys,
    SqlAlerts,
    SqlAlertReads,
    SqlInbox,
    SqlDigests,
    SqlRegistry,
    SqlAnalytics,
    SqlQuarantine,
    SqlActions,
):
    """The storage contract's shared SQL; :class:`SqliteStorage` and :class:`PostgresStorage` extend it."""
