"""Why a storage file (`core.runtime.storage`) cannot be used, said so that a person can act on it."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StorageError(Exception):
    """The storage file cannot be used; the message names the file and what to do about it."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


def not_json(path: Path, kind: str, exc: ValueError) -> StorageError:
    """A record of `kind` in the file at `path` that does not parse."""
    return StorageError(path, f"Storage file {path.absolute()} holds a {kind} record that is not JSON ({exc}). "
                        "Move the file away (or restore a backup) and start again.")


def sqlite_failure(path: Path, exc: sqlite3.Error, doing: str, busy_timeout: float) -> StorageError:
    """What SQLite's failure to do `doing` with the file at `path` means to the user, and what to do."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    where = str(path.absolute())
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        text = (f"Storage file {where} is locked by another process (waited {busy_timeout:g} s to {doing}). "
                "Stop the other SyncScope runtime or tool using this file, or give this runtime its own "
                "storage path.")
    elif primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        text = (f"Storage file {where} is corrupt or not an SQLite database ({exc}). It was left untouched: "
                "move it away (or restore a backup) and start again to begin with an empty storage.")
    elif primary == sqlite3.SQLITE_FULL:
        text = f"Storage file {where}: the disk is full ({doing}). Free some space and retry."
    elif primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN,
                     sqlite3.SQLITE_AUTH):
        text = (f"Storage file {where} cannot be opened for writing ({exc}). Check that the file and its "
                "directory exist and are writable by this user, or give the runtime another storage path.")
    else:
        text = (f"Storage file {where}: SQLite failed to {doing} ({exc}). Check the disk and the file; if it "
                "persists, move the file away and start again.")
    return StorageError(path, text)
