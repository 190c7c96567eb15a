"""The form's rate limits, and a limiter log that names no client.

Two limits per client (Flask-Limiter's key: the client's address):

- ``APPOINTMENT_RATE_LIMIT`` counts only accepted (stored) requests, so a
  patient who corrects a few mistakes is never turned away;
- ``APPOINTMENT_FLOOD_LIMIT``, looser, counts every POST, so a script that
  posts invalid forms in a loop still is.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from flask.wrappers import Response

from ..extensions import limiter

_ACCEPTED = "appointment_accepted"


def mark_accepted() -> None:
    """Count this request toward ``APPOINTMENT_RATE_LIMIT`` (it was stored)."""
    setattr(g, _ACCEPTED, True)


def _was_accepted(response: Response) -> bool:
    return bool(g.get(_ACCEPTED))


def _accepted_limit() -> str:
    return current_app.config["APPOINTMENT_RATE_LIMIT"]


def _flood_limit() -> str:
    return current_app.config["APPOINTMENT_FLOOD_LIMIT"]


def limit_posts(bp: Blueprint) -> None:
    """Both limits on the blueprint's POSTs.

    On the blueprint, not the view: blueprint limits are checked before
    CSRF, so a flood of token-less POSTs is limited too. Separate scopes keep
    their counters apart even when the two limits are written alike.
    """
    limiter.limit(
        _accepted_limit, methods=["POST"], scope="accepted", deduct_when=_was_accepted
    )(bp)
    limiter.limit(_flood_limit, methods=["POST"], scope="all-posts")(bp)


class _WithoutClientAddress(logging.Filter):
    """Flask-Limiter names the client's address (its key) when a limit is hit;
    an address is personal data, so the record says "[client]" instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            message = record.getMessage()
            for address in {request.remote_addr, *request.access_route}:
                if address:
                    message = message.replace(address, "[client]")
            record.msg, record.args = message, ()
        return True


_FILTER = _WithoutClientAddress()


def init_app(app: Flask) -> None:
    """Keep client addresses out of Flask-Limiter's log records."""
    logging.getLogger("flask-limiter").addFilter(_FILTER)
