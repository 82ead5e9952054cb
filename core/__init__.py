"""SyncScope's sync engine: a Python implementation of the reTHINK P2P Data Sync protocol."""

from core.protocol.message import SyncError

__all__ = ["SyncError"]
