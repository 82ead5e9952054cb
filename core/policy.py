"""The Policy Engine: a pluggable decision per protocol action; the default allows everything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.protocol.message import Message

Rule = Callable[[str, Message], bool]


@dataclass
class Policy:
    """Denies an action when any rule says so; answered 403 `"Blocked by policy"` (PROTOCOL §6).

    Actions: `create`, `invite`, `subscribe`, `delete`, `delegate` (Sync Manager requests), `receive`
    (any request arriving at a runtime from a link) and `route` (any message a Message Node routes)."""

    deny_rules: list[Rule] = field(default_factory=list)
    _data: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_rules(cls, rules: list[dict[str, Any]]) -> Policy:
        """A policy from data: each rule `{"action": a, "<body field>" | "from": value, …}` denies."""
        policy = cls()
        for rule in rules:
            if not isinstance(rule, dict) or not isinstance(rule.get("action"), str):
                raise ValueError(f"a policy rule needs an action: {rule!r}")
            match = {("from_" if k == "from" else k): v for k, v in rule.items() if k != "action"}
            policy.deny(rule["action"], **match)
        return policy

    def rules(self) -> list[dict[str, Any]]:
        """The data rules (as given to `from_rules` or `deny`), for showing and saving."""
        return [dict(r) for r in self._data]

    def allows(self, action: str, msg: Message) -> bool:
        if not self.deny_rules:   # the usual case, asked once per message a runtime receives
            return True
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
        self._data.append({"action": action, **{("from" if k == "from_" else k): v for k, v in match.items()}})
        return rule

    def clear(self) -> None:
        self.deny_rules.clear()
        self._data.clear()
