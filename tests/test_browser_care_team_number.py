"""Issue 21.4 in a real browser: wherever the site tells a patient to call
the care team, it gives the clinic's number as a tel: link once
content/site.yaml has one, and until then says where the patient finds it."""

from __future__ import annotations

import pytest
from helpers import CLINIC_PHONE
from helpers import FORM_PATHS
from helpers import VALID_ANSWERS
from helpers import edit_site
from helpers import spanish_catalog
from playwright.sync_api import Page
from servers import serving
from site_pages import WALLET_CARD_PATHS
from site_pages import fill_in
from site_pages import send_form

from app import create_app

pytestmark = pytest.mark.browser

TOPIC_PATHS = {"en": "/en/immunotherapy", "es": "/es/inmunoterapia"}
WHERE = (
    "Your care team's phone number is on your appointment papers"
    " or on your wallet card."
)
WHERE_BY_LANG = {"en": WHERE, "es": spanish_catalog()[WHERE].string}
# Every place that says "call your care team" (or "call us"), on each page.
CALL_SENTENCES = {
    "topic": (".alert-urgent", ".symptoms-notice"),
    "form": (".symptoms-notice",),
    "received": ("main",),
}


def call_sentences(page: Page, lang: str) -> dict[str, list]:
    """The HTML of the call-your-team places of the topic page, the form and
    the page after sending it, and the back of the wallet card's text."""
    found = {}
    page.goto(TOPIC_PATHS[lang])
    found["topic"] = [page.locator(s).inner_html() for s in CALL_SENTENCES["topic"]]
    page.goto(FORM_PATHS[lang])
    found["form"] = [page.locator(s).inner_html() for s in CALL_SENTENCES["form"]]
    fill_in(page, VALID_ANSWERS)
    send_form(page)
    found["received"] = [page.locator("main").inner_html()]
    page.goto(WALLET_CARD_PATHS[lang])
    found["card"] = [page.locator(".card-back").inner_text()]
    return found


@pytest.mark.parametrize("lang", ["en", "es"])
def test_without_a_phone_each_call_sentence_says_where_the_number_is(page, lang):
    found = call_sentences(page, lang)
    for where in ("topic", "form", "received"):
        for html in found[where]:
            assert WHERE_BY_LANG[lang] in html.replace("&#39;", "'"), where
            assert "tel:" not in html, where
    # The card is where the patient writes the number: it has the line for it.
    assert page.locator("#card-team-phone").is_visible()


@pytest.fixture
def app_with_phone(app_config, content_copy):
    app_config["CONTENT_DIR"] = str(edit_site(content_copy, phone=CLINIC_PHONE))
    app_config["WTF_CSRF_ENABLED"] = True
    return create_app(app_config)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_with_a_phone_each_call_sentence_has_a_tel_link(new_page, app_with_phone, lang):
    with serving(app_with_phone) as url:
        page = new_page(base_url=url)
        found = call_sentences(page, lang)
    for where in ("topic", "form", "received"):
        for html in found[where]:
            assert 'href="tel:+15595550100"' in html, where
            assert WHERE_BY_LANG[lang] not in html, where
    assert "(559) 555-0100" in found["card"][0]
