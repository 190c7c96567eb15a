"""Issue 17.2: the wallet card page, its content file and where it is linked.

The browser tests (print size, nothing sent) are in test_browser_print.py.
"""

from __future__ import annotations

import html
import re

import pytest
from helpers import CLINIC_PHONE
from helpers import SITE_URL
from helpers import edit_site
from helpers import edit_yaml

from app.content import ContentError
from app.content import load_content

CARD_PATHS = {"en": "/en/wallet-card", "es": "/es/tarjeta-de-bolsillo"}
CARD = load_content("content").wallet_card


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_card_says_it_in_the_page_language(client, lang):
    response = client.get(CARD_PATHS[lang])
    assert response.status_code == 200
    page = text_of(response)
    assert f'<html lang="{lang}">' in page
    card = CARD.text[lang].card
    for words in (card.heading, card.for_staff, card.emergency, *card.signs):
        assert words in page, words
    for label in card.fields.model_dump().values():
        assert label in page, label
    for words in WHAT_STAFF_READ[lang]:
        assert words in page, words
    # Cited: the NCI page it is based on, in the page's language.
    nci = {"en": "about-cancer/treatment", "es": "espanol/cancer/tratamiento"}[lang]
    organ_page = f"https://www.cancer.gov/{nci}/"
    assert f'href="{organ_page}' in page


# What an emergency room needs from the card, and what keeps a patient who
# has finished treatment carrying it.
WHAT_STAFF_READ = {
    "en": (
        "I am receiving or have received immunotherapy",
        "Side effects can start months after treatment ends.",
        "Last dose",
        "Oncologist",
        "Cancer type",
        "Clinic and phone",
    ),
    "es": (
        "Recibo o he recibido inmunoterapia",
        "Los efectos secundarios pueden empezar meses después de terminar "
        "el tratamiento.",
        "Última dosis",
        "Oncólogo(a)",
        "Tipo de cáncer",
        "Clínica y teléfono",
    ),
}
# Each 911 sign on the card: a page it comes from is cited on the card.
EMERGENCY_SOURCES = {
    "fainting": "def/anaphylactic-shock",
    "allergic": "def/anaphylactic-shock",
    "one side": "def/stroke",
    "trouble talking": "cancer-treatment-vaccines|vacunas-tratamiento",
    "shock": "immunotherapy/monoclonal-antibodies",
    "chest pain": "immunotherapy/checkpoint-inhibitors",
    "confusion": "organ-inflammation|inflamacion-de-organos",
    "trouble breathing": "immunotherapy/side-effects",
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_card_opens_with_911_and_cites_where_its_lines_come_from(client, lang):
    page = text_of(client.get(CARD_PATHS[lang]))
    front = page[page.index('class="card-face card-front"') :]
    first_text = re.search(r"<p[^>]*>([^<]+)</p>", front)
    assert first_text[1] == CARD.text[lang].card.emergency
    assert "911" in first_text[1]
    cited = [source.url for source in CARD.text[lang].sources]
    english = CARD.en.card.emergency
    for sign, page_part in EMERGENCY_SOURCES.items():
        assert sign in english, sign
        assert any(re.search(page_part, url) for url in cited), page_part
    for url in cited:
        assert f'href="{url}"' in page


def test_nothing_typed_on_the_card_can_be_sent(client):
    page = client.get(CARD_PATHS["en"]).get_data(as_text=True)
    main = page.split("<main", 1)[1]
    assert "<form" not in main
    fields = re.findall(r"<(?:input|textarea)\b[^>]*>", main)
    assert len(fields) == len(CARD.en.card.fields.model_dump()) == 8
    for field in fields:
        assert " name=" not in field, field
        assert 'autocomplete="off"' in field and 'spellcheck="false"' in field


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_card_has_a_canonical_address_and_its_twin(client, lang):
    page = client.get(CARD_PATHS[lang]).get_data(as_text=True)
    assert f'<link rel="canonical" href="{SITE_URL}{CARD_PATHS[lang]}">' in page
    for other, path in CARD_PATHS.items():
        assert f'hreflang="{other}" href="{SITE_URL}{path}"' in page


def test_the_card_is_in_the_sitemap(client):
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    for path in CARD_PATHS.values():
        assert f"<loc>{SITE_URL}{path}</loc>" in sitemap


def test_the_card_is_frozen(app, tmp_path):
    destination = tmp_path / "build"
    result = app.test_cli_runner().invoke(
        args=["freeze", "--destination", str(destination)]
    )
    assert result.exit_code == 0, result.output
    for path in CARD_PATHS.values():
        assert (destination / path.lstrip("/")).is_file(), path


@pytest.mark.parametrize(
    ("path", "lang"), [("/en/immunotherapy", "en"), ("/es/inmunoterapia", "es")]
)
def test_the_side_effects_section_links_to_the_card(client, path, lang):
    page = client.get(path).get_data(as_text=True)
    start = page.index(f'<h2 id="{CARD.linked_from}"')
    section = page[start : page.index("</section>", start)]
    assert f'href="{CARD_PATHS[lang]}"' in section
    # Only there: the privacy page has no such link.
    other = client.get({"en": "/en/privacy", "es": "/es/privacidad"}[lang])
    assert CARD_PATHS[lang] not in other.get_data(as_text=True).split("<main", 1)[1]


def test_the_clinic_phone_is_printed_on_the_card_once_set(app_config, content_copy):
    from app import create_app

    blank = create_app(app_config).test_client().get(CARD_PATHS["en"])
    assert 'id="card-team-phone"' in blank.get_data(as_text=True)

    app_config["CONTENT_DIR"] = str(edit_site(content_copy, phone=CLINIC_PHONE))
    page = create_app(app_config).test_client().get(CARD_PATHS["en"])
    body = text_of(page)
    assert 'id="card-team-phone"' not in body
    assert "Clinic and phone: Women's Cancer Care, <span" in body
    assert "(559) 555-0100" in body
    # The binder copy names the clinic and its phone at the top of the sheet.
    top = body.split('<header class="site-header">', 1)[0]
    assert "Women's Cancer Care · Phone: (559) 555-0100" in top


def test_a_spanish_card_with_a_sign_missing_is_named(content_copy):
    path = content_copy / "wallet-card.yaml"
    edit_yaml(path, lambda data: data["es"]["card"]["signs"].pop())
    with pytest.raises(ContentError) as error:
        load_content(content_copy)
    [problem] = error.value.problems
    assert problem.startswith("wallet-card.yaml:")
    assert "es > card > signs" in problem
    assert "6 signs; en has 7" in problem


def test_a_card_linked_from_a_missing_section_is_named(content_copy):
    path = content_copy / "wallet-card.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("linked_from: side-effects-to-call-about", "linked_from: nope"),
        encoding="utf-8",
    )
    with pytest.raises(ContentError) as error:
        load_content(content_copy)
    assert error.value.problems == [
        'wallet-card.yaml:12: linked_from: no section "nope" on the home page'
    ]


def test_without_a_card_file_there_is_no_card_and_no_link(app_config, content_copy):
    from app import create_app

    (content_copy / "wallet-card.yaml").unlink()
    app_config["CONTENT_DIR"] = str(content_copy)
    client = create_app(app_config).test_client()
    assert client.get(CARD_PATHS["en"]).status_code == 404
    assert CARD_PATHS["en"] not in client.get("/en/immunotherapy").get_data(
        as_text=True
    )
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    assert "wallet-card" not in sitemap
