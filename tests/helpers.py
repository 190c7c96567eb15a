"""Helpers shared by the appointment tests: fill in the form as a person would."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from cryptography.fernet import Fernet
from ruamel.yaml import YAML

from app.appointments.forms import AppointmentForm

SPANISH_CATALOG = (
    Path(__file__).resolve().parent.parent / "translations/es/LC_MESSAGES/messages.po"
)
FORM_PATHS = {"en": "/en/request-appointment", "es": "/es/solicitar-cita"}
# The public address the test apps are configured with (SITE_URL).
SITE_URL = "https://immunotherapy.example.org"

# The clinic's email subject: the reference and fixed flags (the call
# language as content/site.yaml names it, or "other"), never anything typed.
EMAIL_SUBJECT = re.compile(
    r"Appointment request [A-Z0-9]{3}-[A-Z0-9]{3}"
    r"( \[(Spanish|Interpreter for the (call|visit|call and the visit)"
    r"(: ([A-Z][A-Za-z ]+|other))?)\])*"
)
# One answer to every question the form asks, as the form itself declares it.
VALID_ANSWERS = AppointmentForm.example_post()


def csrf_token(html: str) -> str:
    """The token the form page embeds, as a browser would send it back."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def submit(
    base_url: str,
    lang: str = "en",
    session: requests.Session | None = None,
    **answers: str | None,
) -> requests.Response:
    """GET the form, then POST it with its real CSRF token and ``answers``
    over VALID_ANSWERS (None removes a field). Redirects are not followed."""
    session = session or requests.Session()
    url = base_url + FORM_PATHS[lang]
    page = session.get(url, timeout=10)
    data = {**VALID_ANSWERS, **answers, "csrf_token": csrf_token(page.text)}
    data = {key: value for key, value in data.items() if value is not None}
    return session.post(url, data=data, allow_redirects=False, timeout=10)


def hidden_inputs(html: str) -> dict[str, str]:
    """Every hidden input of a page, name to value, as a browser sends them."""
    inputs = re.findall(r'<input [^>]*type="hidden"[^>]*>', html)
    return {
        re.search(r'name="([^"]+)"', tag).group(1): re.search(
            r'value="([^"]*)"', tag
        ).group(1)
        for tag in inputs
    }


def post_form(client, lang: str = "en", **answers: str | None):
    """POST the form from a Flask test client with a real CSRF token and
    ``answers`` over VALID_ANSWERS (None removes a field)."""
    page = client.get(FORM_PATHS[lang]).get_data(as_text=True)
    data = {**VALID_ANSWERS, **answers, "csrf_token": csrf_token(page)}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(FORM_PATHS[lang], data=data)


def wait_until(condition, timeout: float = 10) -> bool:
    """Poll ``condition`` (delivery happens after the response is sent)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def spanish_catalog() -> Catalog:
    """The Spanish translations of the interface strings, as committed."""
    with SPANISH_CATALOG.open("rb") as handle:
        return read_po(handle, locale="es")


def cookies_without_expires(headers) -> list[str] | None:
    """``Set-Cookie`` values less ``Expires``: werkzeug adds that date beside
    ``Max-Age`` (which browsers obey first); nginx sends ``Max-Age`` only."""
    values = headers.get_all("Set-Cookie")
    if values is None:
        return None
    return [re.sub(r"; Expires=[^;]*", "", value) for value in values]


# A request's answers as the outbox stores them (normalised by the form).
STORED_ANSWERS = {
    "received_at": "2026-11-27T17:00:00+00:00",
    "page_language": "en",
    "first_name": "Ana",
    "last_name": "Lopez",
    "phone": "+15595550123",
    "contact_method": "call",
    "best_time": "any",
    "language": "en",
    "requester": "self",
    "patient_status": "new",
    "reason": "other",
}


def stored_request(app, first_name: str = "Ana"):
    """A request as the form stores it, without the form's immediate try."""
    return app.extensions["outbox"].add(
        {**STORED_ANSWERS, "first_name": first_name}, mail_domain="clinic.example"
    )


def sections_by_language(page: str) -> dict[str, str]:
    """An nginx error page's ``<section lang="...">`` parts, by language."""
    return dict(re.findall(r'<section lang="(\w+)">(.*?)</section>', page, re.S))


# The clinic's phone as the tests set it (a 559 number, never a real one).
CLINIC_PHONE = "+1 559 555 0100"


def edit_yaml(path: Path, mutate) -> None:
    """Change a content file as an editor would: ruamel.yaml's round trip
    keeps its comments, quotes and the lines of everything not changed."""
    yaml = YAML()
    data = yaml.load(path.read_text(encoding="utf-8"))
    mutate(data)
    with path.open("w", encoding="utf-8") as file:
        yaml.dump(data, file)


def edit_site(content_dir: Path, **changes) -> Path:
    """Change content/site.yaml in a copy of the content folder."""
    edit_yaml(content_dir / "site.yaml", lambda site: site.update(changes))
    return content_dir


# The key that encrypts the test outboxes (OUTBOX_KEY), new for each run.
OUTBOX_KEY = Fernet.generate_key().decode()


def skip_or_fail(reason: str) -> None:
    """Skip when a tool is missing locally, but fail under CI, where it must exist."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)
