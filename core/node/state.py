"""What a Message Node remembers across restarts (`syncscope node --state FILE`).

Session tokens, address ownership (allocation and transfer, PROTOCOL §1.2, TRANSPORT §3), fenced
delegation tokens (§1.2 step 6: a fence must outlive the node, or an answer given before a restart
could be contradicted after it), foreign hyperties bound to a runtime at first use (§6), and
registrations (§3.1 step 6). Node subscriptions are not kept: they belong to links (TRANSPORT §2)
and runtimes re-send them after each open.

`MemoryState` keeps nothing (the embedded lab's nodes); `NodeState` writes through to SQLite, one
transaction per change, WAL journal.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: Seconds to wait for a state file another process holds before giving up.
LOCK_WAIT = 0.5
#: Version of the file's layout, checked on open so a later release can migrate it.
SCHEMA_VERSION = 1

_TABLES = (
    "CREATE TABLE IF NOT EXISTS tokens (runtime TEXT PRIMARY KEY, token TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS owners (address TEXT PRIMARY KEY, runtime TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS fenced (token TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS bound (hyperty TEXT PRIMARY KEY, runtime TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS registrations (url TEXT PRIMARY KEY, value BLOB NOT NULL)",
)


class StateError(Exception):
    """The state file cannot be used; the message names the file and what to do."""


@dataclass
class Snapshot:
    tokens: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    fenced: set[str] = field(default_factory=set)
    bound: dict[str, str] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)


class MemoryState:
    """Nothing survives the process: every write is a no-op."""

    #: Group commit: writes stay in one open transaction until `commit()` (see `NodeState`).
    deferred = False

    def load(self) -> Snapshot:
        return Snapshot()

    def commit(self) -> None:
        pass

    def token(self, runtime: str, token: str) -> None:
        pass

    def owners(self, addresses: list[str], runtime: str) -> None:
        pass

    def drop_owner(self, address: str) -> None:
        pass

    def fence(self, token: str) -> None:
        pass

    def bind(self, hyperty: str, runtime: str) -> None:
        pass

    def register(self, url: str, value: dict[str, Any]) -> None:
        pass

    def unregister(self, url: str) -> None:
        pass

    def commit_transfer(self, token: str) -> None:
        """A transfer committed with `token` (kept only where several nodes share state: a
        single node's fence check and commit cannot interleave)."""

    def accept(self, url: str, token: str, runtime: str) -> None:
        """`runtime` accepted the transfer of `url` (kept only where several nodes share state)."""

    def unaccept(self, url: str, token: str) -> None:
        pass

    def close(self) -> None:
        pass


class NodeState(MemoryState):
    """The node's SQLite file. An answered allocation or transfer is never forgotten: each write is
    committed before the answer to the request that caused it leaves the node.

    By default each write is its own transaction. With `deferred` set (the WebSocket server does),
    writes join one open transaction until `commit()`, which the server calls before it writes
    anything to a socket: one commit per loop turn instead of one per request, same guarantee.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=LOCK_WAIT)
            # One node per file: the first write below takes the lock and keeps it until close.
            self.db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self.db.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL survives a process crash; a power cut may lose the last commits.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._check_version()
            with self.db:
                for statement in _TABLES:
                    self.db.execute(statement)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise StateError(f"{self.path}: cannot open the node state file ({exc})") from exc
            raise StateError(f"{self.path}: the node state file is in use by another process; "
                             "stop that node or give another --state path") from exc
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: not a usable node state file ({exc}); "
                             "move it away or give another --state path") from exc

    def _check_version(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise StateError(f"{self.path}: node state version {version}, this node reads version "
                             f"{SCHEMA_VERSION}; use a matching release or another --state path")
        # Written even when unchanged: the write takes the exclusive lock this node then keeps.
        self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def load(self) -> Snapshot:
        snap = Snapshot()
        snap.tokens = dict(self.db.execute("SELECT runtime, token FROM tokens"))
        snap.owners = dict(self.db.execute("SELECT address, runtime FROM owners"))
        snap.fenced = {row[0] for row in self.db.execute("SELECT token FROM fenced")}
        snap.bound = dict(self.db.execute("SELECT hyperty, runtime FROM bound"))
        snap.registrations = {url: orjson.loads(value)
                              for url, value in self.db.execute("SELECT url, value FROM registrations")}
        return snap

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not self.deferred:
            with self.db:
                self.db.executemany(sql, rows)
            return
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
        self.db.executemany(sql, rows)

    def commit(self) -> None:
        if self.db.in_transaction:
            self.db.execute("COMMIT")

    def token(self, runtime: str, token: str) -> None:
        self._write("INSERT OR REPLACE INTO tokens VALUES (?, ?)", [(runtime, token)])

    def owners(self, addresses: list[str], runtime: str) -> None:
        self._write("INSERT OR REPLACE INTO owners VALUES (?, ?)", [(a, runtime) for a in addresses])

    def drop_owner(self, address: str) -> None:
        self._write("DELETE FROM owners WHERE address = ?", [(address,)])

    def fence(self, token: str) -> None:
        self._write("INSERT OR IGNORE INTO fenced VALUES (?)", [(token,)])

    def bind(self, hyperty: str, runtime: str) -> None:
        self._write("INSERT OR REPLACE INTO bound VALUES (?, ?)", [(hyperty, runtime)])

    def register(self, url: str, value: dict[str, Any]) -> None:
        self._write("INSERT OR REPLACE INTO registrations VALUES (?, ?)",
                    [(url, orjson.dumps(value, default=str))])

    def unregister(self, url: str) -> None:
        self._write("DELETE FROM registrations WHERE url = ?", [(url,)])

    def close(self) -> None:
        self.commit()
        self.db.close()
