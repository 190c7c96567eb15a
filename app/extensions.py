"""The extension objects, unbound so that create_app can bind them to each app."""

from flask import request
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

babel = Babel()
# Dynamic responses only; fixed bodies are precompressed (app/compression.py).
compress = Compress()
csrf = CSRFProtect()
# No default limits: only the appointment POST is limited, where it is declared.
limiter = Limiter(key_func=get_remote_address)


@limiter.request_filter
def _reads_are_never_limited() -> bool:
    """GET and HEAD skip the limiter: resolving no limits costs a page view ~40%."""
    return request.method in ("GET", "HEAD")
