"""DataObjectsStorage (PROTOCOL §3.0.6): one SQLite file per runtime holding its reporter and observer
records, written through on every change, one transaction per change (ARCHITECTURE "Storage").

Durability
----------
The file runs in WAL mode. ``synchronous=NORMAL`` is the default: in WAL mode a commit appends the
transaction's pages to the ``-wal`` file with ``write()`` before ``COMMIT`` returns, so the change sits
in the operating system's page cache and survives the death of the process at any instant (SIGKILL,
a segfault, the lab's crash-style ``restart()``). What NORMAL does not promise is survival of a power
loss or kernel crash: the WAL is fsynced only at checkpoints, so the last transactions before a power
cut may be lost (the file is still consistent, it just ends a little earlier). ``synchronous="FULL"``
fsyncs the WAL on every commit and closes that gap at the price of one fsync per stored update
(milliseconds on a real disk instead of tens of microseconds). Choose FULL where a machine losing
power must not bring a reporter back at an older version than observers have already seen (it would
reuse version numbers); the lab and tests use NORMAL.

Layout (schema version 1)
-------------------------
``meta(key, value)``
    ``schema_version`` and ``application = syncscope``. This table and that key are the one thing every
    future release keeps, so any release can tell which schema a file has before touching it.
``migrations(version, applied_at, description)``
    one row per schema step applied to this file. The steps live in `MIGRATIONS`, keyed by the version
    they produce; opening a file at version v < `SCHEMA_VERSION` runs steps v+1 … `SCHEMA_VERSION` in
    one transaction (all or nothing). A file of a newer version is refused and left untouched.
``reporters`` / ``observers`` ``(url, version, last_modified, size, log_count, log_bytes)``
    one small row per object, holding what changes on every update. ``last_modified`` is NULL when the
    record's ``lastModified`` is absent or not a string (it then stays in the JSON).
``reporter_records`` / ``observer_records`` ``(url, record)``
    the §3.0.6 record encoded with orjson *without* ``url``, ``version`` and (string) ``lastModified``,
    which are merged back on read, so a loaded record always carries ``url`` and ``version``; its
    ``data`` is written last (`core.runtime.stored_record`). The record sits in its own table because
    SQLite reads and rewrites a whole row on ``UPDATE``: beside a 256 KB record a version update would
    cost ~0.3 ms, in its own small row it costs ~20 µs whatever the size.
``changes(kind, url, n, at, ops)``
    data changes logged by `Storage.apply_change` since the record was last written whole: RFC 6902
    operations relative to the JSON pointer ``at`` of the record, in order ``n``. They are replayed on
    read and folded into the record once they add up to more than the record itself (or to
    `FOLD_AFTER_CHANGES`), so a change to a big document costs a small insert instead of a rewrite, and a
    load never replays more than about one record's worth of operations.

Errors
------
Every failure of the file (corrupt, newer schema, locked by another process, a directory, no space,
no permission) raises `StorageError`, whose message names the file and says what to do. A file that
cannot be used is never replaced, truncated or written: opening checks it with reads only before the
first write. Misuse by the caller (an unknown URL, a malformed record) raises ``KeyError``,
``ValueError`` or ``TypeError`` as usual.

All calls are synchronous and cheap (tens of microseconds with NORMAL); use one `Storage` per runtime
from the thread that created it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import orjson

from core.runtime.storage_errors import StorageError as StorageError  # (re-exported: the error of this API)
from core.runtime.storage_errors import not_json, sqlite_failure
from core.runtime.storage_sql import MIGRATIONS as MIGRATIONS  # (re-exported: a release adds its steps there)
from core.runtime.storage_sql import SELECT_LOG, SQL, KindSql, file_version, migrate, sql_of
from core.runtime.stored_record import body_json, read_rows, replay, with_columns

Kind = Literal["reporter", "observer"]
Synchronous = Literal["NORMAL", "FULL"]

#: Schema version this release writes. Bump it together with a new `MIGRATIONS` entry (`core.runtime.storage_sql`).
SCHEMA_VERSION = 1
#: How much of the file a load maps (`PRAGMA mmap_size`) while it reads the records; a larger file's
#: other pages are read as usual.
LOAD_MMAP_BYTES: Final = 1 << 30
#: Default wait for a lock held by another connection before giving up with a `StorageError`.
BUSY_TIMEOUT_S: Final = 3.0
#: A change log is folded into its record after this many changes ...
FOLD_AFTER_CHANGES = 64
#: ... or once the logged operations take more bytes than the record (and at least this many).
FOLD_MIN_BYTES = 2048

_COLUMN_KEYS: Final = frozenset({"url", "version"})
_SYNC_NAMES: Final = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}

T = TypeVar("T")


@dataclass(slots=True)
class StorageStats:
    """Counters since the file was opened. Every write call is exactly one transaction, so
    ``commits / (puts + versions + changes + deletes)`` is 1.0; with ``synchronous="FULL"`` each commit
    is one fsync of the WAL, with NORMAL commits do not fsync (only checkpoints do)."""

    commits: int = 0
    rollbacks: int = 0
    puts: int = 0
    versions: int = 0
    changes: int = 0
    folds: int = 0
    deletes: int = 0


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be a non-negative int, not {version!r}")
    return version


class Storage:
    """The storage file of one runtime. See the module docstring for durability and layout.

    ``Storage(path)`` creates the file (and its directories) or opens an existing one, migrating an
    older schema; it raises `StorageError` for a file it cannot use and leaves that file as it was.
    """

    path: Path
    stats: StorageStats
    #: "NORMAL" or "FULL", as read back from SQLite.
    synchronous: str
    #: Records whose logged changes could not be replayed on the last load (they come back with
    #: ``stale: True`` and their last good data): one line each, for the runtime's trace.
    problems: list[str]

    def __init__(self, path: str | os.PathLike[str], *, synchronous: Synchronous = "NORMAL",
                 busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.stats = StorageStats()
        self.problems = []
        self.busy_timeout = busy_timeout
        self._closed = True
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        if self.path.is_dir():
            raise StorageError(self.path, f"Storage path {self._where} is a directory, not a file: give the "
                               "runtime the path of a file inside it (e.g. "
                               f"{self.path.absolute() / 'runtime.sqlite3'}).")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(self.path, f"Cannot create the directory of storage file {self._where}: "
                               f"{exc.strerror or exc}. Create it or choose another storage path.") from exc
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        self._closed = False
        try:
            self._open(synchronous)
        except BaseException:
            self._closed = True
            self._conn.close()
            raise
        self.stats = StorageStats()  # count the caller's writes, not the opening check

    # opening ----------------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return str(self.path.absolute())

    def _open(self, synchronous: Synchronous) -> None:
        conn = self._conn
        # Reads only until the file is known to be ours and of a version we understand.
        try:
            file_version(conn, self.path, SCHEMA_VERSION)
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StorageError(self.path, f"Storage file {self._where} cannot use SQLite's WAL mode "
                                       f"(journal mode stays {mode!r}), which its crash safety relies on: put it "
                                       "on a local disk, not a network or read-only file system.")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            self.synchronous = _SYNC_NAMES.get(conn.execute("PRAGMA synchronous").fetchone()[0], "?")
        except sqlite3.Error as exc:
            raise self._error(exc, "open") from exc
        # The write transaction also proves nobody else holds the write lock.
        self._write("open", lambda conn: migrate(conn, self.path, SCHEMA_VERSION))

    # errors and transactions -----------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error, doing: str) -> StorageError:
        return sqlite_failure(self.path, exc, doing, self.busy_timeout)

    def _live(self) -> sqlite3.Connection:
        if self._closed:
            raise StorageError(self.path, f"Storage file {self._where} is closed: open a new Storage for it.")
        return self._conn

    def _write(self, doing: str, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run `body` in one write transaction (BEGIN IMMEDIATE … COMMIT), all or nothing."""
        conn = self._live()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc, doing) from exc
        try:
            result = body(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                # the original error is the one to report; SQLite also rolls back on close
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self.stats.rollbacks += 1
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc, doing) from exc
            raise
        self.stats.commits += 1
        return result

    # writes -----------------------------------------------------------------------------------------

    def _encode(self, kind: Kind, url: str, record: Mapping[str, Any]) -> tuple[int, str | None, bytes]:
        if not isinstance(record, Mapping):
            raise TypeError(f"a {kind} record must be a dict, not {type(record).__name__}")
        if record.get("url", url) != url:
            raise ValueError(f"{kind} record for {url} has url {record['url']!r}")
        if "version" not in record:
            raise ValueError(f"{kind} record for {url} has no version")
        version = _check_version(record["version"])
        is_reporter = record.get("isReporter", kind == "reporter")
        if is_reporter is not (kind == "reporter"):
            raise ValueError(f"{kind} record for {url} has isReporter {is_reporter!r}")
        last_modified = record.get("lastModified")
        if isinstance(last_modified, str):
            body = {k: v for k, v in record.items() if k not in _COLUMN_KEYS and k != "lastModified"}
        else:
            last_modified = None
            body = {k: v for k, v in record.items() if k not in _COLUMN_KEYS}
        try:
            blob = body_json(body)
        except orjson.JSONEncodeError as exc:
            raise TypeError(f"{kind} record for {url} is not JSON: {exc}") from exc
        return version, last_modified, blob

    def _put(self, kind: Kind, url: str, record: Mapping[str, Any]) -> None:
        version, last_modified, blob = self._encode(kind, url, record)
        sql = SQL[kind]

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(sql.put_head, (url, version, last_modified, len(blob)))
            conn.execute(sql.put_record, (url, blob))
            conn.execute("DELETE FROM changes WHERE kind = ? AND url = ?", (kind, url))

        self._write(f"store the {kind} record of {url}", body)
        self.stats.puts += 1

    def put_reporter(self, url: str, record: Mapping[str, Any]) -> None:
        """Store the whole reporter record of `url` (PROTOCOL §3.0.6), replacing any previous one and
        its logged changes. One transaction."""
        self._put("reporter", url, record)

    def put_observer(self, url: str, record: Mapping[str, Any]) -> None:
        """Store the whole observer record of `url`; as `put_reporter`."""
        self._put("observer", url, record)

    def set_version(self, kind: Kind, url: str, version: int, last_modified: str | None = None) -> None:
        """Hot path of a version-only update: one UPDATE of two columns, committed on its own (SQLite
        autocommit: one transaction); the record is not re-encoded. `last_modified` None keeps the stored
        one. ``KeyError`` if no such record."""
        sql = sql_of(kind)
        _check_version(version)
        conn = self._live()
        try:
            if last_modified is None:
                cur = conn.execute(sql.set_version, (version, url))
            else:
                cur = conn.execute(sql.set_version_lm, (version, last_modified, url))
        except sqlite3.Error as exc:
            raise self._error(exc, f"store version {version} of {url}") from exc
        self.stats.commits += 1
        if cur.rowcount != 1:
            raise KeyError(f"no stored {kind} record for {url}")
        self.stats.versions += 1

    def apply_change(self, kind: Kind, url: str, ops: Sequence[Mapping[str, Any]], *, version: int | None = None,
                     last_modified: str | None = None, at: str = "/data") -> None:
        """Persist one data change without rewriting the record: `ops` are the RFC 6902 operations just
        applied to the runtime's copy (`core.protocol.changes.apply_update` returns them), relative to the
        JSON pointer `at` of the record: ``"/data"`` for the object's data, ``pointer(["childrenObjects",
        cid, "value", "data"])`` for a child's, ``"/childrenObjects"`` for adding or removing a child.
        `version`/`last_modified` None keep the stored ones (child changes do not move the parent's version).

        One transaction: the operations are logged and the version set together; when the log outgrows the
        record it is folded into it in the same transaction. ``KeyError`` if no such record. A
        `StorageError` means the operations do not apply to the stored record (it was not stored after the
        runtime's copy last changed): write the whole record with ``put_*``, which also resets the log.
        """
        sql = sql_of(kind)
        if version is not None:
            _check_version(version)
        if at and not at.startswith("/"):
            raise ValueError(f"at must be a JSON pointer ('' or starting with '/'), not {at!r}")
        if isinstance(ops, (str, bytes)) or not all(
                (type(op) is dict or isinstance(op, Mapping))
                and type(op.get("op")) is str and type(op.get("path")) is str for op in ops):
            raise ValueError("ops must be a list of RFC 6902 operations ({'op': …, 'path': …})")
        try:
            blob = orjson.dumps(list(ops))
        except orjson.JSONEncodeError as exc:
            raise TypeError(f"change of {kind} {url} is not JSON: {exc}") from exc

        def body(conn: sqlite3.Connection) -> None:
            rows = conn.execute(sql.log, (version, last_modified, len(blob), url)).fetchall()
            if not rows:
                raise KeyError(f"no stored {kind} record for {url}")
            count, logged, size = rows[0]
            conn.execute("INSERT INTO changes (kind, url, n, at, ops) VALUES (?, ?, ?, ?, ?)",
                         (kind, url, count, at, blob))
            if count >= FOLD_AFTER_CHANGES or logged >= max(size, FOLD_MIN_BYTES):
                self._fold(conn, sql, url)

        self._write(f"store a change of {url}", body)
        self.stats.changes += 1

    def _fold(self, conn: sqlite3.Connection, sql: KindSql, url: str) -> None:
        [(blob,)] = conn.execute(sql.select_record, (url,)).fetchall()
        record = orjson.loads(blob)
        changes = conn.execute(SELECT_LOG, (sql.kind, url)).fetchall()
        error = replay(record, changes)
        if error is not None:
            raise StorageError(self.path, f"Storage file {self._where}: the logged changes of {sql.kind} {url} do "
                               f"not apply to its stored record ({error}). Nothing was written: store the whole "
                               f"record with put_{sql.kind}().")
        folded = body_json(record)
        conn.execute(sql.fold_record, (folded, url))
        conn.execute(sql.fold_head, (len(folded), url))
        conn.execute("DELETE FROM changes WHERE kind = ? AND url = ?", (sql.kind, url))
        self.stats.folds += 1

    def _delete(self, kind: Kind, url: str) -> None:
        sql = SQL[kind]

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(sql.delete_head, (url,))
            conn.execute(sql.delete_record, (url,))
            conn.execute("DELETE FROM changes WHERE kind = ? AND url = ?", (kind, url))

        self._write(f"delete the {kind} record of {url}", body)
        self.stats.deletes += 1

    def delete_reporter(self, url: str) -> None:
        """Forget the reporter record of `url` (no error if there is none). One transaction."""
        self._delete("reporter", url)

    def delete_observer(self, url: str) -> None:
        """Forget the observer record of `url` (no error if there is none). One transaction."""
        self._delete("observer", url)

    # reads ------------------------------------------------------------------------------------------

    @staticmethod
    @contextlib.contextmanager
    def _snapshot(conn: sqlite3.Connection, mapped: bool = False) -> Iterator[None]:
        """One read transaction (with the file mapped while it lasts, when `mapped`), ended whatever the
        outcome."""
        if mapped:
            conn.execute(f"PRAGMA mmap_size={LOAD_MMAP_BYTES}")
        try:
            conn.execute("BEGIN")
            try:
                yield
            finally:
                if conn.in_transaction:   # (SQLite ends it itself on some errors)
                    conn.execute("COMMIT")
        finally:
            if mapped:
                conn.execute("PRAGMA mmap_size=0")

    def _load(self, kind: Kind, encoded_data: bool) -> dict[str, dict[str, Any]]:
        select = SQL[kind].select_all
        conn = self._live()
        # Thousands of fresh, acyclic dicts: left on, the cyclic GC rescans them again and again and
        # takes ~4/5 of the load time.
        collecting = gc.isenabled()
        gc.disable()
        try:
            # one snapshot for the records and their logs; the file mapped: a load reads every page once,
            # and SQLite's reads of them one `pread` each into its small page cache cost a resume ~1/8 of
            # its load (DECISIONS 85)
            with self._snapshot(conn, mapped=True):
                out, orphans, logged = read_rows(conn.execute(select), encoded_data)   # streamed
                changes: dict[str, list[tuple[str, bytes]]] = {}
                if logged:
                    for url, at, ops in conn.execute("SELECT url, at, ops FROM changes WHERE kind = ? ORDER BY url, n",
                                                     (kind,)):
                        changes.setdefault(url, []).append((at, ops))
        except sqlite3.Error as exc:
            raise self._error(exc, f"read the {kind} records") from exc
        except orjson.JSONDecodeError as exc:
            raise not_json(self.path, kind, exc) from exc
        finally:
            if collecting:
                gc.enable()
        self.problems = [p for p in self.problems if not p.startswith(f"{kind} ")]
        self.problems += [f"{kind} {url}: record without version row; skipped" for url in orphans]
        for url, log in changes.items():
            record = out.get(url)
            if record is None:
                continue
            error = replay(record, log)
            if error is not None:
                record["stale"] = True
                self.problems.append(f"{kind} {url}: logged changes do not apply ({error}); loaded as stale")
        return out

    def record(self, kind: Kind, url: str) -> dict[str, Any] | None:
        """The stored record of one object with its logged changes applied, or None if there is none."""
        sql = sql_of(kind)
        conn = self._live()
        try:
            with self._snapshot(conn):
                rows = conn.execute(sql.select_record, (url,)).fetchall()
                head = conn.execute(sql.select_head, (url,)).fetchall()
                log = conn.execute(SELECT_LOG, (kind, url)).fetchall()
            if not rows or not head:
                return None
            record = with_columns(orjson.loads(rows[0][0]), url, *head[0])
        except sqlite3.Error as exc:
            raise self._error(exc, f"read the {kind} record of {url}") from exc
        except orjson.JSONDecodeError as exc:
            raise not_json(self.path, kind, exc) from exc
        error = replay(record, log)
        if error is not None:
            record["stale"] = True
        return record

    def reporters(self, encoded_data: bool = False) -> dict[str, dict[str, Any]]:
        """Every stored reporter record by URL (fresh dicts, the caller may keep and change them). With
        `encoded_data`, a record's `data` may be left `Encoded` (its text, decoded on first use)."""
        return self._load("reporter", encoded_data)

    def observers(self, encoded_data: bool = False) -> dict[str, dict[str, Any]]:
        """Every stored observer record by URL; as `reporters`."""
        return self._load("observer", encoded_data)

    def schema_version(self) -> int:
        """The schema version stored in the file."""
        try:
            row = self._live().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc, "read the schema version") from exc
        return int(row[0])

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]`` for a sound file, else the problems found."""
        try:
            return [str(row[0]) for row in self._live().execute("PRAGMA integrity_check")]
        except sqlite3.Error as exc:
            raise self._error(exc, "check the file") from exc

    # lifetime ---------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the file (idempotent). Nothing is pending: every call has committed already."""
        if self._closed:
            return
        self._closed = True
        try:
            self._conn.close()
        except sqlite3.Error as exc:
            raise self._error(exc, "close") from exc

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Storage({str(self.path)!r}{', closed' if self._closed else ''})"
