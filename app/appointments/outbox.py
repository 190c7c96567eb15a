"""The durable outbox: appointment requests wait here, on disk, until delivered.

One SQLite file shared by every web worker and every ``flask outbox deliver``
(cron, possibly several at once). A request is committed with
``synchronous=FULL`` before the patient is told it was received, claimed
one at a time under a short lease so that no two senders ever hold it at
once, and deleted (with ``secure_delete``, so its bytes are overwritten, and
a WAL checkpoint, so no copy stays in the journal) only after the SMTP server
has accepted it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import make_msgid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Unambiguous when read aloud over the phone: no 0/O, 1/I/L, 5/S, 2/Z.
_REFERENCE_ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
_REFERENCE_LENGTH = 6

# How long a form submission is remembered (a hash and a reference, no
# personal data), so the same form posted again finds its first request.
# Flask-WTF's token lives 4 hours by default; after that a re-post fails
# its CSRF check anyway.
SUBMISSION_MEMORY_SECONDS = 24 * 3600

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
CREATE TABLE IF NOT EXISTS submissions (
    key TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    written_at REAL NOT NULL
);
"""


class OutboxUnusable(Exception):
    """The outbox file cannot be opened, read or written; says what to do."""


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
class StoredRequest:
    """What the form's POST needs back: the request, and whether this very
    submission had already been stored (a second POST of the same form)."""

    id: int
    reference: str
    is_new: bool


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


def new_submission_token() -> str:
    """A random token for one rendering of the form (its hidden field)."""
    return secrets.token_urlsafe(16)


def submission_key(session_secret: str | None, token: str | None) -> str | None:
    """One key per form submission: the session's CSRF secret and the form's
    token together, hashed (neither is stored). None when either is missing,
    so such a post is simply never taken for a repeat."""
    if not session_secret or not token or len(token) > 64:
        return None
    return hashlib.sha256(f"{session_secret}\0{token}".encode()).hexdigest()


def backoff_seconds(attempts: int, *, base: float = 60, cap: float = 3600) -> float:
    """Delay before the next try: 1, 2, 4 ... minutes, at most ``cap``."""
    return min(base * 2 ** max(attempts - 1, 0), cap)


def describe_problem(path: str | Path, error: BaseException) -> str:
    """An operator's message for an outbox that cannot be used, with the fix.

    SQLite's own message ("file is not a database", "attempt to write a
    readonly database") names the problem and never contains stored data.
    """
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    if isinstance(error, sqlite3.DatabaseError) and (
        "malformed" in reason or "not a database" in reason
    ):
        return (
            f"OUTBOX_PATH: {path} is damaged ({reason}). Stop the site and "
            "`flask outbox deliver`, move the file aside (with its -wal file; it may "
            f"hold undelivered requests: `sqlite3 {path} .recover` rescues what it "
            "can), then start the site again: it creates a new, empty outbox"
        )
    return (
        f"OUTBOX_PATH: {path} cannot be used ({reason}). It and its folder must "
        "exist, belong to the site's user and be writable by it (folder 0700, "
        "files 0600), and the disk must have room"
    )


class Outbox:
    """The queue in one SQLite file. Each method opens its own connection,
    so one Outbox can be shared by threads and forked workers."""

    def __init__(
        self,
        path: str | Path,
        *,
        lease_seconds: float = 30,
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
        """Create the folder, the file and the tables (idempotent), then check
        the file is sound. Raises OutboxUnusable saying what to do.

        A new folder and file are private from their first moment: created
        with modes 0700 and 0600 (which a umask can only narrow), never
        chmod-ed afterwards. SQLite gives its -wal and -shm files the mode of
        the database file.
        """
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            with self._connect() as db:
                db.executescript(_SCHEMA)
                self._check(db)
        except (sqlite3.Error, OSError) as error:
            raise OutboxUnusable(describe_problem(self.path, error)) from None

    @contextmanager
    def _connect(self, timeout: float = 30) -> Iterator[sqlite3.Connection]:
        # mode=rw: at run time a missing file is an error, never a new,
        # empty outbox created with the process's default mode.
        uri = f"{self.path.resolve().as_uri()}?mode=rw"
        db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: the commit is on disk (WAL fsynced) before we answer.
            db.execute("PRAGMA synchronous=FULL")
            # Overwrite deleted requests rather than leave them in free pages.
            db.execute("PRAGMA secure_delete=ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self, timeout: float = 30) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once, so checks and writes inside it
        see and change one state (no other writer in between)."""
        with self._connect(timeout) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add(
        self,
        payload: dict[str, Any],
        *,
        mail_domain: str,
        submission: str | None = None,
    ) -> StoredRequest:
        """Store a request durably; return its id and reference.

        ``submission`` (see ``submission_key``) makes a repeat of the same
        form submission return the first request instead of a second one,
        even after the first was delivered. The Message-ID is fixed now, so
        a resend after a crash carries the same one and the inbox (or staff)
        can recognise the duplicate.
        """
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        now = time.time()
        with self._transaction() as db:
            if submission is not None:
                db.execute(
                    "DELETE FROM submissions WHERE created_at < ?",
                    (now - SUBMISSION_MEMORY_SECONDS,),
                )
                row = db.execute(
                    "SELECT s.reference, r.id FROM submissions s LEFT JOIN requests r"
                    " ON r.reference = s.reference WHERE s.key = ?",
                    (submission,),
                ).fetchone()
                if row is not None:
                    return StoredRequest(row[1] or 0, row[0], is_new=False)
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
                break
            if submission is not None:
                db.execute(
                    "INSERT INTO submissions (key, reference, created_at)"
                    " VALUES (?, ?, ?)",
                    (submission, reference, now),
                )
        return StoredRequest(cursor.lastrowid, reference, is_new=True)

    def claim_next(
        self, request_id: int | None = None, *, due_by: float | None = None
    ) -> QueuedRequest | None:
        """Lease one request due by ``due_by`` (default now), or the given one.

        One at a time, each with a fresh lease taken just before its send
        (and renewed while it lasts, see ``renew``): a sender never holds a
        request it is not sending, so a slow relay cannot make a lease run
        out on requests still waiting in a batch. If the holder dies, the
        lease runs out and someone else sends.
        """
        now = time.time()
        due_by = now if due_by is None else due_by
        query = (
            "SELECT id, reference, message_id, payload, attempts FROM requests"
            " WHERE claimed_until < ? AND next_attempt_at <= ?"
        )
        params: list[Any] = [now, due_by]
        if request_id is not None:
            query += " AND id = ?"
            params.append(request_id)
        query += " ORDER BY next_attempt_at LIMIT 1"
        lease = now + self.lease_seconds
        with self._transaction() as db:
            row = db.execute(query, params).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE requests SET claimed_until = ? WHERE id = ?", (lease, row[0])
            )
        return QueuedRequest(row[0], row[1], row[2], json.loads(row[3]), row[4], lease)

    def renew(self, request: QueuedRequest) -> QueuedRequest | None:
        """Extend this sender's lease by a full lease from now; None when it
        no longer holds it (it stalled past its lease and another sender
        took the request). One statement: the check and the write are atomic.
        """
        lease = time.time() + self.lease_seconds
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE requests SET claimed_until = ?"
                " WHERE id = ? AND claimed_until = ?",
                (lease, request.id, request.claimed_until),
            )
        if cursor.rowcount != 1:
            return None
        return dataclasses.replace(request, claimed_until=lease)

    def delivered(self, request: QueuedRequest) -> None:
        """Forget a request the SMTP server has accepted, leaving no copy.

        Only a TRUNCATE checkpoint empties the -wal file while other
        connections are open (measured: PASSIVE, RESTART and
        journal_size_limit=0 leave the text there), for about 0.2 ms.
        """
        with self._connect() as db:
            db.execute("DELETE FROM requests WHERE id = ?", (request.id,))
            self._empty_wal(db)

    def checkpoint(self) -> bool:
        """Empty the WAL now (end of a delivery run); True when it is empty."""
        with self._connect() as db:
            return self._empty_wal(db)

    @staticmethod
    def _empty_wal(db: sqlite3.Connection, tries: int = 5) -> bool:
        """Fold the WAL into the file and truncate it to nothing.

        SQLite answers "busy" at once when another connection's checkpoint
        is running or a writer got in between (many deliveries at once);
        a few quick retries nearly always succeed, and whatever is left is
        cleared by the next delivery and by the end of each
        `flask outbox deliver` run.
        """
        for attempt in range(tries):
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.02 * (attempt + 1))
        log.info("outbox: WAL still in use; emptied by the next delivery or run")
        return False

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

    def make_all_due(self) -> int:
        """Every waiting request is due now (after the relay was fixed);
        returns how many. Attempts are kept, so backoff resumes if it fails."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE requests SET next_attempt_at = ? WHERE next_attempt_at > ?",
                (time.time(), time.time()),
            )
        return cursor.rowcount

    def probe(self, timeout: float = 5) -> None:
        """A real write, committed and synced, as the form's POST does one,
        and SQLite's quick integrity check (milliseconds for this small file).

        Raises sqlite3.Error or OSError when the file cannot take a request
        right now (damaged, read-only, gone, disk full, locked past
        ``timeout``).
        """
        with self._transaction(timeout) as db:
            db.execute(
                "INSERT INTO health_probe (id, written_at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
                (time.time(),),
            )
            self._check(db)

    @staticmethod
    def _check(db: sqlite3.Connection) -> None:
        [result] = db.execute("PRAGMA quick_check(1)").fetchone()
        if result != "ok":
            raise sqlite3.DatabaseError("database disk image is malformed")

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
