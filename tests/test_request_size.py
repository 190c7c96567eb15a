"""A body over MAX_CONTENT_LENGTH gets the 413 page, in the visitor's language.

Werkzeug refuses the body when a view first reads the form, so the page needs a
route that accepts POST: the appointment form, once it lands. Until then a
view that reads its form stands in for it, and the test against the form is
marked as expected to fail.
"""

from __future__ import annotations

import pytest
from flask import request

from app.extensions import csrf

LIMIT = 64 * 1024


def add_form_reader(app) -> None:
    """POST routes under both language prefixes that read their form."""

    def read_form() -> str:
        """Read the body, as the form's view does."""
        return f"{len(request.form)} fields"

    # Without a token, so the size check, not the CSRF check, decides.
    csrf.exempt(read_form)

    for lang in ("en", "es"):
        app.add_url_rule(
            f"/{lang}/form-reader", f"reader_{lang}", read_form, methods=["POST"]
        )


def post(client, path: str, size: int):
    """POST a form whose one field is ``size`` characters long."""
    return client.post(path, data={"message": "x" * size})


def test_the_limit_is_64_kib(app):
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT


@pytest.mark.parametrize(
    ("lang", "heading"),
    [("en", "Too much information sent"), ("es", "Se envió demasiada información")],
)
def test_a_body_over_the_limit_gets_the_413_page_in_its_language(app, lang, heading):
    add_form_reader(app)
    client = app.test_client()
    assert post(client, f"/{lang}/form-reader", LIMIT // 2).status_code == 200
    response = post(client, f"/{lang}/form-reader", LIMIT)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in body
    assert f"<h1>{heading}</h1>" in body
    assert 'class="site-header"' in body and 'class="site-footer"' in body
    assert "x" * 100 not in body, "the page never echoes what was sent"


@pytest.mark.parametrize(
    ("path", "lang"), [("/en/request-appointment", "en"), ("/es/solicitar-cita", "es")]
)
def test_the_appointment_form_refuses_an_oversized_body(client, path, lang):
    response = post(client, path, LIMIT)
    assert response.status_code == 413
    assert f'<html lang="{lang}">' in response.get_data(as_text=True)
