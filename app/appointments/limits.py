"""The form's rate limits, all counted by Flask-Limiter, and the counts a
monitor reads (429s and trap hits), kept in the same store.

Per client (an IPv4 address, or an IPv6 /64: one home's or phone's network):

- ``APPOINTMENT_RATE_LIMIT`` counts only accepted (stored) requests, so a
  patient who corrects a few mistakes is never turned away;
- ``APPOINTMENT_FLOOD_LIMIT``, looser, counts every POST, so a script that
  posts invalid forms in a loop still is.

Everyone together: ``APPOINTMENT_TOTAL_LIMIT``, a shared limit with one key
for all clients, counts accepted requests: a cap on what any number of
addresses can put in the clinic's inbox.

Every count lives in ``RATELIMIT_STORAGE_URI``, the store Flask-Limiter is
given and the workers share (SQLite by default, Redis for several servers),
so the limits hold as written however many workers run. The settings are
checked at start-up in app/config.py.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import g
from flask import request
from flask.wrappers import Response
from flask_limiter import RateLimitExceeded
from flask_limiter import RequestLimit
from limits import parse_many
from limits.storage import Storage
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ..extensions import limiter
from . import proxies

log = logging.getLogger(__name__)

_ACCEPTED = "appointment_accepted"
# APPOINTMENT_TOTAL_LIMIT's scope and its one key: every client together.
EVERYONE = "everyone"
# The monitor's counts in the shared store: a window starts at the first
# event and lasts this long, then the count starts again from 0.
HOUR = 3600
TRAP_WINDOW_SECONDS = 24 * 3600
_REFUSED_KEYS = {
    "per_client": "appointments/refused/per-client",
    "everyone": "appointments/refused/everyone",
}
_TRAP_KEY = "appointments/trap-hits"
_PROBE_KEY = "appointments/monitor-probe"
# The app's own handle on RATELIMIT_STORAGE_URI, for the monitor's counts:
# they are kept with RATELIMIT_ENABLED off too, and Flask-Limiter opens its
# store only when on.
_STORE = "appointment_limits_store"


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
    stored): Flask-Limiter deducts after the response."""
    setattr(g, _ACCEPTED, True)


def _was_accepted(response: Response) -> bool:
    return bool(g.get(_ACCEPTED))


def _everyone() -> str:
    return EVERYONE


def _store(app: Flask) -> Storage:
    return app.extensions[_STORE]


def _count(key: str, seconds: int) -> None:
    """One more in a monitor count; a store that fails loses the count, never
    the request (Flask-Limiter logs its own failures)."""
    storage = _store(current_app)
    try:
        storage.incr(key, seconds)
    except storage.base_exceptions as error:
        log.error("rate limits: the store cannot be used (%s)", type(error).__name__)


def _refused_per_client(breach: RequestLimit) -> None:
    # Flask-Limiter's own line names the client; this one names the limit.
    log.info("rate limits: a per-client limit (%s) was reached: 429", breach.limit)
    _count(_REFUSED_KEYS["per_client"], HOUR)


def _refused_everyone(breach: RequestLimit) -> None:
    log.info("rate limits: APPOINTMENT_TOTAL_LIMIT (%s) was reached: 429", breach.limit)
    _count(_REFUSED_KEYS["everyone"], HOUR)


def count_trap_hit() -> None:
    """A post caught by the hidden trap field (a script), for the monitor."""
    _count(_TRAP_KEY, TRAP_WINDOW_SECONDS)


def is_everyone_limited(error: Exception) -> bool:
    """Whether this 429 is APPOINTMENT_TOTAL_LIMIT's (no one's request is
    taken now), not this client's."""
    return isinstance(error, RateLimitExceeded) and error.limit.scope == EVERYONE


def limit_posts(bp: Blueprint) -> None:
    """The three limits on the blueprint's POSTs.

    On the blueprint, not the view: blueprint limits are checked before
    CSRF, so a flood of token-less POSTs is limited too, and past the total
    cap a trapped post gets the same 429 as a person's. Separate scopes keep
    the counters apart even when two limits are written alike.
    """
    limiter.limit(
        lambda: current_app.config["APPOINTMENT_RATE_LIMIT"],
        key_func=client_key,
        methods=["POST"],
        scope="accepted",
        deduct_when=_was_accepted,
        on_breach=_refused_per_client,
    )(bp)
    limiter.limit(
        lambda: current_app.config["APPOINTMENT_FLOOD_LIMIT"],
        key_func=client_key,
        methods=["POST"],
        scope="all-posts",
        on_breach=_refused_per_client,
    )(bp)
    limiter.shared_limit(
        lambda: current_app.config["APPOINTMENT_TOTAL_LIMIT"],
        scope=EVERYONE,
        key_func=_everyone,
        methods=["POST"],
        deduct_when=_was_accepted,
        on_breach=_refused_everyone,
    )(bp)


@dataclass(frozen=True)
class FormLimitsReport:
    """What the monitor learns about the form's limits (no client data)."""

    problems: list[str]
    trap_hits: int | None
    # 429s in the current hour-long window, per client and for everyone.
    refused: dict[str, int] | None


def report(app: Flask) -> FormLimitsReport:
    """For /healthz/delivery and `flask outbox status`: what stops or lets
    through too much, and the counts (each window starts at its first)."""
    storage = _store(app)
    try:
        # A write, as every accepted request makes: a store that can be read
        # but no longer written (disk full) lets everything through.
        storage.incr(_PROBE_KEY, 60)
        trap_hits = storage.get(_TRAP_KEY)
        refused = {kind: storage.get(key) for kind, key in _REFUSED_KEYS.items()}
        total = parse_many(app.config["APPOINTMENT_TOTAL_LIMIT"])
        # Read, not counted: the shared limit's window, under the arguments
        # Flask-Limiter's default fixed-window strategy hits (key, scope).
        limited = app.config["RATELIMIT_ENABLED"] and not all(
            FixedWindowRateLimiter(storage).test(item, EVERYONE, EVERYONE)
            for item in total
        )
    except storage.base_exceptions as error:
        reason = f"the rate-limit store cannot be used ({type(error).__name__})"
        return FormLimitsReport([f"{reason}: the form's limits are off"], None, None)
    problems = []
    if limited:
        problems.append("APPOINTMENT_TOTAL_LIMIT is reached: the form refuses requests")
    return FormLimitsReport(problems, trap_hits, refused)


def init_app(app: Flask) -> None:
    """Flask-Limiter logs the client's address (its key) at INFO when a limit
    is hit; an address is personal data, so its logger keeps WARNING and up
    (store failures), and the monitor counts the 429s instead. The limits
    count clients only if the proxy in front is trusted: watch for one that
    is not."""
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    app.extensions[_STORE] = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    proxies.init_app(app)
