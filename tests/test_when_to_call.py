"""Where a page tells a reader to call, it gives the number: 911, or the
clinic's phone once site.yaml sets it. The form is not the way to report a
symptom, and it says so where a patient in treatment would reach for it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from helpers import edit_site

from app import create_app

PHONE = "+1 559 555 0100"
PHONE_SHOWN = "(559) 555-0100"
PAGES = {
    "en": (
        "/en/immunotherapy",
        "/en/request-appointment",
        "/en/request-appointment/received",
    ),
    "es": ("/es/inmunoterapia", "/es/solicitar-cita", "/es/solicitar-cita/recibida"),
}
# A sentence that asks the reader to call: it starts with the verb, or asks
# them to call us.
CALL = {
    "en": re.compile(r"^(?:\W*)Call\b|\bcall us\b", re.I),
    "es": re.compile(r"^(?:\W*)(?:Llame|Llámenos)\b|\bllamarnos\b|\bllámenos\b", re.I),
}
NUMBER = re.compile(r"911|\(\d{3}\) \d{3}-\d{4}")


class Blocks(HTMLParser):
    """The text of each paragraph, list item and heading; an alert box is one
    block (its title, list and phone line are read together)."""

    BLOCK_TAGS = {"p", "li", "h1", "h2", "h3", "a", "label", "legend"}

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._stack: list[list[str]] = []
        self._alert_depth = 0
        self._div_depth = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div":
            self._div_depth += 1
            if "alert" in classes and not self._alert_depth:
                self._alert_depth = self._div_depth
                self._stack.append([])
        elif tag in self.BLOCK_TAGS and not self._alert_depth:
            self._stack.append([])

    def handle_data(self, data):
        for text in self._stack:
            text.append(data)

    def handle_endtag(self, tag):
        if tag == "div":
            if self._alert_depth == self._div_depth:
                self._alert_depth = 0
                self._close()
            self._div_depth -= 1
        elif tag in self.BLOCK_TAGS and not self._alert_depth and self._stack:
            self._close()

    def _close(self):
        self.blocks.append(" ".join("".join(self._stack.pop()).split()))


def call_sentences_without_a_number(body: str, lang: str) -> list[str]:
    parser = Blocks()
    parser.feed(body)
    missing = []
    for block in parser.blocks:
        sentences = re.split(r"(?<=[.?!:])\s+", block)
        if any(CALL[lang].search(s) for s in sentences) and not NUMBER.search(block):
            missing.append(block)
    return missing


@pytest.fixture
def phone_client(app_config, content_copy):
    app_config["CONTENT_DIR"] = str(edit_site(content_copy, phone=PHONE))
    return create_app(app_config).test_client()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_call_sentence_gives_the_clinics_number_once_it_is_set(
    phone_client, lang
):
    for url in PAGES[lang]:
        body = phone_client.get(url).get_data(as_text=True)
        assert call_sentences_without_a_number(body, lang) == [], url


@pytest.mark.parametrize("lang", ["en", "es"])
def test_without_a_phone_the_check_finds_the_care_team_call(client, lang):
    # The control: with no number to give, the care-team box has none, and
    # the check above sees it (so it can fail).
    body = client.get(PAGES[lang][0]).get_data(as_text=True)
    missing = call_sentences_without_a_number(body, lang)
    assert any("alert" in body and ("care team" in m or "equipo" in m) for m in missing)


NOT_FOR_SYMPTOMS = {
    "en": "If you are being treated and have a new symptom, do not use this form.",
    "es": "Si está en tratamiento y tiene un síntoma nuevo, no use este formulario.",
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_form_says_it_is_not_for_symptoms_at_its_top_and_in_the_invitation(
    phone_client, lang
):
    topic, form, _ = PAGES[lang]
    page = phone_client.get(form).get_data(as_text=True)
    notice = page.index(NOT_FOR_SYMPTOMS[lang])
    assert page.index("<h1") < notice < page.index("<form")
    assert PHONE_SHOWN in page[notice : page.index("</p>", notice)]
    topic_page = phone_client.get(topic).get_data(as_text=True)
    invitation = topic_page[topic_page.index('aria-labelledby="cta-title"') :]
    assert NOT_FOR_SYMPTOMS[lang] in invitation
    assert invitation.index(NOT_FOR_SYMPTOMS[lang]) < invitation.index('class="button"')


WARNING = {
    "en": "Email and text messages are not always private",
    "es": "El correo electrónico y los mensajes de texto no siempre son privados",
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_email_and_text_warning_sits_with_the_contact_question(client, lang):
    page = client.get(PAGES[lang][1]).get_data(as_text=True)
    fieldset = re.search(
        r'<fieldset class="choices" aria-describedby="contact_method-note[^"]*">'
        r"(.*?)</fieldset>",
        page,
        re.S,
    )
    assert fieldset, "the contact question does not point at its warning"
    note = re.search(
        r'<p class="hint" id="contact_method-note">([^<]*)</p>', fieldset[1]
    )
    assert note and note[1].startswith(WARNING[lang])


PROMISES_IT_CANNOT_KEEP = {
    "en": (
        "used only so that",
        "We only use your answers",
        "does not use services from other companies",
    ),
    "es": (
        "se usan solo para",
        "Solo usamos sus respuestas",
        "No usa servicios de otras empresas",
    ),
}
WHAT_A_PRACTICE_CAN_SAY = {
    "en": (
        "Notice of Privacy Practices",
        "mailbox provider",
        "other companies, not the clinic",
    ),
    "es": (
        "Aviso de Prácticas de Privacidad",
        "proveedor del buzón",
        "otras empresas y no la clínica",
    ),
}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_privacy_text_defers_to_the_notice_and_names_the_mail_companies(client, lang):
    privacy = client.get({"en": "/en/privacy", "es": "/es/privacidad"}[lang])
    form = client.get(PAGES[lang][1])
    text = privacy.get_data(as_text=True) + form.get_data(as_text=True)
    for words in PROMISES_IT_CANNOT_KEEP[lang]:
        assert words not in text
    for words in WHAT_A_PRACTICE_CAN_SAY[lang]:
        assert words in privacy.get_data(as_text=True)
