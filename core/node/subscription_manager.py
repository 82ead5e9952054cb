"""The Message Node's Subscription Manager: per-session address subscriptions (PROTOCOL §1.5)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from itertools import repeat

from core.node.session import Session
from core.protocol.address import CHILDREN, children_prefix

#: TRANSPORT §5: node subscriptions one session may hold, in number and in bytes of addresses.
MAX_SUBSCRIPTIONS = 10_000
MAX_SUBSCRIPTION_BYTES = 4 << 20
#: What one subscription weighs beyond its address (the node's two index entries).
SUBSCRIPTION_WEIGHT = 64


def weight(address: str) -> int:
    """Bytes a node subscription to `address` counts against its session's budget."""
    return len(address) + SUBSCRIPTION_WEIGHT


class SubscriptionManager:
    """address → sessions subscribed to exactly that address, kept in step with each session's set."""

    def __init__(self, max_per_session: int = MAX_SUBSCRIPTIONS,
                 max_bytes_per_session: int = MAX_SUBSCRIPTION_BYTES) -> None:
        self.max_per_session = max_per_session
        self.max_bytes_per_session = max_bytes_per_session
        #: address → its sessions in the order they subscribed: tuples, replaced on change, so the one
        #: `(session,)` of a batch is shared by every address it is alone on (a resume adds 70,000)
        self._by_address: dict[str, tuple[Session, ...]] = {}
        #: `O/children/` → (session, how many `O/children/<name>` it holds) of each, in the order they came:
        #: tuples, replaced on change (shared, as `_by_address`'s, by the channels of a batch)
        self._by_channel: dict[str, tuple[tuple[Session, int], ...]] = {}
        #: Told when an address gets its first subscriber here (True) or loses its last (False): a
        #: clustered node subscribes the address's subject while it has local subscribers (issue 15).
        self.on_interest: Callable[[str, bool], None] | None = None

    def exact(self, address: str) -> list[Session]:
        """The sessions subscribed to exactly `address` (no `O/children/` prefix match)."""
        entry = self._by_address.get(address)
        return list(entry) if entry else []

    def subscribers(self, address: str) -> list[Session]:
        entry = self._by_address.get(address)
        found = list(entry) if entry else []
        if CHILDREN in address:
            if channel := children_prefix(address):
                # INTEROP §2: reTHINK subscribes `O/children/`, which matches every `O/children/<name>`.
                prefix = self._by_address.get(channel)
                if prefix:
                    found += [p for p in prefix if p not in found]
            elif address.endswith(CHILDREN) and (named := self._by_channel.get(address)):
                # reTHINK's newest runtime publishes children on `O/children/` itself, with no name:
                # whoever holds a children channel of O hears it (interop findings, DECISIONS.md)
                found += [p for p, _ in named if p not in found]
        return found

    def _count_channel(self, session: Session, address: str, step: int, prefix: bool = False) -> None:
        """Count `step` more `O/children/<name>` of `session` (`address` is one, or `O/children/`
        itself when `prefix`)."""
        channel = address if prefix else children_prefix(address)
        if not channel:
            return
        counts: list[tuple[Session, int]] = []
        known = False
        for held, count in self._by_channel.get(channel, ()):
            if held is session:
                known, count = True, count + step
                if count <= 0:
                    continue
            counts.append((held, count))
        if not known and step > 0:
            counts.append((session, step))
        if counts:
            self._by_channel[channel] = tuple(counts)
        else:
            self._by_channel.pop(channel, None)

    def _count_runs(self, session: Session, runs: list[tuple[str, int]]) -> None:
        """`_count_channel` of each `(O/children/, count)` of one batch; a channel new here gets a tuple
        shared by the batch's channels of the same count (a resume adds 20,000)."""
        by_channel = self._by_channel
        shared: dict[int, tuple[tuple[Session, int], ...]] = {}
        for channel, run in runs:
            if channel in by_channel:
                self._count_channel(session, channel, run, prefix=True)
            else:
                one = shared.get(run)
                if one is None:
                    one = shared[run] = ((session, run),)
                by_channel[channel] = one

    @staticmethod
    def new_of(session: Session, addresses: list[str]) -> list[str]:
        """The distinct ones of `addresses` that `session` does not hold yet, in order."""
        held = session.subscriptions
        return list(dict.fromkeys(addresses)) if held.isdisjoint(addresses) else [
            a for a in dict.fromkeys(addresses) if a not in held]

    def add(self, session: Session, addresses: list[str], new: list[str] | None = None) -> list[str]:
        """Subscribe `session` to `addresses` (set semantics); returns those that were new (`new`, when
        the caller has them from `new_of` already)."""
        held, by_address, on_interest = session.subscriptions, self._by_address, self.on_interest
        added = self.new_of(session, addresses) if new is None else new
        alone = (session,)
        if on_interest is None and by_address.keys().isdisjoint(added):
            # none has a subscriber yet (a resume's thousands): entered in C
            held.update(added)
            by_address.update(zip(added, repeat(alone)))
        else:
            get = by_address.get
            for address in added:
                held.add(address)
                entry = get(address)
                if entry is None:
                    by_address[address] = alone
                    if on_interest is not None:
                        on_interest(address, True)
                else:   # (not held by `session`: not among them)
                    by_address[address] = (*entry, session)
        # the weights of what was added (`weight` of each), summed in C
        session.subscription_bytes += sum(map(len, added)) + SUBSCRIPTION_WEIGHT * len(added)
        channel = ""
        run = 0                         # of `channel`, the last ones added, not yet counted
        runs: list[tuple[str, int]] = []
        for address in added:
            # The same object's next child: `O/children/` + a name. (O, cut before its first
            # `/children/`, cannot end with `/children`, so no earlier `/children/` straddles the two.)
            if run and address.startswith(channel) and len(address) > len(channel):
                run += 1
                continue
            if CHILDREN in address:
                # `children_prefix` by a partition at the first `/children/`: what comes before it, the
                # same for one object's children, is made into the channel once
                before, _, name = address.partition(CHILDREN)
                if before and name:
                    if run:   # counted once per run (per object), not per address
                        runs.append((channel, run))
                    channel, run = before + CHILDREN, 1
        if run:
            runs.append((channel, run))
        if runs:
            self._count_runs(session, runs)
        return added

    def remove(self, session: Session, addresses: list[str]) -> list[str]:
        removed = []
        for address in addresses:
            if address in session.subscriptions:
                session.subscriptions.discard(address)
                session.subscription_bytes -= weight(address)
                entry = self._by_address.get(address)
                if entry is not None:
                    # (most addresses have one session: no tuple is built for them)
                    rest = () if entry == (session,) else tuple(x for x in entry if x is not session)
                    if rest:
                        self._by_address[address] = rest
                    else:
                        del self._by_address[address]
                        if self.on_interest is not None:
                            self.on_interest(address, False)
                if CHILDREN in address:
                    self._count_channel(session, address, -1)
                removed.append(address)
        return removed

    def refusal(self, session: Session, new: Collection[str]) -> tuple[int, str] | None:
        """TRANSPORT §5: why `session` may not add the subscriptions `new` (not yet held): 429 past the
        count or the byte budget, 413 when they alone weigh more than the whole budget."""
        if len(session.subscriptions) + len(new) > self.max_per_session:
            return 429, f"at most {self.max_per_session} node subscriptions"
        extra = sum(map(len, new)) + SUBSCRIPTION_WEIGHT * len(new)   # the weights of `new`, summed in C
        if extra > self.max_bytes_per_session:
            return 413, f"node subscriptions over {self.max_bytes_per_session} bytes"
        if session.subscription_bytes + extra > self.max_bytes_per_session:
            return 429, f"at most {self.max_bytes_per_session} bytes of node subscriptions"
        return None

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
        return {a: sorted(s.runtime for s in entry) for a, entry in self._by_address.items()}
