"""The storage API on real SQLite files: records, versions, change log, schema, lifetime."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.protocol.changes import apply_update, pointer
from core.runtime import storage as storage_mod
from core.runtime.storage import SCHEMA_VERSION, Storage, StorageError, StorageStats

O1 = "comm://a.example/obj-1"
O2 = "comm://a.example/obj-2"
ALICE = "hyperty://a.example/alice"
BOB = "hyperty://b.example/bob"
CID = "hyperty://b.example/bob#1"


def reporter_record(version: int = 0, **extra: Any) -> dict[str, Any]:
    """A reporter record of PROTOCOL §3.0.6 that stores its data."""
    return {"url": O1, "reporter": ALICE, "runtime": "runtime://a.example/1", "schema": "schema://comm",
            "name": "chat", "created": "2026-01-01T00:00:00Z", "status": "live", "isReporter": True,
            "childrens": ["resources"], "subscriptions": [BOB], "subscriberUsers": ["user://a.example/alice"],
            "preAuthorised": [BOB], "store": True, "version": version, "lastModified": f"t{version}",
            "data": {"participants": {"bob": {"status": "online"}}, "log": [1, 2]},
            "childrenObjects": {}, **extra}


def observer_record(version: int = 0, **extra: Any) -> dict[str, Any]:
    return {"url": O1, "reporter": ALICE, "schema": "schema://comm", "isReporter": False, "childrens": ["resources"],
            "subscriptions": [BOB], "store": False, "version": version, **extra}


def raw_rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "runtimes" / "a" / "storage.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[Storage]:
    s = Storage(path)
    yield s
    s.close()


# file, schema, modes ---------------------------------------------------------------------------------

def test_new_file_schema_and_modes(path: Path, store: Storage) -> None:
    assert store.path == path and path.is_file()
    assert store.synchronous == "NORMAL"
    assert store.schema_version() == SCHEMA_VERSION == 1
    assert raw_rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert raw_rows(path, "SELECT key, value FROM meta ORDER BY key") == [("application", "syncscope"),
                                                                          ("schema_version", "1")]
    rows = raw_rows(path, "SELECT version, description FROM migrations")
    assert rows == [(1, "initial schema: meta, migrations, reporters/observers (+ _records), changes")]
    assert raw_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") == [
        ("changes",), ("meta",), ("migrations",), ("observer_records",), ("observers",), ("reporter_records",),
        ("reporters",)]
    assert store.integrity_check() == ["ok"]
    assert store.reporters() == {} and store.observers() == {}
    assert store.stats == StorageStats()


def test_full_synchronous(path: Path) -> None:
    with Storage(path, synchronous="FULL") as store:
        assert store.synchronous == "FULL"
    with pytest.raises(ValueError, match="synchronous must be 'NORMAL' or 'FULL', not 'OFF'"):
        Storage(path, synchronous="OFF")  # type: ignore[arg-type]


def test_empty_file_is_initialised(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with Storage(path) as store:
        assert store.schema_version() == 1
        store.put_reporter(O1, reporter_record())
    with Storage(path) as store:
        assert store.reporters() == {O1: reporter_record()}


def test_reopen_migrates_nothing_twice(path: Path) -> None:
    Storage(path).close()
    Storage(path).close()
    assert raw_rows(path, "SELECT version FROM migrations") == [(1,)]


def test_older_file_is_migrated(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Storage(path) as store:
        store.put_reporter(O1, reporter_record(4))

    def to_2(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE extra (k TEXT)")

    monkeypatch.setattr(storage_mod, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(storage_mod.MIGRATIONS, 2, ("extra table", to_2))
    with Storage(path) as store:
        assert store.schema_version() == 2
        assert store.reporters() == {O1: reporter_record(4)}
    assert [r[0] for r in raw_rows(path, "SELECT version FROM migrations ORDER BY version")] == [1, 2]
    assert raw_rows(path, "SELECT description FROM migrations WHERE version = 2") == [("extra table",)]
    assert raw_rows(path, "SELECT count(*) FROM extra") == [(0,)]


# records ---------------------------------------------------------------------------------------------

def test_put_and_load_round_trip(path: Path, store: Storage) -> None:
    rec = reporter_record(7, childrenObjects={CID: {"value": {"url": CID, "data": {"text": "hi"}, "version": 0},
                                                     "identity": {"userProfile": {"userURL": "user://b/bob"}}}})
    obs = observer_record(3, stale=True)
    store.put_reporter(O1, rec)
    store.put_observer(O1, obs)  # the same object seen as reporter and as observer: two records
    store.put_observer(O2, {**observer_record(0), "url": O2})
    assert store.reporters() == {O1: rec}
    assert store.observers() == {O1: obs, O2: {**observer_record(0), "url": O2}}
    store.close()
    with Storage(path) as again:
        assert again.reporters() == {O1: rec}
        assert again.observers() == {O1: obs, O2: {**observer_record(0), "url": O2}}


def test_columns_are_split_out_of_the_json(path: Path, store: Storage) -> None:
    store.put_reporter(O1, reporter_record(5))
    [(url, version, last_modified, size, blob)] = raw_rows(
        path, "SELECT h.url, version, last_modified, size, record FROM reporters h JOIN reporter_records USING (url)")
    assert (url, version, last_modified, size) == (O1, 5, "t5", len(blob))
    body = reporter_record(5)
    del body["url"], body["version"], body["lastModified"]
    assert orjson.loads(blob) == body


def test_put_replaces_the_whole_record(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(1, extra="x"))
    store.put_reporter(O1, reporter_record(2))
    assert store.reporters() == {O1: reporter_record(2)}


def test_records_keep_what_they_were_given(store: Storage) -> None:
    no_lm = observer_record(1)
    none_lm = {**observer_record(1), "url": O2, "lastModified": None}
    store.put_observer(O1, no_lm)
    store.put_observer(O2, none_lm)
    assert store.observers() == {O1: no_lm, O2: none_lm}
    missing_url = {k: v for k, v in observer_record(1).items() if k != "url"}
    store.put_observer(O1, missing_url)
    assert store.observers()[O1] == observer_record(1)  # the url column is merged back


def test_loaded_records_are_fresh_copies(store: Storage) -> None:
    store.put_reporter(O1, reporter_record())
    store.reporters()[O1]["data"]["participants"].clear()
    assert store.reporters() == {O1: reporter_record()}


@pytest.mark.parametrize(("record", "error", "message"), [
    ({**reporter_record(), "url": O2}, ValueError, f"reporter record for {O1} has url '{O2}'"),
    ({k: v for k, v in reporter_record().items() if k != "version"}, ValueError,
     f"reporter record for {O1} has no version"),
    (reporter_record(True), ValueError, "version must be a non-negative int, not True"),  # type: ignore[arg-type]
    (reporter_record(-1), ValueError, "version must be a non-negative int, not -1"),
    ({**reporter_record(), "isReporter": False}, ValueError, f"reporter record for {O1} has isReporter False"),
    ({**reporter_record(), "subscriptions": {BOB}}, TypeError, f"reporter record for {O1} is not JSON: "),
])
def test_bad_records_are_refused(store: Storage, record: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as err:
        store.put_reporter(O1, record)
    assert str(err.value).startswith(message)
    assert store.reporters() == {}
    assert store.stats.commits == 0


def test_observer_record_must_not_say_reporter(store: Storage) -> None:
    with pytest.raises(ValueError, match=f"observer record for {O1} has isReporter True"):
        store.put_observer(O1, {**observer_record(), "isReporter": True})


def test_delete(store: Storage) -> None:
    store.put_reporter(O1, reporter_record())
    store.put_observer(O1, observer_record())
    store.delete_reporter(O1)
    assert store.reporters() == {} and store.observers() == {O1: observer_record()}
    store.delete_reporter(O1)  # idempotent
    store.delete_observer(O1)
    assert store.observers() == {}
    assert (store.stats.deletes, store.stats.commits) == (3, 5)


# versions (hot path) ---------------------------------------------------------------------------------

def test_set_version_is_one_small_update(path: Path, store: Storage) -> None:
    store.put_reporter(O1, reporter_record(0))
    [(blob_before,)] = raw_rows(path, "SELECT record FROM reporter_records")
    before = store.stats.commits
    store.set_version("reporter", O1, 1, "t1")
    assert store.stats.commits == before + 1
    store.set_version("reporter", O1, 2)  # keeps lastModified
    assert store.reporters() == {O1: {**reporter_record(1), "version": 2}}
    [(blob_after,)] = raw_rows(path, "SELECT record FROM reporter_records")
    assert blob_after == blob_before  # the record was not re-encoded
    assert store.stats == StorageStats(commits=3, puts=1, versions=2)


def test_set_version_of_observer_without_last_modified(store: Storage) -> None:
    store.put_observer(O1, observer_record(0))
    store.set_version("observer", O1, 9)
    assert store.observers() == {O1: observer_record(9)}
    store.set_version("observer", O1, 10, "t10")
    assert store.observers() == {O1: {**observer_record(10), "lastModified": "t10"}}


def test_set_version_of_unknown_record(store: Storage) -> None:
    store.put_observer(O1, observer_record(0))
    with pytest.raises(KeyError, match=f"no stored reporter record for {O1}"):
        store.set_version("reporter", O1, 1)
    assert store.reporters() == {} and store.observers() == {O1: observer_record(0)}


@pytest.mark.parametrize(("kind", "version", "message"), [
    ("hyperty", 1, "kind must be 'reporter' or 'observer', not 'hyperty'"),
    ("reporter", -1, "version must be a non-negative int, not -1"),
    ("reporter", 1.0, "version must be a non-negative int, not 1.0"),
])
def test_set_version_arguments(store: Storage, kind: Any, version: Any, message: str) -> None:
    store.put_reporter(O1, reporter_record(0))
    with pytest.raises(ValueError) as err:
        store.set_version(kind, O1, version)
    assert str(err.value) == message


# data changes (change log) ---------------------------------------------------------------------------

def test_apply_change_replays_on_load(path: Path, store: Storage) -> None:
    rec = reporter_record(0)
    store.put_reporter(O1, rec)
    bodies = [{"attribute": "participants.carol", "value": {"status": "away"}},
              {"attribute": "participants.bob"},
              {"attribute": "log.1", "attributeType": "array", "operation": "add", "value": [7, 8]},
              {"patch": [{"op": "move", "from": "/log/0", "path": "/first"}]}]
    for version, body in enumerate(bodies, start=1):
        ops = apply_update(rec["data"], body)  # what the runtime does, then it persists the same ops
        store.apply_change("reporter", O1, ops, version=version, last_modified=f"t{version}")
    rec.update(version=4, lastModified="t4")
    assert rec["data"] == {"participants": {"carol": {"status": "away"}}, "log": [7, 8, 2], "first": 1}
    assert store.reporters() == {O1: rec}
    assert raw_rows(path, "SELECT count(*) FROM changes") == [(4,)]
    assert store.stats == StorageStats(commits=5, puts=1, changes=4)
    store.close()
    with Storage(path) as again:
        assert again.reporters() == {O1: rec}
        assert again.record("reporter", O1) == rec      # one record alone: the same replay
        assert again.record("reporter", O2) is None
        assert again.record("observer", O1) is None


def test_apply_change_to_children(store: Storage) -> None:
    rec = reporter_record(3)
    store.put_reporter(O1, rec)
    child = {"value": {"url": CID, "parent": O1, "children": "resources", "reporter": BOB, "version": 0,
                       "data": {"text": "hi"}}}
    store.apply_change("reporter", O1, [{"op": "add", "path": pointer([CID]), "value": child}],
                       at="/childrenObjects")
    store.apply_change("reporter", O1, [{"op": "replace", "path": "/text", "value": "hello"}],
                       at=pointer(["childrenObjects", CID, "value", "data"]))
    store.apply_change("reporter", O1, [{"op": "replace", "path": "", "value": {"whole": True}}],
                       at=pointer(["childrenObjects", CID, "value", "data"]))
    child["value"]["data"] = {"whole": True}
    assert store.reporters() == {O1: {**rec, "childrenObjects": {CID: child}}}  # parent version untouched
    store.apply_change("reporter", O1, [{"op": "remove", "path": pointer([CID])}], at="/childrenObjects")
    assert store.reporters() == {O1: rec}


def test_change_log_is_folded_by_count(path: Path, store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_mod, "FOLD_AFTER_CHANGES", 3)
    rec = reporter_record(0)
    store.put_reporter(O1, rec)
    for version in range(1, 8):
        store.apply_change("reporter", O1, [{"op": "add", "path": f"/log/{version + 1}", "value": version}],
                           version=version)
    assert raw_rows(path, "SELECT count(*) FROM changes") == [(1,)]  # folded after changes 3 and 6
    assert raw_rows(path, "SELECT log_count FROM reporters") == [(1,)]
    assert store.stats == StorageStats(commits=8, puts=1, changes=7, folds=2)
    rec["data"]["log"] = [1, 2, 1, 2, 3, 4, 5, 6, 7]
    assert store.reporters() == {O1: {**rec, "version": 7}}


def test_change_log_is_folded_when_it_outgrows_the_record(path: Path, store: Storage) -> None:
    rec = reporter_record(0, data={"big": "r" * 5000})
    store.put_reporter(O1, rec)
    [(size,)] = raw_rows(path, "SELECT size FROM reporters")
    assert size > storage_mod.FOLD_MIN_BYTES
    op = {"op": "replace", "path": "/big", "value": "c" * 2000}
    op_bytes = len(b'[{"op":"replace","path":"/big","value":""}]') + 2000
    folds_at = -(-size // op_bytes)  # the first change whose log reaches the record's size
    for n in range(1, folds_at):
        store.apply_change("reporter", O1, [op], version=n)
    assert (store.stats.folds, raw_rows(path, "SELECT log_count, log_bytes FROM reporters")) == (
        0, [(folds_at - 1, (folds_at - 1) * op_bytes)])
    store.apply_change("reporter", O1, [op], version=folds_at)
    assert (store.stats.folds, raw_rows(path, "SELECT log_count, log_bytes FROM reporters")) == (1, [(0, 0)])
    assert raw_rows(path, "SELECT count(*) FROM changes") == [(0,)]
    assert store.reporters() == {O1: {**rec, "version": folds_at, "data": {"big": "c" * 2000}}}


def test_small_records_fold_at_the_minimum(path: Path, store: Storage) -> None:
    store.put_reporter(O1, reporter_record(0))
    op = {"op": "add", "path": "/pad", "value": "x" * 1000}
    store.apply_change("reporter", O1, [op])
    assert store.stats.folds == 0
    store.apply_change("reporter", O1, [op])  # 2 × 1039 bytes ≥ FOLD_MIN_BYTES (2048)
    assert store.stats.folds == 1
    assert store.reporters() == {O1: {**reporter_record(0), "data": {**reporter_record(0)["data"], "pad": "x" * 1000}}}


def test_put_and_delete_clear_the_change_log(path: Path, store: Storage) -> None:
    store.put_reporter(O1, reporter_record(0))
    store.put_observer(O1, {**observer_record(0), "store": True, "data": {}})
    store.apply_change("reporter", O1, [{"op": "add", "path": "/x", "value": 1}], version=1)
    store.apply_change("observer", O1, [{"op": "add", "path": "/y", "value": 2}], version=1)
    store.put_reporter(O1, reporter_record(1))
    assert raw_rows(path, "SELECT kind FROM changes") == [("observer",)]
    assert store.reporters() == {O1: reporter_record(1)}
    store.delete_observer(O1)
    assert raw_rows(path, "SELECT count(*) FROM changes") == [(0,)]
    store.put_observer(O1, {**observer_record(0), "store": True, "data": {}})
    assert store.observers() == {O1: {**observer_record(0), "store": True, "data": {}}}


def test_unreplayable_log_loads_as_stale(path: Path, store: Storage) -> None:
    store.put_observer(O1, {**observer_record(0), "store": True, "data": {"a": 1}})
    store.apply_change("observer", O1, [{"op": "replace", "path": "/a", "value": 2}], version=1)
    store.apply_change("observer", O1, [{"op": "remove", "path": "/missing"}], version=2)
    assert store.observers() == {O1: {**observer_record(2), "store": True, "data": {"a": 2}, "stale": True}}
    assert len(store.problems) == 1
    assert store.problems[0].startswith(f"observer {O1}: logged changes do not apply (")
    assert store.problems[0].endswith("); loaded as stale")
    store.put_observer(O1, {**observer_record(2), "store": True, "data": {"a": 2}})  # the runtime's copy
    assert store.observers() == {O1: {**observer_record(2), "store": True, "data": {"a": 2}}}
    assert store.problems == []


def test_fold_of_unreplayable_log_writes_nothing(path: Path, store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_mod, "FOLD_AFTER_CHANGES", 2)
    store.put_reporter(O1, reporter_record(0))
    store.apply_change("reporter", O1, [{"op": "remove", "path": "/nothing"}], version=1)
    with pytest.raises(StorageError) as err:
        store.apply_change("reporter", O1, [{"op": "add", "path": "/z", "value": 0}], version=2)
    assert str(err.value).startswith(f"Storage file {path}: the logged changes of reporter {O1} do not apply to "
                                     "its stored record (")
    assert str(err.value).endswith("). Nothing was written: store the whole record with put_reporter().")
    assert raw_rows(path, "SELECT version, log_count FROM reporters") == [(1, 1)]
    assert store.stats == StorageStats(commits=2, rollbacks=1, puts=1, changes=1)
    store.put_reporter(O1, reporter_record(2))  # the documented way out
    assert store.reporters() == {O1: reporter_record(2)} and store.problems == []


def test_apply_change_arguments(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(0))
    with pytest.raises(KeyError, match=f"no stored observer record for {O1}"):
        store.apply_change("observer", O1, [{"op": "add", "path": "/x", "value": 1}])
    with pytest.raises(ValueError, match="ops must be a list of RFC 6902 operations"):
        store.apply_change("reporter", O1, [{"path": "/x"}])
    with pytest.raises(ValueError, match="at must be a JSON pointer"):
        store.apply_change("reporter", O1, [{"op": "add", "path": "/x", "value": 1}], at="data")
    with pytest.raises(TypeError, match=f"change of reporter {O1} is not JSON"):
        store.apply_change("reporter", O1, [{"op": "add", "path": "/x", "value": {1.5j}}])
    assert store.reporters() == {O1: reporter_record(0)}
    assert store.stats == StorageStats(commits=1, rollbacks=1, puts=1)


# lifetime --------------------------------------------------------------------------------------------

def test_every_write_is_one_commit(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(0))
    store.put_observer(O2, {**observer_record(0), "url": O2})
    store.set_version("reporter", O1, 1)
    store.apply_change("reporter", O1, [{"op": "add", "path": "/k", "value": 1}], version=2)
    store.delete_observer(O2)
    store.reporters()
    store.observers()
    assert store.stats == StorageStats(commits=5, puts=2, versions=1, changes=1, deletes=1)


def test_reopen_without_close_sees_everything(path: Path) -> None:
    """An in-process crash (the lab's restart): the old Storage is abandoned, a new one opens the file."""
    old = Storage(path)
    old.put_reporter(O1, reporter_record(0))
    old.set_version("reporter", O1, 1, "t1")
    new = Storage(path)
    try:
        assert new.reporters() == {O1: reporter_record(1)}
        new.set_version("reporter", O1, 2, "t2")
        assert new.reporters() == {O1: reporter_record(2)}
    finally:
        new.close()
        old.close()


def test_close(path: Path) -> None:
    store = Storage(path)
    store.put_reporter(O1, reporter_record(0))
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(StorageError) as err:
        store.reporters()
    assert str(err.value) == f"Storage file {path} is closed: open a new Storage for it."
    with pytest.raises(StorageError, match="is closed"):
        store.set_version("reporter", O1, 1)
    with Storage(path) as again:
        assert not again.closed
        assert again.reporters() == {O1: reporter_record(0)}
    assert again.closed
    assert sorted(p.name for p in path.parent.iterdir()) == ["storage.sqlite3"]  # WAL checkpointed and removed


def test_record_without_version_row_is_skipped(path: Path, store: Storage) -> None:
    """Both rows are written in one transaction, so this needs a hand-edited file; still no crash."""
    store.put_reporter(O1, reporter_record(0))
    store.put_reporter(O2, {**reporter_record(1), "url": O2})
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM reporters WHERE url = ?", (O1,))
    conn.close()
    assert store.reporters() == {O2: {**reporter_record(1), "url": O2}}
    assert store.problems == [f"reporter {O1}: record without version row; skipped"]
