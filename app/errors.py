"""Error pages in the visitor's language, in the site's layout."""

from __future__ import annotations

import logging

from flask import Flask
from flask import g
from flask import render_template
from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError
from werkzeug.exceptions import SecurityError

from .error_texts import error_text
from .i18n import add_localized_rule
from .i18n import home_url
from .i18n import other_language

log = logging.getLogger(__name__)

# Where nginx's error_page finds the not-found page of each language (frozen
# by `flask freeze`; deploy/nginx maps /es/ URLs to the Spanish one).
NOT_FOUND_PATHS = {"en": "/404.html", "es": "/es/404.html"}


def init_app(app: Flask) -> None:
    """Render every HTTP error, and every unhandled exception, as a page.

    Before Flask-WTF's CSRF check, which is the first to read the form.
    """
    app.before_request(read_body)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, _unhandled)
    add_localized_rule(app, NOT_FOUND_PATHS, "not_found_page", not_found_page)


def read_body() -> None:
    """Read the form body now, so that a body that cannot be read is the
    client's mistake: a 400 page, never a 500 and an ERROR line anyone could
    trigger. Too large a body is Werkzeug's own 413 (MAX_CONTENT_LENGTH,
    MAX_FORM_MEMORY_SIZE, MAX_FORM_PARTS)."""
    try:
        request.form  # noqa: B018 - parsed once, kept for the view
    except HTTPException:
        raise
    except Exception as error:
        # Only the client's bytes are involved here: bad chunked encoding
        # (gunicorn's ParseException, Werkzeug's OSError), a client gone
        # mid-body (OSError), a broken multipart body (ValueError).
        raise BadRequest("The request body could not be read.") from error


def error_headers(code: int) -> dict[str, str]:
    """Headers of every error answer: never cached, and when to try again."""
    headers = {"Cache-Control": "no-store"}
    if code in (429, 503):
        headers["Retry-After"] = "60"
    return headers


def render_error(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    """The page for ``error``; it never echoes what the visitor sent."""
    code = error.code or 500
    headers = error_headers(code)
    if isinstance(request.routing_exception, SecurityError):
        # A Host outside TRUSTED_HOSTS: Flask built no URL adapter, so no
        # layout either: a short plain answer rather than a second error.
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return f"{code} {error.name}\n", code, headers
    return _error_page(code), code, headers


def _error_page(code: int, **context: str) -> str:
    """The site's page for HTTP status ``code``, in the visitor's language."""
    heading, message = error_text(code)
    return render_template(
        "errors/page.html", code=code, heading=heading, message=message, **context
    )


def not_found_page() -> tuple[str, int, dict[str, str]]:
    """The not-found page of this language, for ``flask freeze`` to write.

    200, as Frozen-Flask writes only those; nginx's error_page keeps the 404
    of the request it answers. The page is what render_error gives for 404,
    with the toggle leading to the other language's topic page, not to
    another error page.
    """
    other = other_language(g.lang_code)
    html = _error_page(404, other_lang_url=home_url(other))
    return html, 200, error_headers(404)


def _unhandled(error: Exception):
    if isinstance(error, HTTPException):
        return render_error(error)
    # The traceback, but never the request's form data.
    log.exception("Unhandled error: %s", type(error).__name__)
    return render_error(InternalServerError())
