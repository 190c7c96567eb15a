"""What an error page says, per HTTP status: one table for the app's own
error pages (app/errors.py) and the web server's (app/static_errors.py).

Lazy strings: each is translated where a page is rendered, in that page's
language. A status without a row gets ``GENERIC``.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

ErrorText = tuple[LazyString, LazyString]

# Heading and message per status.
ERROR_TEXTS: dict[int, ErrorText] = {
    400: (
        _l("Your browser sent something we could not read"),
        _l("Please go back, reload the page and try again."),
    ),
    404: (
        _l("Page not found"),
        _l("We could not find that page. Check the address, or use the link below."),
    ),
    405: (
        _l("That cannot be done on this page"),
        _l("Please go back and use the page's own links and buttons."),
    ),
    408: (
        _l("The connection took too long"),
        _l(
            "Your browser took too long to send the page's information. "
            "Please try again."
        ),
    ),
    413: (
        _l("Too much information sent"),
        _l(
            "What you sent was too long for us to accept. Please go back, "
            "shorten your message and try again."
        ),
    ),
    414: (
        _l("The web address is too long"),
        _l("Please check the address, or use the link below."),
    ),
    429: (
        _l("Too many requests"),
        _l(
            "We received many requests from your connection in a short time. "
            "Please wait a minute and try again."
        ),
    ),
    431: (
        _l("Your browser sent too much information"),
        _l(
            "This can happen when a browser keeps old cookies for a website. "
            "Please delete this website's cookies and try again, or call us."
        ),
    ),
    500: (
        _l("Something went wrong"),
        _l("Sorry, the website had a problem. Please try again in a few minutes."),
    ),
    502: (
        _l("This part of the website is not working right now"),
        _l(
            "Sorry, we could not complete that. If you were sending a request, "
            "we may not have received it. Please try again in a few minutes "
            "or call us."
        ),
    ),
    503: (
        _l("We could not save your request"),
        _l(
            "Sorry, the website cannot take requests right now, and your "
            "request was not sent. Please try again later or call us."
        ),
    ),
}

GENERIC: ErrorText = (
    _l("We could not complete that request"),
    _l("Please go back and try again."),
)


def error_text(code: int) -> tuple[str, str]:
    """Heading and message for ``code``, in the current language."""
    heading, message = ERROR_TEXTS.get(code, GENERIC)
    return str(heading), str(message)
