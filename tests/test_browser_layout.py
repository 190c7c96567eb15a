"""Issue 17.3 and 17.4 in a real browser: AAA tap targets on every page and
state (AAA contrast: test_browser_axe.py), a focus ring that stands out,
and a desktop layout whose header, content and footer share one left edge."""

from __future__ import annotations

import re

import pytest
from page_checks import small_tap_targets
from playwright.sync_api import Page
from site_pages import FORM_PATHS
from site_pages import SITE_PAGES
from site_pages import WALLET_CARD_PATHS

pytestmark = pytest.mark.browser

AAA_TARGET_PX = 44  # WCAG 2.5.5 Target Size (Enhanced)
PHONE_390 = (390, 844)
DESKTOP_WIDTHS = (1024, 1280, 1440, 1920)
TOPIC_PATHS = {"en": "/en/immunotherapy", "es": "/es/inmunoterapia"}


@pytest.mark.parametrize("site_page", SITE_PAGES, ids=lambda p: p.id)
def test_every_tap_target_is_at_least_44px_on_a_phone(new_page, site_page):
    page = new_page(*PHONE_390, device_scale_factor=2, is_mobile=True, has_touch=True)
    site_page.reach(page, site_page)
    assert small_tap_targets(page, AAA_TARGET_PX) == []


def test_the_target_check_sees_a_small_target(new_page):
    """Control: the measurement finds a link that is too small."""
    page = new_page(*PHONE_390)
    page.goto(TOPIC_PATHS["en"])
    page.evaluate(
        """() => { const a = document.querySelector('.toc a');
                   a.style.minHeight = '0'; a.style.display = 'inline'; }"""
    )
    assert len(small_tap_targets(page, AAA_TARGET_PX)) == 1


# Text contrast of 7:1 (AAA) on every page and state: test_browser_axe.py.


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """WCAG contrast ratio of two sRGB colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


# For the focused element: its outline and box-shadow colours, and the colour
# of what surrounds it (the first ancestor with a background).
_FOCUS_RING_JS = """
() => {
  const el = document.activeElement;
  if (el === document.body) return {name: 'BODY'};
  const style = getComputedStyle(el);
  let around = el.parentElement;
  while (around && getComputedStyle(around).backgroundColor === 'rgba(0, 0, 0, 0)') {
    around = around.parentElement;
  }
  const shadow = style.boxShadow.match(/rgba?\\([^)]*\\)/);
  return {
    name: (el.textContent || el.id || el.name || el.tagName).trim().slice(0, 30),
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth),
    outline: style.outlineColor,
    shadow: shadow ? shadow[0] : null,
    around: around ? getComputedStyle(around).backgroundColor : 'rgb(255, 255, 255)',
  };
}
"""


@pytest.mark.parametrize(
    "path", [TOPIC_PATHS["en"], FORM_PATHS["es"], WALLET_CARD_PATHS["en"]]
)
def test_the_focus_ring_stands_out_at_3_to_1_wherever_it_is(page: Page, path):
    page.goto(path)
    seen = 0
    for _ in range(80):
        page.keyboard.press("Tab")
        ring = page.evaluate(_FOCUS_RING_JS)
        if ring["name"] == "BODY":
            if seen:
                break  # past the last control
            continue
        seen += 1
        assert_ring_stands_out(ring)
    assert seen >= 5


def assert_ring_stands_out(ring: dict) -> None:
    """A solid ring of 2 px or more, one of whose colours is 3:1 or more
    against what surrounds the focused element."""
    assert ring["outlineStyle"] == "solid" and ring["outlineWidth"] >= 2, ring
    rings = [ring["outline"], ring["shadow"]]
    best = max(contrast(rgb(c), rgb(ring["around"])) for c in rings if c)
    assert best >= 3, ring


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_error_summary_shows_its_focus(page: Page, lang):
    errors = next(p for p in SITE_PAGES if p.name == "form-errors" and p.lang == lang)
    errors.reach(page, errors)
    page.wait_for_function("document.activeElement.id === 'error-summary'")
    assert_ring_stands_out(page.evaluate(_FOCUS_RING_JS))


def left(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["x"]


# How many characters of the page's longest paragraph fit on its longest
# line: that line's width over the paragraph's mean character width.
_MEASURE_JS = """
() => {
  // The page's text, not the wallet card's faces, which are card-narrow.
  const longest = [...document.querySelectorAll('main p:not(.card-face p)')].sort(
    (a, b) => b.textContent.length - a.textContent.length)[0];
  const range = document.createRange();
  range.selectNodeContents(longest);
  const lines = new Map();
  for (const r of range.getClientRects()) {
    const top = Math.round(r.top);
    lines.set(top, (lines.get(top) || 0) + r.width);
  }
  const drawn = [...lines.values()].reduce((sum, width) => sum + width, 0);
  const perChar = drawn / longest.textContent.trim().length;
  return Math.max(...lines.values()) / perChar;
}
"""


@pytest.mark.parametrize(
    "path",
    [*TOPIC_PATHS.values(), *FORM_PATHS.values(), *WALLET_CARD_PATHS.values()],
)
def test_header_content_and_footer_share_one_left_edge(new_page, path):
    page = new_page(DESKTOP_WIDTHS[0], 900)
    page.goto(path)
    # One load, laid out again at each window width.
    for width in DESKTOP_WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        edge = left(page, ".site-header .brand")
        assert edge == pytest.approx(left(page, "main h1"), abs=1), width
        footer = left(page, ".site-footer .footer-name")
        assert edge == pytest.approx(footer, abs=1), width
        # Not hugging the window's edge: the column is placed on wide screens.
        assert edge >= 24, width
        # The wordmark is the header's anchor: larger than the page text.
        name_size = page.locator(".brand-name").evaluate(
            "(el) => parseFloat(getComputedStyle(el).fontSize)"
        )
        assert name_size >= 24, width
        # A readable measure: about 65 to 75 characters a line.
        per_line = page.evaluate(_MEASURE_JS)
        assert 62 <= per_line <= 78, (width, per_line)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_form_questions_line_up_with_the_labels(new_page, lang):
    page = new_page(1024, 900)
    page.goto(FORM_PATHS[lang])
    for width in (1024, 1280, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        label = left(page, ".field > label")
        for legend in page.locator("form legend").all():
            if legend.is_visible():
                x = legend.bounding_box()["x"]
                assert x == pytest.approx(label, abs=0.5), width


# How a list in main is drawn: marker, indent and where its items start.
_LIST_STYLE_JS = """
(ul) => {
  const style = getComputedStyle(ul);
  const item = ul.querySelector('li').getBoundingClientRect();
  return [style.listStyleType, style.paddingLeft, item.x];
}
"""


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_sources_list_looks_like_the_other_lists(new_page, lang):
    page = new_page(1280, 900)
    page.goto(TOPIC_PATHS[lang])
    sources = page.locator(".sources ul").evaluate(_LIST_STYLE_JS)
    body_list = page.locator("main section:not(.sources) > ul").first
    assert sources == body_list.evaluate(_LIST_STYLE_JS)
