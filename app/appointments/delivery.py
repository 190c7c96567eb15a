"""Deliver stored requests: claim one, build, send, then forget or retry.

A request is done only when every clinic inbox has accepted it; an inbox the
relay refused is tried again later on its own, the others are not emailed
again. Each step is logged at INFO or above with the request's reference and
our own description of an error, never what the patient typed (an SMTP error
text can echo addresses, so it is not logged).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field

from flask import Flask

from . import clinic_email
from . import mailer
from .outbox import OUTBOX_ERRORS
from .outbox import Outbox
from .outbox import QueuedRequest
from .outbox import describe_problem

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one run did: counts, and why sends failed (no personal data)."""

    delivered: int = 0
    failed: int = 0
    reasons: Counter = field(default_factory=Counter)


def _deliver(
    app: Flask, outbox: Outbox, request: QueuedRequest, report: DeliveryReport
) -> None:
    """Send ``request`` to every inbox that has not accepted it yet; forget it
    once all have, else schedule a retry for the ones that refused."""
    keeper = LeaseKeeper(outbox, request)
    try:
        site = app.extensions["content"].site
        message = clinic_email.build_message(request, app.config, site)
        remaining = [
            inbox
            for inbox in app.config["CLINIC_INBOX"]
            if inbox not in request.delivered_to
        ]
        refused = {}
        if remaining:
            with keeper:
                refused = mailer.send(
                    message, app.config, recipients=remaining, guard=keeper
                )
    except Exception as error:
        # Expected failures (relay down, refused, TLS) and unexpected ones
        # (a bug, a bad setting) alike: the request is rescheduled and
        # counted, so one bad request can never stall the ones behind it.
        code = getattr(error, "code", None)
        if keeper.why_lost:  # it cut the connection: that is why it failed
            reason, code = keeper.why_lost, None
        elif isinstance(error, mailer.MailError | mailer.MailConfigError):
            reason = str(error)
        else:
            log.exception("outbox: request %s raised while sending", request.reference)
            reason = f"unexpected {type(error).__name__} (see the traceback above)"
        _retry_later(outbox, keeper.request, report, reason, code)
        return
    request = keeper.request
    accepted = tuple(inbox for inbox in remaining if inbox not in refused)
    for inbox in accepted:
        log.info("outbox: request %s sent to %s", request.reference, inbox)
    if refused:
        reason = "; ".join(
            mailer.refused_reason(inbox, code, text, app.config)
            for inbox, (code, text) in refused.items()
        )
        code = max(code for code, _ in refused.values())
        _retry_later(outbox, request, report, reason, code, accepted)
        return
    outbox.delivered(request)
    log.info("outbox: request %s delivered to every inbox", request.reference)
    report.delivered += 1


def _retry_later(
    outbox: Outbox,
    request: QueuedRequest,
    report: DeliveryReport,
    reason: str,
    code: int | None,
    delivered_to: tuple[str, ...] = (),
) -> None:
    """Schedule the next try, and say so in the log and the report."""
    delay = outbox.failed(request, reason, code=code, delivered_to=delivered_to)
    attempts = request.attempts + 1
    failing = outbox.is_failing(attempts, code, request.delivered_to + delivered_to)
    log.log(
        logging.ERROR if failing else logging.WARNING,
        "outbox: request %s not delivered (attempt %d: %s); %snext try in %d s",
        request.reference,
        attempts,
        reason,
        "failing, see `flask outbox list`; " if failing else "",
        delay,
    )
    report.failed += 1
    report.reasons[reason] += 1


class LeaseKeeper:
    """Holds this sender's lease on ``request`` while it talks to the relay.

    It renews the lease just before the message goes out and then every
    third of a lease, however slowly the relay answers, so no other sender
    can take the request meanwhile. Should a renewal find the lease gone
    (this process stalled past it and another sender took over), it cuts
    the connection: two senders never talk to the relay about one request.
    """

    def __init__(self, outbox: Outbox, request: QueuedRequest) -> None:
        self.outbox = outbox
        self.request = request
        self._smtp = None
        # Why the lease was lost, once it was: the send stops.
        self.why_lost: str | None = None
        self._done = threading.Event()
        # The renewal before the message and the periodic ones must not race:
        # each checks the lease the previous one wrote.
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._keep, daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()

    def watch(self, smtp) -> None:
        """Remember the connection, to cut it if the lease is lost."""
        self._smtp = smtp

    def before_sending(self) -> None:
        """A fresh, full lease for the message itself, or no message."""
        if not self._renew():
            raise mailer.MailError(self.why_lost)

    def _renew(self) -> bool:
        with self._lock:
            if self.why_lost is not None:
                return False
            try:
                renewed = self.outbox.renew(self.request)
            except OUTBOX_ERRORS as error:
                # The lease cannot be proved: stop, to be safe.
                self.why_lost = describe_problem(self.outbox.path, error)
                return False
            if renewed is None:
                self.why_lost = (
                    "another sender took this request over; this one stopped"
                )
                return False
            self.request = renewed
            return True

    def _keep(self) -> None:
        while not self._done.wait(self.outbox.lease_seconds / 3):
            if not self._renew():
                sock = getattr(self._smtp, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return


def deliver_one(app: Flask, request_id: int) -> bool:
    """Try one just-stored request at once (unless a sender already has it)."""
    outbox: Outbox = app.extensions["outbox"]
    report = DeliveryReport()
    try:
        with app.app_context():
            request = outbox.claim_next(request_id)
            if request is not None:
                _deliver(app, outbox, request, report)
    except OUTBOX_ERRORS as error:
        # /healthz says so too; the request, if stored, waits for the fix.
        log.error("outbox: %s", describe_problem(outbox.path, error))
        return False
    return report.delivered == 1


def deliver_due(app: Flask, *, now: bool = False) -> DeliveryReport:
    """Send every request due when called, one claim at a time, in the
    caller's app context (`flask outbox deliver` has one).

    ``now``: every waiting request is due, whatever its backoff (after the
    relay was fixed). A request that fails is rescheduled after the start of
    this run, so one run tries each request at most once.
    """
    outbox: Outbox = app.extensions["outbox"]
    report = DeliveryReport()
    if now:
        outbox.make_due()
    started = time.time()
    while request := outbox.claim_next(due_by=started):
        _deliver(app, outbox, request, report)
    if report.delivered:
        # In case a busy moment kept a delivery's own checkpoint from it.
        outbox.checkpoint()
    return report
