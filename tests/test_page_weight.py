"""Issue 4, "Light": the first-visit budget, cache headers, validators, compression."""

from __future__ import annotations

import gzip
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import brotli
import pytest
from flask import Flask
from flask import template_rendered
from flask_frozen import Freezer
from helpers import FORM_PATHS
from helpers import OUTBOX_KEY
from servers import serving

from app import create_app
from tools.page_weight import MAX_REQUESTS
from tools.page_weight import MAX_TRANSFER_BYTES
from tools.page_weight import measure

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
# Read when the module is collected, in every xdist worker at once: an outbox
# of its own, not the instance folder's (two workers would make that together).
TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test",
    "RATELIMIT_ENABLED": False,
    "OUTBOX_KEY": OUTBOX_KEY,
    "OUTBOX_PATH": str(Path(tempfile.mkdtemp()) / "outbox.sqlite3"),
}
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def sitemap_paths() -> list[str]:
    """Every page the site lists, in both languages (content pages and the form)."""
    xml = create_app(TEST_CONFIG).test_client().get("/sitemap.xml").data
    locs = ElementTree.fromstring(xml).findall("s:url/s:loc", SITEMAP_NS)
    return [re.sub(r"^https?://[^/]+", "", loc.text) for loc in locs]


@pytest.fixture
def live_url(app) -> Iterator[str]:
    """The site over real HTTP."""
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("path", sitemap_paths())
def test_first_visit_keeps_to_the_budget(live_url, path):
    weight = measure(live_url + path)
    report = "\n".join(
        f"  {i.status} {i.transferred:>6} B  {i.url}" for i in weight.fetched
    )
    assert weight.budget_problems() == [], report
    assert weight.requests <= MAX_REQUESTS
    assert weight.transferred <= MAX_TRANSFER_BYTES
    # The stylesheet is one of the requests, and everything came back.
    assert any(i.content_type.startswith("text/css") for i in weight.fetched), report
    assert all(i.status == 200 for i in weight.fetched if "favicon" not in i.url)


# A document read on a slow phone network: the page and its stylesheet, within
# TCP's first 14 KB window (issue 17). The form adds its one deferred script.
FIRST_WINDOW_BYTES = 14 * 1024


@pytest.mark.parametrize(
    "path", [path for path in sitemap_paths() if path not in FORM_PATHS.values()]
)
def test_a_document_is_two_requests_in_the_first_14_kb(live_url, path):
    weight = measure(live_url + path)
    report = "\n".join(f"  {i.transferred:>6} B  {i.url}" for i in weight.fetched)
    assert weight.requests == 2, report
    assert weight.transferred <= FIRST_WINDOW_BYTES, report


def stylesheet_href(html: str) -> str:
    return re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)


def test_stylesheet_has_a_content_hashed_name_cached_for_a_year(client):
    href = stylesheet_href(client.get("/en/immunotherapy").get_data(as_text=True))
    assert re.fullmatch(r"/static/site-[0-9a-f]{32}\.css", href)

    response = client.get(href)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.mimetype == "text/css"
    assert response.data == (STATIC / "site.css").read_bytes()

    plain = client.get("/static/site.css")
    assert plain.status_code == 200
    assert "immutable" not in plain.headers.get("Cache-Control", "")
    assert plain.data == response.data
    # A name from an older stylesheet is gone rather than stale.
    assert client.get(f"/static/site-{'0' * 32}.css").status_code == 404


@pytest.mark.parametrize("path", ["/en/request-appointment", "/es/inmunoterapia"])
def test_every_static_file_a_page_links_has_a_hashed_name(client, path):
    html = client.get(path).get_data(as_text=True)
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert linked
    for url in linked:
        assert re.fullmatch(r"/static/[a-z]+-[0-9a-f]{32}\.(css|js)", url), url
        assert "immutable" in client.get(url).headers["Cache-Control"]


def test_frozen_flask_finds_the_hashed_stylesheet(app, client):
    href = stylesheet_href(client.get("/en/immunotherapy").get_data(as_text=True))
    assert href in set(Freezer(app).all_urls())


def test_debug_serves_plain_names_so_stylesheet_edits_show(app_config):
    app = create_app({**app_config, "DEBUG": True})
    html = app.test_client().get("/en/immunotherapy").get_data(as_text=True)
    assert stylesheet_href(html) == "/static/site.css"


@pytest.mark.parametrize("encoding", [None, "gzip", "br"])
@pytest.mark.parametrize("path", ["/en/immunotherapy", "/es/inmunoterapia"])
def test_page_answers_304_to_its_etag(client, path, encoding):
    headers = {"Accept-Encoding": encoding} if encoding else {}
    first = client.get(path, headers=headers)
    etag = first.headers["ETag"]
    assert first.status_code == 200
    assert not etag.startswith("W/"), "a strong validator"

    again = client.get(path, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag

    other = client.get(path, headers={**headers, "If-None-Match": '"stale"'})
    assert other.status_code == 200
    # What is stable: the page and its validator. gzip's header carries the
    # second it was written, so the compressed bytes may differ.
    assert decoded(other) == decoded(first)
    assert other.headers["ETag"] == etag


def decoded(response) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(response.data)
    if encoding == "gzip":
        return gzip.decompress(response.data)
    assert encoding is None
    return response.data


@pytest.mark.parametrize(
    "path", ["/en/immunotherapy", "/es/privacidad", "/static/site.css", "/sitemap.xml"]
)
def test_gzip_and_brotli_bodies_are_the_same_page(client, path):
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    for encoding in ("gzip", "br"):
        response = client.get(path, headers={"Accept-Encoding": encoding})
        assert response.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
        assert len(response.data) < len(plain.data)
        assert decoded(response) == plain.data
    # Both accepted equally: brotli, the smaller.
    both = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert both.headers["Content-Encoding"] == "br"


def test_hashed_stylesheet_comes_compressed(client):
    href = stylesheet_href(client.get("/en/immunotherapy").get_data(as_text=True))
    response = client.get(href, headers={"Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    assert decoded(response) == (STATIC / "site.css").read_bytes()


@pytest.fixture
def renders(app) -> Iterator[list[str]]:
    """Names of the templates rendered while the test runs."""
    names: list[str] = []

    def record(sender, template, context, **extra):
        names.append(template.name)

    with template_rendered.connected_to(record, app):
        yield names


def test_each_request_renders_its_page_the_same_whatever_the_host(client, renders):
    """A plain view: rendered per request (nginx serves the frozen copy), and
    the same bytes for every Host, as absolute links come from SITE_URL."""
    first = client.get("/en/immunotherapy")
    other = client.get("/en/immunotherapy", base_url="https://clinic.example")
    assert renders == ["pages/page.html", "pages/page.html"]
    assert b"clinic.example" not in other.data
    assert other.data == first.data


def test_a_page_remembers_the_language(app):
    english_reader = app.test_client()
    english_reader.set_cookie("lang", "en")
    response = english_reader.get("/es/inmunoterapia")
    assert "lang=es" in response.headers["Set-Cookie"]
    assert english_reader.get_cookie("lang").value == "es"

    again = english_reader.get(
        "/es/inmunoterapia", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    assert "Set-Cookie" not in again.headers


def test_the_budget_check_catches_what_it_forbids():
    """The checker itself, on a page that breaks every rule."""
    bad = Flask(__name__)
    html = f"""<!doctype html><html><head>
<link rel="stylesheet" href="/s.css">
<link rel="preconnect" href="https://fonts.example">
<link rel="canonical" href="https://elsewhere.example/page">
<script src="/app.js"></script>
<script>console.log(1)</script>
<script>{"x" * 1001}</script>
<script type="application/ld+json">{{"@context": "https://schema.org"}}</script>
<script defer src="https://cdn.example/lib.js"></script>
</head><body><img src="/a.png"><img src="/b.png" onclick="go()"></body></html>"""
    css = "@font-face{font-family:x;src:url(/x.woff2)} body{background:url(c.png)}"
    bad.add_url_rule("/", "page", lambda: html)
    bad.add_url_rule("/s.css", "css", lambda: (css, {"Content-Type": "text/css"}))
    bad.add_url_rule("/<name>", "file", lambda name: "x" * 40_000)
    with serving(bad) as url:
        weight = measure(f"{url}/")

    problems = "\n".join(weight.budget_problems())
    assert "third-party connection: https://fonts.example" in problems
    assert "third-party request: https://cdn.example/lib.js" in problems
    assert "inline <script> of 1001 characters > 1000" in problems
    assert "console.log" not in problems, "a tiny inline script is no problem"
    assert "<script src='/app.js'> is not deferred" in problems
    assert "inline JavaScript" in problems  # onclick
    assert "web font" in problems
    assert "requests >" in problems and "bytes transferred >" in problems
    assert "elsewhere.example" not in problems  # canonical is not a request
    fetched = {item.url.rsplit("/", 1)[1] for item in weight.fetched}
    assert fetched == {"", "s.css", "app.js", "a.png", "b.png", "x.woff2", "c.png"} | {
        "favicon.ico"
    }
