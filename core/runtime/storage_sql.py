"""The SQL of a storage file (`core.runtime.storage`, "Layout"): the schema steps that make its tables,
how a file's schema version is read and brought up to date, and the statements of one kind's tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Final

from core.protocol.timestamps import iso_now
from core.runtime.storage_errors import StorageError

APPLICATION: Final = "syncscope"


def object_tables(conn: sqlite3.Connection, kind: str) -> None:
    # hot small rows apart from the records (see `core.runtime.storage`, "Layout")
    conn.execute(f"CREATE TABLE {kind}s (url TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, "
                 "last_modified TEXT, size INTEGER NOT NULL, log_count INTEGER NOT NULL DEFAULT 0, "
                 "log_bytes INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID")
    conn.execute(f"CREATE TABLE {kind}_records (url TEXT PRIMARY KEY NOT NULL, record BLOB NOT NULL)")


def migrate_to_1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, "
                 "description TEXT NOT NULL)")
    object_tables(conn, "reporter")
    object_tables(conn, "observer")
    conn.execute("CREATE TABLE changes (kind TEXT NOT NULL, url TEXT NOT NULL, n INTEGER NOT NULL, "
                 "at TEXT NOT NULL, ops BLOB NOT NULL, PRIMARY KEY (kind, url, n)) WITHOUT ROWID")
    conn.execute("INSERT INTO meta (key, value) VALUES ('application', ?)", (APPLICATION,))


Migration = Callable[[sqlite3.Connection], None]

#: Schema steps by the version they produce: (description, step). Step 1 creates the schema in an
#: empty file. A later release adds e.g. ``2: ("…", _migrate_to_2)`` and bumps `core.runtime.storage.SCHEMA_VERSION`.
MIGRATIONS: dict[int, tuple[str, Migration]] = {
    1: ("initial schema: meta, migrations, reporters/observers (+ _records), changes", migrate_to_1),
}


def file_version(conn: sqlite3.Connection, path: Path, newest: int) -> int:
    """Schema version of the file at `path`: 0 for an empty one; refuses foreign files and files newer
    than `newest`."""
    where = path.absolute()
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return 0
    meta: dict[str, str] = {}
    if "meta" in tables:
        try:
            meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        except sqlite3.OperationalError:
            meta = {}
    if meta.get("application") != APPLICATION or not meta.get("schema_version", "").isdigit():
        raise StorageError(path, f"Storage file {where} is an SQLite database but not a SyncScope "
                           "storage file (no SyncScope schema version in it). It was left untouched: "
                           "give the runtime another storage path, or move this file away.")
    version = int(meta["schema_version"])
    if version > newest:
        raise StorageError(path, f"Storage file {where} has schema version {version}, newer than "
                           f"this SyncScope understands (up to {newest}); it was written by a newer "
                           "release. It was left untouched: upgrade SyncScope to open it, or give this "
                           "runtime another storage path.")
    return version


def migrate(conn: sqlite3.Connection, path: Path, newest: int) -> None:
    """Run the steps that bring the file at `path` from its version up to `newest` (in the caller's
    write transaction: all or nothing)."""
    current = file_version(conn, path, newest)  # again, under the write lock
    for version in range(current + 1, newest + 1):
        if version not in MIGRATIONS:
            raise StorageError(path, f"Storage file {path.absolute()} has schema version {current} and this "
                               f"SyncScope has no migration to version {version}. It was left untouched: "
                               "use the SyncScope release that wrote it, or another storage path.")
        description, step = MIGRATIONS[version]
        step(conn)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))
        conn.execute("INSERT INTO migrations (version, applied_at, description) VALUES (?, ?, ?)",
                     (version, iso_now(), description))


class KindSql:
    """The statements of one kind's tables, built once."""

    def __init__(self, kind: str) -> None:
        head, records = f"{kind}s", f"{kind}_records"
        self.kind = kind
        self.put_head = (f"INSERT INTO {head} (url, version, last_modified, size, log_count, log_bytes) "
                         "VALUES (?, ?, ?, ?, 0, 0) ON CONFLICT (url) DO UPDATE SET version = excluded.version, "
                         "last_modified = excluded.last_modified, size = excluded.size, log_count = 0, "
                         "log_bytes = 0")
        self.put_record = (f"INSERT INTO {records} (url, record) VALUES (?, ?) "
                           "ON CONFLICT (url) DO UPDATE SET record = excluded.record")
        self.set_version = f"UPDATE {head} SET version = ? WHERE url = ?"
        self.set_version_lm = f"UPDATE {head} SET version = ?, last_modified = ? WHERE url = ?"
        self.log = (f"UPDATE {head} SET version = coalesce(?, version), "
                    "last_modified = coalesce(?, last_modified), log_count = log_count + 1, "
                    "log_bytes = log_bytes + ? WHERE url = ? RETURNING log_count, log_bytes, size")
        self.delete_head = f"DELETE FROM {head} WHERE url = ?"
        self.delete_record = f"DELETE FROM {records} WHERE url = ?"
        # every record with its version row (NULL version: none), in the records' order: one step and one
        # index search per record cost fewer instructions than a second scan merged in Python by a dict
        # of URLs (Python's sqlite3 pays per row and per column)
        self.select_all = (f"SELECT r.url, r.record, h.version, h.last_modified, h.log_count FROM {records} AS r "
                           f"LEFT JOIN {head} AS h ON h.url = r.url")
        self.select_record = f"SELECT record FROM {records} WHERE url = ?"
        self.select_head = f"SELECT version, last_modified FROM {head} WHERE url = ?"
        self.fold_head = f"UPDATE {head} SET size = ?, log_count = 0, log_bytes = 0 WHERE url = ?"
        self.fold_record = f"UPDATE {records} SET record = ? WHERE url = ?"


SQL: Final = {kind: KindSql(kind) for kind in ("reporter", "observer")}
SELECT_LOG: Final = "SELECT at, ops FROM changes WHERE kind = ? AND url = ? ORDER BY n"


def sql_of(kind: str) -> KindSql:
    try:
        return SQL[kind]
    except KeyError:
        raise ValueError(f"kind must be 'reporter' or 'observer', not {kind!r}") from None
