"""The content pages, the language redirects, and the files robots read."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for

from .content import LANGUAGES
from .content import Content
from .content import Page
from .i18n import home_url
from .i18n import twin_urls
from .i18n import visitor_language
from .page_cache import cached_page

bp = Blueprint("pages", __name__)

# Pages that are not content files but belong in the sitemap.
_FORM_ENDPOINTS = ("appointments.form",)


def _content() -> Content:
    return current_app.extensions["content"]


@bp.record
def _add_page_rules(state) -> None:
    """One rule per page and language, so each slug is translated."""
    for page in state.app.extensions["content"].pages.values():
        for lang, slug in page.slugs.items():
            state.add_url_rule(
                f"/{lang}/{slug}",
                "page",
                show_page,
                defaults={"lang_code": lang, "page_id": page.id},
            )


OG_LOCALES = {"en": "en_US", "es": "es_US"}
_SCHEMA_TYPES = {"topic": "MedicalWebPage", "notice": "WebPage"}


@cached_page
def show_page(page_id: str) -> str:
    """A topic or notice page from content/pages/<page_id>.yaml."""
    page: Page = _content().pages[page_id]
    text = page.text[g.lang_code]
    twins = twin_urls(external=True)
    return render_template(
        "pages/page.html",
        page=page,
        text=text,
        twins=twins,
        og_locales=OG_LOCALES,
        structured_data=_structured_data(page, text, twins[g.lang_code]),
    )


def _structured_data(page: Page, text, url: str) -> dict:
    """schema.org JSON-LD for search engines."""
    return {
        "@context": "https://schema.org",
        "@type": _SCHEMA_TYPES[page.kind],
        "name": text.title,
        "description": text.description,
        "url": url,
        "inLanguage": g.lang_code,
        "lastReviewed": page.last_reviewed.isoformat(),
        "publisher": {"@type": "MedicalOrganization", "name": _content().site.name},
    }


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
    xml = render_template("sitemap.xml", entries=_sitemap_entries())
    return Response(xml, mimetype="application/xml")


def _sitemap_entries() -> list[dict[str, str]]:
    """Each page as {lang: absolute URL}; endpoints without content pages too."""
    entries = []
    for page in _content().pages.values():
        entries.append(
            {
                lang: url_for(
                    "pages.page", page_id=page.id, lang_code=lang, _external=True
                )
                for lang in page.slugs
            }
        )
    for endpoint in _FORM_ENDPOINTS:
        if endpoint in current_app.view_functions:
            entries.append(
                {
                    lang: url_for(endpoint, lang_code=lang, _external=True)
                    for lang in LANGUAGES
                }
            )
    return entries


@bp.route("/robots.txt")
def robots() -> Response:
    """Allow everything but the form's POST target; point to the sitemap."""
    body = render_template("robots.txt")
    return Response(body, mimetype="text/plain")
