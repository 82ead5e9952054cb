"""The domain Message Node (PROTOCOL §1.5, TRANSPORT.md)."""

from core.node.node import MessageNode

__all__ = ["MessageNode"]
