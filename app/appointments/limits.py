"""The form's rate limits, the trap count, and a limiter log that names no
client.

Per client (an IPv4 address, or an IPv6 /64: one home's or phone's network):

- ``APPOINTMENT_RATE_LIMIT`` counts only accepted (stored) requests, so a
  patient who corrects a few mistakes is never turned away;
- ``APPOINTMENT_FLOOD_LIMIT``, looser, counts every POST, so a script that
  posts invalid forms in a loop still is.

Everyone together: ``APPOINTMENT_TOTAL_LIMIT`` counts accepted requests from
all clients, a cap on what any number of addresses can put in the clinic's
inbox.

Every count lives in ``RATELIMIT_STORAGE_URI``, the store the workers share
(SQLite by default, Redis for several servers), so the limits hold as
written however many workers run.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from flask.wrappers import Response
from limits import RateLimitItem
from limits import parse_many
from limits.errors import ConfigurationError
from limits.storage import Storage
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from ..config import StartupError
from ..extensions import limiter

log = logging.getLogger(__name__)

_ACCEPTED = "appointment_accepted"
# Keys of this module's own counters in the shared store.
_EVERYONE_KEY = "appointments/everyone"
_TRAP_KEY = "appointments/trap-hits"
_PROBE_KEY = "appointments/monitor-probe"
# Trap hits are counted over a day: enough to see a script at work.
TRAP_WINDOW_SECONDS = 24 * 3600
_LIMIT_SETTINGS = (
    "APPOINTMENT_RATE_LIMIT",
    "APPOINTMENT_FLOOD_LIMIT",
    "APPOINTMENT_TOTAL_LIMIT",
)


class EveryoneLimited(TooManyRequests):
    """APPOINTMENT_TOTAL_LIMIT is reached: no one's request is taken now."""


def client_key() -> str:
    """The client a limit counts: its address, or its IPv6 /64, the block one
    home or phone gets (it can rotate the rest at will)."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def mark_accepted() -> None:
    """Count this request toward the per-client and total limits (it was
    stored)."""
    setattr(g, _ACCEPTED, True)
    counters().count_accepted()


def _was_accepted(response: Response) -> bool:
    return bool(g.get(_ACCEPTED))


def limit_posts(bp: Blueprint) -> None:
    """Both per-client limits on the blueprint's POSTs.

    On the blueprint, not the view: blueprint limits are checked before
    CSRF, so a flood of token-less POSTs is limited too. Separate scopes keep
    their counters apart even when the two limits are written alike.
    """
    limiter.limit(
        lambda: current_app.config["APPOINTMENT_RATE_LIMIT"],
        key_func=client_key,
        methods=["POST"],
        scope="accepted",
        deduct_when=_was_accepted,
    )(bp)
    limiter.limit(
        lambda: current_app.config["APPOINTMENT_FLOOD_LIMIT"],
        key_func=client_key,
        methods=["POST"],
        scope="all-posts",
    )(bp)


@dataclass(frozen=True)
class FormLimitsReport:
    """What the monitor learns about the form's limits (no client data)."""

    problems: list[str]
    trap_hits: int | None


@dataclass
class Counters:
    """The counts this module keeps itself, in the shared store.

    A store that cannot be reached never costs a patient a request: the
    limits let everything through (as Flask-Limiter does with
    RATELIMIT_SWALLOW_ERRORS), the log says so, and /healthz/delivery fails.
    """

    storage: Storage
    total: list[RateLimitItem]
    enabled: bool

    def __post_init__(self) -> None:
        self._windows = FixedWindowRateLimiter(self.storage)

    def everyone_limited(self) -> bool:
        """Whether APPOINTMENT_TOTAL_LIMIT is reached right now."""
        if not self.enabled:
            return False
        try:
            return not all(
                self._windows.test(item, _EVERYONE_KEY) for item in self.total
            )
        except self.storage.base_exceptions as error:
            _log_store_error(error)
            return False

    def count_accepted(self) -> None:
        if not self.enabled:
            return
        try:
            for item in self.total:
                self._windows.hit(item, _EVERYONE_KEY)
        except self.storage.base_exceptions as error:
            _log_store_error(error)

    def count_trap_hit(self) -> None:
        try:
            self.storage.incr(_TRAP_KEY, TRAP_WINDOW_SECONDS)
        except self.storage.base_exceptions as error:
            _log_store_error(error)

    def report(self) -> FormLimitsReport:
        """For /healthz/delivery: what stops or lets through too much, and
        the trap hits of the current day-long window (it starts at the
        first)."""
        try:
            # A write, as every accepted request makes: a store that can be
            # read but no longer written (disk full) lets everything through.
            self.storage.incr(_PROBE_KEY, 60)
            trap_hits = self.storage.get(_TRAP_KEY)
            limited = self.everyone_limited()
        except self.storage.base_exceptions as error:
            reason = f"the rate-limit store cannot be used ({type(error).__name__})"
            return FormLimitsReport([f"{reason}: the form's limits are off"], None)
        problems = []
        if limited:
            problems.append(
                "APPOINTMENT_TOTAL_LIMIT is reached: the form refuses requests"
            )
        return FormLimitsReport(problems, trap_hits)


def _log_store_error(error: Exception) -> None:
    log.error(
        "rate limits: the store cannot be used (%s); requests are let through",
        type(error).__name__,
    )


def counters(app: Flask | None = None) -> Counters:
    """This app's counters."""
    return (app or current_app).extensions["appointment_counters"]


def refuse_when_everyone_limited() -> None:
    """Raise EveryoneLimited (a 429) when the total limit is reached."""
    if counters().everyone_limited():
        raise EveryoneLimited()


class _WithoutClientAddress(logging.Filter):
    """Flask-Limiter names the client's address (its key) when a limit is hit;
    an address is personal data, so the record says "[client]" instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            message = record.getMessage()
            addresses = {request.remote_addr, *request.access_route, client_key()}
            for address in addresses:
                if address:
                    message = message.replace(address, "[client]")
            record.msg, record.args = message, ()
        return True


_FILTER = _WithoutClientAddress()


def init_app(app: Flask) -> None:
    """Check the limits as written, open the shared counters, and keep client
    addresses out of Flask-Limiter's log records."""
    config = app.config
    problems, parsed = [], {}
    for key in _LIMIT_SETTINGS:
        try:
            parsed[key] = parse_many(str(config[key]))
        except ValueError:
            problems.append(
                f"{key}: {config[key]!r} is not a rate limit; write it like "
                "'5 per minute;30 per hour'"
            )
    if problems:
        raise StartupError("The site cannot start:", problems)
    try:
        storage = storage_from_string(config["RATELIMIT_STORAGE_URI"])
    except ConfigurationError as error:
        raise StartupError(
            "The site cannot start:", [f"RATELIMIT_STORAGE_URI: {error}"]
        ) from None
    app.extensions["appointment_counters"] = Counters(
        storage=storage,
        total=parsed["APPOINTMENT_TOTAL_LIMIT"],
        enabled=bool(config["RATELIMIT_ENABLED"]),
    )
    logging.getLogger("flask-limiter").addFilter(_FILTER)
