"""Touchpoint's device core: the local store, the sync agent, the wire protocol and the score maths."""

__version__ = "0.1.0"
