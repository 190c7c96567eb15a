"""The form's rate limits, all counted by Flask-Limiter, and the counts a
monitor reads (429s, trap hits) in the same store: docs/appointment-form.md."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from typing import NamedTuple

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import g
from flask import request
from flask_limiter import RateLimitExceeded
from flask_limiter import RequestLimit
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ..extensions import limiter
from . import proxies

log = logging.getLogger(__name__)

# APPOINTMENT_TOTAL_LIMIT's scope and its one key: every client together.
EVERYONE = "everyone"
# The monitor's counts: a window starts at the first event and lasts this
# long, then the count starts again from 0.
HOUR = 3600
TRAP_WINDOW_SECONDS = 24 * 3600
_REFUSED = {kind: f"appointments/refused/{kind}" for kind in ("per_client", "everyone")}
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
    ip = getattr(ip, "ipv4_mapped", None) or ip
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network((ip, 64), strict=False))


def mark_accepted() -> None:
    """Count this request toward the per-client and total limits (it was
    stored): Flask-Limiter deducts after the response."""
    g.appointment_accepted = True


def _was_accepted(response: object) -> bool:
    return g.get("appointment_accepted", False)


def _count(key: str, seconds: int) -> None:
    """One more in a monitor count; a store that fails loses the count, never
    the request (Flask-Limiter logs its own failures)."""
    storage = current_app.extensions[_STORE]
    try:
        storage.incr(key, seconds)
    except storage.base_exceptions as error:
        log.error("rate limits: the store cannot be used (%s)", type(error).__name__)


def _refused(kind: str, name: str) -> Callable[[RequestLimit], None]:
    """The on_breach callback: a line naming the limit (Flask-Limiter's own
    names the client, so its logger is quieted) and one more in the count."""

    def refused(breach: RequestLimit) -> None:
        log.info("rate limits: %s (%s) was reached: 429", name, breach.limit)
        _count(_REFUSED[kind], HOUR)

    return refused


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
    per_client = {
        "key_func": client_key,
        "methods": ["POST"],
        "on_breach": _refused("per_client", "a per-client limit"),
    }
    limiter.limit(
        lambda: current_app.config["APPOINTMENT_RATE_LIMIT"],
        scope="accepted",
        deduct_when=_was_accepted,
        **per_client,
    )(bp)
    limiter.limit(
        lambda: current_app.config["APPOINTMENT_FLOOD_LIMIT"],
        scope="all-posts",
        **per_client,
    )(bp)
    limiter.shared_limit(
        lambda: current_app.config["APPOINTMENT_TOTAL_LIMIT"],
        scope=EVERYONE,
        key_func=lambda: EVERYONE,
        methods=["POST"],
        deduct_when=_was_accepted,
        on_breach=_refused("everyone", "APPOINTMENT_TOTAL_LIMIT"),
    )(bp)


class FormLimitsReport(NamedTuple):
    """What the monitor learns about the form's limits (no client data)."""

    problems: list[str]
    trap_hits: int | None
    # 429s in the current hour-long window, per client and for everyone.
    refused: dict[str, int] | None


def report(app: Flask) -> FormLimitsReport:
    """For /healthz/delivery and `flask outbox status`: what stops or lets
    through too much, and the counts (each window starts at its first)."""
    storage = app.extensions[_STORE]
    try:
        # A write, as every accepted request makes: a store that can be read
        # but no longer written (disk full) lets everything through.
        storage.incr(_PROBE_KEY, 60)
        trap_hits = storage.get(_TRAP_KEY)
        refused = {kind: storage.get(key) for kind, key in _REFUSED.items()}
        # Read, not counted: the shared limit's window, under the arguments
        # Flask-Limiter's default fixed-window strategy hits (key, scope).
        limited = app.config["RATELIMIT_ENABLED"] and not all(
            FixedWindowRateLimiter(storage).test(item, EVERYONE, EVERYONE)
            for item in parse_many(app.config["APPOINTMENT_TOTAL_LIMIT"])
        )
    except storage.base_exceptions as error:
        reason = f"the rate-limit store cannot be used ({type(error).__name__})"
        return FormLimitsReport([f"{reason}: the form's limits are off"], None, None)
    problems = ["APPOINTMENT_TOTAL_LIMIT is reached: the form refuses requests"]
    return FormLimitsReport(problems if limited else [], trap_hits, refused)


def init_app(app: Flask) -> None:
    """The monitor's store, and a watch for an untrusted proxy (the limits
    would count it as one client). Flask-Limiter's INFO line names the client's
    address, personal data: its logger keeps WARNING and up (store failures)."""
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    app.extensions[_STORE] = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    proxies.init_app(app)
