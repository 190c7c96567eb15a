"""Notice a proxy the app does not trust: with ``TRUSTED_PROXIES=0`` behind
nginx every request comes from the proxy, so every patient would count as
one client for the form's limits, with every other check green.

A request carrying ``X-Forwarded-For`` from this machine (a loopback address,
or no address: a unix socket) while TRUSTED_PROXIES is 0 is that proxy. The
app then logs one warning and /healthz/delivery fails with the reason. What
is kept is one flag about the deployment per process, never a visitor's
address or header.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Flask
from flask import current_app
from flask import request

log = logging.getLogger(__name__)

_SEEN = "untrusted_proxy_seen"
PROBLEM = (
    "requests come through a proxy that TRUSTED_PROXIES=0 does not trust: every "
    "patient counts as one client for the form's limits; set FLASK_TRUSTED_PROXIES "
    "to the number of proxies in front of the site (1 for the deploy's nginx)"
)


def _from_this_machine(address: str | None) -> bool:
    if not address:
        return True  # a unix socket has no peer address
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _notice_untrusted_proxy() -> None:
    app = current_app
    if app.extensions.get(_SEEN) or app.config["TRUSTED_PROXIES"]:
        return
    if "X-Forwarded-For" in request.headers and _from_this_machine(request.remote_addr):
        app.extensions[_SEEN] = True
        log.warning("proxies: %s", PROBLEM)


def problems(app: Flask) -> list[str]:
    """For /healthz/delivery: the untrusted proxy, once this process saw it."""
    return [PROBLEM] if app.extensions.get(_SEEN) else []


def init_app(app: Flask) -> None:
    """Watch each request for a proxy TRUSTED_PROXIES leaves out."""
    app.before_request(_notice_untrusted_proxy)
