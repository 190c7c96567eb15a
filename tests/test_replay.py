"""Replayed page responses are exactly what Flask would send, request by request."""

from __future__ import annotations

import logging

import pytest
from flask import request_started


@pytest.fixture
def flask_requests(app):
    """How many requests actually ran through Flask (not replayed)."""
    seen: list[str] = []

    def count(sender, **extra):
        from flask import request

        seen.append(request.full_path)

    request_started.connect(count, app)
    yield seen
    request_started.disconnect(count, app)


def snapshot(response) -> tuple:
    return response.status_code, sorted(response.headers.items()), response.data


VARIANTS = [
    {},
    {"Accept-Encoding": "br, gzip"},
    {"Accept-Encoding": "gzip"},
    {"Cookie": "lang=en"},
    {"Cookie": "lang=es"},
]


@pytest.mark.parametrize("headers", VARIANTS, ids=str)
def test_a_replayed_page_is_the_response_flask_built(app, flask_requests, headers):
    first = app.test_client().get("/en/immunotherapy", headers=headers)
    again = app.test_client().get("/en/immunotherapy", headers=headers)
    assert len(flask_requests) == 1, "the second request was replayed"
    assert snapshot(again) == snapshot(first)
    assert first.status_code == 200


def test_each_variant_gets_its_own_right_answer(app):
    client = app.test_client(use_cookies=False)  # each request says what it sends
    for _ in range(2):  # the second round is all replays
        plain = client.get("/es/inmunoterapia")
        assert "lang=es" in plain.headers.get("Set-Cookie", "")
        assert "Content-Encoding" not in plain.headers
        remembered = client.get("/es/inmunoterapia", headers={"Cookie": "lang=es"})
        assert "Set-Cookie" not in remembered.headers
        brotli = client.get("/es/inmunoterapia", headers={"Accept-Encoding": "br"})
        assert brotli.headers["Content-Encoding"] == "br"
        etag = brotli.headers["ETag"]
        cached = client.get(
            "/es/inmunoterapia",
            headers={"Accept-Encoding": "br", "If-None-Match": etag},
        )
        assert cached.status_code == 304 and cached.data == b""


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/en/immunotherapy?utm_source=x", {}),
        ("GET", "/en/immunotherapy", {"Cookie": "session=abc; lang=en"}),
        ("GET", "/en/immunotherapy", {"Range": "bytes=0-10"}),
        ("HEAD", "/en/immunotherapy", {}),
        ("GET", "/en/request-appointment", {}),
        ("GET", "/sitemap.xml", {}),
    ],
)
def test_anything_else_always_goes_to_flask(app, flask_requests, method, path, headers):
    client = app.test_client()
    for _ in range(2):
        client.open(path, method=method, headers=headers)
    assert len(flask_requests) == 2


def test_every_replayed_request_is_logged(app, caplog):
    caplog.set_level(logging.INFO, logger="app.observability")
    client = app.test_client()
    for _ in range(3):
        client.get("/en/privacy")
    lines = [r.getMessage() for r in caplog.records if r.name == "app.observability"]
    assert len(lines) == 3
    assert all(line.startswith("GET /en/privacy 200 ") for line in lines)


def test_behind_a_proxy_http_and_https_are_told_apart(app_config):
    from app import create_app

    app = create_app({**app_config, "TRUSTED_PROXIES": 1})
    client = app.test_client()
    for _ in range(2):
        secure = client.get(
            "/en/immunotherapy",
            headers={
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "clinic.example",
            },
        )
        plain = client.get(
            "/en/immunotherapy", headers={"X-Forwarded-Host": "clinic.example"}
        )
        assert "Strict-Transport-Security" in secure.headers
        assert "Strict-Transport-Security" not in plain.headers
        assert b'href="https://clinic.example/en/immunotherapy"' in secure.data
        assert b'href="http://clinic.example/en/immunotherapy"' in plain.data
