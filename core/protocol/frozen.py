"""Read-only JSON containers: one decoded publication shared by the runtimes of the embedded lab.

In the lab every receiver of a fan-out is handed the same frame; decoding it once and sharing the
result is sound only if no receiver can change what another one reads. `FrozenDict` and
`FrozenList` are a dict and a list (every reader, `isinstance` check and `orjson.dumps` sees
them as such) whose every mutating method raises `TypeError`; `copy`, `copy.copy` and
`copy.deepcopy` give plain, mutable containers. Only `freeze` builds them, from freshly decoded JSON.
"""

from __future__ import annotations

from typing import Any, NoReturn

import orjson


def _read_only(self: Any, *_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(f"a received message is read-only (shared by its receivers): copy it to change it, "
                    f"not this {type(self).__name__}")


#: `FrozenDict.verdict` before the envelope was checked (`core.protocol.message.envelope_error`).
UNCHECKED: Any = object()


class FrozenDict(dict[str, Any]):
    """A read-only dict. `verdict` caches the envelope check of a message, a pure function of a content
    that cannot change (set by `envelope_error` only; unset until then, read with `UNCHECKED` as its
    default: no `__init__` of ours, so a FrozenDict is made by dict's own, in C)."""

    __slots__ = ("verdict",)
    verdict: Any

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only

    def copy(self) -> dict[str, Any]:
        return dict(self)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, _memo: Any) -> Any:
        return orjson.loads(orjson.dumps(self))

    def __reduce__(self) -> Any:
        return dict, (dict(self),)


class FrozenList(list[Any]):
    """A read-only list."""

    __slots__ = ()

    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = insert = pop = remove = clear = \
        sort = reverse = _read_only

    def copy(self) -> list[Any]:
        return list(self)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, _memo: Any) -> Any:
        return orjson.loads(orjson.dumps(self))

    def __reduce__(self) -> Any:
        return list, (list(self),)


def freeze(value: Any) -> Any:
    """`value` (decoded JSON, not shared yet) with every dict and list made read-only."""
    if type(value) is dict:
        return FrozenDict({k: freeze(v) if type(v) in _CONTAINERS else v for k, v in value.items()})
    if type(value) is list:
        return FrozenList([freeze(v) if type(v) in _CONTAINERS else v for v in value])
    return value


#: What decoded JSON holds that `freeze` must go into (`orjson.loads` makes exactly these types). The
#: leaves are tested inline, not by a call each: a small update has ten of them to one container.
_CONTAINERS = frozenset((dict, list))
