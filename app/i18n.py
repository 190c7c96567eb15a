"""Languages: the /<lang>/ URL prefix, the locale, and this page's twin URLs.

Flask's "URL processors" pattern: every route carries ``lang_code`` (as a
converter or a rule default), so ``url_for`` with another ``lang_code`` gives
the same page in the other language. Absolute URLs start with SITE_URL.
"""

import re

from flask import Flask
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from flask import url_for
from flask.wrappers import Response
from flask_babel import refresh

from .content import LANGUAGES
from .extensions import babel

DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
# Pages search engines should index: canonical link and hreflang alternates.
INDEXABLE_ENDPOINTS = ("pages.page", "pages.wallet_card", "appointments.form")


def init_app(app: Flask) -> None:
    """Bind Flask-Babel and the URL processors to ``app``."""
    babel.init_app(app, locale_selector=visitor_language)
    app.url_value_preprocessor(pull_lang_code)
    app.url_defaults(_add_lang_code)
    app.after_request(_remember_language)
    app.context_processor(_language_context)
    app.add_template_global(public_url)


def pull_lang_code(endpoint: str | None, values: dict | None) -> None:
    """The URL's language goes to ``g.lang_code``, and the locale is chosen
    afresh: Flask-Babel keeps it in ``g``, which requests made in one app
    context share (Frozen-Flask freezes every page in one)."""
    g.lang_code = values.pop("lang_code", None) if values else None
    refresh()


def _add_lang_code(endpoint: str, values: dict) -> None:
    # g.get, not g.lang_code: error handlers and the root redirect run
    # without a language in the URL.
    lang = g.get("lang_code")
    if lang and current_app.url_map.is_endpoint_expecting(endpoint, "lang_code"):
        values.setdefault("lang_code", lang)


def visitor_language() -> str:
    """The one language rule (README, "Routes"), as nginx's maps express it
    (deploy/nginx/conf.d/clinic-site.conf): the URL's language; else the
    ``lang`` cookie; else Spanish when the browser lists Spanish first; else
    English."""
    # The path's too: /es/no-such-page is not routed, but is read in Spanish.
    segment = request.path.lstrip("/").split("/", 1)[0]
    path_lang = segment if segment in LANGUAGES else None
    if lang := g.get("lang_code") or path_lang or remembered_language():
        return lang
    # The primary subtag of the first item of Accept-Language, q-values
    # ignored: what a regular expression in nginx's map can read too.
    first = request.headers.get("Accept-Language", "").split(",")[0]
    primary = first.split(";")[0].strip(" \t").split("-")[0].lower()
    return "es" if primary == "es" else DEFAULT_LANGUAGE


# nginx's $cookie_lang: the first "lang" pair, name in any case, in a
# ";"- or ","-separated header; the value up to the next ";", as sent (no
# unquoting). Werkzeug's cookie parser reads odd headers differently, and the
# front door must not depend on which of the two answers.
_COOKIE_LANG = re.compile(r"(?:^|[;,]) *lang *= *([^;]*)", re.IGNORECASE)


def remembered_language() -> str | None:
    """The ``lang`` cookie as nginx's ``$cookie_lang`` reads it, when it is
    exactly a language of the site."""
    # nginx drops the spaces and tabs around a header's value.
    found = _COOKIE_LANG.search(request.headers.get("Cookie", "").strip(" \t"))
    return found[1] if found and found[1] in LANGUAGES else None


def other_language(lang: str) -> str:
    """The toggle's target language."""
    return next(other for other in LANGUAGES if other != lang)


def public_url(endpoint: str, **values) -> str:
    """``url_for`` as an absolute URL under SITE_URL, whatever the Host was."""
    path = url_for(endpoint, **values).removeprefix(request.script_root)
    return current_app.config["SITE_URL"] + path


def twin_urls(*, public: bool = False) -> dict[str, str]:
    """This page's URL in each language, or {} when the page has no twins."""
    if not (request.url_rule and g.get("lang_code")):
        return {}
    build = public_url if public else url_for
    return {
        lang: build(request.endpoint, **request.view_args, lang_code=lang)
        for lang in LANGUAGES
    }


def home_url(lang: str) -> str:
    """The topic page every redirect and the site name lead to."""
    page_id = current_app.extensions["content"].site.home_page
    return url_for("pages.page", page_id=page_id, lang_code=lang)


def _language_context() -> dict:
    if not has_request_context():
        return {}  # emails: rendered from the outbox, outside any request
    lang = visitor_language()
    other = other_language(lang)
    twins = twin_urls()
    indexable = request.endpoint in INDEXABLE_ENDPOINTS
    return {
        "lang": lang,
        "other_lang": other,
        "other_lang_name": LANGUAGE_NAMES[other],
        "other_lang_url": twins.get(other) or home_url(other),
        "home_url": home_url(lang),
        # For base.html's canonical and hreflang links.
        "public_twins": twin_urls(public=True) if indexable else {},
    }


def _remember_language(response: Response) -> Response:
    lang = g.get("lang_code")
    if lang and remembered_language() != lang and response.status_code < 400:
        response.set_cookie(
            "lang",
            lang,
            max_age=365 * 24 * 3600,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


def add_localized_rule(
    blueprint, paths: dict[str, str], endpoint: str, view_func, defaults=None, **kw
) -> None:
    """Route ``view_func`` at a translated path per language, e.g.
    {"en": "/en/request-appointment", "es": "/es/solicitar-cita"}, on an app,
    a blueprint or a blueprint's setup state (in a ``@bp.record`` hook).
    ``url_for(endpoint, lang_code=...)`` picks the rule whose default matches.
    """
    for lang, path in paths.items():
        lang_defaults = {**(defaults or {}), "lang_code": lang}
        blueprint.add_url_rule(path, endpoint, view_func, defaults=lang_defaults, **kw)
