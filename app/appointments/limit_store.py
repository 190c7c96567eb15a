"""A ``limits`` store in one SQLite file that every worker of a server shares
(``memory://`` is per worker: five workers let "5 per minute" through 25
times; Redis is for several servers). Importing this module registers
``RATELIMIT_STORAGE_URI=sqlite:///...``. Counts, keyed by Flask-Limiter's key
(a client's address or IPv6 /64: personal data, so each row goes when its
window ends); fixed windows (the default strategy) only."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from limits.errors import ConfigurationError
from limits.storage import Storage


class SQLiteStorage(Storage):
    """``sqlite:///absolute/path/to/file.sqlite3``; the file (and its folder)
    is made on first use, so a store that cannot be written is a failing
    count (let through, logged, /healthz/delivery red), not a failed start."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        self.path = Path(urlsplit(uri).path)
        if not self.path.is_absolute():
            raise ConfigurationError(
                f"{uri!r}: give the file's absolute path, as in "
                "sqlite:///var/lib/clinic-site/ratelimits.sqlite3"
            )
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, kept open: closing the last connection
        to a WAL file checkpoints it with an fsync (6 ms a count on this
        machine, 25 µs kept open). A process forked from this one (a gunicorn
        worker) opens its own: a SQLite connection must not cross a fork."""
        local = self._local
        if getattr(local, "pid", None) == os.getpid():
            return local.db
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise sqlite3.OperationalError(
                f"cannot create {self.path.parent}"
            ) from error
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        # WAL: a worker counting never waits for a worker reading. A counter
        # lost in a power cut costs nothing; fsyncs would.
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS counters"
            " (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"
        )
        local.db, local.pid = db, os.getpid()
        return db

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount``; a new window starts ``expiry`` seconds long."""
        now, db = time.time(), self._db()
        # IMMEDIATE: the write lock first, so two workers never both read the
        # old count.
        db.execute("BEGIN IMMEDIATE")
        with db:  # commits, or rolls back on an error
            db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
            (count,) = db.execute(
                "INSERT INTO counters (key, count, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET count = count + excluded.count"
                " RETURNING count",
                (key, amount, now + expiry),
            ).fetchone()
        return int(count)

    def _row(self, key: str) -> tuple[int, float] | None:
        query = (
            "SELECT count, expires_at FROM counters WHERE key = ? AND expires_at > ?"
        )
        return self._db().execute(query, (key, time.time())).fetchone()

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return float(row[1]) if row else time.time()

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1 FROM counters LIMIT 1")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM counters WHERE key = ?", (key,))
