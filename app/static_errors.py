"""The web server's own error pages, in both languages, for ``flask freeze``.

nginx answers some requests without the app: a body far over the limit (413),
a flood of form posts (429), gunicorn stopped or restarting (502, 503). It
cannot tell which language the visitor reads (``/`` and a POST have none in
the URL), so each page says the same thing in every language. They are
frozen into ``build/errors/<code>.html`` and never linked from the site.
"""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from .content import LANGUAGES
from .i18n import home_url

bp = Blueprint("static_errors", __name__)

# Heading and message per status; 413, 429 and 503 share the app's wording.
MESSAGES = {
    413: (
        _l("Too much information sent"),
        _l(
            "What you sent was too long for us to accept. Please go back, "
            "shorten your message and try again."
        ),
    ),
    429: (
        _l("Too many requests"),
        _l(
            "We received many requests from your connection in a short time. "
            "Please wait a minute and try again."
        ),
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

# Where the pages are: `flask freeze` writes each (app/freeze.py), nginx's
# error_page serves them.
URLS = tuple(f"/errors/{code}.html" for code in MESSAGES)


@bp.get("/errors/<int:code>.html")
def page(code: int) -> str:
    """The page nginx shows for ``code``: every language, one after another."""
    if code not in MESSAGES:
        abort(404)
    headings, sections = [], []
    for lang in LANGUAGES:
        with force_locale(lang):
            heading, message = (str(text) for text in MESSAGES[code])
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
