"""The content pages, the language redirects, and the files robots read."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request

from .content import LANGUAGES
from .content import Content
from .content import Page
from .i18n import add_localized_rule
from .i18n import home_url
from .i18n import public_url
from .i18n import twin_urls
from .i18n import visitor_language

bp = Blueprint("pages", __name__)

# Pages that are not content files but belong in the sitemap.
_OTHER_ENDPOINTS = ("appointments.form", "wallet_card.card")


def _content() -> Content:
    return current_app.extensions["content"]


@bp.record
def _add_page_rules(state) -> None:
    """One rule per page and language, so each slug is translated."""
    for page in state.app.extensions["content"].pages.values():
        paths = {lang: f"/{lang}/{slug}" for lang, slug in page.slugs.items()}
        add_localized_rule(
            state, paths, "page", show_page, defaults={"page_id": page.id}
        )


OG_LOCALES = {"en": "en_US", "es": "es_US"}
_SCHEMA_TYPES = {"topic": "MedicalWebPage", "notice": "WebPage"}


def show_page(page_id: str) -> Response:
    """A topic or notice page from content/pages/<page_id>.yaml.

    Rendered per request, like any view. Nothing in it comes from the visitor:
    absolute URLs start with SITE_URL and the language is the URL's, so the
    page is the same bytes for everyone (nginx serves the frozen copy).
    """
    page: Page = _content().pages[page_id]
    text = page.text[g.lang_code]
    twins = twin_urls(public=True)
    html = render_template(
        "pages/page.html",
        page=page,
        text=text,
        twins=twins,
        og_locales=OG_LOCALES,
        structured_data=_structured_data(page, text, twins[g.lang_code]),
    )
    return document_response(html)


def document_response(html: str) -> Response:
    """A page that is the same for every visitor: revalidated, with an ETag.

    Browsers may keep it but must ask whether it changed (a 304 costs a few
    hundred bytes), so a content edit reaches every reader at once.
    """
    response = make_response(html)
    response.cache_control.no_cache = True
    response.add_etag()
    return response.make_conditional(request)


def _structured_data(page: Page, text, url: str) -> dict:
    """schema.org JSON-LD for search engines.

    ``lastReviewed`` and ``reviewedBy`` claim a medical review, so they appear
    only when the content names the reviewer; ``dateModified`` is the edit date.
    """
    data = {
        "@context": "https://schema.org",
        "@type": _SCHEMA_TYPES[page.kind],
        "name": text.title,
        "description": text.description,
        "url": url,
        "inLanguage": g.lang_code,
        "dateModified": page.updated.isoformat(),
        "publisher": {"@type": "MedicalOrganization", "name": _content().site.name},
    }
    if page.review is not None:
        data["lastReviewed"] = page.review.date.isoformat()
        data["reviewedBy"] = {"@type": "Person", "name": page.review.name}
    return data


@bp.route("/")
def root() -> Response:
    """The topic page in the visitor's language."""
    response = redirect(home_url(visitor_language()), code=302)
    response.vary.update(("Cookie", "Accept-Language"))
    return response


@bp.route("/<any(en, es):lang_code>/")
def language_root() -> Response:
    """/en/ and /es/ lead to the topic page in their own language."""
    return redirect(home_url(g.lang_code), code=302)


@bp.route("/sitemap.xml")
def sitemap() -> Response:
    """Every page in both languages, each with its twins as alternates."""
    xml = render_template(
        "sitemap.xml", entries=[urls for _, urls in sitemap_entries()]
    )
    return Response(xml, mimetype="application/xml")


def sitemap_entries() -> list[tuple[str, dict[str, str]]]:
    """Each page's endpoint and {lang: absolute URL}; endpoints without
    content pages too (the service worker keeps all but the form)."""
    entries = [
        (
            "pages.page",
            {
                lang: public_url("pages.page", page_id=page.id, lang_code=lang)
                for lang in page.slugs
            },
        )
        for page in _content().pages.values()
    ]
    for endpoint in _OTHER_ENDPOINTS:
        if endpoint in current_app.view_functions:
            entries.append(
                (
                    endpoint,
                    {lang: public_url(endpoint, lang_code=lang) for lang in LANGUAGES},
                )
            )
    return entries


@bp.route("/robots.txt")
def robots() -> Response:
    """Allow everything but the form's POST target; point to the sitemap."""
    body = render_template("robots.txt")
    return Response(body, mimetype="text/plain")
