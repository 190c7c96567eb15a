"""The appointment form, through real HTTP, to a real SMTP server."""

from __future__ import annotations

import html
import re

import pytest
import requests
from helpers import FORM_PATHS
from helpers import csrf_token
from helpers import submit
from helpers import wait_until


def outbox_status(app):
    return app.extensions["outbox"].status()


def text_part(received) -> str:
    return received.message.get_body(preferencelist=("plain",)).get_content()


def html_part(received) -> str:
    return received.message.get_body(preferencelist=("html",)).get_content()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_full_request_reaches_the_inbox_with_every_field(
    app, server_url, smtp_server, lang
):
    response = submit(
        server_url,
        lang,
        language="es",
        contact_method="text",
        best_time="afternoon",
        interpreter="y",
        requester="family",
        patient_status="returning",
        reason="immunotherapy_questions",
    )
    assert response.status_code == 303
    received_path = {
        "en": "/en/request-appointment/received",
        "es": "/es/solicitar-cita/recibida",
    }[lang]
    assert response.headers["Location"] == received_path

    [mail] = smtp_server.handler.wait_for(1)
    assert mail.rcpt_tos == ["appointments@clinic.example"]
    assert mail.mail_from == "website@clinic.example"
    message = mail.message
    reference = re.search(
        r"Appointment request ([A-Z0-9]{3}-[A-Z0-9]{3})", message["Subject"]
    )
    assert reference, message["Subject"]
    assert message["Subject"].endswith("[Spanish]")
    assert message["From"] == "Website <website@clinic.example>"
    assert message["To"] == "appointments@clinic.example"
    assert message["Reply-To"] == "maria@example.com"
    assert message["Message-ID"]
    text = text_part(mail)
    # In English for staff, whatever the page language; every field labelled.
    for line in (
        "Patient name: Maria Lopez",
        "Phone: (559) 555-0123 (+15595550123)",
        "Email: maria@example.com",
        "Preferred contact: Text message",
        "Best time to reach: Afternoon",
        "Language for the call: Spanish",
        "Interpreter needed: Yes",
        "Request is for: A family member or friend",
        "New or returning: Returning patient",
        "Reason: Questions about immunotherapy",
        "Referring doctor: Dr. Smith",
        f"Form language: {'Spanish' if lang == 'es' else 'English'}",
        "Mornings before 10 are best.",
    ):
        assert line in text, line
    assert "Questions about immunotherapy" in html_part(mail)
    # Staff read the time in the clinic's own zone.
    assert re.search(r"Received \w+day, \w+ \d+, \d{4}, \d+:\d\d [AP]M P[SD]T", text)

    page = requests.get(
        server_url + received_path, cookies=response.cookies, timeout=10
    )
    assert reference.group(1) in page.text
    assert "Maria" not in page.text and "555" not in page.text
    assert "no-store" in page.headers["Cache-Control"]
    assert wait_until(lambda: outbox_status(app).queued == 0)


def test_non_ascii_names_survive_the_round_trip(server_url, smtp_server):
    submit(server_url, "es", first_name="José", last_name="Núñez", language="es")
    [mail] = smtp_server.handler.wait_for(1)
    assert "Patient name: José Núñez" in text_part(mail)
    assert "José Núñez" in html_part(mail)
    assert "José Núñez" in mail.message.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "Eve\r\nBcc: x@example.com"),
        ("last_name", "Eve\nBcc: x@example.com"),
        ("email", "eve@example.com\r\nBcc: x@example.com"),
        ("phone", "5595550123\r\nBcc: x@example.com"),
        ("first_name", "Eve\x00"),
    ],
)
def test_header_injection_is_a_form_error_and_sends_nothing(
    app, server_url, smtp_server, field, value
):
    response = submit(server_url, **{field: value})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert f'href="#{field}"' in response.text
    # A good request afterwards still goes only to the inbox.
    assert submit(server_url).status_code == 303
    received = smtp_server.handler.wait_for(1)
    assert [mail.rcpt_tos for mail in received] == [["appointments@clinic.example"]]
    assert "x@example.com" not in received[0].raw.decode("utf-8", "replace")
    assert wait_until(lambda: outbox_status(app).queued == 0)


def test_empty_form_lists_every_error_and_keeps_focus_order(server_url):
    session = requests.Session()
    page = session.get(server_url + FORM_PATHS["en"], timeout=10)
    response = session.post(
        server_url + FORM_PATHS["en"],
        data={"csrf_token": csrf_token(page.text)},
        timeout=10,
    )
    assert response.status_code == 422
    body = response.text
    summary = body[
        body.index('class="error-summary"') : body.index(
            "</div>", body.index('class="error-summary"')
        )
    ]
    for target in (
        "first_name",
        "last_name",
        "phone",
        "contact_method-0",
        "best_time-0",
        "language-0",
        "requester-0",
        "patient_status-0",
        "reason-0",
        "consent",
    ):
        assert f'href="#{target}"' in summary, target
        assert f'id="{target}"' in body
    assert "Enter the patient’s first name." in summary
    assert 'aria-describedby="first_name-error"' in body
    assert "<title>Error:" in body


def test_errors_are_in_the_pages_language(server_url):
    response = submit(server_url, "es", first_name="", phone="12", consent=None)
    assert response.status_code == 422
    text = html.unescape(response.text)
    assert "Escriba el nombre de la persona que necesita la cita." in text
    assert "Escriba un número de teléfono" in text
    assert "Hay un problema" in text
    assert "Enter" not in text


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"first_name": "x" * 101}, "first_name"),
        ({"message": "x" * 1001}, "message"),
        ({"contact_method": "carrier-pigeon"}, "contact_method-0"),
        ({"reason": ""}, "reason-0"),
        ({"language": "fr"}, "language-0"),
        ({"language": "other", "other_language": ""}, "other_language"),
        ({"contact_method": "email", "email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "555"}, "phone"),
        ({"message": "hi\x1b[31m"}, "message"),
    ],
)
def test_bad_input_gets_a_message_next_to_its_field(server_url, answers, field):
    response = submit(server_url, **answers)
    assert response.status_code == 422
    assert f'href="#{field}"' in response.text


def test_what_the_patient_typed_is_kept_on_error(server_url):
    response = submit(
        server_url, first_name="Ana", last_name="", message="Call after 3"
    )
    assert 'value="Ana"' in response.text
    assert "Call after 3</textarea>" in response.text
    assert 'value="second_opinion" checked' in response.text


@pytest.mark.parametrize("lang", ["en", "es"])
def test_preferred_language_defaults_to_the_pages(server_url, lang):
    page = requests.get(server_url + FORM_PATHS[lang], timeout=10).text
    assert f'value="{lang}" checked' in page
    assert (
        "no-store"
        in requests.get(server_url + FORM_PATHS[lang], timeout=10).headers[
            "Cache-Control"
        ]
    )


def test_missing_or_expired_token_keeps_the_typed_data(app, server_url, smtp_server):
    response = requests.post(
        server_url + FORM_PATHS["es"],
        data={"first_name": "Lucía", "phone": "5595550123", "message": "hola"},
        timeout=10,
    )
    assert response.status_code == 400
    text = html.unescape(response.text)
    assert 'value="Lucía"' in text
    assert "hola</textarea>" in text
    assert "vuelva a enviar" in text  # the Spanish notice, in the error summary
    assert 'name="csrf_token"' in text  # a fresh token to send it again
    assert wait_until(lambda: outbox_status(app).queued == 0)
    assert smtp_server.received == []


def test_honeypot_gets_a_neutral_answer_and_nothing_is_stored(
    app, server_url, smtp_server
):
    response = submit(server_url, website="http://spam.example")
    assert response.status_code == 303
    assert wait_until(lambda: outbox_status(app).queued == 0)
    assert smtp_server.handler.wait_for(1, timeout=1) == []


@pytest.fixture
def limited_config(app_config):
    app_config.update(RATELIMIT_ENABLED=True, APPOINTMENT_RATE_LIMIT="2 per minute")
    return app_config


def test_rate_limit_answers_429_in_the_visitors_language(limited_config, server_url):
    session = requests.Session()
    statuses = [
        submit(server_url, "es", session=session, first_name="").status_code
        for _ in range(3)
    ]
    assert statuses == [422, 422, 429]
    page = session.post(server_url + FORM_PATHS["es"], data={}, timeout=10)
    assert page.status_code == 429
    assert "Demasiadas solicitudes" in page.text
    # Reading the form is not limited.
    assert session.get(server_url + FORM_PATHS["es"], timeout=10).status_code == 200


def test_an_unticked_consent_is_refused_whatever_the_browser_sends(server_url):
    for value in ("false", "off", "0", ""):
        response = submit(server_url, consent=value)
        assert response.status_code == 422, value
        assert 'href="#consent"' in response.text


def test_accents_before_the_at_are_refused_and_accented_domains_kept_replyable(
    server_url, smtp_server
):
    refused = submit(server_url, "es", email="josé@example.com")
    assert refused.status_code == 422
    assert 'href="#email"' in refused.text
    assert submit(server_url, email="jose@exámple.com").status_code == 303
    [mail] = smtp_server.handler.wait_for(1)
    assert mail.message["Reply-To"] == "jose@xn--exmple-qta.com"


@pytest.mark.parametrize(
    "body", ["[1, 2]", '"x"', "{", '{"first_name": 5}', '{"consent": [1]}', "null"]
)
@pytest.mark.parametrize("with_token", [False, True])
def test_a_json_body_gets_the_form_back_never_a_500(server_url, body, with_token):
    session = requests.Session()
    page = session.get(server_url + FORM_PATHS["en"], timeout=10)
    headers = {"Content-Type": "application/json"}
    if with_token:
        headers["X-CSRFToken"] = csrf_token(page.text)
    response = session.post(
        server_url + FORM_PATHS["en"], data=body, headers=headers, timeout=10
    )
    assert response.status_code in (400, 422)
    assert "There is a problem" in response.text


def test_a_browser_that_sends_no_referer_over_https_is_told_why(app):
    client = app.test_client()
    https = "https://clinic.example"
    page = client.get("/es/solicitar-cita", base_url=https).get_data(as_text=True)
    response = client.post(
        "/es/solicitar-cita",
        base_url=https,
        data={"first_name": "Ana", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 400
    text = html.unescape(response.get_data(as_text=True))
    assert "Su navegador no nos indicó" in text
    assert 'value="Ana"' in text
