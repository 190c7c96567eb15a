"""Trust X-Forwarded-* headers from exactly the proxies in front of the app.

``TRUSTED_PROXIES`` is how many proxies (nginx, a CDN) sit in front. With 0,
the default, the headers are ignored, so a client cannot forge its address or
scheme. With N, ProxyFix takes the Nth value from the right, the one the
nearest trusted proxy wrote: the rate limit, the logs, HTTPS detection and
absolute URLs then see the real client, scheme and host.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Wrap the WSGI app in ProxyFix when TRUSTED_PROXIES is set."""
    hops = trusted_proxies(app.config.get("TRUSTED_PROXIES"))
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def trusted_proxies(value: object) -> int:
    """The configured number of proxies (unset: none); ValueError, with a
    message for the operator, on anything else (True is no count)."""
    if value in (None, ""):
        return 0
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise ValueError(
            "TRUSTED_PROXIES must be the number of proxies in front of the site "
            f"(0, 1, 2...), not {value!r}"
        )
    return int(text)
