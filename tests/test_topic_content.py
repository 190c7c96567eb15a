"""What issue 10 asks of the pages' content, checked on the rendered pages:
the safety sections and their sources, honest dates, the privacy page's
links, the header's phone link, and Spanish pages free of English."""

from __future__ import annotations

import datetime
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import edit_yaml
from helpers import sections_by_language

from app import create_app
from app.content import Alert
from app.content import BulletList
from app.content import load_content

CONTENT = load_content("content")
TOPIC = CONTENT.pages["immunotherapy"]
TOPIC_URLS = {"en": "/en/immunotherapy", "es": "/es/inmunoterapia"}
PRIVACY_URLS = {"en": "/en/privacy", "es": "/es/privacidad"}
NEW_SECTIONS = (
    "how-is-immunotherapy-given",
    "side-effects-to-call-about",
    "questions-to-ask",
)
NPP = {
    "en": "https://clinic.example.org/notice-of-privacy-practices",
    "es": "https://clinic.example.org/es/aviso-de-practicas-de-privacidad",
}


class Links(HTMLParser):
    """Every link with its text, and which ones sit inside the "On this page"
    list, the header and the footer."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict] = []
        self._open: list[str] = []
        self._link: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("nav", "header", "footer", "section"):
            self._open.append(attrs.get("class") or tag)
        if tag == "a":
            self._link = {**attrs, "text": "", "inside": tuple(self._open)}

    def handle_data(self, data):
        if self._link is not None:
            self._link["text"] += data

    def handle_endtag(self, tag):
        if tag in ("nav", "header", "footer", "section") and self._open:
            self._open.pop()
        if tag == "a" and self._link is not None:
            self._link["text"] = " ".join(self._link["text"].split())
            self.links.append(self._link)
            self._link = None

    def inside(self, container: str) -> list[dict]:
        return [link for link in self.links if container in link["inside"]]


def links_of(body: str) -> Links:
    parser = Links()
    parser.feed(body)
    return parser


def json_ld(body: str) -> dict:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    assert match, "no JSON-LD"
    return json.loads(match.group(1))


def client_for(app_config: dict, content: Path):
    app_config["CONTENT_DIR"] = str(content)
    return create_app(app_config).test_client()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_on_this_page_lists_the_new_sections_and_ends_with_sources(client, lang):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    toc = [link["href"] for link in links_of(body).inside("toc")]
    for section_id in NEW_SECTIONS:
        assert f"#{section_id}" in toc
        heading = next(s for s in TOPIC.text[lang].sections if s.id == section_id)
        assert f'<h2 id="{section_id}">{heading.heading}</h2>' in body
    assert toc[-1] == "#sources"
    sources_heading = {"en": "Sources", "es": "Fuentes"}[lang]
    assert f'<h2 id="sources">{sources_heading}</h2>' in body


# What a reader in treatment must find first: the 911 list, then the
# care-team list with fever, before any organ detail.
EMERGENCY = {
    "en": (
        "Call 911 or go to the emergency room if",
        "Trouble breathing",
        "Chest pain",
        "Fainting",
        "Weakness on one side of your body, or trouble talking",
        "shock",
        "Signs of a severe allergic reaction",
    ),
    "es": (
        "Llame al 911 o vaya a la sala de emergencias si",
        "Dificultad para respirar",
        "Un desmayo",
        "Debilidad en un lado del cuerpo o dificultad para hablar",
        "choque (shock)",
        "Signos de una reacción alérgica grave",
    ),
}
URGENT = {
    "en": (
        "Call your care team right away, day or night, if",
        "A fever",
        "cytokine release syndrome",
        "monoclonal antibody",
    ),
    "es": (
        "Llame de inmediato a su equipo de atención médica, de día o de noche, si",
        "Fiebre",
        "síndrome de liberación de citocinas",
        "anticuerpo monoclonal",
    ),
}
FIRST_ORGAN = {"en": "Gut (colitis)", "es": "Intestino (colitis)"}
# The words that name each sign a patient checks the boxes for: a sign's
# words may stand in one box only, so a patient can tell which box applies.
SIGN_WORDS = {
    "en": (
        "breathing",
        "short of breath",
        "chest",
        "faint",
        "allergic",
        "weakness",
        "talking",
        "blood pressure",
        "shock",
        "seizure",
        "confusion",
        "fever",
        "chills",
        "cough",
        "diarrhea",
        "belly",
        "stool",
        "yellow",
        "urine",
        "blister",
        "dizz",
        "tingling",
        "numb",
        "heartbeat",
        "headache",
        "nausea",
    ),
    "es": (
        "respirar",
        "aire",
        "aliento",
        "pecho",
        "desmay",
        "alérgica",
        "debilidad",
        "hablar",
        "presión arterial",
        "choque",
        "convulsi",
        "confusión",
        "fiebre",
        "escalofr",
        "tos ",
        "diarrea",
        "vientre",
        "heces",
        "amarill",
        "orina",
        "ampolla",
        "mareo",
        "hormigueo",
        "entumec",
        "latidos",
        "cabeza",
        "náuseas",
    ),
}
# Said in the section's own paragraphs: when side effects start, not waiting.
WHEN_AND_WHY_NOW = {
    "en": ("even months after your last treatment", "Do not wait", "steroids"),
    "es": ("incluso meses después de la última dosis", "No espere", "corticoides"),
}
INVITES_WAITING = {
    "en": "Serious reactions are rare",
    "es": "Las reacciones graves son poco comunes",
}


def alert_boxes(section_body: str) -> list[str]:
    """Each alert box's HTML, in page order."""
    return re.findall(r'<div class="alert alert-\w+">.*?</div>', section_body, re.S)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_emergency_lists_open_the_when_to_call_section(client, lang):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    section = section_html(body, "side-effects-to-call-about")
    boxes = alert_boxes(section)
    assert [re.search(r"alert-(\w+)", box)[1] for box in boxes] == [
        "emergency",
        "urgent",
    ]
    for words in EMERGENCY[lang]:
        assert words in boxes[0]
    for words in URGENT[lang]:
        assert words in boxes[1]
    # Right after the heading, and before the organ lists.
    after_heading = section[section.index("</h2>") + len("</h2>") :].lstrip()
    assert after_heading.startswith('<div class="alert alert-emergency">')
    # The organ detail follows later, in the general side-effects section.
    assert f"<li>{FIRST_ORGAN[lang]}" not in section
    for words in WHEN_AND_WHY_NOW[lang]:
        assert words in section
    assert INVITES_WAITING[lang] not in section


def box_items(box_html: str) -> list[str]:
    items = re.findall(r"<li>(.*?)</li>", box_html, re.S)
    return [re.sub(r"<[^>]+>", "", item) for item in items]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_no_sign_stands_in_both_boxes(client, lang):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    emergency, urgent = (
        " ".join(box_items(box)).lower() + " "
        for box in alert_boxes(section_html(body, "side-effects-to-call-about"))
    )
    both = [w for w in SIGN_WORDS[lang] if w in emergency and w in urgent]
    assert not both, f"in both boxes: {both}"
    # Each box's signs are among the words checked, so a new sign is seen.
    for box in (emergency, urgent):
        assert sum(w in box for w in SIGN_WORDS[lang]) >= 6


def test_the_boxes_match_line_for_line_in_both_languages():
    def boxes(lang):
        section = next(
            s for s in TOPIC.text[lang].sections if s.id == "side-effects-to-call-about"
        )
        return [len(block.items) for block in section.body if isinstance(block, Alert)]

    assert boxes("en") == boxes("es") and len(boxes("en")) == 2


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_boxes_come_before_the_types_of_immunotherapy(client, lang):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    # Right after the lead: the first section, before "On this page".
    lead_end = body.rindex('<p class="lead">')
    first = re.search(r'<h2 id="([\w-]+)"', body[lead_end:])
    assert first[1] == "side-effects-to-call-about"
    toc = body.index('<nav class="toc"')
    assert lead_end < body.index('class="alert alert-urgent"') < toc
    assert toc < body.index('<h2 id="types-of-immunotherapy"')
    # Still listed first in "On this page".
    hrefs = [link["href"] for link in links_of(body).inside("toc")]
    assert hrefs[0] == "#side-effects-to-call-about"


TREATMENT_NAMES = {
    "en": (
        "BCG",
        "imiquimod",
        "stem cell transplant from the same donor",
        "a type of radiation therapy",
    ),
    "es": (
        "BCG",
        "imiquimod",
        "trasplante de células madre de un donante",
        "un tipo de radioterapia",
    ),
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_each_treatment_goes_by_its_nci_name(client, lang):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    types = section_html(body, "types-of-immunotherapy")
    for words in TREATMENT_NAMES[lang]:
        assert words.lower() in types.lower(), words
    # Radioimmunotherapy is radiation carried by an antibody, not a type of
    # immunotherapy, and the page gives no count of types it would break.
    assert 'id="radioimmunotherapy"' not in body
    assert not re.search(r"\b(eight|ocho)\b", types)
    assert "bone marrow transplant" not in body and "médula ósea" not in types
    assert "BCG" in section_html(body, "how-is-immunotherapy-given")


SPANISH_ONE_WORD = ("abdomen", "estómago", "estadio", "transferencia adoptiva")


def test_spanish_uses_one_word_for_each_thing(client):
    spanish = client.get(TOPIC_URLS["es"]).get_data(as_text=True)
    for word in SPANISH_ONE_WORD:
        assert word not in spanish, word
    assert "etapa" in spanish and "dolor de vientre" in spanish
    # An acronym is spelled out in English only where the page uses it again.
    for acronym in re.findall(r"\((\w+), por sus siglas en inglés\)", spanish):
        assert spanish.count(acronym) > 1, acronym
    assert "T-VEC (por sus siglas" not in spanish
    english = client.get(TOPIC_URLS["en"]).get_data(as_text=True)
    assert "Adoptive T-cell" not in english and "stomach pain" not in english


def test_the_side_effects_section_lists_no_urgent_sign_as_a_neutral_one(client):
    body = client.get(TOPIC_URLS["en"]).get_data(as_text=True)
    general = section_html(body, "side-effects")
    assert "Other side effects can include" not in general
    assert "<li>Low blood pressure</li>" not in general
    assert "<li>Difficulty breathing</li>" not in general
    nerves = re.search(r"<li>Nerves: [^<]*</li>", body)[0]
    assert "trouble breathing" in nerves


# What a patient on a checkpoint inhibitor looks for: the organ, and the
# signs that mean a call. And how and how often treatment is given.
WARNING_SIGNS = {
    "en": (
        "Gut (colitis): belly pain, diarrhea",
        "Lungs (pneumonitis): feeling short of breath",
        "Liver (hepatitis): yellow skin or eyes",
        "Thyroid gland",
        "Adrenal glands",
        "Pituitary gland",
    ),
    "es": (
        "Intestino (colitis): dolor de vientre",
        "Pulmones (neumonitis): falta de aire",
        "Hígado (hepatitis): piel u ojos amarillentos",
        "Glándula tiroides",
        "Glándulas suprarrenales",
        "Hipófisis",
    ),
}
HOW_GIVEN = {
    "en": ("Into a vein (IV)", "pills or capsules", "Into the bladder", "every week"),
    "es": ("Por una vena", "pastillas o cápsulas", "en la vejiga", "cada semana"),
}


def section_html(body: str, section_id: str) -> str:
    """The rendered section, from its heading to the next top-level heading."""
    start = body.index(f'id="{section_id}"')
    return body[start : body.index("<h2", start + 1)]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_page_lists_the_organ_warning_signs_and_how_treatment_is_given(
    client, lang
):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    call_about = section_html(body, "side-effects")
    assert call_about.count("<li>") >= 10
    for sign in WARNING_SIGNS[lang]:
        assert f"<li>{sign}" in call_about
    how_given = section_html(body, "how-is-immunotherapy-given")
    for words in HOW_GIVEN[lang]:
        assert words in how_given


CHANGES = Path("content/CHANGES.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_sources_link_nci_pages_in_the_pages_language_or_say_so(client, lang):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    sources = links_of(body).inside("sources")
    assert len(sources) == len(TOPIC.text[lang].sources) >= 5
    assert len(TOPIC.text["en"].sources) == len(TOPIC.text["es"].sources)
    for link in sources:
        assert link["href"].startswith("https://www.cancer.gov/"), link
        spanish = link["href"].startswith("https://www.cancer.gov/espanol/")
        assert not (spanish and lang == "en"), link
        if lang == "es":
            # A Spanish page links an English page only when it says so,
            # and says "en inglés" only of an English page.
            assert spanish != ("en inglés" in link["text"]), link


# NCI's Spanish pages someone has read (content/CHANGES.md, "Spanish
# sources"), by the English page they translate.
SPANISH_TWINS_READ = {
    "https://www.cancer.gov/about-cancer/treatment/types/immunotherapy/"
    "cancer-treatment-vaccines": "https://www.cancer.gov/espanol/cancer/"
    "tratamiento/tipos/inmunoterapia/vacunas-tratamiento-contra-cancer",
    "https://www.cancer.gov/about-cancer/treatment/side-effects/"
    "organ-inflammation": "https://www.cancer.gov/espanol/cancer/"
    "tratamiento/efectos-secundarios/inflamacion-de-organos",
    "https://www.cancer.gov/publications/dictionaries/cancer-terms/def/791353": (
        "https://www.cancer.gov/espanol/publicaciones/diccionarios/"
        "diccionario-cancer/def/sindrome-de-liberacion-de-citocinas"
    ),
}


def test_each_spanish_source_is_its_english_pair_or_the_spanish_twin_read():
    pairs = zip(TOPIC.text["en"].sources, TOPIC.text["es"].sources, strict=True)
    for english, spanish in pairs:
        assert spanish.url == SPANISH_TWINS_READ.get(english.url, english.url)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_source_is_a_page_logged_as_read(lang):
    # The log names each address the page links; none is left "not read".
    assert "not read" not in CHANGES
    for source in TOPIC.text[lang].sources:
        assert source.url in CHANGES, source.url


def test_misleading_source_statements_are_gone(client):
    english = client.get(TOPIC_URLS["en"]).get_data(as_text=True)
    for phrase in (
        "does not recognize cancer",
        "directly from the tumor",
        "made from cells that have been modified",
        "Signs can include",
        # The seven issue 14 named: none has an NCI page behind it.
        "allergens",
        "common treatment for",
        "mark it as cancerous",
        "Rebuild the immune system",
        "find its targets",
        "lower doses",
        "HPV",
        "usually your own",
    ):
        assert phrase not in english
    assert "blood or from your tumor" in english
    assert "infects and kills cancer cells" in english
    assert "not yet used as often as surgery, chemotherapy, or radiation" in english
    assert "may kill cancer cells that are left after the transplant" in english
    assert "dendritic cells" in english
    assert "you may get chemotherapy, and maybe radiation therapy" in english
    assert "As a shot (injection) under the skin" in english
    spanish = client.get(TOPIC_URLS["es"]).get_data(as_text=True)
    for phrase in (
        "no reconoce el cáncer",
        "alérgenos",
        "marcan esa célula como cancerosa",
        "se multiplican",
        "encuentre sus objetivos",
        "se enfoca en las señales",
        "donde entró la aguja",
        "para que sepan",
        "(LIT)",
        "VPH",
    ):
        assert phrase not in spanish
    assert "Infusión de linfocitos de un donante" in spanish
    assert "se cultivan hasta obtener grandes cantidades" in spanish
    assert "Hipófisis o glándula pituitaria" in spanish
    assert "Con una inyección debajo de la piel" in spanish


@pytest.mark.parametrize("lang", ["en", "es"])
def test_pages_say_last_updated_and_claim_no_review_without_a_reviewer(client, lang):
    # The date each YAML file gives as its last edit.
    pages = ((TOPIC_URLS[lang], TOPIC), (PRIVACY_URLS[lang], CONTENT.pages["privacy"]))
    for url, page in pages:
        date = page.updated.isoformat()
        body = client.get(url).get_data(as_text=True)
        updated = {"en": "Last updated", "es": "Actualizado el"}[lang]
        assert f'{updated} <time datetime="{date}">' in body
        assert "Medically reviewed" not in body and "Revisión médica" not in body
        assert "Last reviewed" not in body
        data = json_ld(body)
        assert "lastReviewed" not in data and "reviewedBy" not in data
        assert data["dateModified"] == date


@pytest.fixture
def reviewed_content(content_copy: Path) -> Path:
    """The real content with a (fictional, test-only) reviewer filled in."""

    def add_review(data):
        data["review"] = {
            "name": "Ana Example",
            "credentials": "MD",
            "date": datetime.date(2026, 12, 1),
        }

    edit_yaml(content_copy / "pages" / "immunotherapy.yaml", add_review)
    return content_copy


@pytest.mark.parametrize(
    ("lang", "line"),
    [
        ("en", "Medically reviewed by Ana Example, MD on December 1, 2026"),
        ("es", "Revisión médica a cargo de Ana Example, MD, el 1 de diciembre de 2026"),
    ],
)
def test_a_named_reviewer_is_shown_and_in_the_json_ld(
    app_config, reviewed_content, lang, line
):
    client = client_for(app_config, reviewed_content)
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    assert line in body
    data = json_ld(body)
    assert data["lastReviewed"] == "2026-12-01"
    assert data["reviewedBy"] == {"@type": "Person", "name": "Ana Example"}
    # The review is the topic page's; the privacy page still claims none.
    privacy = client.get(PRIVACY_URLS[lang]).get_data(as_text=True)
    assert "Ana Example" not in privacy


@pytest.mark.parametrize("lang", ["en", "es"])
def test_privacy_page_shows_its_effective_date(client, lang):
    body = client.get(PRIVACY_URLS[lang]).get_data(as_text=True)
    label = {"en": "Effective date:", "es": "Fecha de vigencia:"}[lang]
    effective = CONTENT.pages["privacy"].effective.isoformat()
    assert f'{label} <time datetime="{effective}">' in body
    topic = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    assert label not in topic


@pytest.mark.parametrize("lang", ["en", "es"])
def test_no_notice_of_privacy_practices_link_until_the_clinic_gives_one(client, lang):
    for url in (PRIVACY_URLS[lang], TOPIC_URLS[lang]):
        body = client.get(url).get_data(as_text=True)
        # The privacy text names the Notice; nothing links one that is unknown.
        names = ("Notice of Privacy Practices", "Aviso de Prácticas de Privacidad")
        texts = [link["text"] for link in links_of(body).links]
        assert not [text for text in texts if any(name in text for name in names)]
        assert "practices-notice" not in body


@pytest.fixture
def npp_content(content_copy: Path) -> Path:
    edit_yaml(
        content_copy / "site.yaml",
        lambda data: data.update(privacy_practices_url=NPP, phone="+1 559 555 0100"),
    )
    return content_copy


@pytest.mark.parametrize("lang", ["en", "es"])
def test_notice_of_privacy_practices_is_linked_when_configured(
    app_config, npp_content, lang
):
    client = client_for(app_config, npp_content)
    link_text = {
        "en": "Read the Notice of Privacy Practices",
        "es": "Lea el Aviso de Prácticas de Privacidad",
    }[lang]
    privacy = links_of(client.get(PRIVACY_URLS[lang]).get_data(as_text=True))
    main_links = [link for link in privacy.links if "site-footer" not in link["inside"]]
    assert {"href": NPP[lang], "text": link_text} in [
        {"href": link["href"], "text": link["text"]} for link in main_links
    ]
    footer_name = {
        "en": "Notice of Privacy Practices",
        "es": "Aviso de Prácticas de Privacidad",
    }
    for url in (TOPIC_URLS[lang], PRIVACY_URLS[lang], f"/{lang}/no-such-page"):
        footer = links_of(client.get(url).get_data(as_text=True)).inside("site-footer")
        assert {"href": NPP[lang], "text": footer_name[lang]} in [
            {"href": link["href"], "text": link["text"]} for link in footer
        ], url


@pytest.mark.parametrize("lang", ["en", "es"])
def test_header_has_a_tap_to_call_link_when_the_clinic_has_a_phone(
    app_config, npp_content, lang
):
    client = client_for(app_config, npp_content)
    call = {"en": "Call (559) 555-0100", "es": "Llame al (559) 555-0100"}[lang]
    form = {"en": "/en/request-appointment", "es": "/es/solicitar-cita"}[lang]
    for url in (TOPIC_URLS[lang], PRIVACY_URLS[lang], form):
        header = links_of(client.get(url).get_data(as_text=True)).inside("site-header")
        phones = [link for link in header if link["href"].startswith("tel:")]
        assert [(p["href"], p["text"]) for p in phones] == [("tel:+15595550100", call)]


def test_no_phone_link_in_the_header_without_a_phone(client):
    for url in (*TOPIC_URLS.values(), *PRIVACY_URLS.values()):
        header = links_of(client.get(url).get_data(as_text=True)).inside("site-header")
        assert not [link for link in header if link["href"].startswith("tel:")]


def _english_sentences(page) -> list[str]:
    """The English page's own words, long enough to be unambiguous."""
    text = page.text["en"]
    pieces = [text.title, text.description, *text.lead]
    for section in text.sections:
        for part in (section, *section.sections):
            pieces.append(part.heading)
            for block in part.body:
                if isinstance(block, Alert):
                    pieces.append(block.title)
                pieces += block.items if isinstance(block, BulletList) else [block]
    pieces += [source.title for source in text.sources]
    return [piece for piece in pieces if len(piece) > 12]


@pytest.mark.parametrize("page_id", ["immunotherapy", "privacy"])
def test_spanish_pages_show_none_of_the_english_text(client, page_id):
    page = CONTENT.pages[page_id]
    body = client.get(f"/es/{page.slugs['es']}").get_data(as_text=True)
    found = [piece for piece in _english_sentences(page) if piece in body]
    assert not found, f"English on the Spanish page: {found}"
    for word in ("Last updated", "Sources", "On this page", "Effective date"):
        assert word not in body


@pytest.mark.parametrize(("lang", "words"), [("en", "T cells"), ("es", "células T")])
def test_t_stays_with_its_word_in_the_content(client, lang, words):
    body = client.get(TOPIC_URLS[lang]).get_data(as_text=True)
    glued = words.replace(" ", "\u00a0")
    assert glued in body
    assert words not in body, f"{words!r} with a breaking space"


def test_nginx_error_pages_give_the_phone_in_each_language(app_config, npp_content):
    client = client_for(app_config, npp_content)
    page = client.get("/errors/502.html").get_data(as_text=True)
    sections = sections_by_language(page)
    assert "You can also call us at (559) 555-0100." in sections["en"]
    assert "También puede llamarnos al (559) 555-0100." in sections["es"]
