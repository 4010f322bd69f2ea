"""Sending the actions logged on this device to the hub, exactly once, beside the taps (``.../actions``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge_agent.acked_sender import AckedSender, Outbox
from edge_agent.actions import mark_actions_rejected, mark_actions_synced, pending_actions
from edge_agent.config import DeviceConfig
from edge_agent.protocol import MAX_BATCH_ACTIONS, Action, ActionBatch
from edge_agent.store import DeviceStore

ACTIONS: Outbox[Action] = Outbox(
    noun="actions",
    topic_name="actions",
    max_batch=MAX_BATCH_ACTIONS,
    pending=pending_actions,
    batch=lambda device_id, location_id, batch_id, items: ActionBatch(1, device_id, location_id, batch_id, items),
    mark_synced=mark_actions_synced,
    mark_rejected=mark_actions_rejected,
    log=logging.getLogger("touchpoint.agent.actions"),
)


def action_sender(
    config: DeviceConfig, store: DeviceStore, publish: Callable[[str, bytes], None]
) -> AckedSender[Action]:
    return AckedSender(ACTIONS, config, store, publish)
