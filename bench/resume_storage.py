"""Storage-level part of the resume benchmark (issue 4): what `core.runtime.storage` costs on its own.

Stores 10,000 reporter and 10,000 observer records (1 KB of data each), closes the file, reopens it and
loads every record (the storage share of a restart); then the cost of one stored update on the hot
path (`set_version`: µs, commits and measured fsyncs per update) and of data changes (`put_*` of the
whole record vs `apply_change`), beside a raw sqlite3 baseline measured in the same run on the same
disk with the same pragmas: executemany insert of the same rows, and single-row UPDATE + commit.

    python -m bench.resume_storage [--objects 10000] [--updates 10000] [--synchronous NORMAL]

The last line printed is one JSON object. fsyncs are counted with strace when it is available
(``null`` otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from core.runtime.storage import Storage

ALICE = "hyperty://a.example/alice"
BOB = "hyperty://b.example/bob"
SCHEMA = "hyperty-catalogue://a.example/.well-known/dataschema/Communication"


def data_of(i: int, size: int) -> dict[str, Any]:
    """A chat-like document (one message per 100 bytes) whose JSON takes exactly `size` bytes."""
    data: dict[str, Any] = {"participants": {"alice": {"status": "online"}, "bob": {"status": "away"}},
                            "messages": [{"from": ALICE, "text": f"message {i}.{k}", "at": 1767225600 + k}
                                         for k in range(max(4, size // 100))],
                            "pad": ""}
    data["pad"] = "x" * max(0, size - len(orjson.dumps(data)))
    return data


def reporter_record(i: int, data_bytes: int) -> dict[str, Any]:
    url = f"comm://a.example/r-{i:06d}"
    return {"url": url, "reporter": ALICE, "runtime": "runtime://a.example/1", "schema": SCHEMA, "name": f"chat {i}",
            "created": "2026-01-01T00:00:00Z", "status": "live", "isReporter": True, "childrens": ["resources"],
            "subscriptions": [BOB], "subscriberUsers": ["user://a.example/alice"], "preAuthorised": [BOB],
            "store": True, "version": 3, "lastModified": "2026-01-01T00:00:03Z", "data": data_of(i, data_bytes),
            "childrenObjects": {}}


def observer_record(i: int, data_bytes: int) -> dict[str, Any]:
    url = f"comm://b.example/o-{i:06d}"
    return {"url": url, "reporter": BOB, "runtime": "runtime://b.example/1", "schema": SCHEMA, "name": f"chat {i}",
            "created": "2026-01-01T00:00:00Z", "status": "live", "isReporter": False, "childrens": ["resources"],
            "subscriptions": [ALICE], "store": True, "version": 5, "data": data_of(i, data_bytes),
            "childrenObjects": {}}


def per_call_us(seconds: float, calls: int) -> float:
    return round(seconds / calls * 1e6, 2)


def raw_baseline(path: Path, rows: list[tuple[str, int, str | None, bytes]], updates: int,
                 synchronous: str) -> tuple[float, float]:
    """Plain sqlite3, same pragmas: executemany insert rate (rows/s), single-row UPDATE+commit (µs)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE objects (url TEXT PRIMARY KEY, version INTEGER NOT NULL, last_modified TEXT, "
                 "record BLOB NOT NULL)")
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO objects VALUES (?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    insert_rate = len(rows) / (time.perf_counter() - start)
    urls = [r[0] for r in rows]
    start = time.perf_counter()
    for n in range(updates):
        conn.execute("BEGIN")
        conn.execute("UPDATE objects SET version = ? WHERE url = ?", (n, urls[n % len(urls)]))
        conn.execute("COMMIT")
    update_us = per_call_us(time.perf_counter() - start, updates)
    conn.close()
    return round(insert_rate), update_us


def fsync_probe(directory: str, updates: int, synchronous: str) -> None:
    """Child of `count_fsyncs`: `updates` set_version calls between two markers on stdout."""
    with Storage(Path(directory) / "probe.sqlite3", synchronous="FULL" if synchronous == "FULL" else "NORMAL") as s:
        for i in range(100):
            s.put_reporter(f"comm://a.example/p{i}", {**reporter_record(i, 1024), "url": f"comm://a.example/p{i}"})
        os.write(1, b"FSYNC-PROBE-START\n")
        for n in range(updates):
            s.set_version("reporter", f"comm://a.example/p{n % 100}", 10 + n)
        os.write(1, b"FSYNC-PROBE-END\n")


def count_fsyncs(directory: Path, updates: int, synchronous: str) -> float | None:
    """fsync + fdatasync calls per set_version, counted by strace (None when strace is missing)."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    log = directory / "strace.log"
    done = subprocess.run([strace, "-f", "-qq", "-e", "trace=fsync,fdatasync,write", "-o", str(log),
                           sys.executable, "-m", "bench.resume_storage", "--fsync-probe", str(directory),
                           "--updates", str(updates), "--synchronous", synchronous],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if done.returncode != 0 or not log.exists():
        return None
    inside, syncs = False, 0
    for line in log.read_text().splitlines():
        if "FSYNC-PROBE-START" in line:
            inside = True
        elif "FSYNC-PROBE-END" in line:
            inside = False
        elif inside and ("fsync(" in line or "fdatasync(" in line):
            syncs += 1
    return round(syncs / updates, 4)


def run(objects: int, data_bytes: int, updates: int, synchronous: str, workdir: Path) -> dict[str, Any]:
    sync = "FULL" if synchronous == "FULL" else "NORMAL"
    load_at_start = round(os.getloadavg()[0], 2)  # other processes on the machine skew wall times
    path = workdir / "storage.sqlite3"
    reporters = [reporter_record(i, data_bytes) for i in range(objects)]
    observers = [observer_record(i, data_bytes) for i in range(objects)]
    total = 2 * objects

    start = time.perf_counter()
    with Storage(path, synchronous=sync) as s:
        for rec in reporters:
            s.put_reporter(rec["url"], rec)
        for rec in observers:
            s.put_observer(rec["url"], rec)
    write_s = time.perf_counter() - start
    print(f"stored {total} records one transaction each in {write_s:.3f} s "
          f"({per_call_us(write_s, total)} µs per put); file {path.stat().st_size / 2**20:.1f} MiB")

    loads: list[tuple[float, float]] = []
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        s = Storage(path, synchronous=sync)
        loaded_r, loaded_o = s.reporters(), s.observers()
        loads.append((time.perf_counter() - start, time.process_time() - cpu))
        assert len(loaded_r) == len(loaded_o) == objects
        assert loaded_r[reporters[-1]["url"]] == reporters[-1] and loaded_o[observers[0]["url"]] == observers[0]
        del loaded_r, loaded_o
        s.close()
    load_s, load_cpu_s = loads[0]
    best_s = min(wall for wall, _ in loads)
    print(f"reopened and loaded {total} records in {load_s:.3f} s (CPU {load_cpu_s:.3f} s); "
          f"best of {len(loads)}: {best_s:.3f} s")
    s = Storage(path, synchronous=sync)

    urls = [rec["url"] for rec in reporters]
    before = s.stats.commits
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(updates):
        s.set_version("reporter", urls[n % objects], 4 + n // objects, "2026-01-01T00:00:04Z")
    set_version_us = per_call_us(time.perf_counter() - start, updates)
    set_version_cpu_us = per_call_us(time.process_time() - cpu, updates)
    commits_per_update = (s.stats.commits - before) / updates
    print(f"set_version: {set_version_us} µs per update (CPU {set_version_cpu_us} µs), "
          f"{commits_per_update:g} commit per update")

    some = min(updates, 2000)
    start = time.perf_counter()
    for n in range(some):
        rec = reporters[n % objects]
        rec["version"] += 1
        s.put_reporter(rec["url"], rec)
    put_us = per_call_us(time.perf_counter() - start, some)
    start = time.perf_counter()
    for n in range(some):
        s.apply_change("reporter", urls[n % objects], [{"op": "add", "path": "/participants/carol",
                                                         "value": {"status": "online", "n": n}}], version=100 + n)
    change_us = per_call_us(time.perf_counter() - start, some)
    print(f"data change of a {data_bytes} B record: put_reporter {put_us} µs, apply_change {change_us} µs")

    big = {**reporters[0], "url": "comm://a.example/big", "data": data_of(0, 256 * 1024)}
    s.put_reporter(big["url"], big)
    few = 200
    start = time.perf_counter()
    for _ in range(few):
        big["version"] += 1
        s.put_reporter(big["url"], big)
    big_put_us = per_call_us(time.perf_counter() - start, few)
    start = time.perf_counter()
    for n in range(few):
        s.apply_change("reporter", big["url"], [{"op": "add", "path": "/participants/carol",
                                                 "value": {"status": "online", "n": n}}], version=1000 + n)
    big_change_us = per_call_us(time.perf_counter() - start, few)
    folds = s.stats.folds
    s.close()
    print(f"data change of a 256 KiB record: put_reporter {big_put_us} µs, apply_change {big_change_us} µs "
          f"({folds} folds in all)")

    full_updates = min(updates, 500)
    with Storage(workdir / "full.sqlite3", synchronous="FULL") as f:
        f.put_reporter(urls[0], reporters[0])
        start = time.perf_counter()
        for n in range(full_updates):
            f.set_version("reporter", urls[0], 1000 + n)
        full_us = per_call_us(time.perf_counter() - start, full_updates)
    print(f"set_version with synchronous=FULL: {full_us} µs per update")

    rows = []
    for rec in reporters + observers:
        body = {k: v for k, v in rec.items() if k not in ("url", "version", "lastModified")}
        rows.append((rec["url"], rec["version"], rec.get("lastModified"), orjson.dumps(body)))
    raw_rate, raw_update_us = raw_baseline(workdir / "raw.sqlite3", rows, updates, sync)
    print(f"raw sqlite3: executemany insert {raw_rate} rows/s, single-row UPDATE+commit {raw_update_us} µs")

    fsyncs = count_fsyncs(workdir, min(updates, 2000), sync)
    print(f"fsyncs per set_version ({sync}, strace): {fsyncs}")

    return {"bench": "resume_storage", "cpus": os.cpu_count(), "loadavg_1m_at_start": load_at_start,
            "objects": total, "data_bytes": data_bytes, "synchronous": sync,
            "sqlite": sqlite3.sqlite_version, f"write_{total}_s": round(write_s, 3),
            f"load_{total}_s": round(load_s, 3),
            f"load_{total}_cpu_s": round(load_cpu_s, 3), f"load_{total}_best_s": round(best_s, 3),
            "set_version_us": set_version_us, "set_version_cpu_us": set_version_cpu_us,
            "set_version_commits_per_update": commits_per_update,
            "set_version_fsyncs_per_update": fsyncs, "set_version_full_us": full_us,
            "put_1kb_us": put_us, "apply_change_1kb_us": change_us,
            "put_256kb_us": big_put_us, "apply_change_256kb_us": big_change_us,
            "raw_insert_rows_per_s": raw_rate, "raw_update_commit_us": raw_update_us}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=10_000, help="reporter records, and as many observers")
    parser.add_argument("--data-bytes", type=int, default=1024)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--synchronous", choices=["NORMAL", "FULL"], default="NORMAL")
    parser.add_argument("--dir", help="work directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--fsync-probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fsync_probe:
        fsync_probe(args.fsync_probe, args.updates, args.synchronous)
        return
    if args.dir:
        workdir = Path(args.dir)
        workdir.mkdir(parents=True, exist_ok=True)
        result = run(args.objects, args.data_bytes, args.updates, args.synchronous, workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="resume_storage-") as tmp:
            result = run(args.objects, args.data_bytes, args.updates, args.synchronous, Path(tmp))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
