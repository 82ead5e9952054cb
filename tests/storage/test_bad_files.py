"""Files the storage cannot use raise StorageError naming the file and what to do; they stay untouched."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.runtime import storage as storage_mod
from core.runtime.storage import Storage, StorageError

ROOT = Path(__file__).resolve().parents[2]
URL = "obj://a.example/1"


def reporter(version: int = 0) -> dict[str, object]:
    return {"url": URL, "isReporter": True, "schema": "s", "store": False, "version": version, "lastModified": "t"}


def make_storage(path: Path, records: int = 1) -> None:
    with Storage(path) as store:
        for i in range(records):
            store.put_reporter(f"{URL}{i}", {**reporter(i), "url": f"{URL}{i}"})


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file of a directory with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@contextmanager
def locked_by_another_process(path: Path) -> Iterator[None]:
    holder = subprocess.Popen([sys.executable, "-m", "tests.storage.harness", "lock", str(path)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert holder.stdin is not None and holder.stdout is not None and holder.stderr is not None
    try:
        assert holder.stdout.readline() == b"locked\n", holder.stderr.read().decode()
        yield
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0, holder.stderr.read().decode()
        holder.stdout.close()
        holder.stderr.close()


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    path.write_bytes(random.Random(4).randbytes(64 * 1024))
    before = snapshot(tmp_path)
    with pytest.raises(StorageError) as err:
        Storage(path)
    assert str(err.value) == (
        f"Storage file {path} is corrupt or not an SQLite database (file is not a database). It was left untouched: "
        "move it away (or restore a backup) and start again to begin with an empty storage.")
    assert err.value.path == path
    assert snapshot(tmp_path) == before  # not modified, and no -wal/-shm left beside it


def test_damaged_pages(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    make_storage(path, records=40)
    data = path.read_bytes()
    path.write_bytes(data[:4096] + random.Random(5).randbytes(len(data) - 4096))  # page 1 intact, the rest noise
    before = snapshot(tmp_path)
    with pytest.raises(StorageError) as err:
        Storage(path)
    assert str(err.value) == (
        f"Storage file {path} is corrupt or not an SQLite database (database disk image is malformed). It was left "
        "untouched: move it away (or restore a backup) and start again to begin with an empty storage.")
    assert snapshot(tmp_path) == before


def test_record_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    make_storage(path)
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("UPDATE reporter_records SET record = x'7b6e6f'")
    raw.close()
    before = snapshot(tmp_path)
    with Storage(path) as store, pytest.raises(StorageError) as err:
        store.reporters()
    assert str(err.value).startswith(f"Storage file {path} holds a reporter record that is not JSON (")
    assert str(err.value).endswith("). Move the file away (or restore a backup) and start again.")
    assert snapshot(tmp_path) == before


def test_newer_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    make_storage(path)
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    raw.close()
    before = snapshot(tmp_path)
    with pytest.raises(StorageError) as err:
        Storage(path)
    assert str(err.value) == (
        f"Storage file {path} has schema version 2, newer than this SyncScope understands (up to 1); it was written "
        "by a newer release. It was left untouched: upgrade SyncScope to open it, or give this runtime another "
        "storage path.")
    assert snapshot(tmp_path) == before


def test_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    raw.close()
    before = snapshot(tmp_path)
    with pytest.raises(StorageError) as err:
        Storage(path)
    assert str(err.value) == (
        f"Storage file {path} is an SQLite database but not a SyncScope storage file (no SyncScope schema version "
        "in it). It was left untouched: give the runtime another storage path, or move this file away.")
    assert snapshot(tmp_path) == before


def test_locked_by_another_process_at_open(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    make_storage(path, records=3)
    before = path.read_bytes()
    with locked_by_another_process(path):
        with pytest.raises(StorageError) as err:
            Storage(path, busy_timeout=0.2)
        assert str(err.value) == (
            f"Storage file {path} is locked by another process (waited 0.2 s to open). Stop the other SyncScope "
            "runtime or tool using this file, or give this runtime its own storage path.")
        assert path.read_bytes() == before
    assert path.read_bytes() == before
    with Storage(path) as store:  # usable once the other process lets go
        assert sorted(store.reporters()) == [f"{URL}0", f"{URL}1", f"{URL}2"]


def test_locked_by_another_process_while_open(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    with Storage(path, busy_timeout=0.2) as store:
        store.put_reporter(URL, reporter(0))
        with locked_by_another_process(path):
            with pytest.raises(StorageError) as err:
                store.set_version("reporter", URL, 1)
            assert str(err.value) == (
                f"Storage file {path} is locked by another process (waited 0.2 s to store version 1 of {URL}). Stop "
                "the other SyncScope runtime or tool using this file, or give this runtime its own storage path.")
            with pytest.raises(StorageError, match="is locked by another process"):
                store.put_reporter(URL, reporter(2))
            assert store.reporters() == {URL: reporter(0)}  # readers are not blocked in WAL mode
        store.set_version("reporter", URL, 3)
        assert store.reporters() == {URL: reporter(3)}
        assert (store.stats.puts, store.stats.versions, store.stats.rollbacks) == (1, 1, 0)


def test_locked_empty_file_is_not_initialised(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    path.write_bytes(b"")
    with locked_by_another_process(path), pytest.raises(StorageError, match="is locked by another process"):
        Storage(path, busy_timeout=0.2)
    assert snapshot(tmp_path) == {"storage.sqlite3": b""}


def test_path_is_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "storage"
    path.mkdir()
    (path / "keep.txt").write_text("x")
    with pytest.raises(StorageError) as err:
        Storage(path)
    assert str(err.value) == (
        f"Storage path {path} is a directory, not a file: give the runtime the path of a file inside it "
        f"(e.g. {path / 'runtime.sqlite3'}).")
    assert sorted(os.listdir(path)) == ["keep.txt"]


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(StorageError) as err:
        Storage(tmp_path / "blocker" / "storage.sqlite3")
    target = tmp_path / "blocker" / "storage.sqlite3"
    assert str(err.value).startswith(f"Cannot create the directory of storage file {target}: ")
    assert str(err.value).endswith(". Create it or choose another storage path.")
    assert (tmp_path / "blocker").read_text() == "x"


def test_failing_migration_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "storage.sqlite3"
    make_storage(path, records=2)
    before = snapshot(tmp_path)

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE reporters ADD COLUMN tags TEXT")
        conn.execute("SELECT no_such_column FROM reporters")

    monkeypatch.setattr(storage_mod, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(storage_mod.MIGRATIONS, 2, ("tags", broken))
    with pytest.raises(StorageError) as err:
        Storage(path)
    assert str(err.value) == (
        f"Storage file {path}: SQLite failed to open (no such column: no_such_column). Check the disk and the file; "
        "if it persists, move the file away and start again.")
    assert snapshot(tmp_path) == before


def test_missing_migration_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "storage.sqlite3"
    make_storage(path)
    before = snapshot(tmp_path)
    monkeypatch.setattr(storage_mod, "SCHEMA_VERSION", 2)
    with pytest.raises(StorageError) as err:
        Storage(path)
    assert str(err.value) == (
        f"Storage file {path} has schema version 1 and this SyncScope has no migration to version 2. It was left "
        "untouched: use the SyncScope release that wrote it, or another storage path.")
    assert snapshot(tmp_path) == before


def test_damaged_record_pages_found_by_a_load(tmp_path: Path) -> None:
    """A load reads the file mapped (DECISIONS 85): damage it meets there is still a StorageError, not a
    crash, the file stays untouched, and the map ends with the load."""
    path = tmp_path / "storage.sqlite3"
    with Storage(path) as store:
        for i in range(300):
            store.put_reporter(f"{URL}{i}", {**reporter(i), "url": f"{URL}{i}", "data": {"text": "x" * 1000}})
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 40 * page
    # the records' leaf pages, at the file's end, overwritten with noise; the schema's first pages kept
    data[-20 * page:] = random.Random(6).randbytes(20 * page)
    path.write_bytes(bytes(data))
    before = snapshot(tmp_path)
    with Storage(path) as store:
        with pytest.raises(StorageError) as err:
            store.reporters()
        assert str(err.value) == (
            f"Storage file {path} is corrupt or not an SQLite database (database disk image is malformed). It was "
            "left untouched: move it away (or restore a backup) and start again to begin with an empty storage.")
        assert store._live().execute("PRAGMA mmap_size").fetchone()[0] == 0   # not left mapped
    assert snapshot(tmp_path) == before
