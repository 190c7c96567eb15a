"""Hostile input at the form (issue 9.5, 9.6): invisible and separator
characters, malformed bodies and clients that hang up, and no client address
in any log line."""

from __future__ import annotations

import io
import logging
import socket
import unicodedata

import pytest
from helpers import FORM_PATHS
from helpers import VALID_ANSWERS
from helpers import csrf_token
from helpers import submit
from servers import gunicorn
from servers import production_env

from app import create_app

# Right-to-left override, zero-width space / non-joiner / joiner, word
# joiner, BOM, soft hyphen: all Unicode category Cf.
INVISIBLE = "\u202e\u200b\u200c\u200d\u2060\ufeff\u00ad"
SEPARATORS = "\u2028\u2029"  # categories Zl and Zp
ONE_LINE = {
    "first_name": "Maria",
    "last_name": "Lopez",
    "referring_doctor": "Dr. Smith",
    "phone": "(559) 555-0123",
    "email": "maria@example.com",
    "requester_name": "Ana Lopez",
    "relationship": "Daughter",
    "other_language": "Hmong",
}
# Answers under which every one-line field above is asked.
ASKED = {"requester": "family", "language": "other"}


def hidden_characters(text: str) -> list[str]:
    """The Cf, Zl and Zp characters in ``text``, by name."""
    return [
        unicodedata.name(c, hex(ord(c)))
        for c in text
        if unicodedata.category(c) in {"Cf", "Zl", "Zp"}
    ]


def email_text(mail) -> str:
    """Everything a person can see of the email: subject and both bodies."""
    plain = mail.message.get_body(preferencelist=("plain",)).get_content()
    plain = plain.replace("\r\n", "\n")
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    return "\n".join([mail.message["Subject"], plain, html])


def test_invisible_characters_are_removed_from_every_one_line_answer(
    server_url, smtp_server
):
    # Each character in the middle of the answer, where it does its harm.
    answers = {
        name: value[:2] + INVISIBLE + value[2:] for name, value in ONE_LINE.items()
    }
    response = submit(server_url, **ASKED, **answers)
    assert response.status_code == 303
    [mail] = smtp_server.handler.wait_for(1)
    text = email_text(mail)
    assert hidden_characters(text) == []
    for line in (
        "Patient name: Maria Lopez",
        "Referring doctor: Dr. Smith",
        "Phone: (559) 555-0123",
        "Email: maria@example.com",
        "Name: Ana Lopez\nRelationship to the patient: Daughter",
        "Language for the call: Another language: Hmong",
    ):
        assert line in text, line
    assert mail.message["Subject"].endswith("[Interpreter for the call: Hmong]")
    assert mail.message["Reply-To"] == "maria@example.com"


@pytest.mark.parametrize("separator", SEPARATORS)
@pytest.mark.parametrize("field", ONE_LINE)
def test_a_line_separator_in_a_one_line_answer_is_refused(client, field, separator):
    page = client.get(FORM_PATHS["es"]).get_data(as_text=True)
    value = ONE_LINE[field][:3] + separator + "Bcc: x@example.com"
    data = {**VALID_ANSWERS, **ASKED, **ONE_LINE, field: value}
    response = client.post(
        FORM_PATHS["es"], data={**data, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'<a href="#{field}">' in body
    assert "Escriba en una sola línea" in body


def test_names_are_stored_in_nfc(server_url, smtp_server):
    # "José" with a combining accent, as some keyboards send it.
    response = submit(server_url, first_name="Jose\u0301", last_name="Nun\u0303ez")
    assert response.status_code == 303
    [mail] = smtp_server.handler.wait_for(1)
    assert "Patient name: Jos\u00e9 Nu\u00f1ez" in email_text(mail)


def test_the_message_keeps_its_lines_and_loses_hidden_characters(
    server_url, smtp_server
):
    message = "Line one\u202e\u200b\nLine two\u2028Line three\u2029Line four"
    assert submit(server_url, message=message).status_code == 303
    [mail] = smtp_server.handler.wait_for(1)
    text = email_text(mail).replace("\r\n", "\n")
    assert "Line one\nLine two\nLine three\nLine four" in text
    assert hidden_characters(text) == []


# --- Malformed bodies and clients that hang up: 400, no traceback ---

HEAD = (
    b"POST /en/request-appointment HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
)
URLENCODED = b"Content-Type: application/x-www-form-urlencoded\r\n"
MULTIPART = b"Content-Type: multipart/form-data; boundary=XX\r\n"
PART = (
    b'--XX\r\nContent-Disposition: form-data; name="first_name"\r\n\r\nAna\r\n'
    b"--XX\r\nContent-Disposition: form-da"
)
MALFORMED = {
    "bad-chunk-size": (
        HEAD + URLENCODED + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        False,
    ),
    "chunk-cut-short": (
        HEAD + URLENCODED + b"Transfer-Encoding: chunked\r\n\r\n10\r\nabc",
        True,
    ),
    "truncated-multipart": (
        HEAD + MULTIPART + b"Content-Length: %d\r\n\r\n" % len(PART) + PART,
        False,
    ),
    "client-hangs-up": (
        HEAD + MULTIPART + b"Content-Length: 5000\r\n\r\n" + PART,
        True,
    ),
}


def send_raw(url: str, data: bytes, hang_up: bool) -> bytes:
    """Send ``data`` over a plain socket; the status line of the answer.
    ``hang_up`` closes our sending side, as a client that went away."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.fixture(scope="module")
def gunicorn_site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("malformed")
    with gunicorn(production_env(tmp_path), tmp_path / "gunicorn.log") as server:
        yield server


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_bodies_are_400_under_gunicorn(gunicorn_site, case):
    data, hang_up = MALFORMED[case]
    before = len(gunicorn_site.log())
    assert send_raw(gunicorn_site.url, data, hang_up).startswith(b"HTTP/1.1 400")
    log = gunicorn_site.log()[before:]
    assert "Traceback" not in log and "ERROR" not in log, log
    assert "POST /en/request-appointment 400" in log


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_bodies_are_400_under_werkzeugs_server(server_url, caplog, case):
    caplog.set_level(logging.DEBUG)
    data, hang_up = MALFORMED[case]
    assert send_raw(server_url, data, hang_up).startswith(b"HTTP/1.1 400")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "Traceback" not in caplog.text


# --- No client address in any log (issue 9.6) ---

CLIENT = "203.0.113.77"


def test_no_client_address_is_logged_when_a_limit_is_hit(app_config, caplog):
    app_config.update(RATELIMIT_ENABLED=True, APPOINTMENT_FLOOD_LIMIT="2 per minute")
    app = create_app(app_config)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = CLIENT
    caplog.set_level(logging.DEBUG)
    statuses = [client.post(FORM_PATHS["en"], data={}).status_code for _ in range(4)]
    assert statuses == [400, 400, 429, 429]
    # The log still says a limit was hit (the form's line, not Flask-Limiter's
    # INFO line, which names the client and is kept below the logger's level).
    limit_records = [r for r in caplog.records if "limit" in r.getMessage()]
    assert limit_records and "was reached: 429" in limit_records[0].getMessage()
    assert CLIENT not in caplog.text
    assert all(CLIENT not in r.getMessage() for r in caplog.records)


def test_no_client_address_in_the_log_behind_a_proxy(app_config, caplog):
    app_config.update(
        RATELIMIT_ENABLED=True,
        APPOINTMENT_FLOOD_LIMIT="1 per minute",
        TRUSTED_PROXIES=1,
    )
    app = create_app(app_config)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        client.post(FORM_PATHS["en"], data={}, headers={"X-Forwarded-For": CLIENT})
    assert CLIENT not in caplog.text


def test_a_limited_flood_with_a_cut_off_body_is_still_a_plain_429(app_config, caplog):
    app_config.update(RATELIMIT_ENABLED=True, APPOINTMENT_FLOOD_LIMIT="1 per minute")
    client = create_app(app_config).test_client()
    caplog.set_level(logging.DEBUG)
    statuses = []
    for _ in range(2):
        response = client.post(
            FORM_PATHS["en"],
            input_stream=io.BytesIO(b"first_name=Ana"),
            content_type="application/x-www-form-urlencoded",
            environ_overrides={"CONTENT_LENGTH": "500"},
        )
        statuses.append(response.status_code)
    assert statuses == [400, 429]
    assert "Too many requests" in response.get_data(as_text=True)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
