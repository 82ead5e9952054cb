"""Reference-counted `PUB` listeners and `MNS` node subscriptions of one runtime (PROTOCOL §0, §7 #19).

One PUB listener and one node subscription per address; the node `subscribe` is sent on 0→1 and
`unsubscribe` on 1→0.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from core.protocol import address as addr
from core.protocol.message import Message, code_of

if TYPE_CHECKING:
    from core.runtime.runtime import Runtime


#: Addresses per node (un)subscribe message: keeps each well under the node's message size limit.
MAX_PER_REQUEST = 1000


class Routing:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pubs: dict[str, int] = {}
        self.mns: dict[str, int] = {}
        self._inflight: dict[str, asyncio.Future[int]] = {}

    # PUB -----------------------------------------------------------------------------------------

    def acquire_pubs(self, addresses: list[str]) -> None:
        """One more user of `PUB(address)` for each address (published on 0→1, the new ones in one call)."""
        pubs = self._pubs
        fresh: list[str] = []
        for address in addresses:
            count = pubs.get(address)
            if count is None:
                fresh.append(address)
                pubs[address] = 1
            else:
                pubs[address] = count + 1
        if fresh:
            self.runtime.bus.publish(fresh)

    def release_pub(self, address: str) -> None:
        count = self._pubs.get(address)
        if count is None:
            return
        if count <= 1:
            del self._pubs[address]
            self.runtime.bus.unpublish(address)
        else:
            self._pubs[address] = count - 1

    def pub_count(self, address: str) -> int:
        return self._pubs.get(address, 0)

    # MNS -----------------------------------------------------------------------------------------

    async def subscribe(self, addresses: list[str], retries: int = 0) -> Message:
        """MNS(addresses): count +1 each; the node is asked for those going 0→1 (all or nothing)."""
        mns, inflight = self.mns, self._inflight
        fresh: list[str] = []
        waiting: dict[asyncio.Future[int], None] = {}   # one future per in-flight request
        counted = dict.fromkeys(addresses, 1) if not inflight and mns.keys().isdisjoint(addresses) else None
        if counted is not None and len(counted) == len(addresses):
            fresh = list(addresses)   # all new and distinct, nothing under way (a resume's case): in C
            mns.update(counted)
        else:
            for a in addresses:
                count = mns.get(a, 0)
                request = inflight.get(a)
                if request is not None:
                    waiting[request] = None
                elif count == 0:
                    fresh.append(a)
                mns[a] = count + 1
        reply = self._reply(200)
        if fresh:
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            inflight.update(dict.fromkeys(fresh, future))
            reply = self._reply(500)   # what the waiters hear if the request is cancelled
            try:
                reply = await self._node_request("subscribe", fresh, retries)
            finally:
                if len(inflight) == len(fresh):   # (distinct) ours are all there, so they are all there is
                    inflight.clear()
                else:
                    for a in fresh:
                        inflight.pop(a, None)
                future.set_result(code_of(reply))
        for other in waiting:
            code = await other
            if code != 200 and code_of(reply) == 200:
                reply = self._reply(code)
        if code_of(reply) != 200:
            self._drop_counts(addresses)
        return reply

    async def unsubscribe(self, addresses: list[str]) -> Message | None:
        """Release MNS(addresses); the node is told of those going 1→0."""
        gone = self._drop_counts(addresses)
        if not gone:
            return None
        return await self._node_request("unsubscribe", gone, 0)

    def release(self, addresses: list[str]) -> list[str]:
        """Release MNS(addresses) without telling the node yet; returns those going 1→0."""
        return self._drop_counts(addresses)

    async def node_unsubscribe(self, addresses: list[str]) -> Message:
        """Tell the node of addresses already released (a step retried until the node answers)."""
        return await self._node_request("unsubscribe", addresses, 0)

    def forget(self, addresses: list[str]) -> None:
        """Drop the counts without telling the node (subscriptions moved at a delegation commit)."""
        self._drop_counts(addresses)

    def _drop_counts(self, addresses: list[str]) -> list[str]:
        gone = []
        for a in addresses:
            n = self.mns.get(a, 0) - 1
            if n <= 0:
                if a in self.mns:
                    del self.mns[a]
                    gone.append(a)
            else:
                self.mns[a] = n
        return gone

    def node_subscriptions(self, domain: str) -> list[str]:
        """Addresses this runtime holds at `domain`'s node (re-sent after every session open)."""
        return [a for a in self.mns if addr.authority(a) == domain]

    def _reply(self, code: int) -> Message:
        """A node answer made here: for addresses already subscribed, or a request that failed elsewhere."""
        return {"id": 0, "type": "response", "from": "", "to": self.runtime.sm_url, "body": {"code": code}}

    async def _node_request(self, mtype: str, addresses: list[str], retries: int) -> Message:
        """One (un)subscribe per node and per `MAX_PER_REQUEST` addresses, sent together."""
        by_domain: dict[str, list[str]] = {}
        prefix, group = "", []   # an object's addresses come together: `scheme://domain/` found once
        for a in addresses:
            if not (prefix and a.startswith(prefix)):
                domain = addr.authority(a)   # an address's domain is its object's
                group = by_domain.setdefault(domain, [])
                prefix = a[:a.find("://") + 3] + domain + "/" if domain else ""
            group.append(a)
        groups = [(domain, group[i:i + MAX_PER_REQUEST]) for domain, group in by_domain.items()
                  for i in range(0, len(group), MAX_PER_REQUEST)]
        replies = await asyncio.gather(*(self._ask_node(mtype, domain, group, retries) for domain, group in groups))
        failed = next((r for r in replies if code_of(r) != 200), None)
        if failed is not None and mtype == "subscribe":   # all or nothing across the chunks too
            done = [(d, g) for (d, g), r in zip(groups, replies, strict=True) if code_of(r) == 200]
            await asyncio.gather(*(self._ask_node("unsubscribe", d, g, 0) for d, g in done))
        return failed or (replies[0] if replies else self._reply(200))

    async def _ask_node(self, mtype: str, domain: str, group: list[str], retries: int) -> Message:
        for attempt in range(retries + 1):
            body: dict[str, object] = {"resources": group}
            if mtype == "subscribe":
                body["source"] = self.runtime.url
            reply = await self.runtime.bus.request(
                {"type": mtype, "from": self.runtime.sm_url, "to": addr.mn_sm(domain), "body": body})
            if code_of(reply) not in (408, 500) or attempt == retries:
                break
        return reply
