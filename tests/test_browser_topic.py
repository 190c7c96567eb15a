"""The topic page and the header in a real browser: "células T" and "T cells"
never split across lines on a phone, the header's phone link, toggle and
button sit beside the clinic's name on wide screens, and the pages with the
clinic's phone and privacy-practices notice set pass axe and the Nu HTML
Checker."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CLINIC_PHONE
from helpers import edit_site
from html_checker import check_html
from page_checks import REFLOW
from page_checks import axe_violations
from page_checks import describe_violations
from page_checks import horizontal_overflow
from page_checks import small_tap_targets
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAGES = (
    "/en/immunotherapy",
    "/es/inmunoterapia",
    "/en/privacy",
    "/es/privacidad",
    "/en/wallet-card",
    "/es/tarjeta-de-bolsillo",
)
PHONE_WIDTH = 360
# Layouts around a phone's width: enough line breaks that a breaking space
# before "T" would land at a line end in at least one of them.
NARROW_WIDTHS = range(320, 424, 8)

# For each occurrence of the words in the page's text, how many line boxes
# they take (1 when they stay together on one line).
_LINES_PER_OCCURRENCE_JS = """
(words) => {
  const counts = [];
  const walker = document.createTreeWalker(document.querySelector('main'),
                                           NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const word of words) {
      let at = node.data.indexOf(word);
      while (at !== -1) {
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + word.length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        counts.push(tops.size);
        at = node.data.indexOf(word, at + 1);
      }
    }
  }
  return counts;
}
"""

# The same words with a plain (breaking) space: the control that shows the
# measurement above can see a split when there is one.
_UNGLUE_JS = """
() => {
  const walker = document.createTreeWalker(document.querySelector('main'),
                                           NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    node.data = node.data.replaceAll('células\\u00a0T', 'células T')
                         .replaceAll('T\\u00a0cells', 'T cells');
  }
}
"""

WORDS = {"es": ["células\u00a0T"], "en": ["T\u00a0cells"]}
CONTROL_WORDS = {"es": ["células T"], "en": ["T cells"]}


def lines_per_occurrence(page: Page, words: list[str]) -> list[int]:
    return page.evaluate(_LINES_PER_OCCURRENCE_JS, words)


@pytest.mark.parametrize(
    ("lang", "path"), [("es", "/es/inmunoterapia"), ("en", "/en/immunotherapy")]
)
def test_t_never_breaks_from_its_word_on_a_phone(new_page, lang, path):
    page = new_page(PHONE_WIDTH, 740)
    page.goto(path)
    counts = lines_per_occurrence(page, WORDS[lang])
    assert len(counts) >= 5, f"expected the words on the page, found {counts}"
    assert set(counts) == {1}, f"split across lines at {PHONE_WIDTH}px: {counts}"
    split_somewhere = False
    for width in NARROW_WIDTHS:
        page.set_viewport_size({"width": width, "height": 740})
        assert set(lines_per_occurrence(page, WORDS[lang])) == {1}, width
        page.evaluate(_UNGLUE_JS)
        split_somewhere |= any(
            n > 1 for n in lines_per_occurrence(page, CONTROL_WORDS[lang])
        )
        page.reload()
    assert split_somewhere, "control: with plain spaces no layout split the words"


@pytest.fixture
def clinic_content(content_copy: Path) -> Path:
    """The real content with a phone number and privacy-practices notice set."""
    return edit_site(
        content_copy,
        phone=CLINIC_PHONE,
        privacy_practices_url={
            "en": "https://clinic.example.org/notice-of-privacy-practices",
            "es": "https://clinic.example.org/es/aviso-de-practicas-de-privacidad",
        },
    )


@pytest.fixture
def app_config(app_config: dict, clinic_content: Path) -> dict:
    return {**app_config, "CONTENT_DIR": str(clinic_content)}


def open_page(browser: Browser, url: str, width: int, height: int = 800) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(url)
    return page


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


@pytest.mark.parametrize("width", [1024, 1280])
@pytest.mark.parametrize("path", ["/en/immunotherapy", "/es/inmunoterapia"])
def test_header_links_sit_beside_the_name_on_wide_screens(
    browser, server_url, path, width
):
    page = open_page(browser, server_url + path, width)
    try:
        brand = box(page, ".site-header .brand")
        for selector in (".header-phone", ".lang-toggle", ".site-header .button"):
            link = box(page, selector)
            assert link["x"] >= brand["x"] + brand["width"] - 1, selector
            assert link["y"] < brand["y"] + brand["height"], f"{selector} wrapped"
    finally:
        page.context.close()


@pytest.mark.parametrize("path", PAGES)
def test_phone_link_fits_and_is_tappable_on_a_small_screen(browser, server_url, path):
    page = open_page(browser, server_url + path, *REFLOW)
    try:
        phone = page.locator(".site-header a[href^='tel:']")
        assert phone.get_attribute("href") == "tel:+15595550100"
        assert phone.is_visible()
        assert horizontal_overflow(page) == 0
        assert not small_tap_targets(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("path", PAGES)
def test_pages_with_phone_and_notice_pass_axe(browser, server_url, path):
    page = open_page(browser, server_url + path, 1280)
    try:
        violations = axe_violations(page)
        assert not violations, "axe-core found:\n" + describe_violations(violations)
    finally:
        page.context.close()


def test_pages_with_phone_and_notice_are_valid_html(
    vnu_jar, browser, server_url, tmp_path
):
    documents = {}
    for path in PAGES:
        page = open_page(browser, server_url + path, 1280)
        try:
            response = page.goto(server_url + path)
            assert response is not None and response.status == 200
            documents[path.strip("/").replace("/", "-")] = response.body()
        finally:
            page.context.close()
    errors = {
        name: found
        for name, found in check_html(vnu_jar, documents, tmp_path).items()
        if found
    }
    assert not errors, errors


# A phone: both emergency boxes within two of its screens from the top of the
# topic page (the 911 box whole, the call-now box from its title to its third
# sign), before the "On this page" list and the types of immunotherapy.
PHONE_SCREEN = {"width": 390, "height": 844}
_TOP_OF_JS = (
    "(selector) => document.querySelector(selector).getBoundingClientRect().top"
    " + window.scrollY"
)
_BOTTOM_OF_JS = (
    "(selector) => document.querySelector(selector).getBoundingClientRect().bottom"
    " + window.scrollY"
)


@pytest.mark.parametrize("path", ["/en/immunotherapy", "/es/inmunoterapia"])
def test_the_emergency_lists_are_within_two_phone_screens_of_the_top(
    browser, server_url, path
):
    page = open_page(browser, server_url + path, **PHONE_SCREEN)
    try:
        two_screens = 2 * PHONE_SCREEN["height"]
        emergency = page.evaluate(_TOP_OF_JS, ".alert-emergency")
        urgent = page.evaluate(_TOP_OF_JS, ".alert-urgent")
        types = page.evaluate(_TOP_OF_JS, "#types-of-immunotherapy")
        toc = page.evaluate(_TOP_OF_JS, ".toc")
        assert emergency < urgent < toc < types
        # The 911 box whole, and the call-now box's title and first signs.
        assert page.evaluate(_BOTTOM_OF_JS, ".alert-emergency") <= two_screens
        third_sign = ".alert-urgent li:nth-child(3)"
        assert page.evaluate(_BOTTOM_OF_JS, third_sign) <= two_screens
        # The boxes stand out from the text: a thick coloured edge.
        edge = page.evaluate(
            "() => getComputedStyle(document.querySelector('.alert-emergency'))"
            ".borderLeftWidth"
        )
        assert float(edge.removesuffix("px")) >= 6
    finally:
        page.context.close()


@pytest.mark.parametrize(
    ("start", "twin"),
    [
        ("/en/immunotherapy", "/es/inmunoterapia"),
        ("/es/inmunoterapia", "/en/immunotherapy"),
    ],
)
def test_the_language_toggle_keeps_the_section_the_reader_is_at(page, start, twin):
    page.goto(start)
    # The reader follows "On this page" to a section, then switches language.
    page.locator('.toc a[href="#types-of-immunotherapy"]').click()
    page.wait_for_url(f"**{start}#types-of-immunotherapy")
    page.locator("a.lang-toggle").click()
    page.wait_for_url(f"**{twin}#types-of-immunotherapy")
    expect(page.locator("#types-of-immunotherapy")).to_be_in_viewport()
