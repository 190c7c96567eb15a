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
from markupsafe import Markup

from .content import LANGUAGES
from .error_texts import error_text
from .i18n import home_url

bp = Blueprint("static_errors", __name__)

# The statuses nginx answers itself (deploy/nginx/snippets/
# clinic-site-error-pages.conf; its 494, cookies too large, is shown as 431).
# What each page says is in app/error_texts.py, shared with the app's pages.
CODES = (400, 405, 408, 413, 414, 429, 431, 502, 503)

# Where the pages are: `flask freeze` writes each (app/freeze.py), nginx's
# error_page serves them.
URLS = tuple(f"/errors/{code}.html" for code in CODES)


@bp.get("/errors/<int:code>.html")
def page(code: int) -> str:
    """The page nginx shows for ``code``: every language, one after another."""
    if code not in CODES:
        abort(404)
    headings, sections = [], []
    for lang in LANGUAGES:
        with force_locale(lang):
            heading, message = error_text(code)
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
