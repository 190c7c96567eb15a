"""The content pages and the wallet card, the language redirects, and the
files robots read."""

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request

from .content import LANGUAGES
from .i18n import add_localized_rule
from .i18n import home_url
from .i18n import public_url
from .i18n import visitor_language

bp = Blueprint("pages", __name__)

# Pages that are not content files but belong in the sitemap.
_OTHER_ENDPOINTS = ("appointments.form", "pages.wallet_card")
WALLET_CARD_PATHS = {"en": "/en/wallet-card", "es": "/es/tarjeta-de-bolsillo"}
OG_LOCALES = {"en": "en_US", "es": "es_US"}
_SCHEMA_TYPES = {"topic": "MedicalWebPage", "notice": "WebPage"}


@bp.record
def _add_page_rules(state) -> None:
    """One rule per page and language, so each slug is translated; the
    card's only when the content has one."""
    content = state.app.extensions["content"]
    for page in content.pages.values():
        paths = {lang: f"/{lang}/{slug}" for lang, slug in page.slugs.items()}
        add_localized_rule(
            state, paths, "page", show_page, defaults={"page_id": page.id}
        )
    if content.wallet_card is not None:
        add_localized_rule(state, WALLET_CARD_PATHS, "wallet_card", wallet_card)


def show_page(page_id: str) -> Response:
    """A topic or notice page from content/pages/<page_id>.yaml: nothing in
    it comes from the visitor, so it is the same bytes for everyone (nginx
    serves the frozen copy)."""
    content = current_app.extensions["content"]
    page = content.pages[page_id]
    text = page.text[g.lang_code]
    # schema.org JSON-LD for search engines; dateModified is the edit date.
    data = {
        "@context": "https://schema.org",
        "@type": _SCHEMA_TYPES[page.kind],
        "name": text.title,
        "description": text.description,
        "url": public_url("pages.page", page_id=page_id),
        "inLanguage": g.lang_code,
        "dateModified": page.updated.isoformat(),
        "publisher": {"@type": "MedicalOrganization", "name": content.site.name},
    }
    # These claim a medical review: only when the content names the reviewer.
    if page.review is not None:
        data["lastReviewed"] = page.review.date.isoformat()
        data["reviewedBy"] = {"@type": "Person", "name": page.review.name}
    html = render_template(
        "pages/page.html",
        page=page,
        text=text,
        og_locales=OG_LOCALES,
        structured_data=data,
    )
    return document_response(html)


def wallet_card() -> Response:
    """The card to print, both faces. What a patient types on it stays in
    their browser: the page has no form, and nothing on it sends a request."""
    card = current_app.extensions["content"].wallet_card
    html = render_template("wallet_card.html", page=card, text=card.text[g.lang_code])
    return document_response(html)


@bp.app_context_processor
def _card_link() -> dict[str, str | None]:
    # The home page section that links to the card (None: no card, no link).
    card = current_app.extensions["content"].wallet_card
    return {"wallet_card_section": card.linked_from if card else None}


def document_response(html: str) -> Response:
    """A page the same for every visitor, with an ETag: browsers must ask
    whether it changed (a 304 is a few hundred bytes), so an edit reaches
    every reader at once."""
    response = make_response(html)
    response.cache_control.no_cache = True
    response.add_etag()
    return response.make_conditional(request)


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
    xml = render_template("sitemap.xml", entries=sitemap_entries())
    return Response(xml, mimetype="application/xml")


def sitemap_entries() -> list[tuple[str, dict[str, str]]]:
    """Each page's endpoint and {lang: absolute URL}; endpoints without
    content pages too (the service worker keeps all but the form)."""
    pages = current_app.extensions["content"].pages.values()
    targets = [("pages.page", {"page_id": page.id}) for page in pages]
    routed = current_app.view_functions
    targets += [(name, {}) for name in _OTHER_ENDPOINTS if name in routed]
    return [
        (name, {lang: public_url(name, **args, lang_code=lang) for lang in LANGUAGES})
        for name, args in targets
    ]


@bp.route("/robots.txt")
def robots() -> Response:
    """Allow everything but the form's POST target; point to the sitemap."""
    return Response(render_template("robots.txt"), mimetype="text/plain")
