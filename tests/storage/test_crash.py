"""A writer process killed with SIGKILL mid-stream keeps every write whose call had returned."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.runtime.storage import Storage
from tests.storage import harness

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("synchronous", "kill_after"), [
    ("NORMAL", 1), ("NORMAL", 57), ("NORMAL", 900),
    ("FULL", 1), ("FULL", 120),  # an fsync per write: a few ms each
])
def test_sigkill_mid_stream_keeps_every_acknowledged_write(tmp_path: Path, synchronous: str, kill_after: int) -> None:
    path = tmp_path / "rt" / "storage.sqlite3"
    child = subprocess.Popen([sys.executable, "-m", "tests.storage.harness", "writer", str(path), synchronous],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    try:
        assert child.stdout.readline() == b"ready\n", child.stderr.read().decode()
        acked = [child.stdout.readline() for _ in range(kill_after)]
        os.kill(child.pid, signal.SIGKILL)  # the writer is still looping: it dies in the middle of the stream
        acked += child.stdout.read().splitlines(keepends=True)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert all(line.endswith(b"\n") for line in acked)
    indices = [int(line) for line in acked]
    assert indices == list(range(len(indices)))
    assert len(indices) >= kill_after

    assert path.with_name(path.name + "-wal").exists()  # no clean close: what was acknowledged is in the WAL
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        raw.close()

    # What every object must hold: its last acknowledged step; only the step after the last
    # acknowledged one may have committed without being acknowledged.
    acked_version = {(kind, url): 0 for kind, url, _ in harness.OBJECTS}
    for i in indices:
        kind, url, _, version = harness.step(i)
        acked_version[(kind, url)] = version
    nxt_kind, nxt_url, _, nxt_version = harness.step(len(indices))

    with Storage(path) as store:
        stored = {"reporter": store.reporters(), "observer": store.observers()}
        assert store.problems == []
        assert store.integrity_check() == ["ok"]
    assert {kind: sorted(recs) for kind, recs in stored.items()} == {
        kind: sorted(url for k, url, _ in harness.OBJECTS if k == kind) for kind in ("reporter", "observer")}
    for kind, url, mode in harness.OBJECTS:
        allowed = {acked_version[(kind, url)]}
        if (kind, url) == (nxt_kind, nxt_url):
            allowed.add(nxt_version)
        got = stored[kind][url]
        assert got["version"] in allowed
        n = 0 if mode == "version" else got["version"]
        assert got == harness.record(kind, url, got["version"], n)
