"""Offline reading (issue 23) in real Chromium, with Playwright's offline mode."""

from __future__ import annotations

import re

import pytest
from babel.dates import format_date
from helpers import CLINIC_PHONE
from helpers import edit_site
from playwright.sync_api import Page
from playwright.sync_api import expect
from servers import serving

from app import create_app

pytestmark = pytest.mark.browser

KEPT = [
    ("es", "inmunoterapia", "Esta es la copia guardada"),
    ("es", "tarjeta-de-bolsillo", "Esta es la copia guardada"),
    ("en", "immunotherapy", "This is the copy kept"),
]


def wait_for_worker(page: Page) -> None:
    """The worker is active (it has kept every file) and controls the page."""
    page.wait_for_function(
        "navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)"
    )


def updated(live_app, lang: str, slug: str) -> str:
    content = live_app.extensions["content"]
    pages = [p for p in content.pages.values() if p.slugs.get(lang) == slug]
    page = pages[0] if pages else content.wallet_card
    return format_date(page.updated, "long", locale=lang)


def test_after_one_visit_pages_open_offline_marked_as_kept(page, live_app):
    page.goto("/es/inmunoterapia")
    wait_for_worker(page)
    expect(page.locator("[data-kept-copy]")).to_be_hidden()
    page.context.set_offline(True)
    for lang, slug, words in KEPT:
        page.goto(f"/{lang}/{slug}")
        banner = page.locator("[data-kept-copy]")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text(words)
        expect(banner).to_contain_text(updated(live_app, lang, slug))
        # The banner is the first thing on the page; 911 is still there.
        assert (
            page.locator("body > :not(.skip-link)").first.get_attribute(
                "data-kept-copy"
            )
            is not None
        )
        expect(page.get_by_text(re.compile("911")).first).to_be_attached()


def test_offline_form_says_nothing_can_be_sent(page, live_app):
    page.goto("/en/immunotherapy")
    wait_for_worker(page)
    page.context.set_offline(True)
    page.goto("/en/request-appointment")
    expect(page.locator("main")).to_contain_text(
        "Nothing can be sent without a connection"
    )
    expect(page.locator("main")).to_contain_text("911")
    expect(page.locator("main")).not_to_contain_text(re.compile("received", re.I))
    # No form to send: nothing can reach the outbox.
    expect(page.locator("form")).to_have_count(0)


def test_the_form_itself_is_never_kept(page):
    page.goto("/en/request-appointment")
    wait_for_worker(page)
    paths = page.evaluate(
        """caches.keys().then(names => Promise.all(names.map(n =>
             caches.open(n).then(c => c.keys())))).then(lists =>
             lists.flat().map(r => new URL(r.url).pathname))"""
    )
    assert "/es/inmunoterapia" in paths and "/en/request-appointment" not in paths


def test_setting_off_removes_the_worker_after_one_visit(page, live_app):
    page.goto("/en/immunotherapy")
    wait_for_worker(page)
    live_app.config["SERVICE_WORKER_ENABLED"] = False
    try:
        page.goto("/en/immunotherapy")
        page.wait_for_function(
            """Promise.all([navigator.serviceWorker.getRegistrations(),
                            caches.keys()])
                 .then(([workers, names]) => !workers.length && !names.length)"""
        )
    finally:
        live_app.config["SERVICE_WORKER_ENABLED"] = True


OLD_LEAD = "Your immune system helps your body fight infections and other diseases."
NEW_LEAD = "Your immune system protects your body from infections and other diseases."


def kept_caches(page: Page) -> list[str]:
    return page.evaluate("caches.keys()")


def test_an_edit_reaches_the_reader_at_once_and_a_new_version_drops_the_old_cache(
    new_page, app_config, content_copy
):
    """One origin whose site is rebuilt with edited content, as a new freeze
    replaces the build: the open page shows the new text online (network
    first), and the worker the edit changed replaces the old one's cache."""
    site = {"app": create_app(app_config)}
    with serving(lambda environ, start: site["app"](environ, start)) as url:
        page = new_page(base_url=url)
        page.goto("/en/immunotherapy")
        wait_for_worker(page)
        expect(page.locator("main")).to_contain_text(OLD_LEAD)
        [old_cache] = kept_caches(page)

        topic = content_copy / "pages/immunotherapy.yaml"
        topic.write_text(
            topic.read_text(encoding="utf-8").replace(OLD_LEAD, NEW_LEAD, 1),
            encoding="utf-8",
        )
        # The clinic's phone changes the offline form notice: a new version.
        edit_site(content_copy, phone=CLINIC_PHONE)
        app_config["CONTENT_DIR"] = str(content_copy)
        site["app"] = create_app(app_config)

        page.goto("/en/immunotherapy")
        expect(page.locator("main")).to_contain_text(NEW_LEAD)
        page.wait_for_function(
            "old => caches.keys().then(names =>"
            " names.length === 1 && names[0] !== old)",
            arg=old_cache,
        )
        wait_for_worker(page)
        page.context.set_offline(True)
        page.goto("/en/immunotherapy")
        expect(page.locator("[data-kept-copy]")).to_be_visible()
        expect(page.locator("main")).to_contain_text(NEW_LEAD)
