"""``flask freeze`` writes the static site, byte for byte what the app serves."""

from __future__ import annotations

import gzip
import json
import re
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import brotli
import pytest
from flask_frozen import FrozenFlaskWarning
from helpers import SITE_URL

from app import create_app
from app.content import load_content

CONTENT = load_content("content")
PAGE_URLS = {
    f"/{lang}/{slug}"
    for page in CONTENT.pages.values()
    for lang, slug in page.slugs.items()
}
# What must never be frozen: the form and everything that answers per visitor.
DYNAMIC_URLS = {
    "/",
    "/en/",
    "/es/",
    "/healthz",
    "/en/request-appointment",
    "/es/solicitar-cita",
    "/en/request-appointment/received",
    "/es/solicitar-cita/recibida",
}


@pytest.fixture
def build(app, tmp_path) -> Path:
    """The site frozen by the command an operator runs."""
    destination = tmp_path / "build"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = app.test_cli_runner().invoke(
            args=["freeze", "--destination", str(destination)]
        )
    assert result.exit_code == 0, result.output
    frozen_flask = [w for w in caught if issubclass(w.category, FrozenFlaskWarning)]
    assert [str(w.message) for w in frozen_flask] == [], "Frozen-Flask warned"
    assert f"into {destination}" in result.output
    return destination


def frozen_urls(build: Path) -> set[str]:
    """The URL of each file in ``build``."""
    return {
        "/" + path.relative_to(build).as_posix()
        for path in build.rglob("*")
        if path.is_file()
    }


def test_freeze_writes_pages_sitemap_robots_404s_and_static_files(build):
    urls = frozen_urls(build)
    expected = PAGE_URLS | {
        "/sitemap.xml",
        "/robots.txt",
        "/404.html",
        "/es/404.html",
    }
    assert expected <= urls
    # Static files under their content-hashed names, as the pages link them.
    assert any(re.fullmatch(r"/static/site-[0-9a-f]{32}\.css", url) for url in urls)
    assert "/static/cache_manifest.json" not in urls
    assert not urls & DYNAMIC_URLS
    assert not any("index.html" in url for url in urls)


def test_every_page_in_the_sitemap_but_the_form_is_frozen(build):
    sitemap = (build / "sitemap.xml").read_text()
    listed = {
        loc.removeprefix(SITE_URL) for loc in re.findall(r"<loc>(.*?)</loc>", sitemap)
    }
    assert listed - DYNAMIC_URLS <= frozen_urls(build)
    # Both linked twins of each page are listed too.
    assert PAGE_URLS <= listed


def test_every_frozen_file_is_what_the_app_serves(build, app_config):
    # A fresh app, as gunicorn would run it, serves each URL over HTTPS.
    client = create_app(app_config).test_client()
    for url in sorted(frozen_urls(build)):
        if url.endswith(tuple(DECOMPRESS)):
            continue  # the copies nginx sends compressed: see the next test
        response = client.get(url, base_url="http://another-host.example:8080")
        assert response.status_code == 200, url
        assert (build / url.lstrip("/")).read_bytes() == response.get_data(), url


DECOMPRESS = {".br": brotli.decompress, ".gz": gzip.decompress}


def test_freeze_writes_a_br_and_a_gz_copy_of_every_text_file(build):
    """For nginx's brotli_static and gzip_static: no request pays to compress."""
    for path in [build / "en" / "immunotherapy", build / "sitemap.xml"]:
        for suffix, decompress in DECOMPRESS.items():
            copy = path.with_name(path.name + suffix)
            assert decompress(copy.read_bytes()) == path.read_bytes(), copy
    for path in build.rglob("*"):
        if path.suffix in DECOMPRESS:
            original = path.with_suffix("").read_bytes()
            assert DECOMPRESS[path.suffix](path.read_bytes()) == original, path


def test_the_frozen_404_pages_are_what_an_unknown_address_gets(build, client):
    """nginx's error_page shows them for any address the build lacks."""
    for url, page in (("/no-such-page", "404.html"), ("/es/no-such", "es/404.html")):
        response = client.get(url)
        assert response.status_code == 404
        assert response.get_data() == (build / page).read_bytes(), url


def test_frozen_pages_point_at_the_public_address(build):
    sitemap = (build / "sitemap.xml").read_text()
    assert f"<loc>{SITE_URL}/en/immunotherapy</loc>" in sitemap
    page = (build / "es" / "inmunoterapia").read_text()
    assert f'<link rel="canonical" href="{SITE_URL}/es/inmunoterapia">' in page
    assert f"Sitemap: {SITE_URL}/sitemap.xml" in (build / "robots.txt").read_text()


def test_the_404_pages_are_in_their_language(build):
    assert '<html lang="en">' in (build / "404.html").read_text()
    spanish = (build / "es" / "404.html").read_text()
    assert '<html lang="es">' in spanish
    assert "Página no encontrada" in spanish


def test_pages_follow_site_url(app_config, tmp_path):
    app = create_app({**app_config, "SITE_URL": "https://clinic.example/"})
    result = app.test_cli_runner().invoke(
        args=["freeze", "--destination", str(tmp_path / "build")]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "build" / "en" / "immunotherapy").read_text()
    assert 'rel="canonical" href="https://clinic.example/en/immunotherapy"' in page
    assert SITE_URL not in page


def test_the_build_holds_nginx_error_pages_in_both_languages(build):
    """nginx answers 413, 429, 502 and 503 itself: one page, both languages."""
    for code in (413, 429, 502, 503):
        page = (build / "errors" / f"{code}.html").read_text()
        assert 'lang="en"' in page and 'lang="es"' in page, code
        assert "call 911" in page and "llame al 911" in page, code


def test_freeze_refuses_a_folder_that_is_not_a_build(app, tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "letter.txt").write_text("keep me")
    result = app.test_cli_runner().invoke(
        args=["freeze", "--destination", str(precious)]
    )
    assert result.exit_code == 1
    assert "holds no earlier build" in result.output
    assert (precious / "letter.txt").read_text() == "keep me"


def test_freezing_again_replaces_the_previous_build(app, build):
    stale = build / "en" / "old-page"
    stale.write_text("from an earlier version of the site")
    result = app.test_cli_runner().invoke(args=["freeze", "--destination", str(build)])
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    assert (build / "en" / "immunotherapy").is_file()


def test_the_build_holds_the_worker_with_what_it_keeps(build, client):
    """build/sw.js keeps every sitemap page but the form, the not-found pages
    and the hashed stylesheet, all of them files of the same build."""
    worker = (build / "sw.js").read_text()
    config = json.loads(worker.split("\n", 1)[0].removeprefix("const CONFIG = ")[:-1])
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    pages = {urlsplit(url).path for url in re.findall(r"<loc>([^<]+)</loc>", sitemap)}
    form = {"/en/request-appointment", "/es/solicitar-cita"}
    assert set(config["keep"]) - {"/404.html", "/es/404.html"} - pages == {
        re.search(
            r'href="(/static/site-[^"]+)"',
            client.get("/en/immunotherapy").get_data(as_text=True),
        )[1]
    }
    assert pages - set(config["keep"]) == form
    assert set(config["keep"]) <= frozen_urls(build)
    assert set(config["forms"]) == form
