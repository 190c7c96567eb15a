"""Error pages in the visitor's language, in the site's layout."""

from __future__ import annotations

import logging

from flask import Flask
from flask import Request
from flask import render_template
from flask.globals import request_ctx
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from .error_texts import error_text

log = logging.getLogger(__name__)

# What reading a malformed body raises: bad chunked encoding (gunicorn's
# ParseException, werkzeug's OSError), a client gone mid-body (OSError), a
# broken multipart body (ValueError).
_UNREADABLE_BODY = (ParseException, OSError, ValueError)


class BodyCheckedRequest(Request):
    """A request whose unreadable body is the client's mistake: a 400 page,
    never a 500 with a traceback and an ERROR line anyone could trigger."""

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except HTTPException:
            raise
        except _UNREADABLE_BODY as error:
            raise BadRequest("The request body could not be read.") from error


def init_app(app: Flask) -> None:
    """Render every HTTP error, and every unhandled exception, as a page."""
    app.request_class = BodyCheckedRequest
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, _unhandled)


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
    if request_ctx.url_adapter is None:
        # No URLs can be built (e.g. a Host outside TRUSTED_HOSTS), so no
        # layout either: a short plain answer rather than a second error.
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return f"{code} {error.name}\n", code, headers
    heading, message = error_text(code)
    page = render_template(
        "errors/page.html", code=code, heading=heading, message=message
    )
    return page, code, headers


def _unhandled(error: Exception):
    if isinstance(error, HTTPException):
        return render_error(error)
    # The traceback, but never the request's form data.
    log.exception("Unhandled error: %s", type(error).__name__)
    return render_error(InternalServerError())
