"""A JSON document kept as its stored text until something reads it.

A restart reads thousands of stored documents back (PROTOCOL §3.8) that mostly change or get
replaced by a resync read before anybody looks at them: decoding each on first use, not at load,
saves the parse and the memory of the documents nobody reads. `Encoded` is that text. It is
immutable, so the Sync Manager and the Syncher may share one; each decodes its own copy.

Only the values a resume hands over inside one runtime may hold one (a record's `data`, the `data`
of a resume answer's values): whatever writes them out (storage, a monitor view of the message)
encodes them with `orjson.dumps(…, default=as_fragment)`, which copies the text as it is.
"""

from __future__ import annotations

from typing import Any

import orjson


class Encoded:
    """A JSON text (orjson bytes); `decode()` gives a fresh value each call."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def decode(self) -> Any:
        return orjson.loads(self.raw)

    def __repr__(self) -> str:
        return f"Encoded({len(self.raw)} bytes)"


def decoded(value: Any) -> Any:
    """`value`, or what it encodes when it is `Encoded`."""
    return value.decode() if type(value) is Encoded else value


def as_fragment(value: Any) -> Any:
    """`default=` of `orjson.dumps`: an `Encoded` is written as the text it holds."""
    if type(value) is Encoded:
        return orjson.Fragment(value.raw)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")
