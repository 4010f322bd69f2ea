"""A row's sync state in the device store, the same for taps, actions and alert notes.

Pending rows wait for the hub's application ack; synced rows were acked (and may be pruned); rejected rows
were refused by the hub with a reason, and are never sent again.
"""

PENDING, SYNCED, REJECTED = 0, 1, 2
