"""Every page a visitor can reach, in both languages: the list that the browser
journeys, axe and the HTML checker walk.

Add a page, or a state of a page (the form showing its errors, the received
page), as one more ``SitePage``; give it a ``reach`` function when a visitor
gets there by doing something rather than by opening the URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from flask_babel import LazyString
from flask_babel import lazy_gettext
from helpers import FORM_PATHS
from helpers import VALID_ANSWERS
from playwright.sync_api import Page
from playwright.sync_api import Response

from app.config import CONTENT_DIR as DEFAULT_CONTENT_DIR
from app.content import LANGUAGES
from app.content import load_content
from app.i18n import other_language

CONTENT = load_content(DEFAULT_CONTENT_DIR)


def open_path(page: Page, site_page: SitePage) -> Response:
    """Reach ``site_page`` the plain way: open its URL."""
    response = page.goto(site_page.path)
    assert response is not None, f"no response for {site_page.path}"
    return response


@dataclass(frozen=True)
class SitePage:
    """One page (or state of a page) in one language."""

    name: str
    lang: str
    # Where a visitor starts; relative to the live server.
    path: str
    # What the page's h1 says: content text, or an interface string (lazy, so it
    # is translated for this page's language by ``heading``).
    h1: str | LazyString
    status: int = 200
    # The same page in the other language, where the toggle should lead; None
    # when the toggle leads to the topic page (e.g. from a 404).
    twin: str | None = None
    # How the browser gets there; returns the response of the final document.
    reach: Callable[[Page, SitePage], Response] = open_path

    @property
    def id(self) -> str:
        """A test id such as ``topic-es``."""
        return f"{self.name}-{self.lang}"

    def heading(self, app: Flask) -> str:
        """The h1 text as the app renders it for this page's language."""
        with app.test_request_context(self.path):
            return str(self.h1)


def _content_pages() -> list[SitePage]:
    pages = []
    for page in CONTENT.pages.values():
        paths = {lang: f"/{lang}/{page.slugs[lang]}" for lang in LANGUAGES}
        for lang in LANGUAGES:
            pages.append(
                SitePage(
                    name=page.id,
                    lang=lang,
                    path=paths[lang],
                    h1=page.text[lang].title,
                    twin=paths[other_language(lang)],
                )
            )
    return pages


# The wallet card to print (shared/DESIGN.md).
WALLET_CARD_PATHS = {"en": "/en/wallet-card", "es": "/es/tarjeta-de-bolsillo"}


def _wallet_card_pages() -> list[SitePage]:
    return [
        SitePage(
            "wallet-card",
            lang,
            WALLET_CARD_PATHS[lang],
            CONTENT.wallet_card.text[lang].title,
            twin=WALLET_CARD_PATHS[other_language(lang)],
        )
        for lang in LANGUAGES
    ]


# Where the form's POST leads (shared/DESIGN.md); the form's own URLs are in helpers.
RECEIVED_PATHS = {
    "en": "/en/request-appointment/received",
    "es": "/es/solicitar-cita/recibida",
}


def send_form(page: Page) -> Response:
    """Press the form's send button; the response of the page that follows."""
    with page.expect_navigation() as navigation:
        page.locator("form.appointment-form [type=submit]").click()
    response = navigation.value
    assert response is not None, "sending the form loaded no page"
    return response


def fill_in(page: Page, answers: dict[str, str]) -> None:
    """Answer the form's questions: type into text fields, tick choices."""
    for name, value in answers.items():
        control = page.locator(f'form.appointment-form [name="{name}"]')
        if control.first.get_attribute("type") in ("radio", "checkbox"):
            control.and_(page.locator(f'[value="{value}"]')).check()
        elif control.first.evaluate("(el) => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)


def send_empty_form(page: Page, site_page: SitePage) -> Response:
    """Reach the form showing its errors: send it without answering anything."""
    open_path(page, site_page)
    return send_form(page)


def send_with_follow_ups_open(page: Page, site_page: SitePage) -> Response:
    """Reach the form with its follow-up questions open and in error: choose
    "a family member" and "another language", then leave those unanswered."""
    open_path(page, site_page)
    fill_in(page, {k: v for k, v in VALID_ANSWERS.items() if k != "requester"})
    fill_in(page, {"requester": "family", "language": "other"})
    return send_form(page)


def send_with_a_wrong_date(page: Page, site_page: SitePage) -> Response:
    """Reach the form showing a date-of-birth error (February 30)."""
    open_path(page, site_page)
    fill_in(page, VALID_ANSWERS)
    fill_in(
        page,
        {
            "date_of_birth-month": "2",
            "date_of_birth-day": "30",
            "date_of_birth-year": "1958",
        },
    )
    return send_form(page)


def send_valid_form(page: Page, site_page: SitePage) -> Response:
    """Reach the received page: answer every question and send the form."""
    open_path(page, site_page)
    fill_in(page, VALID_ANSWERS)
    return send_form(page)


def _form_states() -> list[SitePage]:
    """The form after sending it empty, and the page a sent request leads to."""
    pages = []
    for lang in LANGUAGES:
        other = other_language(lang)
        pages += [
            SitePage(
                "form-errors",
                lang,
                FORM_PATHS[lang],
                lazy_gettext("Request an Appointment"),
                status=422,
                twin=FORM_PATHS[other],
                reach=send_empty_form,
            ),
            SitePage(
                "form-follow-ups",
                lang,
                FORM_PATHS[lang],
                lazy_gettext("Request an Appointment"),
                status=422,
                twin=FORM_PATHS[other],
                reach=send_with_follow_ups_open,
            ),
            SitePage(
                "form-date-error",
                lang,
                FORM_PATHS[lang],
                lazy_gettext("Request an Appointment"),
                status=422,
                twin=FORM_PATHS[other],
                reach=send_with_a_wrong_date,
            ),
            SitePage(
                "received",
                lang,
                FORM_PATHS[lang],
                lazy_gettext("Request received"),
                twin=RECEIVED_PATHS[other],
                reach=send_valid_form,
            ),
        ]
    return pages


SITE_PAGES: list[SitePage] = [
    *_content_pages(),
    *_wallet_card_pages(),
    SitePage(
        "form",
        "en",
        FORM_PATHS["en"],
        lazy_gettext("Request an Appointment"),
        twin=FORM_PATHS["es"],
    ),
    SitePage(
        "form",
        "es",
        FORM_PATHS["es"],
        lazy_gettext("Request an Appointment"),
        twin=FORM_PATHS["en"],
    ),
    *_form_states(),
    SitePage("404", "en", "/en/no-such-page", lazy_gettext("Page not found"), 404),
    SitePage("404", "es", "/es/no-existe", lazy_gettext("Page not found"), 404),
]


def home_path(lang: str) -> str:
    """The topic page, where the site name and a 404's toggle lead."""
    home = CONTENT.pages[CONTENT.site.home_page]
    return f"/{lang}/{home.slugs[lang]}"


def toggle_target(site_page: SitePage) -> str:
    """Where the language toggle on ``site_page`` should lead."""
    return site_page.twin or home_path(other_language(site_page.lang))


def by_path(path: str) -> SitePage:
    """The plainly reached page at ``path``."""
    return next(p for p in SITE_PAGES if p.path == path and p.reach is open_path)
