"""The wallet card to print: /en/wallet-card and /es/tarjeta-de-bolsillo.

The same page for every visitor in a language, from content/wallet-card.yaml.
What a patient types on the card stays in their browser: the page has no
form, nothing on it sends a request, and the server never sees the text.
"""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import g
from flask import render_template
from flask.wrappers import Response

from .i18n import add_localized_rule
from .pages import document_response

bp = Blueprint("wallet_card", __name__)

PATHS = {"en": "/en/wallet-card", "es": "/es/tarjeta-de-bolsillo"}


def card() -> Response:
    """The card, both faces, with the page's words around it."""
    # Routed only when the content has a card (see _add_card_rules), and the
    # content never changes in a running app; i18n.pull_lang_code has already
    # chosen this request's locale afresh (which `flask freeze` needs).
    wallet_card = current_app.extensions["content"].wallet_card
    return document_response(
        render_template(
            "wallet_card.html", page=wallet_card, text=wallet_card.text[g.lang_code]
        )
    )


@bp.app_context_processor
def _card_link() -> dict[str, str | None]:
    """The home page section that links to the card (None: no card, no link)."""
    wallet_card = current_app.extensions["content"].wallet_card
    return {"wallet_card_section": wallet_card.linked_from if wallet_card else None}


@bp.record
def _add_card_rules(state) -> None:
    """The card's URLs exist only when the content has a card (like pages)."""
    if state.app.extensions["content"].wallet_card is not None:
        add_localized_rule(state, PATHS, "card", card)
