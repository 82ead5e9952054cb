"""A record's data written last, and left as its text by a resume's load until it is read."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from core.protocol.encoded import Encoded, as_fragment, decoded
from core.runtime.storage import Storage
from tests.storage.test_storage import O1, O2, observer_record, raw_rows, reporter_record

DATA = reporter_record()["data"]


@pytest.fixture
def store(tmp_path: Path) -> Storage:
    return Storage(tmp_path / "s.sqlite3")


def blob_of(store: Storage, table: str = "reporter_records", url: str = O1) -> bytes:
    [(blob,)] = raw_rows(store.path, f"SELECT record FROM {table} WHERE url = ?", url)
    return bytes(blob)


def test_data_is_written_last_after_the_marker(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(3))
    blob = blob_of(store)
    assert blob.endswith(b', "data": ' + orjson.dumps(DATA) + b"}")
    assert blob.count(b', "data": ') == 1
    body = reporter_record(3)
    del body["url"], body["version"], body["lastModified"]
    assert orjson.loads(blob) == body          # any JSON reader still reads it whole


def test_a_resume_load_leaves_the_data_encoded(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(3))
    store.put_observer(O2, {**observer_record(1), "url": O2, "store": True, "data": {"n": 1}})
    lazy, plain = store.reporters(encoded_data=True)[O1], store.reporters()[O1]
    assert type(lazy["data"]) is Encoded and lazy["data"].decode() == DATA == plain["data"]
    assert {k: v for k, v in lazy.items() if k != "data"} == {k: v for k, v in plain.items() if k != "data"}
    assert decoded(store.observers(encoded_data=True)[O2]["data"]) == {"n": 1}
    assert store.record("reporter", O1) == reporter_record(3)     # one record: decoded


def test_encoded_data_is_stored_as_the_same_text(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(3))
    before = blob_of(store)
    again = store.reporters(encoded_data=True)[O1]
    store.put_reporter(O1, again)   # written back without a decode
    assert blob_of(store) == before
    assert store.reporters() == {O1: reporter_record(3)}


def test_logged_changes_are_replayed_on_decoded_data(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(3))
    store.apply_change("reporter", O1, [{"op": "add", "path": "/log/-", "value": 3}], version=4)
    loaded = store.reporters(encoded_data=True)[O1]
    assert loaded["data"] == {**DATA, "log": [1, 2, 3]} and loaded["version"] == 4


def test_a_fold_keeps_the_data_last(store: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.runtime import storage as storage_mod
    monkeypatch.setattr(storage_mod, "FOLD_AFTER_CHANGES", 2)
    store.put_reporter(O1, reporter_record(3))
    for n in (3, 4):
        store.apply_change("reporter", O1, [{"op": "add", "path": "/log/-", "value": n}], version=n + 1)
    assert store.stats.folds == 1
    assert blob_of(store).endswith(b', "data": ' + orjson.dumps({**DATA, "log": [1, 2, 3, 4]}) + b"}")
    assert decoded(store.reporters(encoded_data=True)[O1]["data"]) == {**DATA, "log": [1, 2, 3, 4]}


@pytest.mark.parametrize("body", [
    {"data": {"a": 1}, "isReporter": True, "store": True},   # written before: data first
    {"isReporter": True, "data": {"a": 1}, "childrenObjects": {"c": {"value": {"data": {"b": 2}}}}},
    {"data": {"a": 1}},                                       # data alone: nothing to put it after
])
def test_records_in_any_other_layout_load_whole(store: Storage, body: dict[str, Any]) -> None:
    store.put_reporter(O1, reporter_record(0))
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE reporter_records SET record = ? WHERE url = ?", (orjson.dumps(body), O1))
    conn.commit()
    conn.close()
    loaded = store.reporters(encoded_data=True)[O1]
    assert loaded == {**body, "url": O1, "version": 0, "lastModified": "t0"}
    assert type(loaded["data"]) is dict


def test_nested_data_keys_and_marker_like_strings_stay_in_place(store: Storage) -> None:
    tricky = reporter_record(1, name='a, "data": b', childrenObjects={"c": {"value": {"data": {"x": 1}}}},
                             data={"data": {"y": ', "data": '}, "z": [1]})
    store.put_reporter(O1, tricky)
    lazy = store.reporters(encoded_data=True)[O1]
    assert lazy["data"].decode() == tricky["data"] and lazy["childrenObjects"] == tricky["childrenObjects"]
    assert lazy["name"] == 'a, "data": b'


def test_encoded_values_are_written_as_their_text() -> None:
    assert orjson.dumps({"value": [{"data": Encoded(b'{"a":[1]}'), "v": 2}]}, default=as_fragment) == \
        b'{"value":[{"data":{"a":[1]},"v":2}]}'
    with pytest.raises(TypeError):
        orjson.dumps({"x": object()}, default=as_fragment)


def test_a_load_keeps_the_records_order_and_their_keys_order(store: Storage) -> None:
    urls = [f"comm://a.example/{n:02d}{'ab'[n % 2]}" for n in (5, 2, 9, 1, 7)]
    for url in urls:
        store.put_reporter(url, {**reporter_record(1), "url": url})
    store.apply_change("reporter", urls[1], [{"op": "add", "path": "/log/-", "value": 3}], version=2)
    for encoded_data in (True, False):
        loaded = store.reporters(encoded_data)
        assert list(loaded) == urls      # the records' table order, not the URLs'
        body = [k for k in reporter_record(1) if k not in ("url", "version", "lastModified", "data")]
        assert all(list(r) == [*body, "data", "url", "version", "lastModified"] for r in loaded.values())


def test_a_version_row_without_its_record_is_ignored(store: Storage) -> None:
    store.put_reporter(O1, reporter_record(0))
    store.put_reporter(O2, {**reporter_record(1), "url": O2})
    conn = sqlite3.connect(store.path)
    with conn:
        conn.execute("DELETE FROM reporter_records WHERE url = ?", (O1,))
    conn.close()
    assert list(store.reporters(encoded_data=True)) == [O2] and store.problems == []
