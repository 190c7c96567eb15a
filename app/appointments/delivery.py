"""Deliver stored requests: claim one, build, send, then forget or retry.

Logs carry references and our own description of an error, never what the
patient typed (an SMTP error text can echo addresses, so it is not logged).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Flask

from . import mailer
from .outbox import Outbox
from .outbox import QueuedRequest
from .outbox import describe_problem

log = logging.getLogger(__name__)

# What a failed delivery raises; anything else is a bug, logged with its
# traceback (but rescheduled all the same).
DELIVERY_ERRORS = (mailer.MailError, mailer.MailConfigError)

# Of each lease, the share one SMTP conversation may use; the rest is the
# margin for recording the outcome before another sender may take over.
_SEND_SHARE_OF_LEASE = 2 / 3


@dataclass
class DeliveryReport:
    """What one run did: counts, and why sends failed (no personal data)."""

    delivered: int = 0
    failed: int = 0
    reasons: Counter = field(default_factory=Counter)


def lease_seconds(config: Mapping[str, Any]) -> float:
    """``OUTBOX_LEASE_SECONDS``, else three times ``MAIL_TIMEOUT``.

    Long enough for one SMTP conversation (cut off after two thirds of the
    lease) and no longer, so a sender killed mid-send holds its request
    back about as long as one attempt could have taken.
    """
    configured = config.get("OUTBOX_LEASE_SECONDS")
    if configured:
        return float(configured)
    return 3 * float(config.get("MAIL_TIMEOUT") or 10)


def outbox_for(app: Flask) -> Outbox:
    """The app's outbox, configured from ``OUTBOX_*`` settings."""
    return app.extensions["outbox"]


def _describe(error: Exception) -> str:
    if isinstance(error, DELIVERY_ERRORS):
        return str(error)
    return f"unexpected {type(error).__name__} (see the traceback above)"


def _deliver(
    app: Flask, outbox: Outbox, request: QueuedRequest, report: DeliveryReport
) -> None:
    try:
        content = app.extensions["content"]
        message = mailer.build_message(request, app.config, content.site.locations)
        # Re-checked just before sending: the conversation must end well
        # inside this sender's lease, however slowly the relay answers.
        send_by = request.claimed_until - (1 - _SEND_SHARE_OF_LEASE) * (
            outbox.lease_seconds
        )
        mailer.send(message, app.config, within=send_by - time.time())
    except Exception as error:
        # Expected failures (relay down, refused, TLS) and unexpected ones
        # (a bug, a bad setting) alike: the request is rescheduled and
        # counted, so one bad request can never stall the ones behind it.
        if not isinstance(error, DELIVERY_ERRORS):
            log.exception("outbox: request %s raised while sending", request.reference)
        reason = _describe(error)
        delay = outbox.failed(request, reason)
        attempts = request.attempts + 1
        level = logging.ERROR if attempts >= outbox.failing_after else logging.WARNING
        log.log(
            level,
            "outbox: request %s not delivered (attempt %d: %s); next try in %d s",
            request.reference,
            attempts,
            reason,
            delay,
        )
        report.failed += 1
        report.reasons[reason] += 1
        return
    outbox.delivered(request)
    log.info("outbox: request %s delivered", request.reference)
    report.delivered += 1


def deliver_one(app: Flask, request_id: int) -> bool:
    """Try one just-stored request at once (unless a sender already has it)."""
    outbox = outbox_for(app)
    report = DeliveryReport()
    try:
        with app.app_context():
            request = outbox.claim_next(request_id)
            if request is not None:
                _deliver(app, outbox, request, report)
    except (sqlite3.Error, OSError) as error:
        # /healthz says so too; the request, if stored, waits for the fix.
        log.error("outbox: %s", describe_problem(outbox.path, error))
        return False
    return report.delivered == 1


def deliver_due(app: Flask, *, now: bool = False) -> DeliveryReport:
    """Send every request due when called, one claim at a time.

    ``now``: every waiting request is due, whatever its backoff (after the
    relay was fixed). A request that fails is rescheduled after the start of
    this run, so one run tries each request at most once.
    """
    outbox = outbox_for(app)
    report = DeliveryReport()
    if now:
        outbox.make_all_due()
    started = time.time()
    with app.app_context():
        while request := outbox.claim_next(due_by=started):
            _deliver(app, outbox, request, report)
    return report
