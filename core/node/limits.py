"""What a Message Node bounds before it does work with a peer's input (TRANSPORT §5, docs/LIMITS.md).

Each bound is a field of `Limits` with the default of TRANSPORT §5 (or of docs/LIMITS.md where the
spec names none), and an option of `syncscope node`. Sizes are bytes of UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

#: Levels orjson writes (it reads 1,024): an envelope deeper than this could be read but never
#: forwarded, answered or traced. Answers and monitor events wrap a message in up to 3 more levels.
CODEC_DEPTH = 254
#: Largest `max_depth` an operator may set: what the codec writes, less the wrapping and a margin.
MAX_DEPTH_CEILING = 240

#: PROTOCOL §1.1: schemes that name something other than a data object (never an object scheme).
RESERVED_OBJECT_SCHEMES = frozenset({"hyperty", "hyperty-runtime", "runtime", "domain", "user"})
#: RFC 3986 §3.1.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")


@dataclass(frozen=True)
class Limits:
    """The node's bounds on peer-supplied sizes; every field is a `syncscope node` option."""

    #: JSON nesting of an envelope (the envelope object itself is level 1); deeper → 400.
    max_depth: int = 200
    #: An address the node reads (`from`, `to`, `source`, `resource`, subscribed addresses, …).
    max_address: int = 2 * 1024
    #: The scheme of an object allocation request.
    max_scheme: int = 64
    #: A session token, delegation token or monitor token.
    max_token: int = 256
    #: Addresses allocated, or registrations taken, by one request.
    max_allocation: int = 1_000
    #: Addresses one runtime URL may own, however they arrive (allocation or transfer).
    max_owned: int = 100_000
    #: One registry entry (its JSON encoding).
    registry_entry: int = 4 * 1024
    #: Registry entries of the objects one runtime URL owns, in bytes: about 330 B for each of the
    #: 100,000 objects it may own.
    registry_runtime_bytes: int = 32 << 20
    #: All registry entries of the domain, in bytes.
    registry_bytes: int = 256 << 20
    #: Entries in one registry read answer, in bytes: far below a runtime's frame limit (4 × 1 MiB).
    registry_page: int = 256 * 1024
    #: Transfers a runtime has accepted (PROTOCOL §4 #4) and that are not committed yet.
    acceptances: int = 1_000

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= MAX_DEPTH_CEILING:
            raise ValueError(f"max_depth must be between 1 and {MAX_DEPTH_CEILING}")
        for name in ("max_address", "max_scheme", "max_token", "max_allocation", "max_owned", "registry_entry",
                     "registry_runtime_bytes", "registry_bytes", "registry_page", "acceptances"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")


def too_long(text: str, limit: int) -> bool:
    """`text` takes more than `limit` bytes in UTF-8 (`isascii` is O(1), so ASCII costs nothing)."""
    if len(text) > limit:
        return True
    return not text.isascii() and len(text.encode()) > limit


def page_error(limits: Limits, max_message: int) -> str | None:
    """A registry answer (a page, plus the entry that ends it) must fit well within a message."""
    if limits.registry_page + limits.registry_entry > max_message // 2:
        return "--registry-page plus --registry-entry must stay below half of --max-message"
    return None


def address_error(limits: Limits, *addresses: Any) -> str | None:
    """TRANSPORT §5: every address the node reads is at most `max_address` bytes."""
    limit = limits.max_address
    for a in addresses:   # a loop, not any(…): this runs for every message the node reads
        if isinstance(a, str) and too_long(a, limit):
            return f"address longer than {limit} bytes"
    return None


def addresses_error(limits: Limits, addresses: list[str]) -> str | None:
    """`address_error` of a list of strings (a bulk subscription's thousand): ASCII ones, the usual
    case, are measured in C (their concatenation is ASCII when each is, and knows it in O(1))."""
    if addresses and max(map(len, addresses)) <= limits.max_address and "".join(addresses).isascii():
        return None
    return address_error(limits, *addresses)


def token_error(limits: Limits, token: Any) -> str | None:
    """TRANSPORT §5: a session, delegation or monitor token is at most `max_token` bytes."""
    if isinstance(token, str) and too_long(token, limits.max_token):
        return f"token longer than {limits.max_token} bytes"
    return None


#: Types of JSON scalars: exactly these are never containers, and telling them by `type` is cheap where a
#: failing `isinstance` looks `__class__` up (about 500 instructions a check).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def deeper_than(value: Any, limit: int) -> bool:
    """A JSON value nests containers more than `limit` levels deep (a container is level 1).

    Level by level, iterative, and it stops at the first level past the limit, so a hostile value costs
    at most one visit per container it holds (one comprehension per level: a bulk registration's
    thousand entries are walked in C, not pushed and popped one by one)."""
    level = [value]                     # the containers at depth 1, then 2, …
    for _ in range(limit):
        level = [child for item in level
                 for child in (item if type(item) is list else item.values() if isinstance(item, dict) else item)
                 if type(child) not in _SCALARS and isinstance(child, (dict, list))]
        if not level:
            return False
    return True


def frame_deeper_than(frame: bytes | str, value: Any, limit: int) -> bool:
    """`deeper_than` of `value`, which orjson parsed from `frame`: a frame with at most `limit` opening
    brackets (brackets inside strings included) cannot nest deeper, so most frames are never walked."""
    if not _brackets_over(frame, limit):
        return False
    # orjson writes no value deeper than CODEC_DEPTH (and all it parsed but that): wrapped in
    # CODEC_DEPTH - limit more levels, the value is written, in C and ~10 times faster than the walk
    # (a bulk registration's thousand entries), exactly when it is no deeper than `limit`
    wrapped = value
    for _ in range(CODEC_DEPTH - limit):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except orjson.JSONEncodeError:
        return deeper_than(value, limit)
    return False


def _brackets_over(frame: bytes | str, limit: int) -> bool:
    """`frame` holds more than `limit` opening brackets."""
    # one `find` (memchr) per bracket, and no more than `limit` + 1 of them: a count would read every
    # byte of a bulk request's 100 KB one by one
    find: Callable[[Any, int], int] = frame.find
    found = 0
    for bracket in (b"{", b"[") if isinstance(frame, bytes) else ("{", "["):
        at = find(bracket, 0)
        while at >= 0:
            found += 1
            if found > limit:
                return True
            at = find(bracket, at + 1)
    return False


#: Schemes found good lately, per limit: an allocation names one of a few (bounded, peer-supplied).
_GOOD_SCHEMES: dict[tuple[str, int], None] = {}
_GOOD_SCHEMES_KEPT = 256


def scheme_error(scheme: Any, limit: int) -> str | None:
    """Why `scheme` cannot name objects (PROTOCOL §1.1, TRANSPORT §5), or None."""
    if isinstance(scheme, str) and (scheme, limit) in _GOOD_SCHEMES:
        return None
    problem = _scheme_error(scheme, limit)
    if problem is None:
        if len(_GOOD_SCHEMES) >= _GOOD_SCHEMES_KEPT:
            _GOOD_SCHEMES.clear()
        _GOOD_SCHEMES[(scheme, limit)] = None
    return problem


def _scheme_error(scheme: Any, limit: int) -> str | None:
    if not isinstance(scheme, str) or not scheme:
        return "missing scheme"
    if too_long(scheme, limit):
        return f"scheme longer than {limit} bytes"
    if not _SCHEME.match(scheme):
        return "bad scheme"
    if scheme.lower() in RESERVED_OBJECT_SCHEMES:
        return f"reserved scheme {scheme.lower()!r}"
    return None
