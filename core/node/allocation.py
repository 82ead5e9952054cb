"""Hyperty and object address allocation with ownership (PROTOCOL §1.2, TRANSPORT §3).

Ownership is bound to the runtime URL, not to a link: it survives reconnection and ends only by
deallocation or transfer.
"""

from __future__ import annotations

import os

#: TRANSPORT §5 limits.
MAX_PER_REQUEST = 1_000
MAX_OWNED = 100_000
#: Transfers one runtime may have accepted and not yet seen committed (docs/LIMITS.md).
MAX_ACCEPTANCES = 1_000


#: Random bytes read from the system's source at once, for `guids` (a read per allocation was a
#: system call per address). Bytes handed out are passed over, never given twice; a forked process
#: starts with an empty pool, so parent and child never share one.
_POOL_BYTES = 4096
_pool = b""
_taken = 0


def _empty_pool() -> None:
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_empty_pool)


def guids(number: int) -> list[str]:
    """`number` random version-4 UUIDs as 32 hex digits (what `uuid.uuid4().hex` gives), from the
    system's random source (`os.urandom`) read a page at a time."""
    global _pool, _taken
    need = 16 * number
    if len(_pool) - _taken < need:
        _pool, _taken = os.urandom(max(_POOL_BYTES, need)), 0
    raw = bytearray(_pool[_taken:_taken + need])
    _taken += need
    out = []
    for start in range(0, need, 16):
        raw[start + 6] = (raw[start + 6] & 0x0F) | 0x40   # version 4 (RFC 9562 §5.4)
        raw[start + 8] = (raw[start + 8] & 0x3F) | 0x80   # variant 10
        out.append(raw[start:start + 16].hex())
    return out


class AllocationError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


class Allocator:
    """address → owning runtime URL, for the hyperty and object addresses of one domain."""

    def __init__(self, domain: str, max_per_request: int = MAX_PER_REQUEST, max_owned: int = MAX_OWNED,
                 max_acceptances: int = MAX_ACCEPTANCES) -> None:
        self.domain = domain
        self.max_per_request = max_per_request
        self.max_owned = max_owned
        self.max_acceptances = max_acceptances
        self.owner: dict[str, str] = {}
        self._count: dict[str, int] = {}
        self.fenced: set[str] = set()  # delegation tokens fenced by an owner query (§1.2 step 6)
        # (object, delegation token) → the runtime that accepted the transfer (PROTOCOL §4 #4), and
        # per runtime its acceptances, oldest first. In memory only: a node restart forgets them and
        # a pending transfer is then refused, which the delegation aborts cleanly.
        self.accepted: dict[tuple[str, str], str] = {}
        self._accepted_by: dict[str, dict[tuple[str, str], None]] = {}

    def restore(self, owners: dict[str, str]) -> None:
        """Ownership read back from a node state file (`core.node.state`)."""
        self.owner.update(owners)
        self._count.clear()
        for runtime in self.owner.values():
            self._count[runtime] = self._count.get(runtime, 0) + 1

    def allocate(self, runtime: str, scheme: str, number: int) -> list[str]:
        if number < 1 or number > self.max_per_request:
            raise AllocationError(429, f"between 1 and {self.max_per_request} addresses per request")
        if self._count.get(runtime, 0) + number > self.max_owned:
            raise AllocationError(429, f"a runtime may own at most {self.max_owned} addresses")
        prefix = f"{scheme}://{self.domain}/"
        urls = [prefix + guid for guid in guids(number)]
        for url in urls:
            self.owner[url] = runtime
        self._count[runtime] = self._count.get(runtime, 0) + number
        return urls

    def claim(self, runtime: str, urls: list[str]) -> None:
        """Bind locally minted, unowned `urls` to `runtime` (INTEROP §2), within its quota."""
        if self._count.get(runtime, 0) + len(urls) > self.max_owned:
            raise AllocationError(429, f"a runtime may own at most {self.max_owned} addresses")
        for url in urls:
            self.owner[url] = runtime
        self._count[runtime] = self._count.get(runtime, 0) + len(urls)

    def deallocate(self, runtime: str, url: str) -> None:
        owner = self.owner.get(url)
        if owner is None:
            raise AllocationError(404, "unknown object")
        if owner != runtime:
            raise AllocationError(403, "not the owner")
        del self.owner[url]
        self._count[runtime] -= 1

    def set_owner(self, address: str, runtime: str | None) -> None:
        """What another node of a clustered domain stored: `address` is owned by `runtime` now, or
        by nobody (issue 15); the per-runtime counts follow."""
        before = self.owner.pop(address, None)
        if before is not None:
            self._count[before] -= 1
        if runtime is not None:
            self.owner[address] = runtime
            self._count[runtime] = self._count.get(runtime, 0) + 1

    def owns(self, runtime: str) -> int:
        return self._count.get(runtime, 0)

    def accept(self, runtime: str, url: str, token: str) -> None:
        """`runtime` takes over `url` if its owner commits with `token` (PROTOCOL §4 #4); at most
        `max_acceptances` per runtime, the oldest forgotten first."""
        key = (url, token)
        mine = self._accepted_by.setdefault(runtime, {})
        if key in mine:
            return
        self.unaccept(key)
        while len(mine) >= self.max_acceptances:
            self.unaccept(next(iter(mine)))
        mine[key] = None
        self.accepted[key] = runtime

    def unaccept(self, key: tuple[str, str]) -> None:
        runtime = self.accepted.pop(key, None)
        if runtime is not None:
            mine = self._accepted_by[runtime]
            del mine[key]
            if not mine:
                del self._accepted_by[runtime]

    def forget_acceptances(self, runtime: str) -> list[tuple[str, str]]:
        """The accepting runtime's link ended: what it accepted cannot commit any more."""
        keys = list(self._accepted_by.get(runtime, ()))
        for key in keys:
            self.unaccept(key)
        return keys

    def transfer(self, runtime: str, url: str, to_runtime: str, token: str) -> None:
        """PROTOCOL §4 #8: only by the owner, only to a runtime that accepted `url` with `token`
        (#4), never past that runtime's quota (TRANSPORT §5: however addresses arrive)."""
        owner = self.owner.get(url)
        if owner is None:
            raise AllocationError(404, "unknown object")
        if owner != runtime:
            raise AllocationError(403, "not the owner")
        if token in self.fenced:
            raise AllocationError(403, "delegation token fenced by an owner query")
        if to_runtime == runtime:
            raise AllocationError(400, "the runtime owns the object already")
        if self.accepted.get((url, token)) != to_runtime:
            raise AllocationError(403, "the target runtime has not accepted this transfer")
        if self._count.get(to_runtime, 0) + 1 > self.max_owned:
            raise AllocationError(429, f"a runtime may own at most {self.max_owned} addresses")
        self.unaccept((url, token))
        self.owner[url] = to_runtime
        self._count[runtime] -= 1
        self._count[to_runtime] = self._count.get(to_runtime, 0) + 1

    def owned_by(self, runtime: str) -> list[str]:
        return [a for a, r in self.owner.items() if r == runtime]
