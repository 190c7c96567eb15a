"""Property-based: whatever arrives at the form, no 500, no extra recipient or
header in any email, and the site keeps serving."""

from __future__ import annotations

import pytest
import requests
from helpers import EMAIL_SUBJECT
from helpers import FORM_PATHS
from helpers import VALID_ANSWERS
from helpers import csrf_token
from helpers import wait_until
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from app.appointments.forms import AppointmentForm

# Every field the form declares (the date as its three inputs), so a new
# question is attacked too.
FIELDS = [
    *(
        name
        for name, value in vars(AppointmentForm).items()
        if isinstance(value, UnboundField) and name != "date_of_birth"
    ),
    "date_of_birth-month",
    "date_of_birth-day",
    "date_of_birth-year",
]
# Headers the clinic's email may carry; anything else would be injected.
ALLOWED_HEADERS = {
    "subject",
    "from",
    "to",
    "reply-to",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}
EXPECTED_STATUSES = {303, 400, 413, 422}

# Any Unicode, control characters and lone line breaks included.
hostile_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(
        [
            "Eve\r\nBcc: x@example.com",
            "x@example.com\nCc: y@example.com",
            "\x00",
            "‮gnp.exe",
            "=?utf-8?q?=0D=0ABcc:_x@example.com?=",
            "a" * 5000,
        ]
    ),
)


@st.composite
def submissions(draw):
    """A form body: mostly valid answers with some fields made hostile,
    fields dropped or repeated, unknown fields added."""
    pairs = []
    for name, value in VALID_ANSWERS.items():
        # Mostly valid, so that many examples get through to an email.
        action = draw(st.sampled_from(["keep"] * 12 + ["hostile", "drop", "repeat"]))
        if action == "keep":
            pairs.append((name, value))
        elif action == "hostile":
            pairs.append((name, draw(hostile_text)))
        elif action == "repeat":
            pairs += [(name, draw(hostile_text)), (name, value)]
    for _ in range(draw(st.integers(0, 3))):
        pairs.append(
            (draw(st.sampled_from([*FIELDS, "x", "csrf_token"])), draw(hostile_text))
        )
    return pairs


def encode(pairs, content_type: str) -> tuple[bytes | None, dict, dict | None]:
    """The same answers as different clients would send them."""
    if content_type == "multipart":
        files = {name: (None, value) for name, value in pairs}
        return None, {}, files
    if content_type == "urlencoded":
        from urllib.parse import urlencode

        body = urlencode(pairs).encode()
        return body, {"Content-Type": "application/x-www-form-urlencoded"}, None
    if content_type == "json":
        import json

        return (
            json.dumps(dict(pairs)).encode(),
            {"Content-Type": "application/json"},
            None,
        )
    return (
        "\n".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass"),
        {"Content-Type": "text/plain; charset=latin-1"},
        None,
    )


@pytest.fixture
def app_config(app_config):
    app_config["OUTBOX_RETRY_SECONDS"] = 0
    return app_config


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pairs=submissions(),
    lang=st.sampled_from(["en", "es"]),
    token=st.sampled_from(["valid", "valid", "valid", "forged", "missing"]),
    content_type=st.sampled_from(
        ["urlencoded", "urlencoded", "multipart", "json", "text"]
    ),
)
def test_no_input_breaks_the_form_or_the_email(
    app, server_url, smtp_server, pairs, lang, token, content_type
):
    session = requests.Session()
    url = server_url + FORM_PATHS[lang]
    page = session.get(url, timeout=10)
    assert page.status_code == 200  # still serving after every earlier example
    pairs = [(k, v) for k, v in pairs if k != "csrf_token"]
    if token == "valid":
        pairs.append(("csrf_token", csrf_token(page.text)))
    elif token == "forged":
        pairs.append(("csrf_token", "ImZvcmdlZCI.forged.token"))
    body, headers, files = encode(pairs, content_type)
    response = session.post(
        url, data=body, headers=headers, files=files, allow_redirects=False, timeout=10
    )
    assert response.status_code in EXPECTED_STATUSES, response.status_code
    assert "Traceback" not in response.text
    if response.status_code == 303:
        assert wait_until(lambda: app.extensions["outbox"].status().queued == 0)
    for mail in smtp_server.received:
        assert mail.rcpt_tos == ["appointments@clinic.example"]
        headers = [name.lower() for name in mail.message.keys()]
        assert set(headers) <= ALLOWED_HEADERS, headers
        assert headers.count("to") == 1 and headers.count("reply-to") <= 1
        assert EMAIL_SUBJECT.fullmatch(mail.message["Subject"]), mail.message["Subject"]
