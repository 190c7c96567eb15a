"""Deliver stored requests: claim, build, send, then forget or retry.

Logs carry references and error class names only, never what the patient
typed (an SMTP error text can echo addresses, so it is not logged either).
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass

from flask import Flask

from . import mailer
from .outbox import Outbox
from .outbox import QueuedRequest

log = logging.getLogger(__name__)

# What a failed delivery can raise; anything else is a bug and propagates.
DELIVERY_ERRORS = (
    smtplib.SMTPException,
    OSError,  # refused, unreachable, timeouts (socket.timeout is an OSError)
    ssl.SSLError,
    socket.gaierror,
    mailer.MailConfigError,
)


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0


def outbox_for(app: Flask) -> Outbox:
    """The app's outbox, configured from ``OUTBOX_*`` settings."""
    return app.extensions["outbox"]


def _describe(error: Exception) -> str:
    code = getattr(error, "smtp_code", None)
    return f"{type(error).__name__}" + (f" {code}" if code else "")


def _deliver(app: Flask, outbox: Outbox, request: QueuedRequest) -> bool:
    try:
        content = app.extensions["content"]
        message = mailer.build_message(request, app.config, content.site.locations)
        mailer.send(message, app.config)
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
            "outbox: request %s not delivered (attempt %d, %s); next try in %d s",
            request.reference,
            attempts,
            reason,
            delay,
        )
        return False
    outbox.delivered(request)
    log.info("outbox: request %s delivered", request.reference)
    return True


def deliver_one(app: Flask, request_id: int) -> bool:
    """Try one just-stored request at once (unless a sender already has it)."""
    outbox = outbox_for(app)
    with app.app_context():
        claimed = outbox.claim(request_id)
        return bool(claimed) and _deliver(app, outbox, claimed[0])


def deliver_due(app: Flask) -> DeliveryReport:
    """Send every request due when called, batch by batch.

    A request that fails is rescheduled after the start of this run, so one
    run tries each request at most once.
    """
    outbox = outbox_for(app)
    report = DeliveryReport()
    started = time.time()
    with app.app_context():
        while batch := outbox.claim(due_by=started):
            for request in batch:
                if _deliver(app, outbox, request):
                    report.delivered += 1
                else:
                    report.failed += 1
    if report.delivered:
        outbox.checkpoint()
    return report
