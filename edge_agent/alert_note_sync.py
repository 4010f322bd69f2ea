"""Sending the manager's acks and comments on alerts to the hub, exactly once (``.../alert_notes``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge_agent.acked_sender import AckedSender, Outbox
from edge_agent.alert_inbox import mark_notes_rejected, mark_notes_synced, pending_notes
from edge_agent.config import DeviceConfig
from edge_agent.protocol import MAX_BATCH_NOTES, AlertNote, AlertNoteBatch
from edge_agent.store import DeviceStore

ALERT_NOTES: Outbox[AlertNote] = Outbox(
    noun="alert notes",
    topic_name="alert_notes",
    max_batch=MAX_BATCH_NOTES,
    pending=pending_notes,
    batch=lambda device_id, location_id, batch_id, items: AlertNoteBatch(1, device_id, location_id, batch_id, items),
    mark_synced=mark_notes_synced,
    mark_rejected=mark_notes_rejected,
    log=logging.getLogger("touchpoint.agent.alerts"),
)


def alert_note_sender(
    config: DeviceConfig, store: DeviceStore, publish: Callable[[str, bytes], None]
) -> AckedSender[AlertNote]:
    return AckedSender(ALERT_NOTES, config, store, publish)
