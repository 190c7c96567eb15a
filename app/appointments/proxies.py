"""Notice a proxy TRUSTED_PROXIES=0 does not trust (X-Forwarded-For from this
machine, or from no address: a unix socket), which would make every patient
one client for the form's limits: one warning, and /healthz/delivery fails.
Kept: one flag per process, never a visitor's address or header."""

from __future__ import annotations

import logging

from flask import Flask
from flask import current_app
from flask import request

from ..config import is_loopback

log = logging.getLogger(__name__)

_SEEN = "untrusted_proxy_seen"
PROBLEM = (
    "requests come through a proxy that TRUSTED_PROXIES=0 does not trust: every "
    "patient counts as one client for the form's limits; set FLASK_TRUSTED_PROXIES "
    "to the number of proxies in front of the site (1 for the deploy's nginx)"
)


def _notice_untrusted_proxy() -> None:
    app, peer = current_app, request.remote_addr
    if app.extensions.get(_SEEN) or app.config["TRUSTED_PROXIES"]:
        return
    if "X-Forwarded-For" in request.headers and (not peer or is_loopback(peer)):
        app.extensions[_SEEN] = True
        log.warning("proxies: %s", PROBLEM)


def problems(app: Flask) -> list[str]:
    """For /healthz/delivery: the untrusted proxy, once this process saw it."""
    return [PROBLEM] if app.extensions.get(_SEEN) else []


def init_app(app: Flask) -> None:
    """Watch each request for a proxy TRUSTED_PROXIES leaves out."""
    app.before_request(_notice_untrusted_proxy)
