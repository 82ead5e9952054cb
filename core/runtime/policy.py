"""The Policy Engine lives in `core.policy` (the runtime's bus and the Message Node both use it)."""

from core.policy import Policy, Rule

__all__ = ["Policy", "Rule"]
