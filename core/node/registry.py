"""The domain registry `domain://registry.<d>`: object registrations (PROTOCOL §3.1 step 6) and reads.

Only the owner session of an object of this domain registers, updates or removes its entry (TRANSPORT
§5: else 403). Entries are bounded in bytes one by one, per owning runtime URL and for the domain
(413 / 429), and a read answers one page of at most `Limits.registry_page` bytes of entries, in URL
order, with `next` (the cursor of the following page) while more remain: an answer always fits a
runtime's frame limit, however many objects are registered (docs/LIMITS.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

import orjson

from core.node.limits import Limits, deeper_than, too_long
from core.node.state import MemoryState
from core.protocol import address as addr

#: (code, description, extra body fields) of the node's answer to one registry request.
Answer = tuple[int, str | None, dict[str, Any]]

_OK: Answer = (200, None, {})


def entry_size(value: dict[str, Any]) -> int:
    return len(orjson.dumps(value, default=str))


class Registry:
    """url → registration of the live and other objects of `domain`, with their byte accounting."""

    def __init__(self, domain: str, limits: Limits, state: MemoryState, owner_of: Callable[[str], str | None]) -> None:
        self.domain = domain
        self.limits = limits
        self.state = state
        self.owner_of = owner_of
        self.objects: dict[str, dict[str, Any]] = {}
        self._urls: list[str] = []                         # sorted: pages are read in URL order
        self._sizes: dict[str, tuple[str, int]] = {}       # url → (runtime it is counted for, bytes)
        self.runtime_bytes: dict[str, int] = {}
        self.total = 0

    # what the node restores and cleans up -----------------------------------------------------------

    def restore(self, registrations: dict[str, dict[str, Any]]) -> list[str]:
        """Take back persisted entries; returns the URLs dropped because they break today's rules
        (written by an older node: another domain's objects, unowned, too large or too deep)."""
        dropped = []
        for url, value in registrations.items():
            owner = self.owner_of(url)
            if (not isinstance(value, dict) or owner is None or self._url_problem(url) is not None
                    or entry_size(value) > self.limits.registry_entry or deeper_than(value, self.limits.max_depth)):
                dropped.append(url)
                continue
            self._put(url, value, owner)
        return dropped

    def forget(self, url: str) -> None:
        """The object is gone (deallocated): so is its entry."""
        if url in self.objects:
            self._drop(url)
            self.state.unregister(url)

    def apply(self, url: str, value: dict[str, Any] | None) -> None:
        """What another node of a clustered domain stored for `url` (issue 15): its checks ran there."""
        if value is None:
            self.forget_locally(url)
        else:
            self._put(url, value, self.owner_of(url) or "")

    def forget_locally(self, url: str) -> None:
        if url in self.objects:
            self._drop(url)

    # requests ---------------------------------------------------------------------------------------

    def request(self, runtime: str, mtype: str, body: dict[str, Any]) -> Answer:
        """One registry request of the session of `runtime`; writes nothing unless answered 200."""
        if mtype == "read":
            return self._read(body)
        value = body.get("value")
        if mtype == "create" and isinstance(value, list):
            return self._register_many(runtime, value)
        url = value.get("url") if isinstance(value, dict) else body.get("resource")
        if not isinstance(url, str) or not url:
            return 400, "missing value.url" if mtype == "create" else "missing resource", {}
        refusal = self._refusal(runtime, url)
        if refusal is not None:
            return refusal
        if mtype == "delete":
            if url in self.objects:
                self._drop(url)
                self.state.unregister(url)
            return _OK
        if not isinstance(value, dict):
            return 400, "missing value", {}
        if mtype == "update":
            entry = self.objects.get(url)
            if entry is None:
                return 404, "not registered", {}
            value = {**entry, **value}
        sizes: list[int] = []
        problem = self._budget(runtime, [(url, value)], sizes)
        if problem is not None:
            return problem
        self._put(url, dict(value), runtime, sizes[0])
        self.state.register(url, self.objects[url])
        return _OK

    def _register_many(self, runtime: str, values: list[Any]) -> Answer:
        """A list of registrations in one create (a resume re-registers thousands): all or nothing."""
        most = self.limits.max_allocation
        if not values or len(values) > most:
            return 400, f"between 1 and {most} registrations per request", {}
        entries: dict[str, dict[str, Any]] = {}
        limit, owner_of = self.limits.max_address, self.owner_of
        # `<scheme>://<domain>/` of the last URL `_url_problem` passed: a short ASCII URL that is it and
        # one more segment is this domain's ObjectURL too, without the parse
        head = ""
        for value in values:
            url = value.get("url") if isinstance(value, dict) else None
            if not isinstance(url, str) or not url or not isinstance(value, dict):
                return 400, "missing value.url", {}
            if not (head and len(url) <= limit and url.isascii() and url.startswith(head)
                    and len(url) > len(head) and "/" not in url[len(head):]):
                problem = self._url_problem(url)
                if problem is not None:
                    return problem
                head = url.rpartition("/")[0] + "/"
            if owner_of(url) != runtime:
                return 403, "not the owner", {}
            entries[url] = value
        objects, counted = self.objects, self._sizes
        # a resume renews what its runtime registered before, mostly unchanged: that is neither weighed
        # nor stored again (it passed both when stored; the state is still told, as of any renewal)
        changed = [(url, value) for url, value in entries.items()
                   if objects.get(url) != value or counted[url][0] != runtime]
        sizes: list[int] = []
        problem = self._budget(runtime, changed, sizes)
        if problem is not None:
            return problem
        self._put_many(runtime, [(url, dict(value)) for url, value in changed], sizes)
        register = self.state.register
        for url in entries:
            register(url, objects[url])
        return _OK

    def _url_problem(self, url: str) -> Answer | None:
        if too_long(url, self.limits.max_address):
            return 400, f"address longer than {self.limits.max_address} bytes", {}
        if not addr.is_object_url(url) or addr.authority(url) != self.domain:
            return 403, f"the registry of {self.domain} takes only its own domain's objects", {}
        return None

    def _refusal(self, runtime: str, url: str) -> Answer | None:
        """TRANSPORT §5: only the owner session of an object of this domain."""
        problem = self._url_problem(url)
        if problem is not None:
            return problem
        if self.owner_of(url) != runtime:
            return 403, "not the owner", {}
        return None

    def _budget(self, runtime: str, entries: list[tuple[str, dict[str, Any]]], sizes: list[int]) -> Answer | None:
        """413 for an entry over its size, 429 for a runtime's or the domain's budget spent; the size of
        each entry is appended to `sizes` (what `_put` weighs it at: an entry is encoded once)."""
        growth = 0
        limits = self.limits
        dumps = orjson.dumps
        for url, value in entries:
            size = len(dumps(value, default=str))   # `entry_size`, without a call per entry
            sizes.append(size)
            if size > limits.registry_entry:
                return 413, f"registry entry larger than {limits.registry_entry} bytes", {}
            growth += size - self._sizes.get(url, ("", 0))[1]
        mine = self.runtime_bytes.get(runtime, 0) + growth
        if growth > 0 and mine > limits.registry_runtime_bytes:
            return 429, f"registry budget of this runtime ({limits.registry_runtime_bytes} bytes) is spent", {}
        if growth > 0 and self.total + growth > limits.registry_bytes:
            return 429, f"registry budget of this domain ({limits.registry_bytes} bytes) is spent", {}
        return None

    def _read(self, body: dict[str, Any]) -> Answer:
        """`{resource}`: one entry; else a page of live entries, filtered by `name`/`schema` when
        given, from the cursor `after` on (exclusive)."""
        resource = body.get("resource")
        if isinstance(resource, str) and resource:
            entry = self.objects.get(resource)
            return (404, "not registered", {}) if entry is None else (200, None, {"value": dict(entry)})
        filters = {k: body[k] for k in ("name", "schema") if k in body}
        after = body.get("after")
        if any(not isinstance(v, str) for v in filters.values()) or (after is not None and not isinstance(after, str)):
            return 400, "name, schema and after are strings", {}
        page: list[dict[str, Any]] = []
        used, budget = 0, self.limits.registry_page
        start = bisect.bisect_right(self._urls, after) if after else 0
        for i in range(start, len(self._urls)):
            url = self._urls[i]
            entry = self.objects[url]
            if entry.get("status", "live") != "live" or any(entry.get(k) != v for k, v in filters.items()):
                continue
            size = self._sizes[url][1]
            if page and used + size > budget:
                return 200, None, {"value": page, "next": self._urls[i - 1]}
            page.append(dict(entry))
            used += size
        return 200, None, {"value": page}

    # bookkeeping ------------------------------------------------------------------------------------

    def _put(self, url: str, value: dict[str, Any], runtime: str, size: int | None = None) -> None:
        self._put_many(runtime, [(url, value)], [entry_size(value) if size is None else size])

    def _put_many(self, runtime: str, entries: list[tuple[str, dict[str, Any]]], sizes: list[int]) -> None:
        """Store each (url, entry) of `entries`, weighing `sizes`, for `runtime`, its byte count changed
        once (a resume renews a thousand per request)."""
        objects, counted = self.objects, self._sizes
        added = 0
        fresh: list[str] = []
        for (url, entry), size in zip(entries, sizes, strict=True):
            was = counted.get(url)
            if was is None:
                fresh.append(url)
            elif was[0] == runtime:     # a renewal by its runtime: the difference is counted below
                added -= was[1]
            else:
                self._unweigh(url)
            objects[url] = entry
            counted[url] = (runtime, size)
            added += size
        # a renewal keeps its place in `_urls`, whose removal and sorted insert would each move every
        # later URL
        for url in fresh:
            bisect.insort(self._urls, url)
        # (never 0: every entry weighs at least the 2 bytes of `{}`)
        self.runtime_bytes[runtime] = self.runtime_bytes.get(runtime, 0) + added
        self.total += added

    def _drop(self, url: str) -> None:
        del self.objects[url]
        del self._urls[bisect.bisect_left(self._urls, url)]
        self._unweigh(url)

    def _unweigh(self, url: str) -> None:
        """Take the entry of `url` out of the byte counts (its runtime's and the total)."""
        runtime, size = self._sizes.pop(url)
        self.runtime_bytes[runtime] -= size
        if not self.runtime_bytes[runtime]:
            del self.runtime_bytes[runtime]
        self.total -= size
