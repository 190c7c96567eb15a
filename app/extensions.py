"""The extension objects, unbound so that create_app can bind them to each app."""

from flask import Flask
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

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_limiter(app: Flask) -> None:
    """Bind Flask-Limiter, but consult it only for requests that change state.

    Its before_request hook resolves limits even for requests that have none,
    a large share of a cached page view's time; reads are never limited here.
    """
    hooks = app.before_request_funcs.setdefault(None, [])
    first = len(hooks)
    limiter.init_app(app)
    limiter_hooks = hooks[first:]
    del hooks[first:]

    def check_unsafe_methods():
        if request.method in _SAFE_METHODS:
            return None
        for hook in limiter_hooks:
            response = hook()
            if response is not None:
                return response
        return None

    hooks.append(check_unsafe_methods)
