"""Flask-Compress for dynamic responses, never in an encoding the browser refused.

Flask-Compress 1.25 reads ``Accept-Encoding: br;q=0`` as "brotli, quality 0"
and still picks it when nothing else is listed, and lets ``*`` override an
explicit refusal (``br;q=0, *``). RFC 9110 says q=0 means "not acceptable". So
Flask-Compress is shown the header as the RFC reads it: only the encodings the
browser accepts, each with its quality. Its own choice, compression and ETag
handling are untouched.
"""

from __future__ import annotations

from flask import Flask
from flask import current_app
from flask import request
from flask.wrappers import Response
from werkzeug.http import parse_accept_header

from .extensions import compress

_HEADER = "HTTP_ACCEPT_ENCODING"


def init_app(app: Flask) -> None:
    """Bind Flask-Compress, running it through ``compress_response``."""
    app.config["COMPRESS_REGISTER"] = False
    compress.init_app(app)
    app.after_request(compress_response)


def acceptable(header: str, offered: list[str]) -> str:
    """``header`` rewritten with only the ``offered`` encodings it accepts.

    An encoding named explicitly has its own quality; one not named has the
    quality of ``*`` if present (RFC 9110, 12.5.3); q=0 leaves it out.
    """
    accept = parse_accept_header(header)
    named = {value.lower(): quality for value, quality in accept}
    wildcard = named.get("*", 0)
    parts = []
    for name in dict.fromkeys([*offered, "identity"]):
        quality = named.get(name, 0 if name == "identity" else wildcard)
        if quality > 0:
            parts.append(f"{name};q={quality}")
    return ", ".join(parts)


def compress_response(response: Response) -> Response:
    """Flask-Compress's after_request, shown the header as the RFC reads it."""
    environ = request.environ
    original = environ.get(_HEADER)
    config = current_app.config
    offered = [*config["COMPRESS_ALGORITHM"], *config["COMPRESS_ALGORITHM_STREAMING"]]
    environ[_HEADER] = acceptable(original or "", offered)
    try:
        return compress.after_request(response)
    finally:
        if original is None:
            del environ[_HEADER]
        else:
            environ[_HEADER] = original
