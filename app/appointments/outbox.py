"""The durable outbox: appointment requests wait here, on disk, until delivered.

One SQLite file shared by every web worker and every ``flask outbox deliver``
(cron, several at once). A request is committed (``synchronous=FULL``) before
the patient is told it was received, leased to one sender at a time, and
deleted (``secure_delete`` and a WAL checkpoint: no copy stays) only once every
clinic inbox has accepted it. What a patient typed is encrypted (Fernet,
``OUTBOX_KEY``) before it reaches SQLite. Outside debug and testing only
``flask outbox init`` creates the file: a missing outbox, or one it did not
make, is an alarm (OutboxUnusable), never a fresh, empty start.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import time
from collections import namedtuple
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from contextlib import suppress
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet

log = logging.getLogger(__name__)

# Unambiguous when read aloud over the phone: no 0/O, 1/I/L, 5/S, 2/Z.
_REFERENCE_ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
_REFERENCE_LENGTH = 6

# How long a form submission is remembered (a hash and a reference, no
# personal data), so the same form posted again finds its first request.
# Flask-WTF's token lives 4 hours by default; after that a re-post fails
# its CSRF check anyway.
SUBMISSION_MEMORY_SECONDS = 24 * 3600

# Encrypted at init: it tells the right key from a wrong one, and an outbox
# `flask outbox init` made from any other SQLite file.
_KEY_CHECK = b"clinic-site outbox"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    created_at REAL NOT NULL,
    key_check TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    -- The relay's code for the last failure, if it gave one.
    last_code INTEGER,
    -- JSON list of the clinic inboxes that have accepted it already.
    delivered_to TEXT NOT NULL DEFAULT '[]'
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

# What an operator reads when the outbox cannot be used, each with the fix.
# SQLite's own words ({reason}: "file is not a database", "attempt to write a
# readonly database") name the problem and never contain stored data.
_ADVICE = {
    "missing": "OUTBOX_PATH: {path} does not exist. If this is a new server, run "
    "`flask outbox init` once. If it existed, it was deleted or moved and the "
    "requests waiting in it are gone from this server: restore it from a "
    "copy (docs/deploy.md, Backups) or run `flask outbox init` for a new one",
    "not made": "OUTBOX_PATH: {path} is not an outbox made by `flask outbox init` "
    "(it was replaced, or made by an older version of the site). Move it aside "
    "and run `flask outbox init`",
    "wrong key": "OUTBOX_KEY does not open {path}: it was made with another key. "
    "Set FLASK_OUTBOX_KEY to the key it was made with (a JSON list can hold the "
    "new key first and the old one after it while you change keys)",
    "undecryptable": "request {reference} cannot be decrypted with OUTBOX_KEY: "
    "add the key it was stored with to FLASK_OUTBOX_KEY (a JSON list)",
    "damaged": "OUTBOX_PATH: {path} is damaged ({reason}). Stop the site and "
    "`flask outbox deliver`, move the file aside (with its -wal file; it may "
    "hold undelivered requests: `sqlite3 {path} .recover` rescues what it "
    "can), then run `flask outbox init` to make a new, empty outbox",
    "unusable": "OUTBOX_PATH: {path} cannot be used ({reason}). It and its folder "
    "must exist, belong to the site's user and be writable by it (folder 0700, "
    "files 0600), and the disk must have room",
}


class OutboxUnusable(Exception):
    """The outbox file cannot be opened, read or written; says what to do."""


class OutboxNotMade(OutboxUnusable):
    """No outbox that ``flask outbox init`` made is there (missing, replaced)."""


class OutboxExists(Exception):
    """``flask outbox init`` found an outbox already there."""


# Every way an outbox operation fails for want of a usable outbox.
OUTBOX_ERRORS = (sqlite3.Error, OSError, OutboxUnusable)


# One stored request, as a sender sees it: claimed_until is the lease this
# sender holds (0 when not claimed), delivered_to the clinic inboxes that
# accepted it on an earlier try.
QueuedRequest = namedtuple(
    "QueuedRequest",
    "id reference message_id payload attempts claimed_until delivered_to",
)
# is_new: False for a second POST of a submission already stored.
StoredRequest = namedtuple("StoredRequest", "id reference is_new")
# Counts and ages only: safe to print, log and expose to monitors.
OutboxStatus = namedtuple(
    "OutboxStatus", "queued oldest_age_seconds failing failing_references"
)
# One waiting request as an operator sees it: no personal data.
Entry = namedtuple(
    "Entry",
    "id reference created_at attempts next_attempt_at last_error last_code"
    " delivered_to",
)


def advice(problem: str, **values: Any) -> str:
    """The operator's message for ``problem``, a key of _ADVICE."""
    return _ADVICE[problem].format(**values)


def describe_problem(path: str | Path, error: BaseException) -> str:
    """An operator's message for an outbox that cannot be used, with the fix."""
    if isinstance(error, OutboxUnusable):
        return str(error)
    if not Path(path).exists():
        return advice("missing", path=path)
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    damaged = isinstance(error, sqlite3.DatabaseError) and (
        "malformed" in reason or "not a database" in reason
    )
    return advice("damaged" if damaged else "unusable", path=path, reason=reason)


class Outbox:
    """The queue in one SQLite file. Each method opens its own connection,
    so one Outbox can be shared by threads and forked workers."""

    def __init__(
        self,
        path: str | Path,
        keys: list[str],
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
        # Encrypts with the first key, decrypts with any of them.
        self._cipher = MultiFernet([Fernet(key) for key in keys])
        self._primary = Fernet(keys[0])
        # Key checks this process has already decrypted: each connection
        # compares the file's check with these instead of decrypting again.
        self._opened: set[str] = set()

    def init(self) -> None:
        """Make a new outbox; OutboxExists if there is one already (its
        requests must never be thrown away by a second init).

        Folder and file are private from their first moment (made 0700 and
        0600, which a umask can only narrow; SQLite gives -wal and -shm the
        file's mode), and the file is made under a name of its own and linked
        into place whole, so a second process (two dev servers, two test
        workers) finds none or a complete one, never one half made.
        """
        # A random name, not the pid: containers sharing the folder can share pids.
        making = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.path.exists():
                raise OutboxExists(f"An outbox already exists at {self.path}")
            os.close(os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            with self._connect(check=False, path=making) as db:
                db.executescript(_SCHEMA)
                db.execute(
                    "INSERT INTO outbox (id, created_at, key_check) VALUES (1, ?, ?)",
                    (time.time(), self._cipher.encrypt(_KEY_CHECK).decode()),
                )
            try:
                os.link(making, self.path)
            except FileExistsError:  # another process linked its outbox first
                raise OutboxExists(f"An outbox already exists at {self.path}") from None
        except (sqlite3.Error, OSError) as error:
            # Not describe_problem: its "does not exist, run init" is no help here.
            reason = getattr(error, "strerror", None) or str(error)
            if not self.path.parent.is_dir():
                reason = f"{self.path.parent} is not a folder"
            raise OutboxUnusable(
                advice("unusable", path=self.path, reason=reason)
            ) from None
        finally:
            for end in ("", "-wal", "-shm"):
                with suppress(OSError):  # never made, or no folder to make it in
                    Path(f"{making}{end}").unlink()

    def create(self) -> None:
        """Debug and testing: make the outbox unless there is one, then open it."""
        with suppress(OutboxExists):
            self.init()
        self.open()

    def open(self) -> None:
        """Check the outbox is sound, made by init and opened by this key, and
        re-encrypt whatever an older key of OUTBOX_KEY encrypted; else
        OutboxUnusable saying what to do."""
        try:
            with self._connect(check=False) as db:
                # Damage first: a damaged file can look like a wrong key.
                self._check(db)
                self._check_made_by_init(db)
            self._rotate()
        except (sqlite3.Error, OSError) as error:
            raise OutboxUnusable(describe_problem(self.path, error)) from None

    def _rotate(self) -> None:
        """Everything encrypted with an older key, encrypted with the first.

        Row by row, not by the key check alone: a process still on the old
        key may have stored a request after the last rotation. After one
        start of the site (or one `flask outbox deliver`) with the new key
        first, the old key can be dropped from OUTBOX_KEY.
        """
        [(token,)] = self._rows("SELECT key_check FROM outbox")
        stale = [
            (self._unseal(reference, payload, self._cipher.rotate), id_, payload)
            for id_, reference, payload in self._rows(
                "SELECT id, reference, payload FROM requests"
            )
            if not self._is_current(payload)
        ]
        if self._is_current(token) and not stale:
            return  # read only: a start never needs to write
        with self._transaction() as db:
            # Only if unchanged: a sender may have delivered it meanwhile.
            db.executemany(
                "UPDATE requests SET payload = ? WHERE id = ? AND payload = ?",
                stale,
            )
            db.execute(
                "UPDATE outbox SET key_check = ?",
                (self._cipher.rotate(token.encode()).decode(),),
            )
        log.info("outbox: re-encrypted %d request(s) with the new key", len(stale))
        self.checkpoint()

    def _is_current(self, token: str) -> bool:
        try:
            self._primary.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    @staticmethod
    def _unseal(reference: str, token: str, how) -> str:
        """``how`` (decrypt, rotate) applied to a stored request's token."""
        try:
            return how(token.encode()).decode()
        except InvalidToken:
            # Never skipped quietly: the run stops and says so (exit 3).
            raise OutboxUnusable(advice("undecryptable", reference=reference)) from None

    @contextmanager
    def _connect(
        self, timeout: float = 30, *, check: bool = True, path: Path | None = None
    ) -> Iterator[sqlite3.Connection]:
        # mode=rw: at run time a missing file is an error, never a new,
        # empty outbox created with the process's default mode.
        path = path or self.path
        if not path.exists():
            raise OutboxNotMade(advice("missing", path=path))
        uri = f"{path.resolve().as_uri()}?mode=rw"
        db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: the commit is on disk (WAL fsynced) before we answer.
            db.execute("PRAGMA synchronous=FULL")
            # Overwrite deleted requests rather than leave them in free pages.
            db.execute("PRAGMA secure_delete=ON")
            if check:
                self._check_made_by_init(db)
            yield db
        finally:
            db.close()

    def _check_made_by_init(self, db: sqlite3.Connection) -> None:
        """The file is the outbox init made, and OUTBOX_KEY opens it."""
        try:
            row = db.execute("SELECT key_check FROM outbox").fetchone()
        except sqlite3.OperationalError as error:
            if "no such table" not in str(error):
                raise
            row = None
        if row is None:
            raise OutboxNotMade(advice("not made", path=self.path))
        if row[0] in self._opened:
            return
        try:
            opened = self._cipher.decrypt(row[0].encode()) == _KEY_CHECK
        except InvalidToken:
            opened = False
        if not opened:
            raise OutboxUnusable(advice("wrong key", path=self.path))
        self._opened.add(row[0])

    @contextmanager
    def _transaction(self, timeout: float = 30) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once, so checks and writes inside it
        see and change one state (no other writer in between)."""
        # ``with db``: COMMIT at the end, ROLLBACK on an exception.
        with self._connect(timeout) as db, db:
            db.execute("BEGIN IMMEDIATE")
            yield db

    def _rows(self, sql: str, *params: Any) -> list[tuple]:
        """One statement's rows: a read, or a write with RETURNING."""
        with self._connect() as db:
            return db.execute(sql, params).fetchall()

    def _change(self, sql: str, *params: Any, empty_wal: bool = False) -> int:
        """Run one write; how many rows it changed. ``empty_wal`` after a
        delete, so no copy of the deleted rows stays in the journal."""
        with self._connect() as db:
            changed = db.execute(sql, params).rowcount
            if empty_wal:
                self._empty_wal(db)
        return changed

    def add(
        self,
        payload: dict[str, Any],
        *,
        mail_domain: str,
        submission: str | None = None,
    ) -> StoredRequest:
        """Store a request durably; return its id and reference.

        ``submission`` (a key per form submission, forms.py) makes a repeat of
        the same submission return the first request instead of a second one,
        even after the first was delivered. The Message-ID is fixed now, so a
        resend after a crash carries the same one and the inbox (or staff) can
        recognise the duplicate.
        """
        body = self._cipher.encrypt(
            json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        ).decode()
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
                    break
                except sqlite3.IntegrityError:
                    pass  # reference already taken: draw another
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
        lease = now + self.lease_seconds
        # One statement: the choice and the claim are atomic.
        rows = self._rows(
            "UPDATE requests SET claimed_until = ?1 WHERE id = (SELECT id FROM"
            " requests WHERE claimed_until < ?2 AND next_attempt_at <= ?3"
            " AND (?4 IS NULL OR id = ?4) ORDER BY next_attempt_at LIMIT 1)"
            " RETURNING id, reference, message_id, payload, attempts, claimed_until,"
            " delivered_to",
            lease,
            now,
            now if due_by is None else due_by,
            request_id,
        )
        if not rows:
            return None
        request = QueuedRequest(*rows[0])
        text = self._unseal(request.reference, request.payload, self._cipher.decrypt)
        inboxes = tuple(json.loads(request.delivered_to))
        return request._replace(payload=json.loads(text), delivered_to=inboxes)

    def renew(self, request: QueuedRequest) -> QueuedRequest | None:
        """Extend this sender's lease by a full lease from now; None when it
        no longer holds it (it stalled past its lease and another sender
        took the request). One statement: the check and the write are atomic.
        """
        lease = time.time() + self.lease_seconds
        renewed = self._change(
            "UPDATE requests SET claimed_until = ? WHERE id = ? AND claimed_until = ?",
            lease,
            request.id,
            request.claimed_until,
        )
        return request._replace(claimed_until=lease) if renewed else None

    def delivered(self, request: QueuedRequest) -> None:
        """Forget a request the SMTP server has accepted, leaving no copy.

        Only a TRUNCATE checkpoint empties the -wal file while other
        connections are open (measured: PASSIVE, RESTART and
        journal_size_limit=0 leave the text there), for about 0.2 ms.
        """
        self._change("DELETE FROM requests WHERE id = ?", request.id, empty_wal=True)

    def checkpoint(self) -> bool:
        """Empty the WAL now (end of a delivery run); True when it is empty."""
        with self._connect() as db:
            return self._empty_wal(db)

    @staticmethod
    def _empty_wal(db: sqlite3.Connection, tries: int = 5) -> bool:
        """Fold the WAL into the file and truncate it to nothing.

        SQLite answers "busy" at once when another connection's checkpoint is
        running or a writer got in between (many deliveries at once); a few
        quick retries nearly always succeed, and whatever is left is cleared
        by the next delivery and by the end of each `flask outbox deliver`.
        """
        for attempt in range(tries):
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.02 * (attempt + 1))
        log.info("outbox: WAL still in use; emptied by the next delivery or run")
        return False

    def failed(
        self,
        request: QueuedRequest,
        error: str,
        *,
        code: int | None = None,
        delivered_to: tuple[str, ...] = (),
    ) -> float:
        """Release the lease and schedule the next try; return its delay.

        ``delivered_to``: the inboxes that have accepted it so far, which the
        next try leaves out. Only while this sender still holds the lease: if
        it ran out and another sender took the request, that sender's claim
        stands. The delay doubles with each try: 1, 2, 4 ... minutes.
        """
        delay = min(self.retry_seconds * 2**request.attempts, self.max_backoff)
        self._change(
            "UPDATE requests SET attempts = attempts + 1, claimed_until = 0,"
            " next_attempt_at = ?, last_error = ?, last_code = ?,"
            " delivered_to = ? WHERE id = ? AND claimed_until = ?",
            time.time() + delay,
            error,
            code,
            json.dumps(sorted({*request.delivered_to, *delivered_to})),
            request.id,
            request.claimed_until,
        )
        return delay

    def is_failing(
        self, attempts: int, code: int | None, delivered_to: Sequence[str]
    ) -> bool:
        """Keeps failing: tried often, refused for good (SMTP 5xx), or
        refused by one inbox while another took it."""
        return (
            attempts >= self.failing_after
            or (code is not None and code >= 500)
            or bool(delivered_to)
        )

    def make_due(self, reference: str | None = None) -> int:
        """Every waiting request (or the one with ``reference``) is due now,
        after the relay was fixed; how many were not. Attempts are kept, so
        backoff resumes if it fails."""
        return self._change(
            "UPDATE requests SET next_attempt_at = ?1 WHERE next_attempt_at > ?1"
            " AND (?2 IS NULL OR reference = ?2)",
            time.time(),
            reference,
        )

    def probe(self, timeout: float = 5) -> None:
        """A real write, committed and synced, as the form's POST does one,
        and SQLite's quick integrity check (milliseconds for this small file);
        sqlite3.Error or OSError when the file cannot take a request now
        (damaged, read-only, gone, disk full, locked past ``timeout``)."""
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
        entries = self.entries()
        failing = tuple(
            entry.reference
            for entry in entries
            if self.is_failing(entry.attempts, entry.last_code, entry.delivered_to)
        )
        oldest = time.time() - entries[0].created_at if entries else None
        return OutboxStatus(len(entries), oldest, len(failing), failing)

    def entries(self) -> list[Entry]:
        """Every waiting request, oldest first, without its answers."""
        rows = self._rows(
            "SELECT id, reference, created_at, attempts, next_attempt_at, last_error,"
            " last_code, delivered_to FROM requests ORDER BY created_at"
        )
        return [Entry(*row[:7], tuple(json.loads(row[7]))) for row in rows]

    def find(self, reference: str) -> int | None:
        """The id of the waiting request with this reference, if any."""
        rows = self._rows("SELECT id FROM requests WHERE reference = ?", reference)
        return rows[0][0] if rows else None

    def discard(self, reference: str) -> bool:
        """Forget a request for good, leaving no copy; False when none waits."""
        with self._transaction() as db:
            # The same page sent again is then a new request, not a repeat of
            # one that no longer exists.
            db.execute("DELETE FROM submissions WHERE reference = ?", (reference,))
            gone = db.execute("DELETE FROM requests WHERE reference = ?", (reference,))
        self.checkpoint()
        return gone.rowcount == 1


def new_reference() -> str:
    """A short random reference a patient can read out on the phone."""
    code = "".join(
        secrets.choice(_REFERENCE_ALPHABET) for _ in range(_REFERENCE_LENGTH)
    )
    return f"{code[:3]}-{code[3:]}"


def normalise_reference(text: str) -> str:
    """A reference as typed or read out ("abc def", "ABCDEF") in its printed
    form, "ABC-DEF"."""
    code = "".join(character for character in text.upper() if character.isalnum())
    return f"{code[:3]}-{code[3:]}" if len(code) == _REFERENCE_LENGTH else text
