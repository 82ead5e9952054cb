"""Child-process harnesses for the storage tests (run with ``python -m tests.storage.harness``).

``writer PATH SYNCHRONOUS``: stores the records of `OBJECTS`, prints ``ready``, then performs `step(0)`,
`step(1)`, … for ever, printing the step index after each call has returned (an acknowledged write).
``lock PATH``: takes SQLite's EXCLUSIVE lock on PATH, prints ``locked`` and holds it until stdin closes.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import Any, Literal

Mode = Literal["put", "change", "version"]

#: (kind, url, mode): how the writer updates each object.
OBJECTS: list[tuple[Literal["reporter", "observer"], str, Mode]] = [
    (kind, f"obj://a.example/{kind[0]}{j}", ("put", "change", "version")[j % 3])
    for kind in ("reporter", "observer") for j in range(6)
]


def step(i: int) -> tuple[Literal["reporter", "observer"], str, Mode, int]:
    """Step i of the writer: object i mod len(OBJECTS), taken to version i // len(OBJECTS) + 1."""
    kind, url, mode = OBJECTS[i % len(OBJECTS)]
    return kind, url, mode, i // len(OBJECTS) + 1


def record(kind: str, url: str, version: int, n: int) -> dict[str, Any]:
    """The record of one object at `version` whose data was last changed at version `n`."""
    rec: dict[str, Any] = {"url": url, "isReporter": kind == "reporter", "reporter": "hyperty://a.example/alice",
                           "schema": "hyperty-catalogue://a.example/.well-known/dataschema/Communication",
                           "childrens": ["resources"], "subscriptions": ["hyperty://b.example/bob"],
                           "subscriberUsers": ["user://a.example/alice"], "store": True, "version": version,
                           "lastModified": f"t{version}", "data": {"n": n, "pad": "p" * 200},
                           "childrenObjects": {}}
    if kind == "reporter":
        rec["preAuthorised"] = ["hyperty://b.example/bob"]
    return rec


def writer(path: str, synchronous: str) -> None:
    from core.runtime import storage as storage_mod

    storage_mod.FOLD_AFTER_CHANGES = 5  # fold often, so a kill may land in a fold too
    store = storage_mod.Storage(path, synchronous="FULL" if synchronous == "FULL" else "NORMAL")
    for kind, url, _ in OBJECTS:
        rec = record(kind, url, 0, 0)
        (store.put_reporter if kind == "reporter" else store.put_observer)(url, rec)
    os.write(1, b"ready\n")
    i = 0
    while True:
        kind, url, mode, version = step(i)
        if mode == "put":
            (store.put_reporter if kind == "reporter" else store.put_observer)(url, record(kind, url, version, version))
        elif mode == "change":
            store.apply_change(kind, url, [{"op": "replace", "path": "/n", "value": version}], version=version,
                               last_modified=f"t{version}")
        else:
            store.set_version(kind, url, version, f"t{version}")
        os.write(1, f"{i}\n".encode())  # one write(2): a line is printed whole or not at all
        i += 1


def lock(path: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    os.write(1, b"locked\n")
    sys.stdin.read()
    conn.execute("ROLLBACK")
    conn.close()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"writer": writer, "lock": lock}[command](*args)
