"""One log line per request, e.g. ``GET /en/immunotherapy 200 3.1ms``: never
the query string, form fields, cookies or the client's address, as the form
carries health information and logs are copied far more widely than the
outbox. And the app's own INFO lines reach the log under any server.
"""

import logging
import time
from urllib.parse import quote

from flask import Flask
from flask import g
from flask import request
from flask import request_finished
from flask import request_started
from flask.wrappers import Response

log = logging.getLogger(__name__)

# Characters a path keeps as they are; anything else (spaces, newlines, quotes
# sent percent-encoded) is encoded again, so one request is always one line.
_PATH_SAFE = "/-._~!$&'()*+,;=:@"


def init_app(app: Flask) -> None:
    """Log the app's INFO lines, and one line per request of ``app``."""
    # Flask's logger (the parent of every module's here) writes to stderr
    # unless logging is configured. Outside debug its level is unset, so
    # Python's WARNING would hide the "stored" and "sent" lines an operator
    # traces a reference by; a level set on purpose is kept.
    if app.logger.level == logging.NOTSET:
        app.logger.setLevel(logging.INFO)
    # Signals rather than before_request: they wrap every request, including
    # those a before_request handler (the CSRF check) ends early.
    request_started.connect(_start_clock, app)
    request_finished.connect(_log_request, app)


def _start_clock(sender: Flask, **extra) -> None:
    g.request_started = time.perf_counter()


def _log_request(sender: Flask, response: Response, **extra) -> None:
    started = g.get("request_started")
    duration = (time.perf_counter() - started) * 1000 if started else 0.0
    path = quote(request.path, safe=_PATH_SAFE)
    log.info("%s %s %s %.1fms", request.method, path, response.status_code, duration)
