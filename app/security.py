"""Security headers on every response, after Mozilla's HTTP Observatory.
nginx sends the same with the frozen pages (docs/deploy.md; a test keeps the
two in step).
"""

import base64
import hashlib
from pathlib import Path

from flask import Flask
from flask import request
from flask.wrappers import Response
from markupsafe import Markup

# The inline scripts: the "Print this page" button's (templates/macros.html)
# and the service worker's registration (templates/base.html). Inline, so a
# first visit stays one page and one stylesheet; allowed by their hashes, so
# the CSP still refuses any other inline script.
_TEMPLATES = Path(__file__).parent / "templates"
PRINT_BUTTON_SCRIPT = (_TEMPLATES / "print_button.js").read_text(encoding="utf-8")
PAGE_SCRIPT = (_TEMPLATES / "page_script.js").read_text(encoding="utf-8")
_HASHES = " ".join(
    f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
    for script in (PRINT_BUTTON_SCRIPT, PAGE_SCRIPT)
)

# Only this site's own files, the two inline scripts and the one service
# worker (/sw.js, same origin). The JSON-LD <script type="application/ld+json">
# is a data block the browser never runs, so script-src does not apply to it.
CONTENT_SECURITY_POLICY = (
    f"default-src 'self'; script-src 'self' {_HASHES}; "
    "style-src 'self'; worker-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

# Features the site never uses, switched off for it and anything it embeds.
# Only names Chromium knows, so it logs no warnings (Firefox ignores the header).
_UNUSED_FEATURES = (
    "accelerometer autoplay camera display-capture encrypted-media fullscreen "
    "geolocation gyroscope magnetometer microphone midi payment picture-in-picture "
    "publickey-credentials-get screen-wake-lock usb xr-spatial-tracking"
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Same-origin requests keep their Referer (Flask-WTF checks it on HTTPS
    # form posts); other sites learn nothing of which page a visitor read.
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": ", ".join(f"{name}=()" for name in _UNUSED_FEATURES.split()),
    # frame-ancestors does this for current browsers; XFO for older ones.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# Two years, as Mozilla recommends. No includeSubDomains: the clinic's other
# hosts under the same domain are not ours to force onto HTTPS.
STRICT_TRANSPORT_SECURITY = "max-age=63072000"


def init_app(app: Flask) -> None:
    """Add the headers to every response, and the inline scripts to templates
    (the session cookie's Secure flag is SESSION_COOKIE_SECURE)."""
    app.after_request(add_security_headers)
    app.jinja_env.globals["print_button_script"] = Markup(PRINT_BUTTON_SCRIPT)
    app.jinja_env.globals["page_script"] = Markup(PAGE_SCRIPT)


def add_security_headers(response: Response) -> Response:
    """Set the headers unless a view chose its own value."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Sent over plain HTTP it would be ignored (and, behind a misconfigured
    # proxy, wrong), so only when this request arrived over HTTPS.
    if request.is_secure:
        response.headers.setdefault(
            "Strict-Transport-Security", STRICT_TRANSPORT_SECURITY
        )
    return response
