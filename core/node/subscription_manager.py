"""The Message Node's Subscription Manager: per-session address subscriptions (PROTOCOL §1.5)."""

from __future__ import annotations

from collections.abc import Callable

from core.node.session import Session
from core.protocol.address import CHILDREN, children_prefix

#: TRANSPORT §5: node subscriptions one session may hold.
MAX_SUBSCRIPTIONS = 10_000


class SubscriptionManager:
    """address → sessions subscribed to exactly that address, kept in step with each session's set."""

    def __init__(self, max_per_session: int = MAX_SUBSCRIPTIONS) -> None:
        self.max_per_session = max_per_session
        self._by_address: dict[str, dict[str, Session]] = {}
        #: Told when an address gets its first subscriber here (True) or loses its last (False): a
        #: clustered node subscribes the address's subject while it has local subscribers (issue 15).
        self.on_interest: Callable[[str, bool], None] | None = None

    def exact(self, address: str) -> list[Session]:
        """The sessions subscribed to exactly `address` (no `O/children/` prefix match)."""
        entry = self._by_address.get(address)
        return list(entry.values()) if entry else []

    def subscribers(self, address: str) -> list[Session]:
        entry = self._by_address.get(address)
        found = list(entry.values()) if entry else []
        # INTEROP §2: reTHINK subscribes `O/children/`, which matches every `O/children/<name>`.
        if CHILDREN in address and (channel := children_prefix(address)):
            prefix = self._by_address.get(channel)
            if prefix:
                found += [p for p in prefix.values() if p not in found]
        return found

    def add(self, session: Session, addresses: list[str]) -> list[str]:
        """Subscribe `session` to `addresses` (set semantics); returns those that were new."""
        added = []
        held, by_address, sid = session.subscriptions, self._by_address, session.id
        for address in addresses:
            if address not in held:
                held.add(address)
                entry = by_address.get(address)
                if entry is None:
                    by_address[address] = {sid: session}
                    if self.on_interest is not None:
                        self.on_interest(address, True)
                else:
                    entry[sid] = session
                added.append(address)
        return added

    def remove(self, session: Session, addresses: list[str]) -> list[str]:
        removed = []
        for address in addresses:
            if address in session.subscriptions:
                session.subscriptions.discard(address)
                entry = self._by_address.get(address)
                if entry is not None:
                    entry.pop(session.id, None)
                    if not entry:
                        del self._by_address[address]
                        if self.on_interest is not None:
                            self.on_interest(address, False)
                removed.append(address)
        return removed

    def drop_session(self, session: Session) -> list[str]:
        return self.remove(session, sorted(session.subscriptions))

    def move(self, address: str, old: Session | None, new: Session | None) -> None:
        """Move one address's subscription from `old` to `new` (delegation commit, PROTOCOL §4 #8)."""
        if old is not None and address in old.subscriptions:
            self.remove(old, [address])
            if new is not None:
                self.add(new, [address])

    def table(self) -> dict[str, list[str]]:
        """address → runtime URLs of the subscribed sessions (for the routing view)."""
        return {a: sorted(s.runtime for s in entry.values()) for a, entry in self._by_address.items()}
