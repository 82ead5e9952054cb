"""The reporter's observed JSON tree (ProxyObject, PROTOCOL §3.3.2): every primitive mutation of a
dict or list is turned, at mutation time, into one update body plus its RFC 6902 operations.

Assigned containers are copied and wrapped, so an application never shares a container with the
replica. Paths are computed when an edit happens (list positions move).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import Any, Protocol, SupportsIndex

from core.protocol import changes as ch
from core.protocol.changes import Op, Path


class Recorder(Protocol):
    def guard(self) -> None:
        """Raise if the object may not be edited now (deleted, delegating, observer)."""

    def admit(self, path: Path) -> None:
        """Raise if an edit at `path` could not be sent to every replica (INTEROP §4)."""

    def record(self, body: dict[str, Any], ops: list[Op]) -> None: ...


_MISSING = object()

#: Integers the wire encoding (orjson) carries: a larger one could be assigned but never sent.
_MIN_INT, _MAX_INT = -(2**63), 2**64 - 1


def _plain(value: Any) -> Any:
    """A private plain-JSON copy of an assigned value; raises TypeError for what JSON cannot carry."""
    if isinstance(value, (dict, list)):
        return ch.copy_json(value)
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int) and _MIN_INT <= value <= _MAX_INT:
        return value
    if isinstance(value, float) and math.isfinite(value):
        # NaN and infinities are no JSON: the reporter would keep them while every replica got null.
        return value
    raise TypeError(f"not a JSON value: {value!r:.40}")


def wrap(value: Any, parent: Tracked | None, key: Any, recorder: Recorder) -> Any:
    if isinstance(value, dict):
        d = TrackedDict.__new__(TrackedDict)
        d._init(parent, key, recorder)
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("JSON object keys must be strings")
            dict.__setitem__(d, k, wrap(v, d, k, recorder))
        return d
    if isinstance(value, list):
        lst = TrackedList.__new__(TrackedList)
        lst._init(parent, key, recorder)
        list.extend(lst, (wrap(v, lst, None, recorder) for v in value))
        return lst
    return value


class Tracked:
    _parent: Tracked | None
    _key: Any
    _recorder: Recorder

    def _init(self, parent: Tracked | None, key: Any, recorder: Recorder) -> None:
        self._parent, self._key, self._recorder = parent, key, recorder

    def _path(self) -> Path:
        parent = self._parent
        if parent is None:
            return []
        if isinstance(parent, TrackedList):
            for i, item in enumerate(parent):
                if item is self:
                    return [*parent._path(), str(i)]
        elif isinstance(parent, TrackedDict) and dict.get(parent, self._key) is self:
            return [*parent._path(), str(self._key)]
        # Replaced or removed: an edit here would reach no replica's copy of this container, and the path
        # it had may now hold another value, so editing it is refused (PROTOCOL §3.3.2: paths at edit time).
        raise RuntimeError("detached container: it was removed from the object")

    def _emit(self, body: dict[str, Any], ops: list[Op]) -> None:
        self._recorder.record(body, ops)


class TrackedDict(Tracked, dict):  # type: ignore[type-arg]
    __slots__ = ("_key", "_parent", "_recorder")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("TrackedDict is made by wrap()")

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError("JSON object keys must be strings")
        if dict.get(self, key, _MISSING) is value:
            # Storing what is already there changes nothing. It is how Python ends an augmented assignment
            # (`d[k] += [x]` is `d[k] = d[k].__iadd__([x])`): the in-place edit has been sent already.
            return
        self._recorder.guard()
        plain = _plain(value)
        path = [*self._path(), key]  # before the edit: a detached container raises unchanged
        self._recorder.admit(path)
        # `replace` for an existing key: its event is an update (PROTOCOL §3.3.2 "add or update").
        op = "replace" if key in self else "add"
        dict.__setitem__(self, key, wrap(plain, self, key, self._recorder))
        self._emit(ch.set_body(path, plain), [{"op": op, "path": ch.pointer(path), "value": plain}])

    def __delitem__(self, key: str) -> None:
        self._recorder.guard()
        path = [*self._path(), key]
        self._recorder.admit(path)
        dict.__delitem__(self, key)
        self._emit(ch.remove_body(path), [{"op": "remove", "path": ch.pointer(path)}])

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = _unwrap(dict.__getitem__(self, key))
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self))
        return key, self.pop(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        items = dict(*args, **kwargs)
        for key, value in items.items():  # all checked first: a bad value leaves the object unedited
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            _plain(value)
        for key, value in items.items():
            self[key] = value

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __ior__(self, other: Any) -> TrackedDict:  # type: ignore[misc]
        self.update(other)
        return self

    def __reduce__(self) -> Any:
        return (dict, (_unwrap(self),))


def _index(lst: list[Any], i: SupportsIndex, insert: bool = False) -> int:
    """`i` as a position in `lst` (negative from the end); for an insert clamped to 0..len like
    `list.insert`, so the index sent is the index used."""
    n = len(lst)
    k = operator.index(i)
    if insert:
        return max(0, min(n, k + n if k < 0 else k))
    if k < 0:
        k += n
    if not 0 <= k < n:
        raise IndexError("list index out of range")
    return k


class TrackedList(Tracked, list):  # type: ignore[type-arg]
    __slots__ = ("_key", "_parent", "_recorder")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("TrackedList is made by wrap()")

    def _insert_items(self, index: SupportsIndex, items: list[Any]) -> None:
        self._recorder.guard()
        index = _index(self, index, insert=True)
        plains = [_plain(v) for v in items]
        if not plains:
            return
        path = self._path()
        self._recorder.admit(path)
        for k, plain in enumerate(plains):
            list.insert(self, index + k, wrap(plain, self, None, self._recorder))
        self._emit(ch.insert_body([*path, str(index)], plains),
                   [{"op": "add", "path": ch.pointer([*path, str(index + k)]), "value": p}
                    for k, p in enumerate(plains)])

    def _remove_items(self, index: int, count: int) -> None:
        self._recorder.guard()
        if count <= 0:
            return
        path = self._path()  # before removal: an element's own path must still resolve
        self._recorder.admit(path)
        list.__delitem__(self, slice(index, index + count))
        self._emit(ch.remove_items_body([*path, str(index)], count),
                   [{"op": "remove", "path": ch.pointer([*path, str(index)])}] * count)

    def __setitem__(self, i: Any, value: Any) -> None:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                raise ValueError("extended slice assignment is not supported on a data object")
            items = list(value)
            for item in items:  # checked first: a bad item must not leave the removal half done
                _plain(item)
            # PROTOCOL §3.3.2: slice assignment is a remove then an insert, two messages.
            self._remove_items(start, max(0, stop - start))
            self._insert_items(start, items)
            return
        k = _index(self, i)
        if list.__getitem__(self, k) is value:  # `l[i] += [x]`: see TrackedDict.__setitem__
            return
        self._recorder.guard()
        plain = _plain(value)
        path = [*self._path(), str(k)]
        self._recorder.admit(path)
        list.__setitem__(self, k, wrap(plain, self, None, self._recorder))
        self._emit(ch.element_set_body(path, plain), [{"op": "replace", "path": ch.pointer(path), "value": plain}])

    def __delitem__(self, i: Any) -> None:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                raise ValueError("extended slice deletion is not supported on a data object")
            self._remove_items(start, max(0, stop - start))
            return
        self._remove_items(_index(self, i), 1)

    def append(self, value: Any) -> None:
        self._insert_items(len(self), [value])

    def extend(self, values: Iterable[Any]) -> None:
        self._insert_items(len(self), list(values))

    def insert(self, i: SupportsIndex, value: Any) -> None:
        self._insert_items(_index(self, i, insert=True), [value])

    def pop(self, i: SupportsIndex = -1) -> Any:
        k = _index(self, i)
        value = _unwrap(list.__getitem__(self, k))
        self._remove_items(k, 1)
        return value

    def remove(self, value: Any) -> None:
        self._remove_items(list.index(self, value), 1)

    def clear(self) -> None:
        self._remove_items(0, len(self))

    def __iadd__(self, values: Iterable[Any]) -> TrackedList:  # type: ignore[misc]
        self.extend(values)
        return self

    def __imul__(self, n: SupportsIndex) -> TrackedList:
        """`l *= n`: one insert of the n-1 extra copies at the end (or a clear for n <= 0)."""
        k = operator.index(n)
        if k <= 0:
            self.clear()
        elif k > 1:
            self._insert_items(len(self), _unwrap(self) * (k - 1))
        return self

    def _replace_all(self, items: list[Any]) -> None:
        self._remove_items(0, len(self))
        self._insert_items(0, items)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        items = _unwrap(self)
        items.sort(*args, **kwargs)
        self._replace_all(items)

    def reverse(self) -> None:
        self._replace_all(_unwrap(self)[::-1])

    def __reduce__(self) -> Any:
        return (list, (_unwrap(self),))


def _unwrap(value: Any) -> Any:
    """A plain-JSON copy of a (possibly tracked) value."""
    if isinstance(value, (dict, list)):
        return ch.copy_json(value)
    return value
