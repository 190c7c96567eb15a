"""Health checks for load balancers and monitors: counts and ages only.

``/healthz`` answers "can this server take an appointment request right
now?" (content loaded, outbox written for real). It stays 200 while mail is
merely slow, so a load balancer never drops a server that is still taking
requests safely. ``/healthz/delivery`` answers "are requests reaching the
clinic?": the one to alert on.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify

from . import limits
from . import proxies
from .outbox import OUTBOX_ERRORS
from .outbox import OutboxStatus

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def _answer(body: dict[str, Any], healthy: bool) -> Response:
    response = jsonify({"status": "ok" if healthy else "error", **body})
    response.status_code = 200 if healthy else 503
    response.cache_control.no_store = True
    if not healthy:
        # Seconds a monitor (or balancer) should wait before asking again.
        response.headers["Retry-After"] = "60"
    return response


def _counts(status: OutboxStatus) -> dict[str, Any]:
    age = status.oldest_age_seconds
    return {
        "queued": status.queued,
        "oldest_age_seconds": None if age is None else round(age),
        "failing": status.failing,
    }


@bp.route("/healthz")
def healthz() -> Response:
    """200 when a request posted now would be stored; else 503 and why."""
    content = current_app.extensions.get("content")
    if content is None or not content.pages:
        return _answer({"reason": "content not loaded"}, healthy=False)
    outbox = current_app.extensions["outbox"]
    try:
        outbox.probe()
        status = outbox.status()
    except OUTBOX_ERRORS as error:
        # SQLite's message ("database disk image is malformed", "attempt to
        # write a readonly database") holds no stored data.
        reason = f"outbox cannot be written: {error}"
        log.error("healthz: %s", reason)
        return _answer({"reason": reason}, healthy=False)
    return _answer({"outbox": _counts(status)}, healthy=True)


@bp.route("/healthz/delivery")
def delivery() -> Response:
    """503 while a request waits longer than OUTBOX_ALERT_SECONDS or keeps
    failing: requests are not reaching the clinic."""
    alert_after = float(current_app.config["OUTBOX_ALERT_SECONDS"])
    try:
        status = current_app.extensions["outbox"].status()
    except OUTBOX_ERRORS as error:
        return _answer({"reason": f"outbox cannot be read: {error}"}, healthy=False)
    problems = delivery_problems(status, alert_after)
    form_limits = limits.report(current_app)
    problems += form_limits.problems + proxies.problems(current_app)
    body: dict[str, Any] = {"outbox": _counts(status), "alert_seconds": alert_after}
    # Posts caught by the form's hidden trap field (scripts), in the last day.
    body["trap_hits"] = form_limits.trap_hits
    # 429s in the last hour: a site turning patients away is seen.
    body["refused_last_hour"] = form_limits.refused
    if problems:
        body["reason"] = "; ".join(problems)
    return _answer(body, healthy=not problems)


def delivery_problems(status: OutboxStatus, alert_after: float) -> list[str]:
    """Why requests are not reaching the clinic, if they are not (no data)."""
    problems = []
    age = status.oldest_age_seconds
    if age is not None and age > alert_after:
        problems.append(
            f"a request has waited {age:.0f} s, longer than OUTBOX_ALERT_SECONDS"
            f" ({alert_after:.0f} s)"
        )
    if status.failing:
        problems.append(
            f"{status.failing} request(s) keep failing or were refused by an"
            " inbox: see `flask outbox list`"
        )
    return problems
