"""How a stored record sits in its row (see `core.runtime.storage`, "Layout"): its JSON without the
columns kept apart, its data written last, and the changes logged since it was last written whole.

The data is written last, after ``, "data": `` (the one space orjson never writes marks where it starts),
so a resume can keep each document as its text until it is read (`Encoded`) rather than decode 20,000 of
them (DECISIONS 82); any JSON reader still reads the record whole, and records written before (data
anywhere) load as before."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from core.protocol.changes import ChangeError, apply_ops
from core.protocol.encoded import Encoded, as_fragment

#: Between a record's other fields and its data, written last: orjson writes no space, so this is found
#: only where `body_json` put it (nested keys and string contents cannot hold it: their quotes are escaped
#: or unspaced). A resume's load (`core.runtime.storage.Storage._load`) keeps what follows it `Encoded`.
DATA_LAST: Final = b', "data": '
_DATA_AFTER: Final = len(DATA_LAST)


def _prefixed(at: str, ops: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`ops` with `at` put in front of every path (and ``from``)."""
    out: list[dict[str, Any]] = []
    for op in ops:
        moved = {**op, "path": at + str(op["path"])}
        if "from" in op:
            moved["from"] = at + str(op["from"])
        out.append(moved)
    return out


def body_json(body: dict[str, Any]) -> bytes:
    """The JSON of a record body (taken apart: the caller's own dict), its data last (see "Layout"); an
    `Encoded` data is written as the text it holds."""
    if "data" not in body or len(body) == 1:
        return orjson.dumps(body, default=as_fragment)
    data = body.pop("data")
    head = orjson.dumps(body)
    return b"".join((head[:-1], DATA_LAST, data.raw if type(data) is Encoded else orjson.dumps(data), b"}"))


def read_rows(rows: Iterable[tuple[str, bytes, int | None, str | None, int | None]], encoded_data: bool
              ) -> tuple[dict[str, dict[str, Any]], list[str], bool]:
    """(records by URL, URLs without a version row, whether any has logged changes) of rows `(url, record,
    version, last_modified, log_count)`, a record's data left `Encoded` with `encoded_data` when written
    last and no change is logged to be replayed on it."""
    out: dict[str, dict[str, Any]] = {}
    orphans: list[str] = []
    logged = False
    loads = orjson.loads
    for url, blob, version, last_modified, log_count in rows:
        if version is None:  # no version row: cannot happen, both rows are written in one transaction
            orphans.append(url)
            continue
        # parsed here, not in a helper: a call per record is ~2% of a load
        if log_count or not encoded_data or (cut := blob.find(DATA_LAST)) < 0:
            record = loads(blob)
            if log_count:
                logged = True
        else:
            record = loads(blob[:cut] + b"}")
            record["data"] = Encoded(blob[cut + _DATA_AFTER:-1])
        out[url] = with_columns(record, url, version, last_modified)
    return out, orphans, logged


def with_columns(record: dict[str, Any], url: str, version: int, last_modified: str | None) -> dict[str, Any]:
    """A parsed record with the columns kept outside its JSON put back."""
    record["url"] = url
    record["version"] = version
    if last_modified is not None:
        record["lastModified"] = last_modified
    return record


def replay(record: dict[str, Any], log: Iterable[tuple[str, bytes]]) -> str | None:
    """Apply logged changes to `record` in place, in order; the first error, or None."""
    for at, blob in log:
        try:
            result = apply_ops(record, _prefixed(at, orjson.loads(blob)))
        except (ChangeError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return str(exc) or type(exc).__name__
        if result is not record:
            return "a change replaced the whole record"
    return None
