"""Journeys in a real browser: the language toggle, the keyboard, small screens
and zoom, on every page in both languages."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from page_checks import PHONE
from page_checks import REFLOW
from page_checks import ZOOM_200
from page_checks import horizontal_overflow
from playwright.sync_api import Page
from site_pages import FORM_PATHS
from site_pages import SITE_PAGES
from site_pages import SitePage
from site_pages import by_path
from site_pages import open_path
from site_pages import toggle_target

from app.i18n import LANGUAGE_NAMES
from app.i18n import other_language

pytestmark = pytest.mark.browser

# Pages opened by URL; states reached by doing something (a sent form) are left
# out of the journeys that must start from the top of a freshly opened page.
PLAIN_PAGES = [p for p in SITE_PAGES if p.reach is open_path]
TWINNED = [p for p in PLAIN_PAGES if p.twin]


def toggle(page: Page, to_lang: str):
    """The language toggle, found as a visitor finds it: by the language's
    name; a link, or on the form a button that carries the answers."""
    name = LANGUAGE_NAMES[to_lang]
    return page.get_by_role("link", name=name, exact=True).or_(
        page.get_by_role("button", name=name, exact=True)
    )


def assert_shows(page: Page, live_app, site_page: SitePage) -> None:
    """The browser shows ``site_page``: its URL, its language, its h1."""
    assert urlparse(page.url).path == site_page.path
    assert page.locator("html").get_attribute("lang") == site_page.lang
    assert page.locator("h1").inner_text() == site_page.heading(live_app)


@pytest.mark.parametrize("site_page", TWINNED, ids=lambda p: p.id)
def test_toggle_leads_to_the_twin_page_and_back(page, live_app, site_page):
    other = other_language(site_page.lang)
    site_page.reach(page, site_page)

    toggle(page, other).click()
    twin = by_path(site_page.twin)
    assert_shows(page, live_app, twin)

    toggle(page, site_page.lang).click()
    assert_shows(page, live_app, site_page)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_toggle_on_a_missing_page_leads_to_the_topic_page(page, live_app, lang):
    missing = next(p for p in SITE_PAGES if p.name == "404" and p.lang == lang)
    missing.reach(page, missing)
    other = other_language(lang)

    toggle(page, other).click()
    assert_shows(page, live_app, by_path(toggle_target(missing)))


@pytest.mark.parametrize("site_page", PLAIN_PAGES, ids=lambda p: p.id)
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, site_page):
    site_page.reach(page, site_page)

    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.get_attribute("href") == "#main"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link is off-screen"

    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # The next Tab continues from main, not from the header.
    page.keyboard.press("Tab")
    assert page.evaluate(
        "!document.querySelector('header').contains(document.activeElement)"
    )


@pytest.mark.parametrize("site_page", SITE_PAGES, ids=lambda p: p.id)
def test_page_fits_the_width_without_sideways_scrolling(new_page, site_page):
    # One page load, laid out again at each size (as turning a phone or
    # zooming does): the page loads cost most of the suite's time.
    page = new_page(*PHONE)
    site_page.reach(page, site_page)
    overflow = {}
    for width, height in (PHONE, REFLOW, ZOOM_200):
        page.set_viewport_size({"width": width, "height": height})
        overflow[f"{width}x{height}"] = horizontal_overflow(page)
    assert all(pixels <= 0 for pixels in overflow.values()), overflow


# Tap targets: 44 px on a phone (AAA) in test_browser_layout.py.


@pytest.mark.parametrize("viewport", [REFLOW, ZOOM_200], ids=["reflow-320", "zoom-200"])
@pytest.mark.parametrize("site_page", TWINNED, ids=lambda p: p.id)
def test_heading_toggle_and_appointment_button_work_when_zoomed(
    new_page, live_app, site_page, viewport
):
    page = new_page(*viewport, device_scale_factor=2)
    site_page.reach(page, site_page)
    width = viewport[0]
    other = other_language(site_page.lang)
    form = by_path(FORM_PATHS[site_page.lang])
    # The header's button says what the form's h1 says.
    appointment = page.locator("header").get_by_role(
        "link", name=form.heading(live_app), exact=True
    )
    for what, locator in {
        "h1": page.locator("h1"),
        "toggle": toggle(page, other),
        "appointment button": appointment,
    }.items():
        assert locator.is_visible(), f"{what} is hidden"
        box = locator.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{what} is cut off"

    appointment.click()
    assert_shows(page, live_app, form)
    toggle(page, other).click()
    assert page.locator("html").get_attribute("lang") == other
