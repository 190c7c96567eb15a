"""The appointment form, through real HTTP, to a real SMTP server."""

from __future__ import annotations

import html
import logging
import re
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from flask_babel import force_locale
from helpers import EMAIL_SUBJECT
from helpers import FORM_PATHS
from helpers import STORED_ANSWERS
from helpers import VALID_ANSWERS
from helpers import csrf_token
from helpers import edit_site
from helpers import hidden_inputs
from helpers import post_form
from helpers import submit
from helpers import wait_until
from wtforms import RadioField

from app import create_app
from app.appointments import delivery
from app.appointments import fields
from app.appointments.clinic_email import for_staff
from app.appointments.forms import AppointmentForm


def outbox_status(app):
    return app.extensions["outbox"].status()


def text_part(received) -> str:
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    return text.replace("\r\n", "\n")


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
        interpreter="both",
        requester="family",
        requester_name="Ana Lopez",
        relationship="Daughter",
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
    assert message["Subject"].endswith(
        "[Spanish] [Interpreter for the call and the visit: Spanish]"
    )
    assert message["From"] == "Website <website@clinic.example>"
    assert message["To"] == "appointments@clinic.example"
    assert message["Reply-To"] == "maria@example.com"
    assert message["Message-ID"]
    text = text_part(mail)
    # In English for staff, whatever the page language; every field labelled.
    for line in (
        "Patient name: Maria Lopez",
        # The person to call, in a block of their own: not the patient.
        "PERSON TO CALL\nName: Ana Lopez\nRelationship to the patient: Daughter",
        # Whose number it is: the receptionist knows who will answer.
        "Phone: (559) 555-0123",
        "Email: maria@example.com",
        "Preferred contact: Text message",
        "Best time to reach: Afternoon",
        "Language for the call: Spanish",
        "Interpreter: Yes, Spanish, for the call and the visit",
        "Date of birth: —",
        "New or returning: Returning patient",
        "Reason: Questions about immunotherapy",
        "Referring doctor: Dr. Smith",
        f"Form language: {'Spanish' if lang == 'es' else 'English'}",
        "> Mornings before 10 are best.",
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


def test_the_trap_field_gets_a_neutral_answer_a_log_line_and_a_count(
    app, server_url, smtp_server, caplog
):
    caplog.set_level(logging.INFO)
    response = submit(server_url, leave_blank="http://spam.example")
    assert response.status_code == 303
    assert wait_until(lambda: outbox_status(app).queued == 0)
    assert smtp_server.handler.wait_for(1, timeout=1) == []
    [line] = [r.getMessage() for r in caplog.records if "trap" in r.getMessage()]
    assert "nothing stored" in line
    for answer in ("Maria", "Lopez", "555", "spam.example", "maria@"):
        assert answer not in caplog.text
    # The monitor sees it: /healthz/delivery counts trap hits (and stays 200).
    health = requests.get(server_url + "/healthz/delivery", timeout=10)
    assert health.status_code == 200
    assert health.json()["trap_hits"] == 1
    submit(server_url, leave_blank="x")
    assert (
        requests.get(server_url + "/healthz/delivery", timeout=10).json()["trap_hits"]
        == 2
    )
    # Neutral: the same answer a stored request gets, header for header.
    stored = submit(server_url)
    for header in ("Location", "Cache-Control"):
        assert response.headers.get(header) == stored.headers.get(header), header


def test_no_person_can_reach_the_trap_field(client):
    """Hidden without the stylesheet (``hidden``), out of focus and autofill
    (``inert``, tabindex -1, autocomplete off), and not announced."""
    body = client.get(FORM_PATHS["en"]).get_data(as_text=True)
    container = re.search(r'<div class="hp"([^>]*)>(.*?)</div>', body, re.S)
    assert container, "the trap field's container"
    attributes, inside = container.groups()
    for attribute in (" hidden", " inert", 'aria-hidden="true"'):
        assert attribute in attributes, attribute
    [field] = re.findall(r"<input[^>]*>", inside)
    assert 'tabindex="-1"' in field and 'autocomplete="off"' in field
    # No word an autofill rule looks for (name, email, phone, url, address...).
    name = re.search(r'name="([^"]+)"', field).group(1)
    for word in ("name", "mail", "phone", "tel", "url", "web", "site", "address"):
        assert word not in name.lower(), word


@pytest.fixture
def limited_config(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True,
        APPOINTMENT_RATE_LIMIT="2 per minute",
        APPOINTMENT_FLOOD_LIMIT="50 per minute",
    )
    return app_config


def test_only_accepted_requests_count_toward_the_limit(limited_config, server_url):
    session = requests.Session()
    statuses = [
        submit(server_url, "es", session=session, first_name="").status_code
        for _ in range(8)
    ]
    assert statuses == [422] * 8
    assert submit(server_url, "es", session=session).status_code == 303
    assert submit(server_url, "es", session=session).status_code == 303
    # The third accepted request in the minute is one too many: the form
    # comes back with the answers and says why, in the page's language.
    page = submit(
        server_url, "es", session=session, first_name="Lucía", message="Por la tarde"
    )
    assert page.status_code == 429
    assert page.headers["Retry-After"] == "60"
    assert "no-store" in page.headers["Cache-Control"]
    text = html.unescape(page.text)
    assert "Recibimos este formulario desde su conexión muchas veces" in text
    assert 'value="Lucía"' in text and "Por la tarde</textarea>" in text
    assert 'value="second_opinion" checked' in text
    assert 'name="csrf_token"' in text
    # Reading the form is not limited.
    assert session.get(server_url + FORM_PATHS["es"], timeout=10).status_code == 200


def test_a_flood_of_posts_is_stopped_even_when_none_is_accepted(app_config):
    app_config["RATELIMIT_ENABLED"] = True
    assert "APPOINTMENT_FLOOD_LIMIT" not in app_config, "the default is under test"
    client = create_app(app_config).test_client()
    statuses = [client.post(FORM_PATHS["en"], data={}).status_code for _ in range(21)]
    assert statuses == [400] * 20 + [429]
    page = client.post(FORM_PATHS["en"], data={"first_name": "Ana"})
    assert page.status_code == 429
    assert 'value="Ana"' in page.get_data(as_text=True)


def test_the_production_default_limit_allows_five_requests_a_minute(app_config):
    app_config["RATELIMIT_ENABLED"] = True
    assert "APPOINTMENT_RATE_LIMIT" not in app_config
    client = create_app(app_config).test_client()
    corrections = [post_form(client, first_name="").status_code for _ in range(8)]
    assert corrections == [422] * 8
    accepted = [post_form(client).status_code for _ in range(6)]
    assert accepted == [303] * 5 + [429]


def test_the_limit_applies_per_client(app_config):
    app_config.update(RATELIMIT_ENABLED=True, APPOINTMENT_RATE_LIMIT="1 per minute")
    app = create_app(app_config)
    first = app.test_client()
    first.environ_base["REMOTE_ADDR"] = "198.51.100.1"
    second = app.test_client()
    second.environ_base["REMOTE_ADDR"] = "198.51.100.2"
    assert post_form(first).status_code == 303
    assert post_form(first).status_code == 429
    assert post_form(second).status_code == 303


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


# --- Who is asking, the date of birth and the interpreter (issue 10) ---


def mail_text(smtp_server) -> tuple[str, str, str]:
    """The one email's subject, plain text and HTML."""
    [mail] = smtp_server.handler.wait_for(1)
    return mail.message["Subject"], text_part(mail), html_part(mail)


def test_a_request_for_a_relative_names_who_asks_and_flags_the_interpreter(
    server_url, smtp_server
):
    response = submit(
        server_url,
        requester="family",
        requester_name="Mai Vang",
        relationship="Daughter",
        language="other",
        other_language="Hmong",
        **{"date_of_birth-month": "3", "date_of_birth-day": "27"},
        **{"date_of_birth-year": "1958"},
    )
    assert response.status_code == 303
    subject, text, html_body = mail_text(smtp_server)
    assert subject.endswith("[Interpreter for the call: Hmong]"), subject
    assert "[Spanish]" not in subject
    for line in (
        "Patient name: Maria Lopez",
        "Date of birth: March 27, 1958",
        "Name: Mai Vang\nRelationship to the patient: Daughter",
        "Phone: (559) 555-0123",
        "Language for the call: Another language: Hmong",
        "Interpreter: Yes, Hmong, for the call",
    ):
        assert line in text, line
    assert "office" not in text
    for value in ("Mai Vang", "Daughter", "March 27, 1958", "Hmong"):
        assert value in html_body, value


def test_a_request_from_a_doctors_office_names_the_office(server_url, smtp_server):
    response = submit(
        server_url,
        "es",
        requester="office",
        office_name="Valley Family Medicine",
        language="es",
        **{"date_of_birth-month": "12", "date_of_birth-day": "1"},
        **{"date_of_birth-year": "1970"},
    )
    assert response.status_code == 303
    subject, text, html_body = mail_text(smtp_server)
    assert subject.endswith("[Spanish]"), subject
    assert "Interpreter:" not in subject
    for line in (
        "Name: Valley Family Medicine\n"
        "Relationship to the patient: the patient’s doctor’s office",
        "Phone: (559) 555-0123",
        "Date of birth: December 1, 1970",
    ):
        assert line in text, line
    assert "family" not in text
    assert "Valley Family Medicine" in html_body


@pytest.mark.parametrize(
    ("answers", "flags"),
    [
        ({"language": "en"}, ""),
        ({"language": "en", "interpreter": "visit"}, " [Interpreter for the visit]"),
        (
            {"language": "en", "interpreter": "call"},
            " [Interpreter for the call]",
        ),
        ({"language": "en", "interpreter": "no"}, ""),
        ({"language": "es"}, " [Spanish]"),
        (
            {"language": "es", "interpreter": "both"},
            " [Spanish] [Interpreter for the call and the visit: Spanish]",
        ),
        (
            {"language": "other", "other_language": "Mixteco"},
            " [Interpreter for the call: Mixteco]",
        ),
        # As the clinic's list in content/site.yaml writes it, however typed.
        (
            {"language": "other", "other_language": " hmoob. "},
            " [Interpreter for the call: Hmong]",
        ),
        (
            {"language": "other", "other_language": "ਪੰਜਾਬੀ"},
            " [Interpreter for the call: Punjabi]",
        ),
        (
            {"language": "other", "other_language": "Español"},
            " [Interpreter for the call: Spanish]",
        ),
        (
            {"language": "other", "other_language": "Klingon"},
            " [Interpreter for the call: other]",
        ),
    ],
)
def test_the_subject_flags_only_what_was_chosen(
    server_url, smtp_server, answers, flags
):
    assert submit(server_url, **answers).status_code == 303
    subject, _, _ = mail_text(smtp_server)
    assert re.fullmatch(
        r"Appointment request [A-Z0-9]{3}-[A-Z0-9]{3}", subject.removesuffix(flags)
    ), subject
    assert subject.endswith(flags) if flags else "[" not in subject


def test_no_reply_to_without_an_email_address(server_url, smtp_server):
    assert submit(server_url, email="").status_code == 303
    [mail] = smtp_server.handler.wait_for(1)
    assert "Reply-To" not in mail.message
    assert "Email: —" in text_part(mail)


def test_reply_to_is_the_address_given(server_url, smtp_server):
    assert submit(server_url, email="ana@example.org").status_code == 303
    [mail] = smtp_server.handler.wait_for(1)
    assert mail.message["Reply-To"] == "ana@example.org"


def date_answers(month: str, day: str, year: str) -> dict[str, str]:
    return {
        "date_of_birth-month": month,
        "date_of_birth-day": day,
        "date_of_birth-year": year,
    }


@pytest.mark.parametrize(
    ("parts", "message", "target", "invalid"),
    [
        (("3", "", "1958"), "The date of birth must include a day.", "day", ["day"]),
        (
            ("", "", "1958"),
            "The date of birth must include a month and a day.",
            "month",
            ["month", "day"],
        ),
        (
            ("2", "30", "1958"),
            "The date of birth must be a real date.",
            "month",
            ["month", "day", "year"],
        ),
        (
            ("3", "27", "58"),
            "The year must have 4 numbers, like 1958.",
            "year",
            ["year"],
        ),
        (
            ("March", "27", "1958"),
            "Enter the date of birth using numbers only.",
            "month",
            ["month"],
        ),
        (
            ("3", "٢", "1958"),
            "Enter the date of birth using numbers only.",
            "day",
            ["day"],
        ),
        (
            ("1", "1", "1850"),
            "The date of birth must be in 1900 or later.",
            "year",
            ["year"],
        ),
        (
            ("1", "1", "2999"),
            "The date of birth must be today or in the past.",
            "month",
            ["month", "day", "year"],
        ),
        (
            # Too large for the C int a date is built from: no 500.
            ("9999999999", "1", "1958"),
            "The date of birth must be a real date.",
            "month",
            ["month", "day", "year"],
        ),
    ],
)
def test_a_wrong_date_of_birth_says_what_is_wrong(
    client, parts, message, target, invalid
):
    response = post_form(client, "en", **date_answers(*parts))
    assert response.status_code == 422
    body = html.unescape(response.get_data(as_text=True))
    assert f'<a href="#date_of_birth-{target}">{message}</a>' in body
    marked = re.findall(r'id="date_of_birth-(\w+)"[^>]*aria-invalid="true"', body)
    assert marked == invalid
    # What was typed comes back, to be corrected rather than typed again.
    day, year = parts[1], parts[2]
    for part in (day, year):
        if part:
            assert f'value="{part}"' in body


def test_a_good_date_of_birth_is_not_marked_when_another_answer_is_wrong(client):
    # A screen reader would announce a right date as wrong.
    response = post_form(client, "en", phone="", **date_answers("5", "3", "1962"))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="phone"' in body and "Enter a phone number." in body
    assert not re.findall(r'id="date_of_birth-\w+"[^>]*aria-invalid="true"', body)
    assert 'value="1962"' in body


def test_date_of_birth_errors_are_translated(client):
    response = post_form(client, "es", **date_answers("3", "", "1958"))
    body = html.unescape(response.get_data(as_text=True))
    assert "La fecha de nacimiento debe incluir el día." in body
    assert ">Mes</label>" in body and ">Día</label>" in body and ">Año</label>" in body


@pytest.mark.parametrize(
    "today", [date(2026, 12, 31), date(2027, 1, 1), date(2028, 2, 29), date(2026, 6, 5)]
)
def test_today_is_a_valid_date_of_birth_and_tomorrow_is_not(client, monkeypatch, today):
    # "Today" pinned, so the test holds on 31 December and on a leap day.
    monkeypatch.setattr(fields, "clinic_today", lambda: today)
    on_the_day = date_answers(str(today.month), str(today.day), str(today.year))
    assert post_form(client, "en", **on_the_day).status_code == 303
    tomorrow = today + timedelta(days=1)
    answers = date_answers(str(tomorrow.month), str(tomorrow.day), str(tomorrow.year))
    response = post_form(client, "en", **answers)
    assert response.status_code == 422
    assert "The date of birth must be today or in the past." in html.unescape(
        response.get_data(as_text=True)
    )


def test_today_is_where_the_clinic_is(app):
    """At 23:30 in Fresno on 4 December the server's clock (UTC) already
    says 5 December; a baby born "today" is born on the 4th."""
    with app.app_context():
        zone = ZoneInfo(app.config["CLINIC_TIMEZONE"])
        assert fields.clinic_today() == datetime.now(zone).date()


@pytest.mark.parametrize(
    ("lang", "order", "may"),
    [("en", ["month", "day", "year"], "May"), ("es", ["day", "month", "year"], "mayo")],
)
def test_the_month_is_chosen_by_name_in_the_pages_order(client, lang, order, may):
    """5 3 1962 cannot be misread: the month is a name, never a number."""
    page = client.get(FORM_PATHS[lang]).get_data(as_text=True)
    assert re.findall(r'id="date_of_birth-(month|day|year)"', page) == order
    select = re.search(
        r'<select [^>]*name="date_of_birth-month".*?</select>', page, re.S
    )
    assert f'<option value="5">{may}</option>' in select.group(0)
    # Sent with a mistake elsewhere, the chosen month comes back chosen.
    response = post_form(client, lang, first_name="", **date_answers("5", "3", "1962"))
    body = response.get_data(as_text=True)
    assert f'<option value="5" selected>{may}</option>' in body


@pytest.mark.parametrize(
    ("lang", "hint"),
    [
        ("en", "It helps us find the patient’s records."),
        ("es", "Nos ayuda a encontrar el expediente del paciente."),
    ],
)
def test_the_date_hint_says_why_it_is_asked(client, lang, hint):
    assert hint in client.get(FORM_PATHS[lang]).get_data(as_text=True)


def test_the_date_of_birth_is_a_grouped_three_part_question(client):
    body = client.get(FORM_PATHS["en"]).get_data(as_text=True)
    group = body[
        body.index('role="group"') : body.index(
            "</fieldset>", body.index('role="group"')
        )
    ]
    assert "What is the patient’s date of birth? (optional)" in group
    assert 'aria-describedby="date_of_birth-hint"' in group
    for part in ("month", "day", "year"):
        assert f'<label for="date_of_birth-{part}">' in group
    for part in ("day", "year"):
        assert f'name="date_of_birth-{part}" type="text" inputmode="numeric"' in group
    assert '<select class="input date-input-month"' in group


# --- Follow-up questions without JavaScript (GOV.UK conditional reveal) ---


def test_without_javascript_every_follow_up_is_on_the_page_under_its_choice(client):
    body = client.get(FORM_PATHS["en"]).get_data(as_text=True)
    for choice, follow_ups in (
        ("requester-1", ["requester_name", "relationship"]),
        ("requester-2", ["office_name"]),
        ("language-2", ["other_language"]),
    ):
        assert f'data-aria-controls="{choice}-conditional"' in body
        start = body.index(f'<div class="conditional" id="{choice}-conditional">')
        reveal = body[start : body.index("</div>\n    </div>", start)]
        for name in follow_ups:
            assert f'<label for="{name}">' in reveal and f'id="{name}"' in reveal
        # Not hidden in the markup: only the script hides it.
        assert "hidden" not in reveal
    # Choices without follow-ups control nothing.
    assert 'data-aria-controls="requester-0' not in body


@pytest.mark.parametrize(
    ("answers", "missing"),
    [
        ({"requester": "family"}, ["requester_name", "relationship"]),
        ({"requester": "family", "requester_name": "Ana"}, ["relationship"]),
        ({"requester": "office"}, ["office_name"]),
        ({"language": "other"}, ["other_language"]),
        ({"language": "other", "other_language": "  \u200b "}, ["other_language"]),
    ],
)
def test_a_follow_up_that_applies_is_required(client, answers, missing):
    response = post_form(client, **answers)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    summary = body[body.index('id="error-summary"') : body.index("<h1>")]
    assert re.findall(r'href="#(\w+)"', summary) == missing


def test_follow_ups_that_do_not_apply_are_neither_checked_nor_sent(
    server_url, smtp_server
):
    # A browser without JavaScript sends every follow-up, even ones left over
    # from a choice the person changed.
    response = submit(
        server_url,
        requester="self",
        requester_name="x" * 500,
        relationship="Eve\r\nBcc: x@example.com",
        office_name="Some Office",
        language="en",
        other_language="Klingon",
    )
    assert response.status_code == 303
    _, text, html_body = mail_text(smtp_server)
    for leftover in ("xxxxx", "Eve", "Some Office", "Klingon", "Requested by"):
        assert leftover not in text and leftover not in html_body, leftover


# --- Control characters in the optional one-line answers (issue 9.8) ---


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        ("referring_doctor", {}),
        ("email", {}),
        ("other_language", {"language": "other"}),
        ("requester_name", {"requester": "family", "relationship": "Son"}),
        ("relationship", {"requester": "family", "requester_name": "Ana"}),
        ("office_name", {"requester": "office"}),
    ],
)
@pytest.mark.parametrize(
    "control", ["\r\nBcc: x@example.com", "\x00", "\x1b[2J", "\u2028"]
)
def test_control_characters_in_optional_one_line_answers_are_refused(
    client, field, extra, control
):
    response = post_form(client, **{**extra, field: f"Ana{control}Ruiz"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'<a href="#{field}">' in body
    assert "Use one line, without line breaks or special characters." in body


# --- More than one office (issue 9.8) ---


TWO_OFFICES = [
    {"id": "fresno", "name": "Fresno office", "address": None},
    {"id": "visalia", "name": "Visalia office", "address": None},
]


@pytest.fixture
def two_offices(app_config, content_copy):
    edit_site(content_copy, locations=TWO_OFFICES)
    app_config["CONTENT_DIR"] = str(content_copy)
    return app_config


def test_with_two_offices_the_form_asks_which_and_the_email_names_it(
    two_offices, app, client, server_url, smtp_server
):
    body = client.get(FORM_PATHS["es"]).get_data(as_text=True)
    assert "¿Cuál de nuestros consultorios prefiere?" in html.unescape(body)
    assert 'value="fresno"' in body and 'value="visalia"' in body
    missing = post_form(client, "es")
    assert missing.status_code == 422
    assert 'href="#location-0"' in missing.get_data(as_text=True)
    assert submit(server_url, location="visalia").status_code == 303
    _, text, html_body = mail_text(smtp_server)
    assert "Preferred office: Visalia office" in text
    assert "Visalia office" in html_body and "Fresno office" not in text


def test_with_one_office_the_form_does_not_ask(app, client, server_url, smtp_server):
    assert app.extensions["content"].site.locations == ()
    body = client.get(FORM_PATHS["en"]).get_data(as_text=True)
    assert 'name="location"' not in body
    assert submit(server_url).status_code == 303
    _, text, _ = mail_text(smtp_server)
    assert "Preferred office" not in text


# --- The received page (issue 10.6) ---


@pytest.fixture
def clinic_details(app_config, content_copy):
    edit_site(
        content_copy,
        phone="+1 559 555 0100",
        response_time={
            "en": "We call you back within one business day.",
            "es": "Le llamamos en un plazo de un día hábil.",
        },
    )
    app_config["CONTENT_DIR"] = str(content_copy)
    return app_config


@pytest.mark.parametrize(
    ("lang", "promise"),
    [
        ("en", "We call you back within one business day."),
        ("es", "Le llamamos en un plazo de un día hábil."),
    ],
)
def test_the_received_page_gives_the_response_time_and_phone(
    clinic_details, client, lang, promise
):
    response = post_form(client, lang)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert promise in html.unescape(page)
    assert '<a href="tel:+15595550100">(559) 555-0100</a>' in page
    assert re.search(r'class="reference">[A-Z0-9]{3}-[A-Z0-9]{3}<', page)


def test_without_clinic_details_the_received_page_promises_nothing(client):
    response = post_form(client, "en")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "tel:" not in page.split("<main", 1)[1]
    assert "business day" not in page


# --- Failures keep the typing and are never cached (issue 9.4, 9.8) ---


def break_outbox(app) -> None:
    """Make the outbox unwritable the way a damaged disk would."""
    path = Path(app.config["OUTBOX_PATH"])
    for leftover in path.parent.glob(path.name + "-*"):
        leftover.unlink()
    path.write_bytes(b"this is not a database" * 100)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_when_the_request_cannot_be_stored_the_form_comes_back_with_the_answers(
    clinic_details, app, client, lang
):
    break_outbox(app)
    response = post_form(
        client,
        lang,
        first_name="Lucía",
        requester="family",
        requester_name="Ana Ruiz",
        relationship="Hija",
        message="Por la tarde",
        **date_answers("3", "27", "1958"),
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert "no-store" in response.headers["Cache-Control"]
    body = html.unescape(response.get_data(as_text=True))
    for kept in ('value="Lucía"', 'value="Ana Ruiz"', 'value="Hija"', 'value="1958"'):
        assert kept in body, kept
    assert "Por la tarde</textarea>" in body
    assert 'value="family" checked' in body
    notice = {
        "en": "Sorry, the website could not save your request, so it was not sent.",
        "es": "Lo sentimos, el sitio web no pudo guardar su solicitud",
    }[lang]
    call = {"en": "You can also call us at", "es": "También puede llamarnos al"}[lang]
    summary = body[body.index('id="error-summary"') : body.index("<h1>")]
    assert notice in summary
    assert f"{call} (559) 555-0100." in summary
    assert 'name="csrf_token"' in body


def test_without_a_phone_the_503_notice_does_not_offer_one(app, client):
    break_outbox(app)
    response = post_form(client, "en")
    assert response.status_code == 503
    body = html.unescape(response.get_data(as_text=True))
    summary = body[body.index('id="error-summary"') : body.index("<h1>")]
    assert "could not save your request" in summary
    assert "call us" not in summary
    assert 'value="Maria"' in body


@pytest.mark.parametrize(
    ("lang", "heading"),
    [("en", "Something went wrong"), ("es", "Algo salió mal")],
)
def test_an_unexpected_error_is_our_translated_500_page(app, lang, heading):
    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule(f"/{lang}/broken", f"broken_{lang}", broken)
    response = app.test_client().get(f"/{lang}/broken")
    assert response.status_code == 500
    assert "no-store" in response.headers["Cache-Control"]
    body = html.unescape(response.get_data(as_text=True))
    assert f'<html lang="{lang}">' in body
    assert f"<h1>{heading}</h1>" in body
    assert 'class="site-header"' in body and 'class="site-footer"' in body
    assert "RuntimeError" not in body and "a bug" not in body


def test_the_303_and_error_pages_are_never_cached(app, client):
    accepted = post_form(client)
    assert accepted.status_code == 303
    assert "no-store" in accepted.headers["Cache-Control"]
    answers = {
        "404": client.get("/en/no-such-page"),
        "405": client.put(FORM_PATHS["en"]),
        "400": client.post(FORM_PATHS["en"], data={}),
        "422": post_form(client, first_name=""),
        "413": client.post(FORM_PATHS["en"], data={"message": "x" * 70_000}),
    }
    for name, response in answers.items():
        assert response.status_code == int(name), name
        assert "no-store" in response.headers.get("Cache-Control", ""), name


# --- The email says only what the clinic wrote (issue 15.5, 17.5) ---


@pytest.mark.parametrize(
    "typed",
    [
        "Hmong] [URGENT: call 1-900-555-0199",
        "ਪੰਜਾਬੀ - my mom has stage 4 cancer",
        "(559) 555-0199",
    ],
)
def test_what_was_typed_never_reaches_the_subject(server_url, smtp_server, typed):
    response = submit(server_url, language="other", other_language=typed)
    assert response.status_code == 303
    subject, text, html_body = mail_text(smtp_server)
    assert EMAIL_SUBJECT.fullmatch(subject), subject
    assert subject.endswith(" [Interpreter for the call: other]"), subject
    # Staff still read what was typed, in the body only.
    assert f"Language for the call: Another language: {typed}" in text
    assert html.escape(typed, quote=False) in html_body


def test_the_message_cannot_pass_for_the_forms_own_lines(server_url, smtp_server):
    fake = "Call my cell instead.\nPhone: (559) 555-0199\nDate of birth: May 1, 1950"
    assert submit(server_url, message=fake).status_code == 303
    _, text, html_body = mail_text(smtp_server)
    lines = text.replace("\r\n", "\n").split("\n")
    # One "Phone" line and one "Date of birth" line: the form's own.
    assert [line for line in lines if line.startswith("Phone")] == [
        "Phone: (559) 555-0123"
    ]
    assert [line for line in lines if line.startswith("Date of birth")] == [
        "Date of birth: —"
    ]
    for line in fake.split("\n"):
        assert f"> {line}" in lines, line
    # In the HTML, the message is a quotation after the table, not a row of it.
    *tables, after = html_body.split("</table>")
    assert "555-0199" not in "".join(tables)
    quote = re.search(r"<blockquote[^>]*>(.*?)</blockquote>", after, re.S).group(1)
    assert "Phone: (559) 555-0199" in quote


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en", "We cannot call this kind of number (such as a 1-900 number)."),
        (
            "es",
            "No podemos llamar a este tipo de número (por ejemplo, un número 1-900).",
        ),
    ],
)
@pytest.mark.parametrize("number", ["1-900-555-0199", "(900) 555 0199"])
def test_a_premium_rate_number_is_refused_with_a_clear_message(
    server_url, smtp_server, lang, message, number
):
    response = submit(server_url, lang, phone=number)
    assert response.status_code == 422
    text = html.unescape(response.text)
    assert f'<a href="#phone">{message}' in text
    assert smtp_server.handler.wait_for(1, timeout=1) == []


def test_a_phone_extension_is_kept_and_shown(server_url, smtp_server):
    assert submit(server_url, phone="559-555-0123 x45").status_code == 303
    _, text, html_body = mail_text(smtp_server)
    assert "Phone: (559) 555-0123 ext. 45" in text
    assert '<a href="tel:+1-559-555-0123;ext=45">(559) 555-0123 ext. 45</a>' in (
        html.unescape(html_body)
    )


def test_a_request_for_oneself_says_so_and_whose_phone_it_is(server_url, smtp_server):
    assert submit(server_url, requester="self").status_code == 303
    _, text, _ = mail_text(smtp_server)
    assert "PERSON TO CALL\nName: the patient\n" in text
    assert "Phone: (559) 555-0123" in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "\u3164"),
        ("last_name", "\u2800\u2800"),
        ("first_name", "\u3164 \u2800"),
        ("last_name", "..."),
        ("requester_name", "\u3164"),
    ],
)
def test_a_name_needs_at_least_one_letter(client, field, value):
    response = post_form(
        client, "es", requester="family", relationship="Hijo", **{field: value}
    )
    assert response.status_code == 422
    body = html.unescape(response.get_data(as_text=True))
    assert f'<a href="#{field}">Escriba un nombre con al menos una letra.</a>' in body


@pytest.mark.parametrize("name", ["Ng", "O'Brien", "李", "Nguyễn"])
def test_short_and_non_latin_names_are_names(client, name):
    assert post_form(client, first_name=name, last_name=name).status_code == 303


def test_every_answer_the_form_declares_is_stored_and_shown_to_staff(app):
    """A new question added to the form and forgotten in the staff email
    fails here: the form is the one place answers are declared."""
    answers = {
        **AppointmentForm.example_post(),
        "requester": "family",
        "requester_name": "Tom Price",
        "relationship": "son",
        "language": "other",
        "other_language": "Hmong",
        "interpreter": "visit",
        "date_of_birth-month": "3",
        "date_of_birth-day": "27",
        "date_of_birth-year": "1958",
    }
    site = app.extensions["content"].site
    with app.test_request_context(method="POST", data=answers):
        form = AppointmentForm(meta={"csrf": False})
        assert form.validate(), form.errors
        stored = form.answers()
        asked = [field for field in form if field.name not in form.MACHINERY]
        assert sorted(stored) == sorted(field.name for field in asked)
        with force_locale("en"):
            staff = for_staff(stored, site)
            shown = "\n".join(
                f"{line.label}: {line.text}"
                for lines in staff.blocks.values()
                for line in lines
            )
            for field in asked:
                if stored[field.name] is None:
                    continue  # a follow-up not asked
                if field.name in ("requester", "interpreter"):
                    continue  # in words of their own, checked below
                if isinstance(field, RadioField):
                    expected = next(str(o.label.text) for o in field if o.checked)
                elif field.type in ("BooleanField", "DateInputField", "PhoneField"):
                    continue  # shown in words, checked by the tests above
                else:
                    expected = stored[field.name]
                where = shown if field.name != "message" else staff.message
                assert expected in where, field.name
    assert "Phone: (559) 555-0123" in shown
    assert "Name: Tom Price\nRelationship to the patient: son" in shown
    assert "Interpreter: Yes, Hmong, for the call and the visit" in shown
    assert "Date of birth: March 27, 1958" in shown


# --- A browser that blocks cookies (issue 15.7) ---


@pytest.mark.parametrize(
    ("lang", "notice", "expired", "phone"),
    [
        (
            "en",
            "Your browser blocks cookies",
            "Your page was open for a long time",
            "You can also call us at (559) 555-0100.",
        ),
        (
            "es",
            "Su navegador bloquea las cookies",
            "La página estuvo abierta mucho tiempo",
            "También puede llamarnos al (559) 555-0100.",
        ),
    ],
)
def test_a_browser_that_blocks_cookies_is_told_so_and_offered_the_phone(
    clinic_details, app, server_url, lang, notice, expired, phone
):
    url = server_url + FORM_PATHS[lang]
    page = requests.get(url, timeout=10).text
    # The browser drops every cookie it is given. Once, that could be a
    # session that ended; sent again with the page that came back, it is not:
    # no loop of "open for a long time".
    for attempt in range(3):
        answers = {**VALID_ANSWERS, "first_name": "Lucía", **hidden_inputs(page)}
        response = requests.post(url, data=answers, timeout=10)
        assert response.status_code == 400
        page = html.unescape(response.text)
        assert 'value="Lucía"' in page
        if attempt == 0:
            assert expired in page and notice not in page
        else:
            assert notice in page and phone in page and expired not in page


def test_a_page_with_its_cookie_and_a_stale_token_is_told_to_send_again(server_url):
    session = requests.Session()
    session.get(server_url + FORM_PATHS["en"], timeout=10)
    response = session.post(
        server_url + FORM_PATHS["en"],
        data={**VALID_ANSWERS, "csrf_token": "stale"},
        timeout=10,
    )
    assert response.status_code == 400
    text = html.unescape(response.text)
    assert "Your page was open for a long time" in text
    assert "blocks cookies" not in text


def test_a_request_stored_before_the_phone_checks_is_still_delivered(app, smtp_server):
    """A 1-900 number queued before this version refused them: the clinic
    still gets the request, with the number as stored."""
    outbox = app.extensions["outbox"]
    outbox.add(
        {**STORED_ANSWERS, "phone": "+19005550199"}, mail_domain="clinic.example"
    )
    with app.app_context():  # as `flask outbox deliver` runs it
        assert delivery.deliver_due(app).delivered == 1
    [mail] = smtp_server.handler.wait_for(1)
    assert "Phone: +19005550199" in text_part(mail)


def test_a_call_language_that_could_bend_the_subject_is_a_content_error(
    app_config, content_copy
):
    edit_site(content_copy, call_languages=[{"name": "Hmong] [URGENT"}])
    app_config["CONTENT_DIR"] = str(content_copy)
    with pytest.raises(SystemExit) as stopped:
        create_app(app_config)
    assert "call_languages item 1 > name: must be English letters and spaces" in str(
        stopped.value
    )


# --- An email the front desk reads once (issue 21.3) ---


def block(text: str, heading: str) -> str:
    """One labelled block of the plain-text email: its heading to the next."""
    return text.split(f"\n{heading}\n", 1)[1].split("\n\n", 1)[0]


def test_a_daughter_calling_for_her_father_is_apart_from_the_patient(
    clinic_details, server_url, smtp_server
):
    response = submit(
        server_url,
        "es",
        first_name="José Luis",
        last_name="Hernández",
        requester="family",
        requester_name="María Hernández",
        relationship="hija",
        language="es",
        interpreter="visit",
        contact_method="text",
        **date_answers("5", "3", "1962"),
    )
    assert response.status_code == 303
    subject, text, html_body = mail_text(smtp_server)
    patient = block(text, "PATIENT")
    caller = block(text, "PERSON TO CALL")
    assert patient.splitlines() == [
        "Patient name: José Luis Hernández",
        "Date of birth: May 3, 1962",
        "New or returning: New patient",
    ]
    assert "María" not in patient and "hija" not in patient
    assert caller.splitlines()[:3] == [
        "Name: María Hernández",
        "Relationship to the patient: hija",
        "Phone: (559) 555-0123",
    ]
    assert "Preferred contact: Text message" in caller
    assert "Best time to reach: Morning" in caller
    assert "José" not in caller
    # What the interpreter is for, in the body and the subject alike.
    assert "Interpreter: Yes, Spanish, for the visit" in text
    assert subject.endswith("[Spanish] [Interpreter for the visit: Spanish]")
    # What the received page promised the patient, and by when.
    assert (
        "Told on the received page: Someone from the clinic will send you a text"
        " message to arrange an appointment. We call you back within one business"
        " day."
    ) in text
    for heading in ("Patient", "Person to call", "Request"):
        assert f">{heading}</h2>" in html_body


@pytest.mark.parametrize(
    ("lang", "question", "both"),
    [
        (
            "en",
            "Would you like a medical interpreter?",
            "Yes, for the phone call and the visit",
        ),
        ("es", "¿Quiere un intérprete médico?", "Sí, para la llamada y para la cita"),
    ],
)
def test_the_form_asks_what_the_interpreter_is_for(client, lang, question, both):
    page = html.unescape(client.get(FORM_PATHS[lang]).get_data(as_text=True))
    assert f"<legend>{question}" in page
    assert f'<label for="interpreter-3">{both}</label>' in page


def test_the_language_toggle_carries_the_answers_unchecked_and_unstored(app, client):
    """Issue 21.1 without a browser: the toggle's POST to the Spanish form."""
    page = client.get(FORM_PATHS["en"]).get_data(as_text=True)
    assert 'formaction="/es/solicitar-cita" name="switch_language"' in page
    response = client.post(
        FORM_PATHS["es"],
        data={
            **VALID_ANSWERS,
            "first_name": "Lucía",
            "phone": "not a number",
            "switch_language": "es",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 200
    body = html.unescape(response.get_data(as_text=True))
    assert '<html lang="es">' in body
    assert 'value="Lucía"' in body and 'value="not a number"' in body
    assert "error-summary" not in body and 'aria-invalid="true"' not in body
    assert outbox_status(app).queued == 0
    # An expired page switches all the same: nothing is stored, nothing to refuse.
    stale = client.post(
        FORM_PATHS["es"],
        data={**VALID_ANSWERS, "switch_language": "es", "csrf_token": "stale"},
    )
    assert stale.status_code == 200
    assert "error-summary" not in stale.get_data(as_text=True)
