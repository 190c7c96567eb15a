"""Flask-Compress for dynamic responses, never in an encoding the browser refused.

Flask-Compress 1.25 reads ``Accept-Encoding: br;q=0`` as "brotli, quality 0"
and still picks it when nothing else is listed, and lets ``*`` override an
explicit refusal (``br;q=0, *``). RFC 9110 says q=0 means "not acceptable".
So a WSGI middleware, in front of the app like ProxyFix, hands the app the
header as the RFC reads it: only the encodings the browser accepts, each with
its quality. Flask-Compress's own choice, compression and ETag handling are
untouched. tests/test_plain_flask.py fails once Flask-Compress gets this
right itself, so the middleware can go.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.http import parse_accept_header

_HEADER = "HTTP_ACCEPT_ENCODING"


def acceptable(header: str, offered: Iterable[str]) -> str:
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


class AcceptedEncodings:
    """WSGI middleware: ``Accept-Encoding`` as RFC 9110 reads it, for the app.

    ``offered`` is every encoding the app may answer in (Flask-Compress's
    COMPRESS_ALGORITHM and COMPRESS_ALGORITHM_STREAMING).
    """

    def __init__(self, wsgi_app: Any, offered: Iterable[str]) -> None:
        self.wsgi_app = wsgi_app
        self.offered = tuple(dict.fromkeys(offered))

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        """Rewrite the header, if sent, then call the app."""
        if _HEADER in environ:
            environ[_HEADER] = acceptable(environ[_HEADER], self.offered)
        return self.wsgi_app(environ, start_response)
