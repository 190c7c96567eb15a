"""Issue 17.5: the received page follows the contact method the patient chose,
and without a request just sent it leads to the form."""

from __future__ import annotations

import html

import pytest
from helpers import CLINIC_PHONE
from helpers import FORM_PATHS
from helpers import VALID_ANSWERS
from helpers import csrf_token
from helpers import edit_site

RECEIVED = {
    "en": "/en/request-appointment/received",
    "es": "/es/solicitar-cita/recibida",
}

# What the page promises for each choice, in each language.
PROMISES = {
    ("call", "en"): "Someone from the clinic will call you",
    ("text", "en"): "Someone from the clinic will send you a text message",
    ("email", "en"): "Someone from the clinic will email you",
    ("call", "es"): "Alguien de la clínica le llamará",
    ("text", "es"): "Alguien de la clínica le enviará un mensaje de texto",
    ("email", "es"): "Alguien de la clínica le enviará un correo electrónico",
}
WHEN_WE_CALL = {
    "en": "Have your reference ready when we call.",
    "es": "Tenga a la mano su código de referencia para cuando le llamemos.",
}


def send(client, lang: str, **answers) -> str:
    """Send the form as a browser would; the received page it leads to."""
    page = client.get(FORM_PATHS[lang]).get_data(as_text=True)
    data = {**VALID_ANSWERS, **answers, "csrf_token": csrf_token(page)}
    response = client.post(FORM_PATHS[lang], data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == RECEIVED[lang]
    received = client.get(RECEIVED[lang])
    assert received.status_code == 200
    return html.unescape(received.get_data(as_text=True).split("<main", 1)[1])


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("method", ["call", "text", "email"])
def test_the_received_page_speaks_of_the_chosen_contact_method(client, method, lang):
    page = send(client, lang, contact_method=method)
    assert PROMISES[(method, lang)] in page
    for other in {"call", "text", "email"} - {method}:
        assert PROMISES[(other, lang)] not in page
    # "When we call" only when we will call.
    assert (WHEN_WE_CALL[lang] in page) == (method == "call")


@pytest.fixture
def clinic_details(app_config, content_copy):
    edit_site(
        content_copy,
        phone=CLINIC_PHONE,
        response_time={
            "en": "We reply within one business day.",
            "es": "Le respondemos en un plazo de un día hábil.",
        },
    )
    app_config["CONTENT_DIR"] = str(content_copy)
    return app_config


def test_a_text_reply_comes_with_the_response_time_and_phone(clinic_details, client):
    page = send(client, "en", contact_method="text")
    promise = page[page.index(PROMISES[("text", "en")]) :].split("</li>", 1)[0]
    assert "We reply within one business day." in promise
    assert '<a href="tel:+15595550100">(559) 555-0100</a>' in page


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_received_page_without_a_request_leads_to_the_form(client, lang):
    response = client.get(RECEIVED[lang])
    assert response.status_code == 303
    assert response.headers["Location"] == FORM_PATHS[lang]
    assert "no-store" in response.headers["Cache-Control"]


def test_a_bot_caught_by_the_honeypot_still_sees_received(client):
    # The form's hidden trap field (AppointmentForm.leave_blank).
    page = send(client, "en", leave_blank="http://spam.example")
    assert PROMISES[("call", "en")] in page
    assert 'class="reference"' not in page


def test_the_received_page_offers_the_wallet_card(client):
    page = send(client, "en")
    assert 'href="/en/wallet-card"' in page
