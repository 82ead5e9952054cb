"""The Policy Engine: a pluggable decision per protocol action; the default allows everything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.protocol.message import Message

Rule = Callable[[str, Message], bool]


@dataclass
class Policy:
    """Denies an action when any rule says so; answered 403 `"Blocked by policy"` (PROTOCOL §6)."""

    deny_rules: list[Rule] = field(default_factory=list)

    def allows(self, action: str, msg: Message) -> bool:
        return not any(rule(action, msg) for rule in self.deny_rules)

    def deny(self, action: str, **match: Any) -> Rule:
        """Add a rule denying `action` when every `body` field in `match` equals the given value
        (`from_` matches the sender)."""
        def rule(act: str, msg: Message) -> bool:
            if act != action:
                return False
            b = msg.get("body", {})
            for key, expected in match.items():
                actual = msg.get("from") if key == "from_" else b.get(key)
                if actual != expected:
                    return False
            return True
        self.deny_rules.append(rule)
        return rule

    def clear(self) -> None:
        self.deny_rules.clear()
