"""The durable outbox: appointment requests wait here, on disk, until delivered.

One SQLite file shared by every web worker and every ``flask outbox deliver``
(cron, possibly several at once). A request is committed with
``synchronous=FULL`` before the patient is told it was received, claimed
under a lease so that no two senders take it at once, and deleted (with
``secure_delete``, so its bytes are overwritten) only after the SMTP server
has accepted it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path
from typing import Any

# Unambiguous when read aloud over the phone: no 0/O, 1/I/L, 5/S, 2/Z.
_REFERENCE_ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
_REFERENCE_LENGTH = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS requests_due ON requests (next_attempt_at);
"""


@dataclass(frozen=True)
class QueuedRequest:
    """One stored request, as a sender sees it."""

    id: int
    reference: str
    message_id: str
    payload: dict[str, Any]
    attempts: int
    # The lease this sender holds (0 when not claimed).
    claimed_until: float = 0


@dataclass(frozen=True)
class OutboxStatus:
    """Counts and ages only: safe to print, log and expose to monitors."""

    queued: int
    oldest_age_seconds: float | None
    failing: int
    failing_references: tuple[str, ...]


def new_reference() -> str:
    """A short random reference a patient can read out on the phone."""
    code = "".join(
        secrets.choice(_REFERENCE_ALPHABET) for _ in range(_REFERENCE_LENGTH)
    )
    return f"{code[:3]}-{code[3:]}"


def backoff_seconds(attempts: int, *, base: float = 60, cap: float = 3600) -> float:
    """Delay before the next try: 1, 2, 4 ... minutes, at most ``cap``."""
    return min(base * 2 ** max(attempts - 1, 0), cap)


class Outbox:
    """The queue in one SQLite file. Each method opens its own connection,
    so one Outbox can be shared by threads and forked workers."""

    def __init__(
        self,
        path: str | Path,
        *,
        lease_seconds: float = 300,
        retry_seconds: float = 60,
        max_backoff: float = 3600,
        failing_after: int = 5,
    ) -> None:
        self.path = Path(path)
        self.lease_seconds = lease_seconds
        self.retry_seconds = retry_seconds
        self.max_backoff = max_backoff
        self.failing_after = failing_after

    def create(self) -> None:
        """Create the folder, the file and the table (idempotent).

        A new folder and file are readable by this user only: they hold
        personal data until delivered.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        is_new = not self.path.exists()
        with self._connect() as db:
            db.executescript(_SCHEMA)
        if is_new:
            self.path.chmod(0o600)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: the commit is on disk (WAL fsynced) before we answer.
            db.execute("PRAGMA synchronous=FULL")
            # Overwrite deleted requests rather than leave them in free pages.
            db.execute("PRAGMA secure_delete=ON")
            yield db
        finally:
            db.close()

    def add(self, payload: dict[str, Any], *, mail_domain: str) -> QueuedRequest:
        """Store a request durably; return it with its reference and Message-ID.

        The Message-ID is fixed now, so a resend after a crash carries the
        same one and the inbox (or staff) can recognise the duplicate.
        """
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        now = time.time()
        with self._connect() as db:
            while True:
                reference = new_reference()
                message_id = make_msgid(idstring=reference, domain=mail_domain)
                try:
                    cursor = db.execute(
                        "INSERT INTO requests (reference, message_id, payload,"
                        " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
                        (reference, message_id, body, now, now),
                    )
                except sqlite3.IntegrityError:
                    continue  # reference already taken: draw another
                return QueuedRequest(
                    cursor.lastrowid, reference, message_id, payload, 0
                )

    def claim(
        self,
        request_id: int | None = None,
        *,
        due_by: float | None = None,
        limit: int = 50,
    ) -> list[QueuedRequest]:
        """Lease requests due by ``due_by`` (default now), or one given request.

        The lease makes concurrent senders skip what another holds; if the
        holder dies, the lease runs out and someone else sends it.
        """
        now = time.time()
        due_by = now if due_by is None else due_by
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                query = (
                    "SELECT id, reference, message_id, payload, attempts FROM requests"
                    " WHERE claimed_until < ? AND next_attempt_at <= ?"
                )
                params: list[Any] = [now, due_by]
                if request_id is not None:
                    query += " AND id = ?"
                    params.append(request_id)
                query += " ORDER BY next_attempt_at LIMIT ?"
                params.append(limit)
                rows = db.execute(query, params).fetchall()
                db.executemany(
                    "UPDATE requests SET claimed_until = ? WHERE id = ?",
                    [(now + self.lease_seconds, row[0]) for row in rows],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        lease = now + self.lease_seconds
        return [
            QueuedRequest(row[0], row[1], row[2], json.loads(row[3]), row[4], lease)
            for row in rows
        ]

    def delivered(self, request: QueuedRequest) -> None:
        """Forget a request the SMTP server has accepted."""
        with self._connect() as db:
            db.execute("DELETE FROM requests WHERE id = ?", (request.id,))

    def failed(self, request: QueuedRequest, error: str) -> float:
        """Release the lease and schedule the next try; return its delay.

        Only while this sender still holds the lease: if it ran out and
        another sender took the request, that sender's claim stands.
        """
        delay = backoff_seconds(
            request.attempts + 1, base=self.retry_seconds, cap=self.max_backoff
        )
        with self._connect() as db:
            db.execute(
                "UPDATE requests SET attempts = attempts + 1, claimed_until = 0,"
                " next_attempt_at = ?, last_error = ?"
                " WHERE id = ? AND claimed_until = ?",
                (time.time() + delay, error, request.id, request.claimed_until),
            )
        return delay

    def checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it, so delivered
        requests do not linger in the WAL."""
        with self._connect() as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def status(self) -> OutboxStatus:
        """How many requests wait, how old the oldest is, which keep failing."""
        with self._connect() as db:
            count, oldest = db.execute(
                "SELECT COUNT(*), MIN(created_at) FROM requests"
            ).fetchone()
            failing = [
                row[0]
                for row in db.execute(
                    "SELECT reference FROM requests WHERE attempts >= ?"
                    " ORDER BY created_at",
                    (self.failing_after,),
                )
            ]
        return OutboxStatus(
            queued=count,
            oldest_age_seconds=None if oldest is None else time.time() - oldest,
            failing=len(failing),
            failing_references=tuple(failing),
        )
