"""Offline reading (issue 23) in real Chromium, with Playwright's offline mode."""

from __future__ import annotations

import re

from babel.dates import format_date
from playwright.sync_api import Page
from playwright.sync_api import expect

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
