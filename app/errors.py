"""Error pages: the app's, in the visitor's language and the site's layout,
and nginx's own (``/errors/<code>.html``, frozen), in every language at once,
from one table of lazy strings, each translated where a page is rendered.
"""

import logging

from flask import Flask
from flask import g
from flask import render_template
from flask import request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError
from werkzeug.exceptions import SecurityError

from .content import LANGUAGES
from .i18n import add_localized_rule
from .i18n import home_url
from .i18n import other_language

log = logging.getLogger(__name__)

# Where nginx's error_page finds the not-found page of each language (frozen
# by `flask freeze`; deploy/nginx maps /es/ URLs to the Spanish one).
NOT_FOUND_PATHS = {"en": "/404.html", "es": "/es/404.html"}
# The statuses nginx answers itself, not knowing the visitor's language
# (snippets/clinic-site-error-pages.conf; its 494, cookies too large, is 431).
STATIC_CODES = (400, 405, 408, 413, 414, 429, 431, 502, 503)
STATIC_URLS = tuple(f"/errors/{code}.html" for code in STATIC_CODES)

# Each page's heading and message; None's for a status without its own.
HEADINGS = {
    400: _l("Your browser sent something we could not read"),
    404: _l("Page not found"),
    405: _l("That cannot be done on this page"),
    408: _l("The connection took too long"),
    413: _l("Too much information sent"),
    414: _l("The web address is too long"),
    429: _l("Too many requests"),
    431: _l("Your browser sent too much information"),
    500: _l("Something went wrong"),
    502: _l("This part of the website is not working right now"),
    503: _l("We could not save your request"),
    None: _l("We could not complete that request"),
}
MESSAGES = {
    400: _l("Please go back, reload the page and try again."),
    404: _l("We could not find that page. Check the address, or use the link below."),
    405: _l("Please go back and use the page's own links and buttons."),
    408: _l(
        "Your browser took too long to send the page's information. Please try again."
    ),
    413: _l(
        "What you sent was too long for us to accept. Please go back, "
        "shorten your message and try again."
    ),
    414: _l("Please check the address, or use the link below."),
    429: _l(
        "We received many requests from your connection in a short time. "
        "Please wait a minute and try again."
    ),
    431: _l(
        "This can happen when a browser keeps old cookies for a website. "
        "Please delete this website's cookies and try again, or call us."
    ),
    500: _l("Sorry, the website had a problem. Please try again in a few minutes."),
    502: _l(
        "Sorry, we could not complete that. If you were sending a request, "
        "we may not have received it. Please try again in a few minutes "
        "or call us."
    ),
    503: _l(
        "Sorry, the website cannot take requests right now, and your "
        "request was not sent. Please try again later or call us."
    ),
    None: _l("Please go back and try again."),
}


def error_text(code: int) -> tuple[str, str]:
    """Heading and message for ``code``, in the current language."""
    heading = HEADINGS.get(code, HEADINGS[None])
    return str(heading), str(MESSAGES.get(code, MESSAGES[None]))


def init_app(app: Flask) -> None:
    """Every HTTP error and unhandled exception as a page (before Flask-WTF,
    whose CSRF check would be the first to read the body)."""
    app.before_request(read_body)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, _unhandled)
    add_localized_rule(app, NOT_FOUND_PATHS, "not_found_page", not_found_page)
    codes = ",".join(f"'{code}'" for code in STATIC_CODES)
    app.add_url_rule(f"/errors/<any({codes}):code>.html", view_func=nginx_error_page)


def read_body() -> None:
    """Read the form body now, so that one that cannot be read is a 400 page,
    never a 500 and an ERROR line anyone could trigger (too large a body is
    Werkzeug's own 413)."""
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
    heading, message = error_text(code)
    return render_template(
        "errors/page.html", code=code, heading=heading, message=message, **context
    )


def not_found_page() -> tuple[str, int, dict[str, str]]:
    """The not-found page of this language, for ``flask freeze`` to write:
    200, as Frozen-Flask writes only those (nginx's error_page keeps the 404),
    its toggle leading to the other language's topic page."""
    html = _error_page(404, other_lang_url=home_url(other_language(g.lang_code)))
    return html, 200, error_headers(404)


def nginx_error_page(code: str) -> str:
    """The page nginx shows for ``code``: every language, one after another."""
    headings, sections = [], []
    for lang in LANGUAGES:
        with force_locale(lang):
            heading, message = error_text(int(code))
            section = render_template(
                "errors/_static_section.html",
                lang=lang,
                heading=heading,
                message=message,
                level=2 if sections else 1,
                home=home_url(lang),
            )
        headings.append(heading)
        sections.append(Markup(section))  # our own template's HTML
    return render_template(
        "errors/static.html",
        title=" / ".join(headings),
        sections=sections,
        home=home_url(LANGUAGES[0]),
        lang=LANGUAGES[0],
    )


def _unhandled(error: Exception):
    # The traceback, but never the request's form data.
    log.exception("Unhandled error: %s", type(error).__name__)
    return render_error(InternalServerError())
